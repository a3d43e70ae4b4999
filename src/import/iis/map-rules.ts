/**
 * `system.webServer/rewrite/globalRules` → routing rules. A rule whose Rewrite action URL's host is a farm's
 * name (`http://appFarm/{R:0}`, what ARR creates) routes to that farm; `{HTTP_HOST}` conditions become host
 * matches, `{HTTP_<HEADER>}` conditions header matches, MatchAny becomes one rule per condition, and
 * `stopProcessing` is kept (IIS's default is false, Gatehouse's true: it is always written). A Redirect
 * rule becomes a `redirect` action and a CustomResponse rule a `respond` action (map-answers.ts), with the
 * same match. Any other rule, and a condition Gatehouse's rules cannot express, leaves the rule out with a
 * report line.
 */
import type { MappedFarm } from './map-farms.js';
import { answerAction, type PathCaptures } from './map-answers.js';
import { boolAttr, reportAt, type Source } from './model.js';
import { collection, elementPath, sectionChain, type XmlElement } from './xml.js';

export interface MappedRule {
  /** The Gatehouse rule: name, match, action, stopProcessing. */
  readonly rule: Record<string, unknown>;
  /** The farm a route goes to; undefined for a redirect or a custom response. */
  readonly farm?: string;
  /** The host wildcard the rule requires, if any (to give the rule to the sites that can receive that host). */
  readonly host?: string;
  /** No condition at all: every request. */
  readonly catchAll: boolean;
  readonly stopProcessing: boolean;
  readonly comment: string;
  readonly element: XmlElement;
}

export type Syntax = 'ecmascript' | 'wildcard' | 'exactmatch';

const CATCH_ALL_REGEX = new Set(['', '.*', '^.*', '^.*$', '.*$', '(.*)', '^(.*)', '^(.*)$', '(.*)$', '.+', '^.+', '^.+$']);

/**
 * A pattern as a Gatehouse wildcard (`*` any run, `?` one character), or undefined when the pattern needs
 * more than that. ECMAScript patterns are searched, so unanchored ends become `*`.
 */
export function patternToWildcard(pattern: string, syntax: Syntax): string | undefined {
  if (syntax === 'wildcard') return pattern;
  if (syntax === 'exactmatch') return /[*?]/.test(pattern) ? undefined : pattern;
  let p = pattern;
  const start = p.startsWith('^');
  if (start) p = p.slice(1);
  const end = p.endsWith('$') && !p.endsWith('\\$');
  if (end) p = p.slice(0, -1);
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    const next = p[i + 1];
    if (c === '\\') {
      if (next === undefined || !/[.\-/:_$^()[\]{}|+*?\\]/.test(next) || next === '*' || next === '?') return undefined;
      out += next;
      i++;
    } else if (c === '.') {
      if (next === '*') {
        out += '*';
        i++;
      } else if (next === '+') {
        out += '?*';
        i++;
      } else out += '?';
    } else if (/[A-Za-z0-9\-_:/ ,;=@!~%&'"<>#]/.test(c)) out += c;
    else return undefined;
  }
  if (!start) out = `*${out}`;
  if (!end) out = `${out}*`;
  return out.replace(/\*+/g, '*');
}

/** `HTTP_X_TENANT` → `X-Tenant`. */
function headerOf(variable: string): string {
  return variable
    .slice(5)
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())
    .join('-');
}

export interface Conditions {
  host?: string;
  headers: Record<string, string>;
  /** `{C:0}` of the last condition, when it is a host name matched whole (a pattern with no wildcard left). */
  lastWhole?: string;
}

