/**
 * The text `netsh http show sslcert` prints on the IIS server (English output): HTTP.sys's SSL bindings,
 * where IIS keeps each https binding's certificate hash and the client-certificate revocation settings.
 * One entry per `IP:port`, `Hostname:port` (SNI) or `Central Certificate Store` key line, followed by
 * `Label : value` fields until the next key line. PowerShell's `>` writes the file as UTF-16LE with a BOM:
 * decodeSslCertBytes reads either encoding, and parseSslCert repairs UTF-16 text that was read as UTF-8.
 */
import type { Report } from './report.js';

export interface SslCertEntry {
  readonly key: { readonly kind: 'ip'; readonly address: string; readonly port: number } // address '0.0.0.0' or '[::]' = every address
    | { readonly kind: 'hostname'; readonly host: string; readonly port: number }
    | { readonly kind: 'ccs'; readonly port: number };
  readonly certificateHash?: string; // upper-case hex, no spaces
  readonly storeName?: string; // "MY", "WebHosting"
  readonly verifyClientCertRevocation?: boolean;
  readonly verifyRevocationUsingCachedOnly?: boolean;
  readonly revocationFreshnessTimeSeconds?: number;
  readonly urlRetrievalTimeoutMs?: number;
  readonly negotiateClientCertificate?: boolean;
  readonly line: number; // line of the entry's first line in the file
  readonly fields: Readonly<Record<string, string>>; // every field as printed
}

/** Where an entry came from: its file and the line of each field (for report lines that point into sslcert.txt). */
export interface SslCertSource {
  readonly file: string;
  readonly fieldLines: ReadonlyMap<string, number>;
}

const SOURCES = new WeakMap<SslCertEntry, SslCertSource>();

/** The file and field lines of an entry parseSslCert returned (undefined for an entry made another way). */
export function sourceOf(entry: SslCertEntry): SslCertSource | undefined {
  return SOURCES.get(entry);
}

/** The entry's key as `netsh http add sslcert` takes it, for report lines (one token): `ipport=0.0.0.0:443`. */
export function describeKey(key: SslCertEntry['key']): string {
  if (key.kind === 'ip') return `ipport=${key.address}:${key.port}`;
  if (key.kind === 'hostname') return `hostnameport=${key.host}:${key.port}`;
  return `ccs=${key.port}`;
}

/** `netsh http add sslcert`'s parameter for a field `show sslcert` prints (report lines name the attribute in one token). */
const NETSH_PARAMETERS: Readonly<Record<string, string>> = {
  'certificate hash': 'certhash',
  'application id': 'appid',
  'certificate store name': 'certstorename',
  'verify client certificate revocation': 'verifyclientcertrevocation',
  'verify revocation using cached client certificate only': 'verifyrevocationwithcachedclientcertonly',
  'usage check': 'usagecheck',
  'revocation freshness time': 'revocationfreshnesstime',
  'url retrieval timeout': 'urlretrievaltimeout',
  'ctl identifier': 'sslctlidentifier',
  'ctl store name': 'sslctlstorename',
  'ds mapper usage': 'dsmapperusage',
  'negotiate client certificate': 'clientcertnegotiation',
  'reject connections': 'rejectconnections',
  'disable http2': 'disablehttp2',
  'disable quic': 'disablequic',
  'disable tls1.2': 'disabletls12',
  'disable tls1.3': 'disabletls13',
  'disable ocsp stapling': 'disableocspstapling',
  'disable legacy tls versions': 'disablelegacytls',
  'enable token binding': 'enabletokenbinding',
};

export function netshParameter(label: string): string {
  const key = label.trim().toLowerCase();
  return NETSH_PARAMETERS[key] ?? key.replace(/[^a-z0-9]/g, '');
}

/** A file's text: UTF-16LE/BE with a BOM (PowerShell's `>`), UTF-8 with or without a BOM. */
export function decodeSslCertBytes(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le');
  if (buf[0] === 0xfe && buf[1] === 0xff) {
    const swapped = Buffer.from(buf.subarray(2, 2 + ((buf.length - 2) & ~1)));
    return swapped.swap16().toString('utf16le');
  }
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return buf.subarray(3).toString('utf8');
  // UTF-16LE without a BOM: every other byte of ASCII text is zero.
  if (buf.length >= 4 && buf[1] === 0 && buf[3] === 0 && buf[0] !== 0) return buf.toString('utf16le');
  return buf.toString('utf8');
}

