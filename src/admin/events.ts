/**
 * The event bus of the admin API: what happened, in order, for `GET /events` and the live stream
 * (`GET /events/stream`). A bounded ring keeps the last events (1,000 by default), each with a
 * monotonic integer id and its time. Types: `reload` (a config reload tried), `health` (a server marked
 * healthy or unhealthy), `state` (a server's availability changed), `rejections` (answers Gatehouse gave
 * itself, summarised per interval from the existing counter, never counted per request), `admin` (an
 * admin write applied), `certificate`.
 *
 * Nothing here runs per request: farms report health and state changes (rare), the rejections summary
 * reads gatehouse_rejections_total on an unref'd timer. Events from elsewhere (a cluster's workers) come
 * in through publish(): the bus gives them its own id.
 */
import type { FarmRuntime } from './farm-runtime.js';
import type { FarmState } from '../farm/farm-state.js';

export const EVENT_TYPES = ['reload', 'health', 'state', 'rejections', 'admin', 'certificate'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One line of a rejections summary: answers of one status and reason on one site over the interval. */
export interface RejectionCount {
  readonly site: string;
  /** `403.16`. */
  readonly status: string;
  /** The outcome code (docs/outcomes.md). */
  readonly reason: string;
  readonly count: number;
}

/** What happened, before the bus numbers it. */
export type EventInput =
  | { readonly type: 'reload'; readonly ok: boolean; readonly problems: readonly string[]; readonly file: string }
  | { readonly type: 'health'; readonly farm: string; readonly server: string; readonly healthy: boolean; readonly reason: string; readonly source: string }
  | { readonly type: 'state'; readonly farm: string; readonly server: string; readonly from: string; readonly to: string; readonly by: string }
  | { readonly type: 'rejections'; readonly intervalSeconds: number; readonly total: number; readonly counts: readonly RejectionCount[] }
  | { readonly type: 'admin'; readonly who: string; readonly action: string; readonly operation: Record<string, unknown>; readonly result: string }
  | { readonly type: 'certificate'; readonly action: string; readonly certificate: string; readonly subject: string; readonly who?: string };

/** An event as kept and served: its id (monotonic in this bus), its time (ISO 8601), what happened. */
export type GatehouseEvent = EventInput & { readonly id: number; readonly time: string; readonly worker?: number };

export interface EventBusOptions {
  /** Events kept (the oldest go first). Default 1,000. */
  readonly capacity?: number;
  /** A stream client whose unsent answer grows past this many bytes is dropped. Default 1 MiB. */
  readonly maxStreamBufferBytes?: number;
  /** A comment line on every stream this often, so that idle streams stay open through proxies. Default 15 s. */
  readonly heartbeatMs?: number;
}

/** A sample of a labelled counter (prom-client's MetricObject values). */
export interface CounterSample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number | undefined>>;
}

export class EventBus {
  readonly capacity: number;
  /** A stream client whose unsent answer grows past this is dropped (tests lower it). */
  maxStreamBufferBytes: number;
  /** The streams' heartbeat interval (for streams opened from then on; tests lower it). */
  heartbeatMs: number;
  readonly #ring: GatehouseEvent[] = [];
  #lastId = 0;
  readonly #listeners = new Set<(event: GatehouseEvent) => void>();
  readonly #watched = new WeakSet<FarmState>();
  #actor: string | undefined;
  #rejections: { timer: NodeJS.Timeout; read: () => Promise<readonly CounterSample[]>; last: Map<string, number> | undefined; intervalMs: number; reading: Promise<void> | undefined } | undefined;