/** One condition into `into`; a reason string when Gatehouse cannot express it. */
function addCondition(add: XmlElement, syntax: Syntax, into: Conditions): string | undefined {
  const input = (add.attr('input') ?? '').trim();
  const matchType = (add.attr('matchType') ?? 'Pattern').trim().toLowerCase();
  const pattern = add.attr('pattern') ?? '';
  const negate = add.attr('negate')?.trim().toLowerCase() === 'true';
  const ignoreCase = add.attr('ignoreCase')?.trim().toLowerCase() !== 'false';
  if (matchType !== 'pattern') return `matchType ${add.attr('matchType')} (a file test): Gatehouse serves no files`;
  if (negate) return `a negated condition on ${input}: Gatehouse's rules match, they do not exclude`;
  const variable = /^\{([A-Za-z0-9_]+)\}$/.exec(input)?.[1]?.toUpperCase();
  if (variable === undefined) return `the input '${input}' is not a single server variable`;
  if (variable === 'HTTPS' || variable === 'SERVER_PORT_SECURE' || variable === 'SERVER_PORT') {
    return `{${variable}}: Gatehouse's rules cannot test the scheme or port (a site's http and https bindings share its rules)`;
  }
  const wildcard = patternToWildcard(pattern, syntax);
  delete into.lastWhole;
  if (wildcard === undefined) return `the pattern '${pattern}' on {${variable}} needs a regular expression; Gatehouse matches host names and headers by wildcard`;
  if (variable === 'HTTP_HOST' || variable === 'SERVER_NAME') {
    if (wildcard === '*') return undefined;
    if (into.host !== undefined && into.host.toLowerCase() !== wildcard.toLowerCase()) return `a second host condition ('${pattern}'): a Gatehouse rule matches one host wildcard`;
    into.host = wildcard;
    if (!/[*?]/.test(wildcard)) into.lastWhole = wildcard;
    return undefined;
  }
  if (variable.startsWith('HTTP_')) {
    if (wildcard === '*') return undefined; // matches an absent header too: always true
    if (!ignoreCase) return `a case-sensitive pattern on {${variable}}: Gatehouse compares header values case-insensitively`;
    into.headers[headerOf(variable)] = wildcard;
    return undefined;
  }
  return `{${variable}}: Gatehouse's rules match the host, path, headers and client certificate only`;
}

/** How many groups an ECMAScript pattern has. */
function groupsOf(pattern: string): number {
  // An alternative that matches '' makes exec succeed and report every group.
  return (new RegExp(`(?:${pattern})|`).exec('') as RegExpExecArray).length - 1;
}

/** The rule's `match` path keys, or a reason. `wholePath`: the pattern matches every path (no path key). */
function pathMatch(match: XmlElement, syntax: Syntax): PathCaptures | string {
  const url = match.attr('url') ?? '';
  if (match.attr('negate')?.trim().toLowerCase() === 'true') return 'a negated URL pattern: Gatehouse\'s rules match, they do not exclude';
  const ignoreCase = match.attr('ignoreCase')?.trim().toLowerCase() !== 'false';
  const keys: Record<string, unknown> = ignoreCase ? {} : { ignoreCase: false };
  if (syntax === 'wildcard') {
    if (url === '*' || url === '') return { keys: {}, wholePath: true, groups: url === '*', captures: 0, sameCaptures: url === '*' };
    const path = url.startsWith('/') ? url : `/${url}`;
    return { keys: { ...keys, path }, wholePath: false, groups: true, captures: path.split('*').length - 1, sameCaptures: true };
  }
  if (syntax === 'exactmatch') {
    if (/[*?]/.test(url)) return { keys: { ...keys, pathPattern: `^/${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$` }, wholePath: false, groups: false, captures: 0, sameCaptures: true };
    return { keys: { ...keys, path: url.startsWith('/') ? url : `/${url}` }, wholePath: false, groups: false, captures: 0, sameCaptures: true };
  }
  if (CATCH_ALL_REGEX.has(url)) return { keys: {}, wholePath: true, groups: url.includes('('), captures: 0, sameCaptures: url !== '' };
  try {
    new RegExp(url);
  } catch {
    return `'${url}' is not a valid ECMAScript pattern`;
  }
  // Anchored, `^` becomes `^/` and the captures stay IIS's; unanchored, a match could take in the leading '/'.
  const anchored = url.startsWith('^') && !url.startsWith('^/');
  return { keys: { ...keys, pathPattern: anchored ? `^/${url.slice(1)}` : url }, wholePath: false, groups: true, captures: groupsOf(url), sameCaptures: anchored };
}

/** Every global rule that routes to a farm, in order. */
export function mapGlobalRules(root: XmlElement, source: Source, farms: ReadonlyMap<string, MappedFarm>): MappedRule[] {
  return mapRules(sectionChain(root, ['system.webServer', 'rewrite', 'globalRules']), source, farms);
}

