/**
 * The actions of URL Rewrite rules that answer the request themselves: Redirect → a `redirect` action
 * (`redirectType` → status, the URL with its `{R:n}` captures and the server variables Gatehouse knows),
 * CustomResponse → a `respond` action (`statusCode`, `subStatusCode`, `statusDescription` as the body).
 * What cannot be said exactly is a reason to leave the rule out, or a report line on a rule that is kept.
 */
import { STATUS_CODES } from 'node:http';
import { boolAttr, reportAt, type Source } from './model.js';
import type { XmlElement } from './xml.js';

/** What the rule's match URL became, and how its captures relate to IIS's. */
export interface PathCaptures {
  /** The `match` keys (`path`, `pathPattern`, `ignoreCase`). */
  readonly keys: Record<string, unknown>;
  /** The pattern matches every path: no path key (Gatehouse's `{R:0}` is then the whole path, with its leading '/'). */
  readonly wholePath: boolean;
  /** The pattern has a group (a wildcard's `*`, a regular expression's `(…)`). */
  readonly groups: boolean;
  /** The captures `{R:1}`… Gatehouse's path key makes. */
  readonly captures: number;
  /**
   * Gatehouse's `{R:1}`… are IIS's, and its `{R:0}` is IIS's with the leading '/' (IIS matches the path
   * without it); for a whole-path pattern, IIS's `{R:0}` (and `{R:1}` of `(.*)`) is the whole path. False
   * for an unanchored regular expression, whose match could take in the leading '/'.
   */
  readonly sameCaptures: boolean;
}

/** URL Rewrite's redirectType → the status Gatehouse sends; SeeOther (303) is no Gatehouse redirect status. */
const REDIRECT_STATUS: Record<string, number> = { permanent: 301, found: 302, seeother: 303, temporary: 307 };
/** The server variables a Gatehouse redirect URL knows (compile.ts's TEMPLATE_VARIABLES). */
const VARIABLES = new Set(['HTTP_HOST', 'REQUEST_URI', 'HTTPS']);

/** `{R:n}` of IIS's match → Gatehouse's, or a reason. */
function captures(url: string, path: PathCaptures): string | { url: string } {
  if (!/\{R:\d+\}/i.test(url)) return { url };
  if (!path.sameCaptures) return `the redirect URL '${url}' uses captures of an unanchored pattern (Gatehouse matches the path with its leading '/', so they could differ; anchor it with ^)`;
  for (const m of url.matchAll(/\{R:(\d+)\}/gi)) {
    const n = Number(m[1]);
    if (n === 0 || (path.wholePath && path.groups && n === 1)) {
      // IIS's whole match has no leading '/', Gatehouse's {R:0} has: only `/{R:0}` has a Gatehouse form.
      if (url[m.index - 1] !== '/') return `the redirect URL '${url}' uses {R:${n}} after something other than '/': Gatehouse's {R:0} starts with the path's '/'`;
    } else if (path.wholePath) return `the redirect URL '${url}' uses {R:${n}} of a pattern that matches every path`;
    else if (n > path.captures) return `the redirect URL '${url}' uses {R:${n}}, but the pattern has ${path.captures} capture${path.captures === 1 ? '' : 's'}`;
  }
  let out = url.replace(/\/\{R:0\}/gi, '{R:0}');
  if (path.wholePath && path.groups) out = out.replace(/\/\{R:1\}/gi, '{R:0}');
  return { url: out };
}

function redirectAction(action: XmlElement, path: PathCaptures, source: Source): { keys: Record<string, unknown> } | string {
  const url = (action.attr('url') ?? '').trim();
  if (!url) return 'a Redirect without a url';
  const fn = /\{(?![RC]:\d)([A-Za-z]\w*):/i.exec(url);
  if (fn) return `the redirect URL '${url}' uses the {${fn[1]}:…} function or rewrite map: a Gatehouse redirect has none`;
  for (const m of url.matchAll(/\{([^{}]*)\}/g)) {
    const name = (m[1] as string).trim().toUpperCase();
    if (/^[RC]:\d+$/.test(name) || VARIABLES.has(name)) continue;
    return `the redirect URL '${url}' uses {${m[1]}}: a Gatehouse redirect knows {R:n}, {HTTP_HOST}, {REQUEST_URI} and {HTTPS}`;
  }
  const translated = captures(url, path);
  if (typeof translated === 'string') return translated;
  const typeRaw = (action.attr('redirectType') ?? 'Permanent').trim();
  let status = REDIRECT_STATUS[typeRaw.toLowerCase()];
  if (status === undefined) return `redirectType '${typeRaw}' is not Permanent, Found, SeeOther or Temporary`;
  if (status === 303) {
    reportAt(source, action, 'redirectType', 'SeeOther (303): Gatehouse redirects with 301, 302, 307 or 308; 302 is sent (browsers follow it with a GET, as they do a 303)');
    status = 302;
  }
  const keys: Record<string, unknown> = { type: 'redirect', url: translated.url, status };
  if ((boolAttr(source, action, 'appendQueryString') ?? true) === false) keys['appendQueryString'] = false;
  action.ignore('statusCode', 'subStatusCode', 'statusReason', 'statusDescription');
  return { keys };
}

function integerAttr(action: XmlElement, attribute: string): number | undefined | string {
  const raw = action.attr(attribute)?.trim();
  if (raw === undefined || raw === '') return undefined;
  return /^\d{1,4}$/.test(raw) ? Number(raw) : raw;
}

function respondAction(action: XmlElement, source: Source): { keys: Record<string, unknown> } | string {
  const status = integerAttr(action, 'statusCode');
  if (status === undefined) return 'a CustomResponse without a statusCode';
  if (typeof status === 'string' || status < 200 || status > 599) return `statusCode '${status}': Gatehouse answers with a status from 200 to 599`;
  const subStatus = integerAttr(action, 'subStatusCode') ?? 0;
  if (typeof subStatus === 'string' || subStatus > 999) return `subStatusCode '${subStatus}' is not 0-999`;
  const keys: Record<string, unknown> = { type: 'respond', status };
  if (subStatus !== 0) keys['subStatus'] = subStatus;
  const reason = action.attr('statusReason')?.trim();
  if (reason && reason.toLowerCase() !== (STATUS_CODES[status] ?? '').toLowerCase()) {
    reportAt(source, action, 'statusReason', `'${reason}': Gatehouse sends the standard reason phrase (${status} ${STATUS_CODES[status] ?? ''}; HTTP/2 has none)`);
  }
  const description = action.attr('statusDescription');
  if (description) {
    if (status === 204 || status === 304) reportAt(source, action, 'statusDescription', `a ${status} response has no body: not sent`);
    else keys['body'] = description;
  }
  action.ignore('url', 'redirectType', 'appendQueryString');
  return { keys };
}

/** A Redirect or CustomResponse action's keys, or the reason the rule is left out. */
export function answerAction(action: XmlElement, kind: 'redirect' | 'customresponse', path: PathCaptures, source: Source): { keys: Record<string, unknown> } | string {
  return kind === 'redirect' ? redirectAction(action, path, source) : respondAction(action, source);
}