  constructor(options: EventBusOptions = {}) {
    this.capacity = options.capacity ?? 1_000;
    this.maxStreamBufferBytes = options.maxStreamBufferBytes ?? 1024 * 1024;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  /** The id of the newest event (0 before the first). */
  get last(): number {
    return this.#lastId;
  }

  /** Numbers an event, keeps it and hands it to every subscriber. `time` and `worker` are kept when given (forwarded events). */
  publish(input: EventInput & { readonly time?: string; readonly worker?: number }): GatehouseEvent {
    const event = { ...input, id: ++this.#lastId, time: input.time ?? new Date().toISOString() } as GatehouseEvent;
    this.#ring.push(event);
    if (this.#ring.length > this.capacity) this.#ring.splice(0, this.#ring.length - this.capacity);
    for (const listener of [...this.#listeners]) listener(event);
    return event;
  }

  /** The kept events after `since` (oldest first), at most `limit`: the first `limit` after `since`. */
  since(since = 0, limit = this.capacity): GatehouseEvent[] {
    const ring = this.#ring;
    // Ids are consecutive in the ring: find the first after `since` by offset.
    const first = ring[0]?.id ?? this.#lastId + 1;
    const start = Math.max(0, Math.min(ring.length, since + 1 - first));
    return ring.slice(start, start + limit);
  }

  /** The id of the oldest event still kept (last + 1 when none is kept). */
  get oldest(): number {
    return this.#ring[0]?.id ?? this.#lastId + 1;
  }

  /** Calls `listener` with every event published from now on; returns the unsubscribe function. */
  subscribe(listener: (event: GatehouseEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /**
   * Runs `change` (synchronous) with `actor` as who made the state changes it causes (`by` of the `state`
   * events). A plain variable, not AsyncLocalStorage (which would cost every request's promises).
   */
  attributed<T>(actor: string, change: () => T): T {
    const outer = this.#actor;
    this.#actor = actor;
    try {
      return change();
    } finally {
      this.#actor = outer;
    }
  }

  /** Publishes the farm's health and state changes (once per farm object; a reload's new farms are watched as built). */
  watchFarm(farm: FarmState): void {
    if (this.#watched.has(farm)) return;
    this.#watched.add(farm);
    farm.onHealthChange((change) => this.publish({ type: 'health', farm: farm.name, server: change.server.address, healthy: change.isHealthy, reason: change.reason, source: change.source }));
    farm.onStateChange((change) => this.publish({ type: 'state', farm: farm.name, server: change.server.address, from: change.from, to: change.to, by: this.#actor ?? 'gatehouse' }));
  }

  /**
   * Every `intervalMs` (unref'd), reads the rejections counter (`read`: the samples of
   * gatehouse_rejections_total, labels site, status, substatus, reason) and publishes what grew since the
   * last reading, if anything. The first reading is the baseline. Replaces a previous watch.
   */
  watchRejections(read: () => Promise<readonly CounterSample[]>, intervalMs = 10_000): void {
    this.stopRejections();
    const timer = setInterval(() => void this.summariseRejections(), intervalMs);
    timer.unref();
    this.#rejections = { timer, read, last: undefined, intervalMs, reading: undefined };
    void this.summariseRejections();
  }

  /** Reads the counter now and publishes the growth since the last reading (what the timer runs). */
  summariseRejections(): Promise<void> {
    const watch = this.#rejections;
    if (!watch) return Promise.resolve();
    const run = async () => {
      const samples = await watch.read();
      const now = new Map<string, number>();
      const counts: RejectionCount[] = [];
      for (const sample of samples) {
        const { site = '', status = '', substatus = '0', reason = '' } = sample.labels;
        const key = `${site}\u0000${status}.${substatus}\u0000${reason}`;
        now.set(key, sample.value);
        const grown = sample.value - (watch.last?.get(key) ?? 0);
        if (watch.last && grown > 0) counts.push({ site: String(site), status: `${status}.${substatus}`, reason: String(reason), count: grown });
      }
      watch.last = now;
      if (counts.length) this.publish({ type: 'rejections', intervalSeconds: watch.intervalMs / 1000, total: counts.reduce((sum, c) => sum + c.count, 0), counts });
    };
    // One reading at a time: a slow one is not overtaken (its baseline would be stale).
    const next = (watch.reading ?? Promise.resolve()).then(run, run).catch(() => {});
    watch.reading = next;
    return next;
  }

  stopRejections(): void {
    if (this.#rejections) clearInterval(this.#rejections.timer);
    this.#rejections = undefined;
  }

  close(): void {
    this.stopRejections();
    this.#listeners.clear();
  }
}

/** A farm runtime whose operations name their actor as `by` of the state events they cause (local farms: applied synchronously). */
export function attributedFarms(runtime: FarmRuntime, bus: EventBus): FarmRuntime {
  return { ...runtime, apply: (operation, actor) => bus.attributed(actor, () => runtime.apply(operation, actor)) };
}
