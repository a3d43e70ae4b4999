/**
 * The client certificates seen since start (no peer has this): per distinct certificate, first and last
 * seen, connections, requests, the door's last verdict and its refusals by 403 sub-status, and the sites.
 * Updated once per new TLS connection (its first request, when the door's verdict is made), never per
 * request: the connection keeps its record, and the only per-request work is one integer increment on it
 * (listener.ts). Keyed by the SHA-256 fingerprint node already computed for the peer certificate; names
 * are parsed when a snapshot is asked for, not on the handshake's way. Bounded: least recently seen out
 * first (a Map in seen order: delete + set moves an entry to the end).
 */
import { X509Certificate } from 'node:crypto';
import type { ClientCertificate } from './client-certificate.js';
import type { ClientCertificateEntry } from '../shared/client-certificate-entry.js';
import type { Verdict } from './verdict.js';

export const DEFAULT_CLIENT_CERTIFICATE_ENTRIES = 10_000;

/** What an accepted certificate's `lastVerdict` says (refusals carry their outcome code). */
export const ACCEPTED_VERDICT = 'accepted';

export type { ClientCertificateEntry } from '../shared/client-certificate-entry.js';

/** The live record of a certificate; a connection keeps it to count its requests. */
export class ClientCertificateRecord {
  /** Requests on its connections: incremented once per request by the connection that holds the record. */
  requests = 0;
  connections = 0;
  lastVerdict: string = ACCEPTED_VERDICT;
  lastSeenMs: number;
  readonly firstSeenMs: number;
  /** `403.16` → connections; made on the first refusal. */
  rejections: Map<string, number> | undefined;
  readonly sites = new Set<string>();
  readonly thumbprintSha1: string;
  readonly thumbprintSha256: string;
  readonly notAfterMs: number;
  readonly serialNumber: string;
  /** The leaf's DER (node's buffer, not a copy); the peer certificate object is not kept. */
  readonly #raw: Buffer;
  #names: { subject: string; issuer: string } | undefined;

  constructor(certificate: ClientCertificate, nowMs: number) {
    this.thumbprintSha1 = certificate.thumbprint;
    this.thumbprintSha256 = certificate.thumbprintSha256;
    this.notAfterMs = certificate.notAfterMs;
    this.serialNumber = certificate.serialNumber;
    this.firstSeenMs = nowMs;
    this.lastSeenMs = nowMs;
    this.#raw = certificate.raw;
  }

  /** Subject and issuer, parsed once, when first asked for. */
  get names(): { subject: string; issuer: string } {
    if (this.#names) return this.#names;
    const x509 = new X509Certificate(this.#raw);
    const display = (dn: string) => dn.split('\n').filter(Boolean).reverse().join(', ');
    return (this.#names = { subject: display(x509.subject), issuer: display(x509.issuer) });
  }

  toJSON(): ClientCertificateEntry {
    const { subject, issuer } = this.names;
    return {
      subject,
      issuer,
      serialNumber: this.serialNumber,
      thumbprintSha1: this.thumbprintSha1,
      thumbprintSha256: this.thumbprintSha256,
      notAfter: new Date(this.notAfterMs).toISOString(),
      firstSeen: new Date(this.firstSeenMs).toISOString(),
      lastSeen: new Date(this.lastSeenMs).toISOString(),
      connections: this.connections,
      requests: this.requests,
      lastVerdict: this.lastVerdict,
      rejections: this.rejections ? Object.fromEntries(this.rejections) : {},
      sites: [...this.sites].sort(),
    };
  }
}

export class ClientCertificateInventory {
  readonly #records = new Map<string, ClientCertificateRecord>();

  constructor(readonly maxEntries = DEFAULT_CLIENT_CERTIFICATE_ENTRIES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, not ${maxEntries}`);
  }

  get size(): number {
    return this.#records.size;
  }

  /**
   * A new TLS connection presented `certificate` and the door judged it `verdict` for `site`: counted, and
   * its record returned (the connection counts its requests on it).
   */
  connected(certificate: ClientCertificate, verdict: Verdict, site: string, nowMs = Date.now()): ClientCertificateRecord {
    const key = certificate.thumbprintSha256;
    let record = this.#records.get(key);
    if (record) {
      this.#records.delete(key); // to the end: most recently seen
      record.lastSeenMs = nowMs;
    } else {
      record = new ClientCertificateRecord(certificate, nowMs);
      if (this.#records.size >= this.maxEntries) {
        const oldest = this.#records.keys().next().value;
        if (oldest !== undefined) this.#records.delete(oldest);
      }
    }
    this.#records.set(key, record);
    record.connections++;
    record.lastVerdict = verdict.outcome ?? ACCEPTED_VERDICT;
    if (verdict.subStatus !== 0) {
      const label = `403.${verdict.subStatus}`;
      record.rejections ??= new Map();
      record.rejections.set(label, (record.rejections.get(label) ?? 0) + 1);
    }
    record.sites.add(site);
    return record;
  }

  /** Every certificate as plain JSON, most recently seen first. */
  snapshot(): ClientCertificateEntry[] {
    return [...this.#records.values()].reverse().map((record) => record.toJSON());
  }
}

/**
 * Several workers' snapshots as one: per certificate (SHA-256) counts and refusals summed, first seen the
 * earliest, last seen and last verdict the newest's, sites united. Most recently seen first. Pure.
 */
export function mergeSnapshots(lists: readonly (readonly ClientCertificateEntry[])[]): ClientCertificateEntry[] {
  const merged = new Map<string, ClientCertificateEntry>();
  for (const list of lists) {
    for (const entry of list) {
      const known = merged.get(entry.thumbprintSha256);
      if (!known) {
        merged.set(entry.thumbprintSha256, { ...entry, rejections: { ...entry.rejections }, sites: [...entry.sites] });
        continue;
      }
      const newer = entry.lastSeen > known.lastSeen ? entry : known;
      const rejections: Record<string, number> = { ...known.rejections };
      for (const [label, count] of Object.entries(entry.rejections)) rejections[label] = (rejections[label] ?? 0) + count;
      merged.set(entry.thumbprintSha256, {
        ...known,
        firstSeen: entry.firstSeen < known.firstSeen ? entry.firstSeen : known.firstSeen,
        lastSeen: newer.lastSeen,
        lastVerdict: newer.lastVerdict,
        connections: known.connections + entry.connections,
        requests: known.requests + entry.requests,
        rejections,
        sites: [...new Set([...known.sites, ...entry.sites])].sort(),
      });
    }
  }
  return [...merged.values()].sort((a, b) => (a.lastSeen < b.lastSeen ? 1 : a.lastSeen > b.lastSeen ? -1 : 0));
}
