/**
 * A site's online revocation check (`ssl.revocation.online`), in two halves:
 * - `prepare`, while a new TLS connection waits (before any request is read): makes sure the cache holds an
 *   answer for every certificate `check` covers, fetching what is missing (OCSP first, then the CRL), within
 *   `fetchTimeout`; with `cachedOnly` it never waits, and what is missing is fetched in the background.
 * - `statusOf`, synchronous, when the connection's first request makes its verdict: revoked (with the
 *   source), good, or unknown (with why).
 * Certificates a configured CRL file answers for (its issuer signed one) are not looked up online.
 */
import type { DetailedPeerCertificate } from 'node:tls';
import type { RevocationCheck } from '../../config/crl.js';
import { factsOf, isIssuerOf, type CertificateFacts } from './certificate-facts.js';
import { sourceKey, type RevocationCache, type Source } from './revocation-cache.js';
import type { CrlAnswer } from './crl-answer.js';
import type { OcspAnswer } from './ocsp.js';

export interface OnlineSettings {
  readonly cachedOnly: boolean;
  readonly whenUnknown: 'deny' | 'allow';
}

/** A certificate to check and the CA that issued it, with where to ask. */
export interface CheckedPair {
  readonly cert: CertificateFacts;
  readonly issuer: CertificateFacts;
  readonly sources: readonly Source[];
  /** The issuing CA could not be found (a resumed session whose full handshake this process never saw). */
  readonly missingIssuer?: boolean;
}

export type OnlineStatus =
  | { readonly state: 'good'; readonly source: string }
  | { readonly state: 'revoked'; readonly source: string; readonly subject: string; readonly serial: string }
  | { readonly state: 'unknown'; readonly subject: string; readonly why: string }
  | { readonly state: 'none' };

export interface CheckObserver {
  checked(source: 'file' | 'crl' | 'ocsp' | 'none', result: 'good' | 'revoked' | 'unknown'): void;
}

const MAX_DEPTH = 10;
const MAX_LEAVES = 10_000;

export class OnlineRevocation {
  readonly settings: OnlineSettings;
  readonly cache: RevocationCache;
  readonly #check: RevocationCheck;
  /** Whether a CRL file answers for certificates this CA issued (by its node fingerprint256). */
  readonly #fileCovers: (issuer: CertificateFacts) => boolean;
  readonly #anchors: readonly CertificateFacts[];
  readonly #pairs = new WeakMap<object, CheckedPair[]>();
  readonly #peers = new WeakMap<object, DetailedPeerCertificate>();
  /** Leaf fingerprint256 → its pairs, from full handshakes, for the resumed sessions that show the leaf alone. */
  readonly #pairsByLeaf = new Map<string, CheckedPair[]>();

  constructor(settings: OnlineSettings, cache: RevocationCache, check: RevocationCheck, anchors: readonly Buffer[], fileCovers: (issuer: CertificateFacts) => boolean) {
    this.settings = settings;
    this.cache = cache;
    this.#check = check;
    this.#fileCovers = fileCovers;
    this.#anchors = anchors.map((der) => factsOf(der));
  }

