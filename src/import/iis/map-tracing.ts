/**
 * Failed Request Tracing: `system.webServer/tracing/traceFailedRequests` rules (server level and the site's
 * `<location>`) and the site's `traceFailedRequestsLogging` (over `siteDefaults`) → `sites[].tracing`.
 * A site whose logging is off gets no tracing, as in IIS.
 */
import { boolAttr, parseTimeSpan, reportAt, toDuration, uintAttr, type Source } from './model.js';
import { collection, mergedAttr, sectionChain, type XmlElement } from './xml.js';

/** Report lines for what a rule has beyond path, status codes and time taken (the report keeps each once). */
function reportRuleExtras(source: Source, rule: XmlElement): void {
  for (const name of ['customActionExe', 'customActionParams', 'customActionTriggerLimit']) {
    if (rule.has(name)) {
      rule.attr(name);
      reportAt(source, rule, name, 'Gatehouse runs no custom action when it writes a trace');
    }
  }
  const areas = rule.child('traceAreas');
  if (areas) {
    areas.consume();
    reportAt(source, areas, undefined, 'Gatehouse traces every step it takes (TLS, rules, farm, server, response) whatever the providers, areas and verbosity');
  }
  const failure = rule.child('failureDefinitions');
  if (failure) {
    const verbosity = failure.attr('verbosity');
    if (verbosity !== undefined && verbosity.trim().toLowerCase() !== 'ignore') {
      reportAt(source, failure, 'verbosity', `'${verbosity}': Gatehouse keeps traces by status code and time taken only, not by the level of an event`);
    }
    if (failure.has('traceAllAfterTimeout')) {
      failure.attr('traceAllAfterTimeout');
      reportAt(source, failure, 'traceAllAfterTimeout', 'Gatehouse writes a trace when the request ends');
    }
  }
}

function mapRule(source: Source, rule: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const path = rule.attr('path')?.trim() || '*';
  // IIS paths are file patterns relative to the site (`*.aspx`, `api/*`); Gatehouse's are on the URL path.
  out['path'] = path === '*' || path.startsWith('*') || path.startsWith('/') ? path : `*/${path}`;
  if (path === '/') reportAt(source, rule, 'path', "'/' (the default document): Gatehouse matches the path / itself");
  const failure = rule.child('failureDefinitions');
  if (failure) {
    const codes = failure.attr('statusCodes')?.trim();
    if (codes) out['statusCodes'] = codes;
    const taken = failure.attr('timeTaken');
    if (taken !== undefined) {
      const ms = parseTimeSpan(taken);
      if (ms === undefined) reportAt(source, failure, 'timeTaken', `'${taken}' is not an IIS timeSpan: ignored`);
      else if (ms > 0) out['timeTaken'] = toDuration(ms);
    }
  }
  reportRuleExtras(source, rule);
  return out;
}

/** The site's `tracing`, or undefined when its Failed Request Tracing is off or has no rule. */
export function siteTracing(root: XmlElement, source: Source, site: string, logging: readonly XmlElement[]): Record<string, unknown> | undefined {
  const enabled = mergedAttr(logging, 'enabled');
  const on = enabled ? boolAttr(source, enabled.element, 'enabled') === true : false;
  const chain = sectionChain(root, ['system.webServer', 'tracing', 'traceFailedRequests'], site);
  const rules = collection(chain, 'add', ['path']);
  if (!on || rules.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  const files = mergedAttr(logging, 'maxLogFiles');
  if (files) {
    const n = uintAttr(source, files.element, 'maxLogFiles');
    if (n !== undefined) out['maxFiles'] = Math.min(Math.max(n, 1), 10_000);
  }
  const size = mergedAttr(logging, 'maxLogFileSizeKB');
  if (size) {
    const n = uintAttr(source, size.element, 'maxLogFileSizeKB');
    if (n !== undefined) {
      const kb = Math.min(Math.max(n, 16), 102_400);
      if (kb !== n) reportAt(source, size.element, 'maxLogFileSizeKB', `${n} is outside 16-102400: Gatehouse uses ${kb}`);
      out['maxFileSizeKB'] = kb;
    }
  }
  const directory = mergedAttr(logging, 'directory');
  if (directory) reportAt(source, directory.element, 'directory', `'${directory.value}' is a Windows folder: Gatehouse writes traces to traces/<site> beside the config (tracing.directory)`);
  const custom = mergedAttr(logging, 'customActionsEnabled');
  if (custom && custom.value.trim().toLowerCase() === 'true') reportAt(source, custom.element, 'customActionsEnabled', 'Gatehouse runs no custom actions');
  out['rules'] = rules.map((r) => mapRule(source, r));
  return out;
}

/** Marks tracing rules read when no site traces (they have no effect in IIS either). */
export function consumeTracing(root: XmlElement): void {
  for (const c of sectionChain(root, ['system.webServer', 'tracing', 'traceFailedRequests'])) c.consume();
  // Provider definitions describe what IIS can trace; they configure nothing.
  for (const c of sectionChain(root, ['system.webServer', 'tracing', 'traceProviderDefinitions'])) c.consume();
  for (const location of root.all('location')) location.at('system.webServer', 'tracing', 'traceFailedRequests')?.consume();
}