/** Text of a UTF-16 file read as UTF-8 or Latin-1 (`\uFFFD\uFFFD` or `ÿþ` then NULs between the letters) → the letters. */
function repairText(text: string): string {
  let out = text.replace(/^\uFEFF/, '');
  if (!out.includes('\u0000')) return out;
  out = out.replace(/^(\uFFFD\uFFFD|\u00FF\u00FE|\u00FE\u00FF)/, '');
  return out.replace(/\u0000/g, '');
}

const KEY_LABELS: Record<string, 'ip' | 'hostname' | 'ccs'> = { 'ip:port': 'ip', 'hostname:port': 'hostname', 'central certificate store': 'ccs' };
const FIELD = /^\s*(\S.*?)\s+:\s?(.*?)\s*$/;
const NULL_VALUES = new Set(['', '(null)', 'null']);

function parseKey(kind: 'ip' | 'hostname' | 'ccs', value: string): SslCertEntry['key'] | undefined {
  if (kind === 'ccs') {
    const port = portOf(value);
    return port === undefined ? undefined : { kind, port };
  }
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match) return undefined;
  const port = portOf(match[2] as string);
  const host = (match[1] as string).trim();
  if (port === undefined || host === '') return undefined;
  if (kind === 'hostname') return { kind, host: host.toLowerCase(), port };
  if (host.includes(':') && !host.startsWith('[')) return { kind, address: `[${host.toLowerCase()}]`, port };
  return { kind, address: host.toLowerCase(), port };
}

function portOf(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text.trim())) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** `Enabled` / `Disabled` (and `Set` / `Not Set` for the `Disable …` switches); undefined for anything else. */
export function switchValue(value: string | undefined): boolean | undefined {
  const text = value?.trim().toLowerCase();
  if (text === 'enabled' || text === 'set' || text === 'true' || text === 'yes') return true;
  if (text === 'disabled' || text === 'not set' || text === 'false' || text === 'no') return false;
  return undefined;
}

interface Draft {
  key: SslCertEntry['key'];
  line: number;
  fields: Record<string, string>;
  fieldLines: Map<string, number>;
}

/**
 * The entries of `netsh http show sslcert` output, in file order. Lines it cannot read (a field before any
 * key line, a key whose address or port is not one, a value that is not the number or switch expected)
 * become report lines; a file with no entry at all gets one report line saying what was expected.
 */
export function parseSslCert(text: string, file: string, report: Report): SslCertEntry[] {
  const lines = repairText(text).split(/\r\n|\r|\n/);
  const drafts: Draft[] = [];
  let current: Draft | undefined;
  let skipping = false;
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || /^-+$/.test(trimmed) || /^SSL Certificate bindings:?$/i.test(trimmed) || /:$/.test(trimmed)) return; // blank, rule, header, `Extended Properties:`
    const match = FIELD.exec(raw);
    if (!match) {
      report.add({ file, line: lineNo, element: 'sslcert', text: `"${trimmed}" is not a "Label : value" line of netsh http show sslcert; ignored` });
      return;
    }
    const label = match[1] as string;
    const value = match[2] as string;
    const kind = KEY_LABELS[label.toLowerCase()];
    if (kind !== undefined) {
      const key = parseKey(kind, value);
      if (!key) {
        report.add({ file, line: lineNo, element: 'sslcert', attribute: netshParameter(label), text: `"${value}" is not ${kind === 'ccs' ? 'a port' : kind === 'ip' ? 'an address:port' : 'a hostname:port'}; this entry is ignored` });
        current = undefined;
        skipping = true;
        return;
      }
      current = { key, line: lineNo, fields: { [label]: value }, fieldLines: new Map([[label, lineNo]]) };
      skipping = false;
      drafts.push(current);
      return;
    }
    if (!current) {
      if (!skipping) report.add({ file, line: lineNo, element: 'sslcert', attribute: netshParameter(label), text: 'a field before any IP:port, Hostname:port or Central Certificate Store line; ignored' });
      return;
    }
    current.fields[label] = value;
    current.fieldLines.set(label, lineNo);
  });
  if (drafts.length === 0) {
    report.add({ file, line: 0, element: 'sslcert', text: 'no SSL certificate binding found: expected the English output of `netsh http show sslcert` (entries starting "IP:port", "Hostname:port" or "Central Certificate Store"); no certificate hash is known for any binding' });
  }
  return drafts.map((draft) => finish(draft, file, report));
}

