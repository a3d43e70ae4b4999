/**
 * The chains clients sent on full handshakes, by leaf: a resumed TLS session carries the leaf but not the
 * intermediates the client sent (nodejs/node#36926), and backends that receive Client-Cert-Chain or an
 * XFCC Chain must see the same chain whichever way the client connected. Bounded; oldest out first.
 */
export class ChainCache {
  readonly #entries = new Map<string, readonly Buffer[]>();
  constructor(readonly maxEntries = 10_000) {}

  remember(leafFingerprint256: string, chain: readonly Buffer[]): void {
    if (chain.length === 0 || this.#entries.has(leafFingerprint256)) return;
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(leafFingerprint256, chain);
  }

  recall(leafFingerprint256: string): readonly Buffer[] | undefined {
    return this.#entries.get(leafFingerprint256);
  }
}
