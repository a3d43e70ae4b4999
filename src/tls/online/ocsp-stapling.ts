/**
 * OCSP stapling of a binding's own certificate (`certificate.ocspStapling`): the responder's answer about
 * it, fetched from the OCSP URL in its Authority Information Access, checked against its issuer, kept in
 * the revocation cache and refreshed before its nextUpdate, and handed to node's 'OCSPRequest' event for
 * each handshake that asks (status_request). With no valid answer the handshake goes on without a staple.
 * It is kept fresh while `inForce` says a binding of the running config staples it: a binding removed by a
 * reload stops its refreshes.
 */
import type { RevocationCache, Source } from './revocation-cache.js';
import { sourceKey } from './revocation-cache.js';
import { factsOf, type CertificateFacts } from './certificate-facts.js';

export class OcspStaple {
  readonly leaf: CertificateFacts;
  readonly #cache: RevocationCache;
  readonly #warn: (message: string) => void;
  readonly #inForce: (key: string) => boolean;
  #source: Source | undefined;
  #warned = false;

  constructor(leafDer: Buffer, issuerDer: Buffer | undefined, cache: RevocationCache, warn: (message: string) => void, inForce: (key: string) => boolean) {
    this.leaf = factsOf(leafDer);
    this.#cache = cache;
    this.#warn = warn;
    this.#inForce = inForce;
    if (this.leaf.ocspUrls.length === 0) warn(`ocspStapling: ${this.leaf.subject} names no OCSP responder (Authority Information Access): nothing to staple`);
    else if (issuerDer) this.#sourceFor(issuerDer);
  }

  /** Starts fetching (at startup, when the certificate file holds the issuer). */
  start(): void {
    if (this.#source) void this.#cache.ensure(this.#source).then((entry) => this.#report(entry.failure));
  }

  /** The cache key of its answer; undefined until its issuer is known. */
  get key(): string | undefined {
    return this.#source?.key;
  }

  /** Whether node's 'OCSPRequest' certificate is this staple's. */
  isFor(certificate: Buffer): boolean {
    return this.leaf.der.equals(certificate);
  }

  /** The staple for a handshake: the cached answer, or (first handshakes) the fetch under way, bounded by its timeout. */
  answer(issuer: Buffer | null | undefined, callback: (error: Error | null, response?: Buffer) => void): void {
    const source = this.#source ?? (issuer ? this.#sourceFor(issuer) : undefined);
    if (!source) {
      callback(null);
      return;
    }
    const known = this.#cache.peek(source);
    if (known) {
      // Reported here too: the cache holds an answer (or why there is none) before the fetch that got it
      // has finished writing it to the folder, so start()'s report may not have run yet.
      this.#report(known.failure);
      callback(null, known.answer ? known.der : undefined);
      return;
    }
    void this.#cache.ensure(source).then(
      (entry) => {
        this.#report(entry.failure);
        callback(null, entry.answer ? entry.der : undefined);
      },
      () => callback(null),
    );
  }

  #sourceFor(issuerDer: Buffer): Source | undefined {
    if (this.leaf.ocspUrls.length === 0) return undefined;
    try {
      const issuer = factsOf(issuerDer);
      const url = this.leaf.ocspUrls[0] as string;
      const key = `staple ${sourceKey('ocsp', url, this.leaf, issuer)}`;
      this.#source = { kind: 'ocsp', url, cert: this.leaf, issuer, key, keepFresh: () => this.#inForce(key) };
    } catch {
      this.#source = undefined;
    }
    return this.#source;
  }

  #report(failure: string | undefined): void {
    if (failure === undefined) {
      this.#warned = false;
      return;
    }
    if (this.#warned) return;
    this.#warned = true;
    this.#warn(`ocspStapling: no staple for ${this.leaf.subject} (${failure}); handshakes go on without one`);
  }
}
