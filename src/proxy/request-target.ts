/**
 * The request target, judged once: every request (HTTP/1.x and HTTP/2, every site, with or without
 * rules) is put in one normal form before the rules run, and that form is what the server receives.
 * A spelling a backend could read differently from what the rules saw is refused (400) or normalised:
 *
 *   refused   a `#` fragment; a backslash, raw or `%5C` (IIS and ASP.NET read it as `/`); an encoded `/`
 *             (`%2F`); an encoded control (`%00`-`%1F`, `%7F`); a bad escape (`%zz`); double escaping
 *             (`%25` followed by two hex digits, IIS's allowDoubleEscaping=false); bytes that are not UTF-8;
 *             whitespace or controls anywhere; a target that is neither a path, an absolute URL nor
 *             `*` (OPTIONS only).
 *   decoded   escapes of unreserved characters (`%61dmin` → `admin`).
 *   encoded   characters a path cannot carry raw, and non-ASCII (UTF-8, upper-case hex).
 *   removed   empty segments (`//`, and `/;x/`), `.` and `..` segments (RFC 3986 §5.2.4), where a
 *             segment `..;x` counts as `..` (as Tomcat reads it).
 *   kept      path parameters (`/a;x/b`): rules see the path without them (rules/match.ts); the query
 *             string, as sent.
 * An absolute-form target (`http://host/path`) becomes origin-form; authorityOf gives its authority, for
 * the caller to check against Host.
 */

export interface RefusedTarget {
  readonly refused: string;
}

/** Printable ASCII a request target may hold (RFC 9112 §3.2; `#` is checked apart). */
const TARGET_CHARS = /^[\x21-\x7e]*$/;
/** A path that needs nothing done: pchar and `/` only, no escapes or parameters. */
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Raw ASCII characters kept as they are in a path: unreserved, sub-delims, `:`, `@`, `/`. */
const RAW_OK = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") RAW_OK[c.charCodeAt(0)] = 1;
/** Escaped bytes decoded: unreserved characters only (their escape means nothing else). */
const DECODED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') DECODED[c.charCodeAt(0)] = 1;

const HEX = '0123456789ABCDEF';
const utf8 = new TextDecoder('utf-8', { fatal: true });

function escape(byte: number): string {
  return `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
}

const ABSOLUTE = /^https?:\/\/([^/?]*)/i;

/**
 * absolute-form only (`http://host:port/x`): the authority the target names, or undefined when the
 * target is not absolute-form. Call it only for a target judgeTarget accepted.
 */
export function authorityOf(target: string): string | undefined {
  if (target.charCodeAt(0) === 47 /* / */) return undefined;
  return ABSOLUTE.exec(target)?.[1];
}

/**
 * Judges a request target (`req.url`): the origin-form target to route and forward (the normalised path
 * and the query as sent; the same string when nothing changed), or why it is refused. `method` allows
 * `*` for OPTIONS.
 */
export function judgeTarget(target: string | undefined, method: string | undefined): string | RefusedTarget {
  if (target === undefined || target.length === 0) return { refused: 'the request has no target' };
  if (!TARGET_CHARS.test(target)) return { refused: 'the request target holds whitespace, controls or non-ASCII characters' };
  if (target.includes('#')) return { refused: 'the request target holds a fragment (#)' };
  if (target.charCodeAt(0) !== 47 /* / */) {
    if (target === '*') return method === 'OPTIONS' ? '*' : { refused: "the request target '*' is for OPTIONS only" };
    const absolute = ABSOLUTE.exec(target);
    const authority = absolute?.[1];
    if (!absolute || authority === undefined) return { refused: 'the request target is neither a path, an absolute http(s) URL nor *' };
    if (authority.length === 0 || authority.includes('@')) return { refused: 'the absolute request target has no host, or holds user information' };
    const rest = target.slice(absolute[0].length);
    target = rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  }
  const queryAt = target.indexOf('?');
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  let normal: string | RefusedTarget;
  if (PLAIN_PATH.test(path) && !path.includes('//') && !path.includes('/.')) normal = path;
  else {
    normal = normalisePath(path);
    if (typeof normal !== 'string') return normal;
  }
  if (normal === path) return target;
  return queryAt < 0 ? normal : normal + target.slice(queryAt);
}

/** The slow path: escapes, odd characters, empty and dot segments, parameters. */
function normalisePath(path: string): string | RefusedTarget {
  let out = '';
  let utf8Bytes: number[] | undefined;
  const flush = (): RefusedTarget | undefined => {
    if (!utf8Bytes) return undefined;
    try {
      utf8.decode(Uint8Array.from(utf8Bytes));
    } catch {
      return { refused: 'the request path is not UTF-8 once its escapes are decoded' };
    }
    for (const byte of utf8Bytes) out += escape(byte);
    utf8Bytes = undefined;
    return undefined;
  };
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */) {
      const high = hexValue(path.charCodeAt(i + 1));
      const low = high < 0 ? -1 : hexValue(path.charCodeAt(i + 2));
      if (low < 0) return { refused: 'the request path holds a % that does not start an escape (%XX)' };
      const byte = high * 16 + low;
      i += 2;
      if (byte >= 0x80) {
        (utf8Bytes ??= []).push(byte);
        continue;
      }
      const bad = flush();
      if (bad) return bad;
      if (byte === 0x2f) return { refused: 'the request path holds an encoded slash (%2F)' };
      if (byte === 0x5c) return { refused: 'the request path holds an encoded backslash (%5C)' };
      if (byte < 0x20 || byte === 0x7f) return { refused: 'the request path holds an encoded control character' };
      if (byte === 0x25 && hexValue(path.charCodeAt(i + 1)) >= 0 && hexValue(path.charCodeAt(i + 2)) >= 0) {
        return { refused: 'the request path is escaped twice (%25 followed by an escape)' };
      }
      out += DECODED[byte] ? String.fromCharCode(byte) : escape(byte);
      continue;
    }
    const bad = flush();
    if (bad) return bad;
    if (c === 92 /* \ */) return { refused: 'the request path holds a backslash' };
    out += RAW_OK[c] ? path[i] : escape(c);
  }
  const bad = flush();
  if (bad) return bad;
  return removeSegments(out);
}

/** Drops empty, `.` and `..` segments (a segment `..;x` is `..`); a path always starts with `/`. */
export function removeSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const segment = segments[i] as string;
    const semicolon = segment.indexOf(';');
    const name = semicolon < 0 ? segment : segment.slice(0, semicolon);
    if (name === '.' || name === '..') {
      if (name === '..') out.pop();
      if (i === last) out.push('');
      continue;
    }
    // Empty segments go, with or without parameters (`//`, `/;x/`: Tomcat reads `/;x/admin` as `/admin`).
    if (name.length === 0 && i !== last) continue;
    out.push(segment);
  }
  return `/${out.join('/')}`;
}
