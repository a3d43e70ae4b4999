/**
 * Time and randomness for the farm, injected so that tests drive them: health tests, slow start, the
 * sliding windows behind requests/s and response times, and the random algorithms. The system clock's
 * timers are unref'd: a farm's timers never keep the process alive.
 */

/** An opaque timer handle. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds; monotonic, and close to the Unix epoch (so it can be shown as a date). */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** A number in [0, 1). */
export type Random = () => number;

/** performance.timeOrigin + performance.now(): monotonic, unlike Date.now(). */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export const systemRandom: Random = Math.random;

/** A deterministic Random (mulberry32) for tests and benchmarks. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ManualTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told to (tests): `advance(ms)` runs the timers that fall due, in order,
 * each at its own time. At most 100,000 timers run per call, so a timer that keeps rescheduling itself
 * at 0 ms cannot hang a test.
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: ManualTimer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.#nextId++, dueMs: this.#now + Math.max(0, delayMs), callback };
    // Keep the list ordered by due time, then by creation.
    let index = this.#timers.length;
    while (index > 0 && (this.#timers[index - 1] as ManualTimer).dueMs > timer.dueMs) index--;
    this.#timers.splice(index, 0, timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    const index = this.#timers.findIndex((t) => t.id === handle);
    if (index >= 0) this.#timers.splice(index, 1);
  }

  /** Timers waiting to run. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, running every timer due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let ran = 0; ran < 100_000; ran++) {
      const next = this.#timers[0];
      if (!next || next.dueMs > target) break;
      this.#timers.shift();
      this.#now = next.dueMs;
      next.callback();
    }
    this.#now = target;
  }
}
