// TEMPORARY: replaced by iis-certs
/** Minimal reading of `netsh http show sslcert` output so the importer runs until iis-certs' module lands. */
import type { Report } from './report.js';

export interface SslCertEntry {
  readonly key: { readonly kind: 'ip'; readonly address: string; readonly port: number } | { readonly kind: 'hostname'; readonly host: string; readonly port: number } | { readonly kind: 'ccs'; readonly port: number };
  readonly certificateHash?: string;
  readonly storeName?: string;
  readonly verifyClientCertRevocation?: boolean;
  readonly verifyRevocationUsingCachedOnly?: boolean;
  readonly revocationFreshnessTimeSeconds?: number;
  readonly urlRetrievalTimeoutMs?: number;
  readonly negotiateClientCertificate?: boolean;
  readonly line: number;
  readonly fields: Readonly<Record<string, string>>;
}

export function parseSslCert(text: string, _file: string, _report: Report): SslCertEntry[] {
  const entries: SslCertEntry[] = [];
  let fields: Record<string, string> | undefined;
  let start = 0;
  const flush = () => {
    if (!fields) return;
    const f = fields;
    const keyText = f['IP:port'] ?? f['Hostname:port'] ?? f['Central Certificate Store'];
    const port = Number(/:(\d+)$/.exec(keyText ?? '')?.[1] ?? keyText);
    const key = f['IP:port'] !== undefined
      ? { kind: 'ip' as const, address: (f['IP:port'] ?? '').replace(/:\d+$/, ''), port }
      : f['Hostname:port'] !== undefined
        ? { kind: 'hostname' as const, host: (f['Hostname:port'] ?? '').replace(/:\d+$/, ''), port }
        : { kind: 'ccs' as const, port };
    const hash = f['Certificate Hash'];
    entries.push({ key, ...(hash && hash !== '(null)' ? { certificateHash: hash.replace(/\s/g, '').toUpperCase() } : {}), line: start, fields: f });
    fields = undefined;
  };
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const m = /^\s+([^:]+?)\s*:\s(.*)$/.exec(line);
    if (!m) continue;
    const [, name, value] = m as unknown as [string, string, string];
    if (name === 'IP:port' || name === 'Hostname:port' || name === 'Central Certificate Store' || (name === 'IP' && false)) {
      flush();
      fields = {};
      start = i + 1;
    }
    if (fields) fields[name] = value.trim();
  }
  flush();
  return entries;
}

export function findSslCert(entries: readonly SslCertEntry[], binding: { readonly address: string; readonly port: number; readonly hostName: string | null; readonly sni: boolean }): SslCertEntry | undefined {
  if (binding.sni && binding.hostName) {
    const byName = entries.find((e) => e.key.kind === 'hostname' && e.key.host.toLowerCase() === binding.hostName?.toLowerCase() && e.key.port === binding.port);
    if (byName) return byName;
  }
  return (
    entries.find((e) => e.key.kind === 'ip' && e.key.address === binding.address && e.key.port === binding.port) ??
    entries.find((e) => e.key.kind === 'ip' && (e.key.address === '0.0.0.0' || e.key.address === '[::]') && e.key.port === binding.port)
  );
}
