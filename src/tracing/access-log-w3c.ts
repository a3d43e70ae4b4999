/**
 * The W3C extended log format as IIS writes it: IIS's default fields in IIS's order, then Gatehouse's
 * extras. One line per request, fields separated by one space, `-` for an empty field, no quoting:
 * a space inside a field becomes `+` (as IIS writes cs(User-Agent)), and the characters that would
 * break a line or a quoted-string parser (controls, `"`, Unicode line separators) are %-encoded.
 * `date` and `time` are UTC, when the request ended, to the second; `time-taken` is milliseconds.
 */
import type { RequestRecord } from './request-record.js';
import { OUTCOMES } from '../shared/outcome.js';

/** IIS's default W3C fields, in IIS's order. */
export const IIS_DEFAULT_FIELDS = ['date', 'time', 's-ip', 'cs-method', 'cs-uri-stem', 'cs-uri-query', 's-port', 'cs-username', 'c-ip', 'cs(User-Agent)', 'cs(Referer)', 'sc-status', 'sc-substatus', 'sc-win32-status', 'time-taken'] as const;
/** Gatehouse's fields after IIS's: the site, the client port, the X-ARR-LOG-ID, where it was routed, the client certificate. */
export const GATEHOUSE_FIELDS = ['s-sitename', 'c-port', 'x-arr-log-id', 'x-farm', 'x-server', 'x-client-cert-thumbprint'] as const;
export const W3C_FIELDS: readonly string[] = [...IIS_DEFAULT_FIELDS, ...GATEHOUSE_FIELDS];

export const W3C_SOFTWARE = 'Gatehouse';

/** `yyyy-mm-dd hh:mm:ss`, UTC. */
export function w3cDateTime(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** The four header lines IIS starts every file with (and writes again when it reopens one). */
export function w3cHeader(nowMs: number): string {
  return `#Software: ${W3C_SOFTWARE}\n#Version: 1.0\n#Date: ${w3cDateTime(nowMs)}\n#Fields: ${W3C_FIELDS.join(' ')}\n`;
}

// Controls, space, `"`, DEL, NEL and the Unicode line/paragraph separators.
const SPECIAL = /[\x00-\x20"\x7f\x85\u2028\u2029]/;
const SPECIAL_ALL = /[\x00-\x20"\x7f\x85\u2028\u2029]/g;

/** One field: `-` when empty, spaces as `+`, line breakers %-encoded. */
export function w3cField(value: string): string {
  if (value === '') return '-';
  if (!SPECIAL.test(value)) return value;
  return value.replace(SPECIAL_ALL, (ch) => (ch === ' ' ? '+' : encodeURIComponent(ch)));
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) → `192.0.2.1`, as IIS logs it. IPv6 stays as is, without brackets. */
export function w3cAddress(ip: string): string {
  if (ip === '') return '-';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : w3cField(ip);
}

/** One W3C line (with its newline) for a finished request. */
export function w3cLine(r: RequestRecord): string {
  const query = r.url.indexOf('?');
  const stem = query < 0 ? r.url : r.url.slice(0, query);
  const queryString = query < 0 ? '' : r.url.slice(query + 1);
  const timeTaken = Math.max(0, Math.round(r.timeTakenMs));
  return `${w3cDateTime(r.startEpochMs + r.timeTakenMs)} ${w3cAddress(r.localIp)} ${w3cField(r.method)} ${w3cField(stem)} ${w3cField(queryString)} ${r.localPort} - ${w3cAddress(r.clientIp)} ${w3cField(r.userAgent)} ${w3cField(r.referer)} ${r.status} ${r.subStatus} ${OUTCOMES[r.outcome].win32Status} ${timeTaken} ${w3cField(r.site)} ${r.clientPort} ${w3cField(r.logId)} ${w3cField(r.farm)} ${w3cField(r.server)} ${w3cField(r.thumbprint)}\n`;
}
