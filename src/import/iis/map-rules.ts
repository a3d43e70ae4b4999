/**
 * `system.webServer/rewrite/globalRules` → routing rules. A rule whose Rewrite action URL's host is a farm's
 * name (`http://appFarm/{R:0}`, what ARR creates) routes to that farm; `{HTTP_HOST}` conditions become host
 * matches, `{HTTP_<HEADER>}` conditions header matches, MatchAny becomes one rule per condition, and
 * `stopProcessing` is kept (IIS's default is false, Gatehouse's true: it is always written). Any other rule,
 * and a condition Gatehouse's rules cannot express, leaves the rule out with a report line.
 */
import type { MappedFarm } from './map-farms.js';
import { boolAttr, reportAt, type Source } from './model.js';
import { collection, elementPath, sectionChain, type XmlElement } from './xml.js';

export interface MappedRule {
  /** The Gatehouse rule: name, match, action, stopProcessing. */
  readonly rule: Record<string, unknown>;
  readonly farm: string;
  /** The host wildcard the rule requires, if any (to give the rule to the sites that can receive that host). */
  readonly host?: string;
  /** No condition at all: every request. */
  readonly catchAll: boolean;
  readonly stopProcessing: boolean;
  readonly comment: string;
  readonly element: XmlElement;
}

type Syntax = 'ecmascript' | 'wildcard' | 'exactmatch';

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

