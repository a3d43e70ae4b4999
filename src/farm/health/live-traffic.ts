/**
 * The live-traffic test's count for one server. ARR's `liveTrafficFailurePeriod` is 0 by default and its
 * docs only say failures are counted "within" the period, so Gatehouse defines it:
 *   - period 0: `max` failures in a row; any response that is not a failure resets the count;
 *   - period > 0: `max` failures within the last `period` (a sliding window), successes in between or not.
 * Failures are live responses with a status in liveTrafficFailureCodes, and connection errors.
 */
export class LiveTrafficCount {
  readonly max: number;
  readonly periodMs: number;
  /** Period 0: failures since the last success. */
  #inARow = 0;
  /** Period > 0: times of the last `max` failures, a ring. */
  readonly #times: Float64Array;
  #next = 0;
  #stored = 0;

  constructor(max: number, periodMs: number) {
    this.max = max;
    this.periodMs = periodMs;
    this.#times = new Float64Array(periodMs > 0 ? max : 0);
  }

  /** Records a failure; true when it reaches the limit. */
  failure(now: number): boolean {
    if (this.max === 0) return false;
    if (this.periodMs === 0) return ++this.#inARow >= this.max;
    const times = this.#times;
    times[this.#next] = now;
    this.#next = (this.#next + 1) % times.length;
    if (this.#stored < times.length) this.#stored++;
    // Full ring: the oldest of the last `max` failures is the next slot to be written.
    return this.#stored === times.length && now - (times[this.#next % times.length] as number) <= this.periodMs;
  }

  success(): void {
    this.#inARow = 0;
  }

  reset(): void {
    this.#inARow = 0;
    this.#stored = 0;
    this.#next = 0;
  }

  /** Failures that count now (for the snapshot and messages). */
  current(now: number): number {
    if (this.periodMs === 0) return this.#inARow;
    let count = 0;
    for (let i = 0; i < this.#stored; i++) if (now - (this.#times[i] as number) <= this.periodMs) count++;
    return count;
  }
}
