/**
 * `system.webServer/security/requestFiltering/requestLimits` → `limits` (server level) and `sites[].limits`
 * (a site's `<location>`, with what differs from the server level), and a site's `limits` element
 * (`connectionTimeout`, `maxConnections`). The rest of request filtering (file extensions, verbs, hidden
 * segments, …) has no Gatehouse equivalent: one report line per element.
 */
import { reportAt, timeSpanAttr, toDuration, uintAttr, type Source } from './model.js';
import { mergedAttr, sectionChain, type XmlElement } from './xml.js';

const FILTERING_PATH = ['system.webServer', 'security', 'requestFiltering'];

/** Report lines for the parts of requestFiltering elements Gatehouse has no key for (the report keeps each once). */
function reportFiltering(source: Source, filtering: XmlElement): void {
  for (const [key, a] of filtering.attributes) {
    if (filtering.usedAttributes.has(key)) continue;
    filtering.attr(key);
    reportAt(source, filtering, a.name, 'Gatehouse does not filter requests by this setting: ignored');
  }
  for (const c of filtering.children) {
    if (c.name.toLowerCase() === 'requestlimits') {
      for (const h of c.children) {
        h.consume();
        reportAt(source, h, undefined, 'per-header limits: Gatehouse limits all request headers together (maxRequestHeadersBytes, maxHeaderCount); not imported');
      }
      continue;
    }
    c.consume();
    reportAt(source, c, undefined, 'request filtering rule: no Gatehouse equivalent, not imported (requests are not filtered by it)');
  }
}

/** A timeSpan attribute merged along a chain, above zero, as a Gatehouse duration under `key`. */
function mergedTimeSpan(source: Source, chain: readonly XmlElement[], name: string, into: Record<string, unknown>, key: string): void {
  const found = mergedAttr(chain, name);
  if (!found) return;
  const ms = timeSpanAttr(source, found.element, name);
  if (ms !== undefined && ms > 0) into[key] = toDuration(ms);
}

function limitsOf(chain: readonly XmlElement[], source: Source): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const requestLimits = chain.map((f) => f.child('requestLimits')).filter((e): e is XmlElement => e !== undefined);
  for (const name of ['maxAllowedContentLength', 'maxUrl', 'maxQueryString'] as const) {
    const found = mergedAttr(requestLimits, name);
    if (!found) continue;
    const n = uintAttr(source, found.element, name);
    if (n !== undefined) out[name] = n;
  }
  return out;
}

/** The server-level `limits`. */
export function globalLimits(root: XmlElement, source: Source): { value: Record<string, unknown>; element?: XmlElement } {
  const chain = sectionChain(root, FILTERING_PATH);
  for (const f of chain) reportFiltering(source, f);
  const value = limitsOf(chain, source);
  // system.applicationHost/webLimits: the server's connection timeouts.
  const web = sectionChain(root, ['system.applicationHost', 'webLimits']);
  mergedTimeSpan(source, web, 'connectionTimeout', value, 'keepAliveTimeout');
  mergedTimeSpan(source, web, 'headerWaitTimeout', value, 'headersTimeout');
  for (const element of web) {
    for (const [key, a] of element.attributes) {
      if (element.usedAttributes.has(key)) continue;
      element.attr(key);
      reportAt(source, element, a.name, key === 'maxglobalbandwidth' ? 'Gatehouse does not throttle bandwidth: ignored' : key === 'minbytespersecond' ? 'Gatehouse has no minimum send rate; requestBodyTimeout limits a slow request body' : 'no Gatehouse equivalent: ignored');
    }
  }
  const element = chain[0] ?? web[0];
  return element ? { value, element } : { value };
}

/** A site's `limits`: its `<location>` request limits where they differ from the server level, and its `limits` element. */
export function siteLimits(root: XmlElement, source: Source, site: string, global: Record<string, unknown>, limitsChain: readonly XmlElement[]): Record<string, unknown> {
  const chain = sectionChain(root, FILTERING_PATH, site);
  for (const f of chain) reportFiltering(source, f);
  const all = limitsOf(chain, source);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) if (global[k] !== v) out[k] = v;
  mergedTimeSpan(source, limitsChain, 'connectionTimeout', out, 'keepAliveTimeout');
  const max = mergedAttr(limitsChain, 'maxConnections');
  if (max) {
    const n = uintAttr(source, max.element, 'maxConnections');
    // IIS's default 4294967295 is "unlimited"; Gatehouse's limit is per listening socket and worker.
    if (n !== undefined && n < 4_294_967_295) out['maxConnections'] = Math.max(n, 1);
  }
  for (const element of limitsChain) {
    for (const [key, a] of element.attributes) {
      if (element.usedAttributes.has(key)) continue;
      element.attr(key);
      reportAt(source, element, a.name, key === 'maxbandwidth' ? 'Gatehouse does not throttle bandwidth: ignored' : 'no Gatehouse equivalent: ignored');
    }
  }
  return out;
}
