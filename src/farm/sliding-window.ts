/**
 * A count and a sum over the last `windowMs`, in `buckets` slots of windowMs/buckets each: adding and
 * reading cost O(1) (amortized; expiring slots is bounded by the slot count), nothing is allocated after
 * construction. Behind requests/s, average response time and least response time.
 */
export class SlidingWindow {
  readonly windowMs: number;
  readonly #bucketMs: number;
  readonly #counts: Float64Array;
  readonly #sums: Float64Array;
  /** Index of the newest slot's period (time / bucketMs), -1 before the first add. */
  #epoch = -1;
  #count = 0;
  #sum = 0;

  constructor(windowMs: number, buckets = 10) {
    this.windowMs = windowMs;
    this.#bucketMs = Math.max(1, windowMs / buckets);
    this.#counts = new Float64Array(buckets);
    this.#sums = new Float64Array(buckets);
  }

  /** Records one event (a request; a response time as `value`). */
  add(now: number, value = 0): void {
    this.#advance(now);
    const slot = this.#epoch % this.#counts.length;
    this.#counts[slot] = (this.#counts[slot] as number) + 1;
    this.#sums[slot] = (this.#sums[slot] as number) + value;
    this.#count++;
    this.#sum += value;
  }

  /** Events in the window. */
  count(now: number): number {
    this.#advance(now);
    return this.#count;
  }

  /** Sum of the values in the window. */
  sum(now: number): number {
    this.#advance(now);
    return this.#sum;
  }

  /** Average value in the window; undefined when it is empty. */
  average(now: number): number | undefined {
    this.#advance(now);
    return this.#count === 0 ? undefined : this.#sum / this.#count;
  }

  /** Events per second over the window (over the time since `sinceMs` when that is shorter, at least 1 s). */
  ratePerSecond(now: number, sinceMs: number): number {
    const count = this.count(now);
    if (count === 0) return 0;
    const spanMs = Math.max(1000, Math.min(this.windowMs, now - sinceMs));
    return (count * 1000) / spanMs;
  }

  clear(): void {
    this.#counts.fill(0);
    this.#sums.fill(0);
    this.#count = 0;
    this.#sum = 0;
  }

  #advance(now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    if (epoch <= this.#epoch) return; // same slot (or a clock that went back: keep adding to the newest)
    const slots = this.#counts.length;
    // Slots between the newest one and now are expired; at most `slots` of them.
    for (let e = Math.max(this.#epoch + 1, epoch - slots + 1); e <= epoch; e++) {
      const slot = e % slots;
      this.#count -= this.#counts[slot] as number;
      this.#sum -= this.#sums[slot] as number;
      this.#counts[slot] = 0;
      this.#sums[slot] = 0;
    }
    if (this.#count <= 0) {
      this.#count = 0;
      this.#sum = 0; // no float drift left behind in an empty window
    }
    this.#epoch = epoch;
  }
}