/** A site's distributed rules (`system.webServer/rewrite/rules`, server level and its `<location>`), which run after the global ones. */
export function mapSiteRules(root: XmlElement, source: Source, farms: ReadonlyMap<string, MappedFarm>, site: string): MappedRule[] {
  return mapRules(sectionChain(root, ['system.webServer', 'rewrite', 'rules'], site), source, farms);
}

/** A route rule's action keys (and the farm), or a reason to leave the rule out. */
function routeAction(action: XmlElement, path: PathCaptures, source: Source, farms: ReadonlyMap<string, MappedFarm>): { keys: Record<string, unknown>; farm: MappedFarm; https: boolean } | string {
  const url = action.attr('url') ?? '';
  const target = /^(https?):\/\/([^/:?{}]+)(\/[^?]*)?(\?.*)?$/i.exec(url.trim());
  const farm = target ? farms.get((target[2] as string).toLowerCase()) : undefined;
  if (!target || !farm) {
    const named = target ? ` (no imported farm is named '${target[2]}')` : '';
    return `a rewrite to '${url}' is not a route to a server farm${named}`;
  }
  // The path the server receives: `/{R:0}` (or `/{R:1}` of a whole-path group) is the path unchanged.
  const template = `${target[3] ?? '/'}${target[4] ?? ''}`;
  const appendQueryString = boolAttr(source, action, 'appendQueryString') ?? true;
  const keys: Record<string, unknown> = { type: 'route', farm: farm.name };
  if (template === '/{R:0}' || (path.wholePath && path.groups && template === '/{R:1}')) {
    if (!appendQueryString) reportAt(source, action, 'appendQueryString', 'false: Gatehouse passes the query string to the server unchanged');
  } else {
    if (/\{(?!R:\d+\})[^}]*\}/i.test(template)) return `the action URL '${url}' uses more than the rule's captures ({R:n}); Gatehouse's rewrite takes captures only`;
    if (path.wholePath && /\{R:[1-9]/i.test(template)) return `the action URL '${url}' uses captures of a pattern that matches every path`;
    keys['rewrite'] = template.replace(/^\/\{R:0\}/i, '{R:0}');
    if (!appendQueryString) keys['appendQueryString'] = false;
  }
  return { keys, farm, https: (target[1] as string).toLowerCase() === 'https' };
}

/** The rule's conditions: one group (MatchAll), or one per condition (MatchAny); or a reason. */
function conditionGroups(rule: XmlElement, syntax: Syntax): { groups: Conditions[]; trackAll: boolean } | string {
  const conditionsEl = rule.child('conditions');
  const trackAll = conditionsEl?.attr('trackAllCaptures')?.trim().toLowerCase() === 'true';
  conditionsEl?.ignore('trackAllCaptures');
  const any = (conditionsEl?.attr('logicalGrouping') ?? 'MatchAll').trim().toLowerCase() === 'matchany';
  const adds = conditionsEl ? collection([conditionsEl], 'add', ['input', 'pattern']) : [];
  const groups: Conditions[] = [];
  let failed: string | undefined;
  if (any && adds.length > 1) {
    for (const add of adds) {
      const c: Conditions = { headers: {} };
      failed ??= addCondition(add, syntax, c);
      groups.push(c);
    }
  } else {
    const c: Conditions = { headers: {} };
    for (const add of adds) failed ??= addCondition(add, syntax, c);
    groups.push(c);
  }
  return failed === undefined ? { groups, trackAll } : `condition ${failed}`;
}

