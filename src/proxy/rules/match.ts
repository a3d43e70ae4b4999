/**
 * Which rule a request matches, in order. Per request: the path is put in its match form once (only
 * when a rule asks for it); per rule, the cheap conditions come first (certificate presence, host,
 * headers, certificate names) and the path last, and a rule that does not match allocates nothing.
 */
import type { IncomingMessage } from 'node:http';
import type { CertificateCondition, Farm, Rule, RuleAction, RuleMatch } from '../../config/model.js';
import type { ClientCertificate } from '../../tls/client-certificate.js';
import { redirectLocation, rewrittenUrl, type RuleRequest } from './action.js';
import { removeSegments } from '../request-target.js';

export type { RuleRequest };

/** A rule that matched, and the URL it made (rewrite: the URL sent on; redirect: the Location; respond: ''). */
export interface MatchedRule {
  readonly rule: Rule;
  readonly url: string;
}

/** What the rules decided for a request that at least one rule matched. */
export interface RuleDecision {
  /** The rules that matched, in order; the last one decided (earlier ones were routes with stopProcessing false). */
  readonly matched: readonly MatchedRule[];
  /** The deciding action: a redirect, a response, or the last route. */
  readonly action: RuleAction;
  /** route: the farm. */
  readonly farm: Farm | undefined;
  /** route: the URL (path and query) to send, rewritten or the client's; redirect: the Location. */
  readonly url: string;
  /** route: whether a rewrite changed the URL (the server then gets X-Original-URL). */
  readonly isRewritten: boolean;
}

/** Runs the rules; undefined when none matched (the site's farm, or 404, then). */
export function evaluateRules(rules: readonly Rule[], request: RuleRequest): RuleDecision | undefined {
  const req = request.req;
  const originalUrl = req.url ?? '/';
  let url = originalUrl;
  let path: string | undefined;
  let matched: MatchedRule[] | undefined;
  let route: Extract<RuleAction, { type: 'route' }> | undefined;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Rule;
    const match = rule.match;
    if (!matchesRequest(match, req, request.certificate)) continue;
    path ??= matchPath(url);
    let captures: readonly (string | undefined)[] | null;
    if (match.path) {
      captures = match.path.exec(path);
      if (!captures) continue;
    } else captures = [path];
    const action = rule.action;
    matched ??= [];
    if (action.type === 'route') {
      if (action.rewrite) {
        url = rewrittenUrl(action.rewrite, captures, request, url, action.appendQueryString);
        path = undefined; // later rules see the rewritten path
      }
      route = action;
      matched.push({ rule, url });
      if (rule.stopProcessing) break;
      continue;
    }
    if (action.type === 'redirect') {
      const location = redirectLocation(action.url, captures, request, url, action.appendQueryString);
      matched.push({ rule, url: location });
      return { matched, action, farm: undefined, url: location, isRewritten: false };
    }
    matched.push({ rule, url: '' });
    return { matched, action, farm: undefined, url: '', isRewritten: false };
  }
  if (!matched || !route) return undefined;
  return { matched, action: route, farm: route.farm, url, isRewritten: url !== originalUrl };
}

/** The conditions other than the path. */
function matchesRequest(match: RuleMatch, req: IncomingMessage, certificate: ClientCertificate | undefined): boolean {
  const cert = match.clientCertificate;
  if (cert?.present !== undefined && cert.present !== (certificate !== undefined)) return false;
  if (match.host) {
    const host = req.headers.host;
    if (host === undefined || !match.host.test(host, 0, hostEnd(host))) return false;
  }
  const headers = match.headers;
  for (let h = 0; h < headers.length; h++) {
    const condition = headers[h] as RuleMatch['headers'][number];
    const value = req.headers[condition.name];
    if (value === undefined) return false;
    if (!condition.value.test(typeof value === 'string' ? value : value.join(', '))) return false;
  }
  if (cert && !matchesCertificate(cert, certificate)) return false;
  return true;
}

/** Where the host name of a Host header ends (before `:port`; IPv6 literals in brackets). */
function hostEnd(host: string): number {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    return close < 0 ? host.length : close + 1;
  }
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host.length : colon;
}

/** Subject and issuer in the `CN=alice, O=Example` form, made once per certificate (not per request). */
const NAMES = new WeakMap<ClientCertificate, { readonly subject: string; readonly issuer: string }>();

function namesOf(certificate: ClientCertificate): { readonly subject: string; readonly issuer: string } {
  let names = NAMES.get(certificate);
  if (!names) NAMES.set(certificate, (names = { subject: certificate.subject, issuer: certificate.issuer }));
  return names;
}