  /**
   * The certificates to check, leaf first, each with its issuer: from node's verified chain, or (a resumed
   * session shows the leaf alone) from the chain remembered for it and the trust anchors.
   */
  pairsOf(peer: DetailedPeerCertificate, remembered: readonly Buffer[] = []): CheckedPair[] {
    const pairs: CheckedPair[] = [];
    if (this.#check === 'off') return pairs;
    let cert = factsOf(peer.raw, peer.fingerprint256);
    let node: DetailedPeerCertificate | undefined = peer;
    let fallback = [...remembered.map((der) => factsOf(der)), ...this.#anchors];
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (depth > 0 && this.#isAnchor(cert)) break; // a trust anchor is not checked
      const next: DetailedPeerCertificate | undefined = node?.issuerCertificate;
      let issuer: CertificateFacts | undefined;
      if (next && next !== node && next.raw) issuer = factsOf(next.raw, next.fingerprint256);
      else issuer = fallback.find((candidate) => candidate !== cert && isIssuerOf(candidate, cert));
      if (!issuer) {
        if (!this.#isAnchor(cert)) pairs.push({ cert, issuer: cert, sources: [], missingIssuer: true });
        break;
      }
      if (issuer.fingerprint === cert.fingerprint) break; // a self-signed anchor is not checked
      if (!this.#fileCovers(issuer)) pairs.push({ cert, issuer, sources: sourcesOf(cert, issuer) });
      if (this.#check === 'leaf' || issuer.subjectDer.equals(issuer.issuerDer)) break;
      node = next && next !== node ? next : undefined;
      fallback = fallback.filter((candidate) => candidate !== issuer);
      cert = issuer;
    }
    return pairs;
  }

  #isAnchor(cert: CertificateFacts): boolean {
    return this.#anchors.some((anchor) => anchor.fingerprint === cert.fingerprint);
  }

  /**
   * pairsOf, once per connection (the handshake's gate and the first request's verdict share it). A
   * resumed session shows the leaf alone: its pairs are those its full handshake found.
   */
  pairsFor(socket: object, peer: DetailedPeerCertificate, remembered: readonly Buffer[] = []): CheckedPair[] {
    let pairs = this.#pairs.get(socket);
    if (pairs) return pairs;
    const hasChain = peer.issuerCertificate !== undefined && peer.issuerCertificate !== peer;
    pairs = hasChain ? undefined : this.#pairsByLeaf.get(peer.fingerprint256);
    if (!pairs) {
      pairs = this.pairsOf(peer, remembered);
      if (hasChain) {
        if (this.#pairsByLeaf.size >= MAX_LEAVES) this.#pairsByLeaf.delete(this.#pairsByLeaf.keys().next().value as string);
        this.#pairsByLeaf.set(peer.fingerprint256, pairs);
      }
    }
    this.#pairs.set(socket, pairs);
    return pairs;
  }

  /** The detailed peer certificate the gate read (the first request's verdict reads it from here, not again). */
  rememberPeer(socket: object, peer: DetailedPeerCertificate): void {
    this.#peers.set(socket, peer);
  }

  peerOf(socket: object): DetailedPeerCertificate | undefined {
    return this.#peers.get(socket);
  }

  /**
   * Fills the cache for `pairs`. Undefined when nothing needs waiting for (all answered, or cachedOnly);
   * else a promise that settles when every answer is in, or at `fetchTimeout`.
   */
  prepare(pairs: readonly CheckedPair[]): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined;
    for (const pair of pairs) {
      if (pair.sources.length === 0 || this.#answered(pair) !== undefined) continue;
      const resolving = this.#resolve(pair);
      if (this.settings.cachedOnly) resolving.catch(() => undefined);
      else (waits ??= []).push(resolving);
    }
    if (!waits) return undefined;
    const all = Promise.all(waits).then(() => undefined);
    const limit = this.cache.settings.fetchTimeoutMs + 250; // the fetch's own timeout, then its bookkeeping
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, limit);
      void all.finally(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The pairs' status from the cache: the first revoked certificate, else the first unknown one, else good. */
  statusOf(pairs: readonly CheckedPair[], observer?: CheckObserver): OnlineStatus {
    let unknown: OnlineStatus | undefined;
    let good: OnlineStatus | undefined;
    for (const pair of pairs) {
      const answer = this.#answered(pair);
      if (answer?.state === 'revoked') {
        observer?.checked(answer.kind, 'revoked');
        return { state: 'revoked', source: answer.source, subject: pair.cert.subject, serial: pair.cert.serial };
      }
      if (answer) {
        observer?.checked(answer.kind, 'good');
        good ??= { state: 'good', source: answer.source };
        continue;
      }
      observer?.checked(pair.sources[0]?.kind ?? 'none', 'unknown');
      unknown ??= { state: 'unknown', subject: pair.cert.subject, why: this.#whyUnknown(pair) };
    }
    return unknown ?? good ?? { state: 'none' };
  }

  /** The first source whose cached answer says good or revoked. */
  #answered(pair: CheckedPair): { state: 'good' | 'revoked'; kind: 'crl' | 'ocsp'; source: string } | undefined {
    for (const source of pair.sources) {
      const entry = this.cache.peek(source);
      if (!entry?.answer) continue;
      if (source.kind === 'ocsp') {
        const status = (entry.answer as OcspAnswer).status;
        if (status === 'unknown') continue;
        return { state: status, kind: 'ocsp', source: `OCSP ${source.url}` };
      }
      const isRevoked = (entry.answer as CrlAnswer).serials.has(pair.cert.serial);
      return { state: isRevoked ? 'revoked' : 'good', kind: 'crl', source: `CRL ${source.url}` };
    }
    return undefined;
  }

  #whyUnknown(pair: CheckedPair): string {
    if (pair.missingIssuer) return `the CA that issued ${pair.cert.subject} is neither in the chain the client sent nor in trustedCaFile`;
    if (pair.sources.length === 0) return `${pair.cert.subject} names no CRL distribution point or OCSP responder, and no crlFile is from ${pair.issuer.subject}`;
    const reasons: string[] = [];
    for (const source of pair.sources) {
      const entry = this.cache.peek(source);
      const label = `${source.kind === 'crl' ? 'CRL' : 'OCSP'} ${source.url}`;
      if (entry?.failure) reasons.push(`${label}: ${entry.failure}`);
      else if (entry?.answer) reasons.push(`${label}: status unknown to the responder`);
      else reasons.push(`${label}: ${this.settings.cachedOnly ? 'not cached (cachedOnly)' : 'no answer yet'}`);
    }
    return reasons.join('; ');
  }

  /** Asks the sources in order until one answers good or revoked. */
  async #resolve(pair: CheckedPair): Promise<void> {
    for (const source of pair.sources) {
      const entry = await this.cache.ensure(source);
      if (entry.answer && (source.kind === 'crl' || (entry.answer as OcspAnswer).status !== 'unknown')) return;
    }
  }
}

/** Where to ask about `cert`: its OCSP responders, then its http CRL distribution points. */
export function sourcesOf(cert: CertificateFacts, issuer: CertificateFacts): Source[] {
  const sources: Source[] = [];
  for (const url of cert.ocspUrls) sources.push({ kind: 'ocsp', url, cert, issuer, key: sourceKey('ocsp', url, cert, issuer) });
  for (const url of cert.crlUrls) sources.push({ kind: 'crl', url, cert, issuer, key: sourceKey('crl', url, cert, issuer) });
  return sources;
}
