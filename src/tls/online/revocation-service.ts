/**
 * The process's online revocation: one cache per folder and timing (sites with the same settings share
 * it, and it outlives config reloads), each site's checker, and the gate that holds a new TLS connection
 * until its client certificate's answers are in.
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { Binding, OnlineRevocationSettings, SslSettings } from '../../config/model.js';
import { OcspStaple } from './ocsp-stapling.js';
import { crlFileCovers } from '../revocation.js';
import { OnlineRevocation, type CheckObserver } from './online-revocation.js';
import { RevocationCache, type Entry, type SourceKind } from './revocation-cache.js';

export interface RevocationObserver extends CheckObserver {
  fetched(kind: SourceKind, outcome: 'ok' | 'failed', seconds: number): void;
}

export class RevocationService {
  readonly #caches = new Map<string, RevocationCache>();
  #observer: RevocationObserver | undefined;
  readonly #warn: (message: string) => void;
  /** The staples of the bindings in force (staplesInForce); only theirs are refreshed unasked. */
  #staples: readonly OcspStaple[] = [];

  constructor(warn: (message: string) => void, observer?: RevocationObserver) {
    this.#warn = warn;
    this.#observer = observer;
  }

  get observer(): RevocationObserver | undefined {
    return this.#observer;
  }

  /** Reports checks and fetches to `observer` (the metrics) from now on. */
  observeWith(observer: RevocationObserver): void {
    this.#observer = observer;
  }

  /** The cache for these settings (one per folder, freshness and timeout). */
  cacheFor(settings: Pick<OnlineRevocationSettings, 'cacheFolder' | 'freshnessMs' | 'fetchTimeoutMs'>): RevocationCache {
    const key = `${settings.cacheFolder}\u0000${settings.freshnessMs}\u0000${settings.fetchTimeoutMs}`;
    let cache = this.#caches.get(key);
    if (!cache) {
      cache = new RevocationCache(
        { folder: settings.cacheFolder, freshnessMs: settings.freshnessMs, fetchTimeoutMs: settings.fetchTimeoutMs },
        { fetched: (kind, _url, outcome, seconds) => this.#observer?.fetched(kind, outcome, seconds), warn: this.#warn },
      );
      this.#caches.set(key, cache);
    }
    return cache;
  }

  /** A site's online checker; undefined when its `revocation.online` is off. */
  checkerFor(ssl: SslSettings): OnlineRevocation | undefined {
    const settings = ssl.onlineRevocation;
    if (!settings || ssl.clientCertificates === 'ignore') return undefined;
    const revocation = ssl.revocation;
    return new OnlineRevocation(settings, this.cacheFor(settings), revocation.check, (ssl.trustedCa?.certs ?? []).map((ca) => ca.raw), (issuer) => crlFileCovers(revocation, issuer.der, issuer.fingerprint));
  }

  /** The OCSP staple of an https binding with `ocspStapling`; undefined otherwise. */
  stapleFor(binding: Binding, ssl: SslSettings): OcspStaple | undefined {
    const certificate = binding.certificate;
    if (!certificate?.ocspStapling) return undefined;
    return new OcspStaple(Buffer.from(certificate.leaf.raw), certificate.issuer ? Buffer.from(certificate.issuer.raw) : undefined, this.cacheFor(ssl.revocationCache), this.#warn, (key) => this.#staples.some((staple) => staple.key === key));
  }

  /**
   * The staples of the config now in force (at start and at each reload's commit): a staple whose binding
   * a reload removed is no longer refreshed (its answer is let go once stale, unless a handshake asks).
   */
  staplesInForce(staples: Iterable<OcspStaple | undefined>): void {
    this.#staples = [...staples].filter((staple): staple is OcspStaple => staple !== undefined);
  }

  /** Every cached answer, for metrics (age) and the admin API. */
  *entries(): IterableIterator<Entry> {
    for (const cache of this.#caches.values()) yield* cache.entries();
  }

  close(): void {
    for (const cache of this.#caches.values()) cache.close();
  }
}

/**
 * Holds a new TLS connection until the answers its client certificate needs are cached (bounded by
 * fetchTimeout). Undefined when nothing needs waiting for: the connection goes on at once.
 */
export function revocationGate(socket: TLSSocket, online: OnlineRevocation, remembered?: (fingerprint256: string) => readonly Buffer[] | undefined): Promise<void> | undefined {
  if (!socket.authorized) return undefined; // the door refuses it anyway
  const peer = socket.getPeerCertificate(true) as DetailedPeerCertificate;
  if (!peer?.raw) return undefined;
  online.rememberPeer(socket, peer);
  try {
    const chain = socket.isSessionReused() ? remembered?.(peer.fingerprint256) : undefined;
    return online.prepare(online.pairsFor(socket, peer, chain));
  } catch {
    return undefined; // a certificate the parser cannot read: the first request's verdict says why
  }
}