function mapRules(chain: readonly XmlElement[], source: Source, farms: ReadonlyMap<string, MappedFarm>): MappedRule[] {
  const out: MappedRule[] = [];
  for (const rule of collection(chain, 'rule', ['name'])) {
    const name = rule.attr('name')?.trim() || `rule-${rule.line}`;
    const skip = (attribute: string | undefined, why: string) => {
      reportAt(source, rule, attribute, `${why}: rule not imported`);
      rule.consume();
    };
    if (boolAttr(source, rule, 'enabled') === false) {
      skip('enabled', 'disabled in IIS');
      continue;
    }
    const syntaxRaw = (rule.attr('patternSyntax') ?? 'ECMAScript').trim().toLowerCase();
    const syntax: Syntax = syntaxRaw === 'wildcard' ? 'wildcard' : syntaxRaw === 'exactmatch' ? 'exactmatch' : 'ecmascript';
    let stopProcessing = boolAttr(source, rule, 'stopProcessing') ?? false;
    const action = rule.child('action');
    const type = (action?.attr('type') ?? 'None').trim();
    const kind = type.toLowerCase();
    if (!action || (kind !== 'rewrite' && kind !== 'redirect' && kind !== 'customresponse')) {
      skip(undefined, `a ${type} rule: Gatehouse's rules route to a farm, redirect or answer with a status`);
      continue;
    }
    const match = rule.child('match');
    const path: PathCaptures | string = match ? pathMatch(match, syntax) : { keys: {}, wholePath: true, groups: false, captures: 0, sameCaptures: false };
    if (typeof path === 'string') {
      skip(undefined, path);
      continue;
    }
    let route: ReturnType<typeof routeAction> | undefined;
    let answer: ReturnType<typeof answerAction> | undefined;
    if (kind === 'rewrite') route = routeAction(action, path, source, farms);
    else answer = answerAction(action, kind, path, source);
    const decided = route ?? answer;
    if (typeof decided === 'string') {
      skip(undefined, decided);
      continue;
    }
    action.ignore('logRewrittenUrl');
    const conditions = conditionGroups(rule, syntax);
    if (typeof conditions === 'string') {
      skip(undefined, conditions);
      continue;
    }
    const { groups } = conditions;
    // `{C:0}` in a redirect URL: the host name its last condition matches whole, in each group.
    const actionOf: Record<string, unknown>[] = [];
    let failed: string | undefined;
    for (const c of groups) {
      const keys = { ...(decided as { keys: Record<string, unknown> }).keys };
      const url = keys['url'];
      if (typeof url === 'string' && /\{C:\d+\}/i.test(url)) {
        if (conditions.trackAll) failed ??= `the redirect URL '${url}' uses {C:n} with trackAllCaptures: Gatehouse's rules make no condition captures`;
        else if (/\{C:(?!0\})\d+\}/i.test(url) || c.lastWhole === undefined) failed ??= `the redirect URL '${url}' uses {C:n}: Gatehouse's rules make no condition captures ({C:0} is kept only where the last condition is a host name matched whole)`;
        else keys['url'] = url.replace(/\{C:0\}/gi, c.lastWhole);
      }
      actionOf.push(keys);
    }
    if (failed !== undefined) {
      skip(undefined, failed);
      continue;
    }
    if (route && typeof route !== 'string' && route.https) {
      reportAt(source, action, 'url', `Gatehouse forwards to the servers of ${route.farm.name} over http (SSL offloading), not https`);
    }
    // A redirect or a custom response ends the request in IIS whatever stopProcessing says.
    if (answer !== undefined) stopProcessing = true;
    const vars = rule.child('serverVariables');
    if (vars) {
      vars.consume();
      const names = vars.children.filter((c) => c.name.toLowerCase() === 'set').map((c) => c.attributes.get('name')?.value ?? '?');
      reportAt(source, vars, undefined, `Gatehouse sets no server variables (${names.join(', ')}); it sends X-Forwarded-For, X-Forwarded-Proto and X-ARR-ClientCert itself (farm protocol settings)`);
    }
    const farm = route && typeof route !== 'string' ? route.farm.name : undefined;
    for (const [i, c] of groups.entries()) {
      const matchKeys: Record<string, unknown> = { ...path.keys };
      if (c.host !== undefined) matchKeys['host'] = c.host;
      if (Object.keys(c.headers).length) matchKeys['headers'] = c.headers;
      const value: Record<string, unknown> = { name: groups.length > 1 ? `${name} (${i + 1})` : name };
      if (Object.keys(matchKeys).length) value['match'] = matchKeys;
      value['action'] = actionOf[i];
      value['stopProcessing'] = stopProcessing;
      out.push({
        rule: value,
        ...(farm === undefined ? {} : { farm }),
        ...(c.host === undefined ? {} : { host: c.host }),
        catchAll: Object.keys(matchKeys).filter((k) => k !== 'ignoreCase').length === 0,
        stopProcessing,
        comment: `${elementPath(rule, true)} (${source.file}:${rule.line})`,
        element: rule,
      });
    }
  }
  return out;
}