function finish(draft: Draft, file: string, report: Report): SslCertEntry {
  const lookup = new Map(Object.entries(draft.fields).map(([label, value]) => [label.toLowerCase(), { label, value }]));
  const element = `sslcert[${describeKey(draft.key)}]`;
  const at = (label: string): number => draft.fieldLines.get(label) ?? draft.line;
  const text = (name: string): string | undefined => {
    const value = lookup.get(name)?.value.trim();
    return value === undefined || NULL_VALUES.has(value.toLowerCase()) ? undefined : value;
  };
  const flag = (name: string): boolean | undefined => {
    const found = lookup.get(name);
    if (!found || NULL_VALUES.has(found.value.trim().toLowerCase()) || /^not set$/i.test(found.value.trim())) return undefined;
    const value = switchValue(found.value);
    if (value === undefined) report.add({ file, line: at(found.label), element, attribute: netshParameter(found.label), text: `"${found.value}" is neither Enabled nor Disabled; read as not printed (HTTP.sys's default)` });
    return value;
  };
  const count = (name: string, unit: string): number | undefined => {
    const found = lookup.get(name);
    if (!found || NULL_VALUES.has(found.value.trim().toLowerCase())) return undefined;
    if (!/^\d+$/.test(found.value.trim())) {
      report.add({ file, line: at(found.label), element, attribute: netshParameter(found.label), text: `"${found.value}" is not a number of ${unit}; read as 0 (HTTP.sys's default)` });
      return undefined;
    }
    return Number(found.value.trim());
  };
  const hashText = text('certificate hash');
  let certificateHash: string | undefined;
  if (hashText !== undefined) {
    const hex = hashText.replace(/[\s\u200e\u200f]/g, '').toUpperCase();
    if (/^[0-9A-F]{40}$/.test(hex)) certificateHash = hex;
    else report.add({ file, line: at(lookup.get('certificate hash')?.label as string), element, attribute: 'certhash', text: `"${hashText}" is not a SHA-1 thumbprint (40 hex digits); the binding's certificate is not known` });
  }
  const entry: SslCertEntry = {
    key: draft.key,
    line: draft.line,
    fields: Object.freeze({ ...draft.fields }),
    ...optional('certificateHash', certificateHash),
    ...optional('storeName', text('certificate store name')),
    ...optional('verifyClientCertRevocation', flag('verify client certificate revocation')),
    ...optional('verifyRevocationUsingCachedOnly', flag('verify revocation using cached client certificate only')),
    ...optional('revocationFreshnessTimeSeconds', count('revocation freshness time', 'seconds')),
    ...optional('urlRetrievalTimeoutMs', count('url retrieval timeout', 'milliseconds')),
    ...optional('negotiateClientCertificate', flag('negotiate client certificate')),
  };
  SOURCES.set(entry, { file, fieldLines: draft.fieldLines });
  return entry;
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

/** `*`, `0.0.0.0`, `[::]` … → one spelling, for comparing a binding's address with an entry's. */
function normalAddress(address: string): string {
  const text = address.trim().toLowerCase();
  if (text === '' || text === '*' || text === '0.0.0.0') return '0.0.0.0';
  const bare = text.replace(/^\[|\]$/g, '');
  if (bare.includes(':')) return bare === '::' || bare === '0:0:0:0:0:0:0:0' ? '[::]' : `[${bare}]`;
  return bare;
}

/** The entry HTTP.sys would use for an https binding (SNI: hostname:port; else ip:port, then 0.0.0.0:port). */
export function findSslCert(entries: readonly SslCertEntry[], binding: { readonly address: string; readonly port: number; readonly hostName: string | null; readonly sni: boolean }): SslCertEntry | undefined {
  const port = binding.port;
  const ip = (address: string): SslCertEntry | undefined => entries.find((entry) => entry.key.kind === 'ip' && entry.key.port === port && normalAddress(entry.key.address) === address);
  const ccs = (): SslCertEntry | undefined => entries.find((entry) => entry.key.kind === 'ccs' && entry.key.port === port);
  if (binding.sni && binding.hostName) {
    const host = binding.hostName.trim().toLowerCase();
    const byName = entries.find((entry) => entry.key.kind === 'hostname' && entry.key.port === port && entry.key.host === host);
    if (byName) return byName;
    const central = ccs();
    if (central) return central;
  }
  const address = normalAddress(binding.address);
  return ip(address) ?? ip('0.0.0.0') ?? ip('[::]') ?? ccs();
}