interface Conditions {
  host?: string;
  headers: Record<string, string>;
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
  if (wildcard === undefined) return `the pattern '${pattern}' on {${variable}} needs a regular expression; Gatehouse matches host names and headers by wildcard`;
  if (variable === 'HTTP_HOST' || variable === 'SERVER_NAME') {
    if (wildcard === '*') return undefined;
    if (into.host !== undefined && into.host.toLowerCase() !== wildcard.toLowerCase()) return `a second host condition ('${pattern}'): a Gatehouse rule matches one host wildcard`;
    into.host = wildcard;
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

/** The rule's `match` path keys, or a reason. `wholePath`: the pattern matches every path (no path key). */
function pathMatch(match: XmlElement, syntax: Syntax): { keys: Record<string, unknown>; wholePath: boolean; groups: boolean } | string {
  const url = match.attr('url') ?? '';
  if (match.attr('negate')?.trim().toLowerCase() === 'true') return 'a negated URL pattern: Gatehouse\'s rules match, they do not exclude';
  const ignoreCase = match.attr('ignoreCase')?.trim().toLowerCase() !== 'false';
  const keys: Record<string, unknown> = ignoreCase ? {} : { ignoreCase: false };
  if (syntax === 'wildcard') {
    if (url === '*' || url === '') return { keys: {}, wholePath: true, groups: url === '*' };
    return { keys: { ...keys, path: url.startsWith('/') || url.startsWith('*') ? (url.startsWith('*') ? `/${url}` : url) : `/${url}` }, wholePath: false, groups: true };
  }
  if (syntax === 'exactmatch') {
    if (/[*?]/.test(url)) return { keys: { ...keys, pathPattern: `^/${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$` }, wholePath: false, groups: false };
    return { keys: { ...keys, path: url.startsWith('/') ? url : `/${url}` }, wholePath: false, groups: false };
  }
  if (CATCH_ALL_REGEX.has(url)) return { keys: {}, wholePath: true, groups: url.includes('(') };
  try {
    new RegExp(url);
  } catch {
    return `'${url}' is not a valid ECMAScript pattern`;
  }
  return { keys: { ...keys, pathPattern: url.startsWith('^') && !url.startsWith('^/') ? `^/${url.slice(1)}` : url }, wholePath: false, groups: true };
}

/** Every global rule that routes to a farm, in order. */
export function mapGlobalRules(root: XmlElement, source: Source, farms: ReadonlyMap<string, MappedFarm>): MappedRule[] {
  const out: MappedRule[] = [];
  const chain = sectionChain(root, ['system.webServer', 'rewrite', 'globalRules']);
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
    const stopProcessing = boolAttr(source, rule, 'stopProcessing') ?? false;
    const action = rule.child('action');
    const type = (action?.attr('type') ?? 'None').trim();
    if (!action || type.toLowerCase() !== 'rewrite') {
      skip(undefined, `a ${type} rule (not a route to a server farm): Gatehouse's routing rules are per site; add it as a redirect/respond rule if needed`);
      continue;
    }
    const url = action.attr('url') ?? '';
    const target = /^(https?):\/\/([^/:?{}]+)(\/[^?]*)?(\?.*)?$/i.exec(url.trim());
    const farm = target ? farms.get((target[2] as string).toLowerCase()) : undefined;
    if (!target || !farm) {
      const named = target ? ` (no imported farm is named '${target[2]}')` : '';
      skip(undefined, `a rewrite to '${url}' is not a route to a server farm${named}`);
      continue;
    }
    const match = rule.child('match');
    const path = match ? pathMatch(match, syntax) : { keys: {}, wholePath: true, groups: false };
    if (typeof path === 'string') {
      skip(undefined, path);
      continue;
    }
    // The path the server receives: `/{R:0}` (or `/{R:1}` of a whole-path group) is the path unchanged.
    const template = `${target[3] ?? '/'}${target[4] ?? ''}`;
    const appendQueryString = boolAttr(source, action, 'appendQueryString') ?? true;
    let rewrite: string | undefined;
    if (template === '/{R:0}' || (path.wholePath && path.groups && template === '/{R:1}')) {
      if (!appendQueryString) reportAt(source, action, 'appendQueryString', 'false: Gatehouse passes the query string to the server unchanged');
    } else {
      if (/\{(?!R:\d+\})[^}]*\}/i.test(template)) {
        skip(undefined, `the action URL '${url}' uses more than the rule's captures ({R:n}); Gatehouse's rewrite takes captures only`);
        continue;
      }
      if (path.wholePath && /\{R:[1-9]/i.test(template)) {
        skip(undefined, `the action URL '${url}' uses captures of a pattern that matches every path`);
        continue;
      }
      rewrite = template.replace(/^\/\{R:0\}/i, '{R:0}');
    }
    action.ignore('logRewrittenUrl');
    // Conditions: MatchAll → one rule; MatchAny → one rule per condition.
    const conditionsEl = rule.child('conditions');
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
    if (failed !== undefined) {
      skip(undefined, `condition ${failed}`);
      continue;
    }
    if ((target[1] as string).toLowerCase() === 'https') {
      reportAt(source, action, 'url', `Gatehouse forwards to the servers of ${farm.name} over http (SSL offloading), not https`);
    }
    const vars = rule.child('serverVariables');
    if (vars) {
      vars.consume();
      const names = vars.children.filter((c) => c.name.toLowerCase() === 'set').map((c) => c.attributes.get('name')?.value ?? '?');
      reportAt(source, vars, undefined, `Gatehouse sets no server variables (${names.join(', ')}); it sends X-Forwarded-For, X-Forwarded-Proto and X-ARR-ClientCert itself (farm protocol settings)`);
    }
    const actionKeys: Record<string, unknown> = { type: 'route', farm: farm.name };
    if (rewrite !== undefined) {
      actionKeys['rewrite'] = rewrite;
      if (!appendQueryString) actionKeys['appendQueryString'] = false;
    }
    for (const [i, c] of groups.entries()) {
      const matchKeys: Record<string, unknown> = { ...path.keys };
      if (c.host !== undefined) matchKeys['host'] = c.host;
      if (Object.keys(c.headers).length) matchKeys['headers'] = c.headers;
      const value: Record<string, unknown> = { name: groups.length > 1 ? `${name} (${i + 1})` : name };
      if (Object.keys(matchKeys).length) value['match'] = matchKeys;
      value['action'] = actionKeys;
      value['stopProcessing'] = stopProcessing;
      out.push({
        rule: value,
        farm: farm.name,
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