function matchesCertificate(condition: CertificateCondition, certificate: ClientCertificate | undefined): boolean {
  const needsOne = condition.subject !== undefined || condition.issuer !== undefined || condition.thumbprint !== undefined || condition.thumbprintSha256 !== undefined;
  if (!needsOne) return true;
  if (!certificate) return false;
  if (condition.thumbprint !== undefined && certificate.thumbprint !== condition.thumbprint) return false;
  if (condition.thumbprintSha256 !== undefined && certificate.thumbprintSha256 !== condition.thumbprintSha256) return false;
  if (condition.subject || condition.issuer) {
    const names = namesOf(certificate);
    if (condition.subject && !condition.subject.test(names.subject)) return false;
    if (condition.issuer && !condition.issuer.test(names.issuer)) return false;
  }
  return true;
}

const NEEDS_DECODING = /[%\x80-\xff]/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/**
 * The path as rules see it: the request target's path without the query string, percent-decoded
 * (UTF-8) except for the escapes whose decoding would change its meaning (reserved characters such as
 * `%2F`, `%25`, `%3F`, and controls), with `.` and `..` segments resolved (RFC 3986 §5.2.4), path parameters (`;x`) removed, and the dots and spaces that end a segment removed (as Windows reads names). A block
 * rule on `/admin/*` thus also answers `/%61dmin/x` and `/public/../admin/x`, as the server would read
 * them. Allocates only when the URL has a query, escapes or dot segments.
 */
export function matchPath(url: string): string {
  let start = 0;
  if (url.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (`http://host/path`) or `*`
    const scheme = url.indexOf('://');
    if (scheme > 0) {
      const slash = url.indexOf('/', scheme + 3);
      const query = url.indexOf('?', scheme + 3);
      start = slash < 0 || (query >= 0 && query < slash) ? -1 : slash;
    }
  }
  let path: string;
  if (start < 0) path = '/';
  else {
    const query = url.indexOf('?', start);
    path = start === 0 && query < 0 ? url : url.slice(start, query < 0 ? url.length : query);
  }
  if (NEEDS_DECODING.test(path)) path = decodePath(path);
  if (DOT_SEGMENT.test(path)) path = removeSegments(path);
  if (path.includes(';')) path = path.replace(PATH_PARAMETERS, '').replace(REPEATED_SLASHES, '/');
  if (TRAILING_DOT_OR_SPACE.test(path)) path = path.replace(TRAILING_DOTS_AND_SPACES, '$1');
  return path;
}

/** `;params` of a segment (`/admin;x/y`): gone from the path rules see, as a Java backend reads it. */
const PATH_PARAMETERS = /;[^/]*/g;
const REPEATED_SLASHES = /\/{2,}/g;
/** Windows (so IIS) drops the dots and spaces that end a file or folder name: `/admin./x` is `/admin/x` there. */
const TRAILING_DOT_OR_SPACE = /[^/.][. ]+(?:\/|$)/;
const TRAILING_DOTS_AND_SPACES = /([^/.])[. ]+(?=\/|$)/g;

/** Bytes kept as escapes: `%`, the reserved characters and controls. */
const KEEP_ESCAPED = new Set([...";/?:@&=+$,#%[]"].map((c) => c.charCodeAt(0)));
const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

function decodePath(path: string): string {
  let out = '';
  let bytes: number[] = [];
  let pending = '';
  const flush = () => {
    if (bytes.length === 0) return;
    try {
      out += utf8.decode(Uint8Array.from(bytes));
    } catch {
      out += pending; // not UTF-8: left as escapes
    }
    bytes = [];
    pending = '';
  };
  for (let i = 0; i < path.length; ) {
    const c = path.charCodeAt(i);
    const high = c === 37 ? hexValue(path.charCodeAt(i + 1)) : -1;
    const low = high >= 0 ? hexValue(path.charCodeAt(i + 2)) : -1;
    if (low >= 0) {
      const byte = high * 16 + low;
      const escape = path.slice(i, i + 3);
      i += 3;
      if (byte >= 0x80) {
        bytes.push(byte);
        pending += escape;
        continue;
      }
      flush();
      out += KEEP_ESCAPED.has(byte) || byte < 0x20 || byte === 0x7f ? escape : String.fromCharCode(byte);
      continue;
    }
    if (c >= 0x80 && c <= 0xff) {
      // node reads the request line as latin1: a raw byte of a UTF-8 sequence
      bytes.push(c);
      pending += `%${c.toString(16).toUpperCase()}`;
      i++;
      continue;
    }
    flush();
    out += path[i];
    i++;
  }
  flush();
  return out;
}
