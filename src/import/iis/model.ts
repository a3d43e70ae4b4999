/**
 * The IIS/ARR values the importer reads: timeSpans, booleans, numbers and flags as IIS writes them, and ARR's
 * defaults where an attribute is absent (shared/ARR-REFERENCE.md §3.6, §4). Gatehouse's own defaults are ARR's
 * per-farm ones (a unit test holds them equal), so an absent attribute is left out of the output.
 */
import type { Report } from './report.js';
import { elementPath, type XmlElement } from './xml.js';

/** ARR's per-farm defaults (`webFarm/applicationRequestRouting/…`), which Gatehouse's farm defaults equal. */
export const ARR_FARM_DEFAULTS = {
  protocol: { timeout: '00:00:30', preserveHostHeader: true, reverseRewriteHostInResponseHeaders: false, xForwardedForHeaderName: 'X-Forwarded-For', includePortInXForwardedFor: true, clientCertHeaderName: 'X-ARR-ClientCert', sslHeaderName: 'X-ARR-SSL', logGuidName: 'X-ARR-LOG-ID', maxForwards: 10, maxResponseHeaderSize: 65536 },
  healthCheck: { interval: '00:00:30', timeout: '00:00:30', statusCodeMatch: '200-399', liveTrafficFailureCodes: '500-', maxLiveTrafficFailures: 10, liveTrafficFailurePeriod: '00:00:00', minServers: 0 },
  affinity: { useCookie: false, cookieName: 'ARRAffinity' },
  loadBalancing: { algorithm: 'WeightedRoundRobin', leastResponseTimePeriod: '00:00:05' },
  server: { weight: 100, httpPort: 80, httpsPort: 443, enabled: true },
} as const;


/** IIS request filtering and tracing defaults, equal to Gatehouse's. */
export const IIS_DEFAULTS = {
  requestLimits: { maxAllowedContentLength: 30_000_000, maxUrl: 4096, maxQueryString: 2048 },
  traceFailedRequestsLogging: { enabled: false, maxLogFiles: 50, maxLogFileSizeKB: 1024 },
} as const;

/** Where an attribute came from, for report lines. */
export interface Source {
  readonly file: string;
  readonly report: Report;
}

export function reportAt(source: Source, element: XmlElement, attribute: string | undefined, text: string): void {
  source.report.add({ file: source.file, line: element.line, element: elementPath(element), ...(attribute === undefined ? {} : { attribute }), text });
}

/**
 * Milliseconds of an IIS timeSpan: `hh:mm:ss`, `d.hh:mm:ss`, seconds with a fraction (`00:00:00.1`), an
 * optional leading `-` refused. Undefined when it is not one (a bare `5` is .NET's 5 days: refused rather
 * than guessed).
 */
export function parseTimeSpan(value: string): number | undefined {
  const m = /^\s*(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?\s*$/.exec(value);
  if (!m) return undefined;
  const [, days, hours, minutes, seconds, fraction] = m;
  if (Number(minutes) > 59 || Number(seconds) > 59 || Number(hours) > 23) return undefined;
  const whole = ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds);
  return Math.round(whole * 1000 + (fraction ? Number(`0.${fraction}`) * 1000 : 0));
}

/** A Gatehouse duration for milliseconds, in the largest whole unit: `30s`, `2m`, `1h`, `2d`, `100ms`. */
export function toDuration(ms: number): string | number {
  if (ms === 0) return 0;
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** IIS booleans: `true`/`false` in any case. */
export function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

export function parseUint(value: string): number | undefined {
  return /^\s*\d+\s*$/.test(value) ? Number(value) : undefined;
}

/** Reads a typed attribute; a value IIS would refuse gets a report line and counts as absent. */
export function readAttr<T>(source: Source, element: XmlElement, name: string, parse: (v: string) => T | undefined, expected: string): T | undefined {
  const raw = element.attr(name);
  if (raw === undefined) return undefined;
  const value = parse(raw);
  if (value === undefined) reportAt(source, element, element.attributes.get(name.toLowerCase())?.name ?? name, `'${raw}' is not ${expected}: ignored, Gatehouse's default applies`);
  return value;
}

export const timeSpanAttr = (source: Source, element: XmlElement, name: string) => readAttr(source, element, name, parseTimeSpan, 'an IIS timeSpan (hh:mm:ss or d.hh:mm:ss)');
export const boolAttr = (source: Source, element: XmlElement, name: string) => readAttr(source, element, name, parseBool, 'true or false');
export const uintAttr = (source: Source, element: XmlElement, name: string) => readAttr(source, element, name, parseUint, 'a whole number');

/** IIS sslFlags (`system.webServer/security/access`): names separated by commas, or the number. */
export const SSL_FLAGS = { none: 0, ssl: 8, sslnegotiatecert: 32, sslrequirecert: 64, sslmapcert: 128, ssl128: 256 } as const;

export function parseSslFlags(value: string): { flags: Set<keyof typeof SSL_FLAGS>; unknown: string[] } {
  const flags = new Set<keyof typeof SSL_FLAGS>();
  const unknown: string[] = [];
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    for (const [name, bit] of Object.entries(SSL_FLAGS)) if (bit && (n & bit) === bit) flags.add(name as keyof typeof SSL_FLAGS);
    return { flags, unknown };
  }
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (!name) continue;
    if (name in SSL_FLAGS) flags.add(name as keyof typeof SSL_FLAGS);
    else unknown.push(part.trim());
  }
  return { flags, unknown };
}

/** A name Gatehouse accepts (sites, farms): letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const GATEHOUSE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Unique slugs for names Gatehouse refuses (`Default Web Site` → `Default-Web-Site`). */
export class Names {
  readonly #taken = new Set<string>();
  readonly renames: { kind: string; from: string; to: string }[] = [];

  name(kind: string, original: string): string {
    let base = GATEHOUSE_NAME.test(original) ? original : original.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/-+$/, '');
    if (!base) base = kind;
    // Sites and farms are named apart: a site and a farm may share a name.
    const key = (n: string) => `${kind}:${n.toLowerCase()}`;
    let name = base;
    for (let n = 2; this.#taken.has(key(name)); n++) name = `${base}-${n}`;
    this.#taken.add(key(name));
    if (name !== original) this.renames.push({ kind, from: original, to: name });
    return name;
  }
}
