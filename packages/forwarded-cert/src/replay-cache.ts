/**
 * A bounded in-memory memory of proxy-signature ids already accepted, so that a captured signed
 * request cannot be replayed within the skew window.
 */

/** Options of {@link ReplayCache}. */
export interface ReplayCacheOptions {
  /**
   * Most ids remembered at once (default 100 000). Size it above the peak number of requests in two
   * skew windows (2 × maxSkewSeconds). When it is full of unexpired ids, new ids are refused
   * (fail closed) rather than older ones forgotten.
   */
  readonly maxEntries?: number | undefined;
}

/**
 * Remembers ids until their signature can no longer be accepted anyway (its timestamp + the skew
 * window), then forgets them. Only ids of correctly signed values are recorded, so a client without
 * the secret cannot fill it.
 */
export class ReplayCache {
  readonly #maxEntries: number;
  /** id → expiry (ms); Map iteration order is insertion order, which roughly follows expiry. */
  readonly #entries = new Map<string, number>();

  constructor(options: ReplayCacheOptions = {}) {
    const max = options.maxEntries ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`ReplayCache maxEntries must be a positive integer, got ${max}`);
    this.#maxEntries = max;
  }

  /** Ids currently remembered (expired ones may still be counted until the next sweep). */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether `id` was recorded and has not expired at `nowMs`. */
  has(id: string, nowMs: number): boolean {
    const expires = this.#entries.get(id);
    return expires !== undefined && expires >= nowMs;
  }

  /**
   * Records `id` until `expiresAtMs`. Returns `'recorded'`, `'replayed'` when the id is already
   * remembered and unexpired, or `'full'` when no room can be made.
   */
  record(id: string, expiresAtMs: number, nowMs: number): 'recorded' | 'replayed' | 'full' {
    if (this.has(id, nowMs)) return 'replayed';
    this.#entries.delete(id);
    this.#sweepFront(nowMs);
    if (this.#entries.size >= this.#maxEntries) this.#sweepAll(nowMs);
    if (this.#entries.size >= this.#maxEntries) return 'full';
    this.#entries.set(id, expiresAtMs);
    return 'recorded';
  }

  /** Forgets every id. */
  clear(): void {
    this.#entries.clear();
  }

  #sweepFront(nowMs: number): void {
    for (const [id, expires] of this.#entries) {
      if (expires >= nowMs) break;
      this.#entries.delete(id);
    }
  }

  #sweepAll(nowMs: number): void {
    for (const [id, expires] of this.#entries) if (expires < nowMs) this.#entries.delete(id);
  }
}
