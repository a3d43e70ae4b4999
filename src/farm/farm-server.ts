/**
 * FarmServer: one server of a farm at run time: its address, weight, availability state, health and the
 * counters ARR's Monitoring page shows. `FarmServer` rather than `Server`, which would read as an
 * http.Server. Its farm (FarmState) keeps `isSelectable` current and decides health; the server counts.
 */
import type { Dispatcher } from 'undici';
import type { ServerConfig } from '../config/model.js';
import type { ConnectionPool } from '../shared/exchange.js';
import { systemClock, type Clock } from './clock.js';
import type { ExchangeReport } from './request-info.js';
import { SlidingWindow } from './sliding-window.js';

/** ARR's availability: `available`; `drain` (Disallow new connections); `unavailable`. */
export type ServerState = 'available' | 'drain' | 'unavailable';

const STATES: readonly ServerState[] = ['available', 'drain', 'unavailable'];

/** Counters per server, as ARR's Monitoring page shows them. Since start or the last resetCounters(). */
export interface ServerCounters {
  totalRequests: number;
  currentRequests: number;
  /** Connection errors, timeouts and responses with a liveTrafficFailureCodes status (ARR's "Failed Requests"). */
  failedRequests: number;
  /** Bytes of request bodies sent to the server. */
  bytesSent: number;
  /** Bytes of response bodies received from the server. */
  bytesReceived: number;
  /** Sum of the response times of the ended requests, ms (with totalRequests - currentRequests: the mean). */
  responseTimeTotalMs: number;
}

/** A server's connections: keep-alive connections for proxied requests, and the undici pool of its URL tests. */
export interface ServerConnections {
  readonly pool: ConnectionPool;
  readonly dispatcher: Dispatcher;
}

/**
 * Makes a server's connections. The farm is given one (FarmStateOptions.connect) by whoever builds it:
 * app.ts, with proxy/upstream/'s pools and the farm's connection settings.
 */
export type ConnectionFactory = (server: FarmServer) => ServerConnections;

/** What the farm hears from its servers. */
export interface FarmServerHooks {
  /** Shared by the farm's servers: whether the farm takes requests, and whether it ignores health (minServers). */
  readonly flags: { readonly isEnabled: boolean; readonly isIgnoringHealth: boolean };
  /** An exchange ended; `isFailure` by the live-traffic rules. */
  onExchangeEnd(server: FarmServer, report: ExchangeReport, isFailure: boolean): void;
  onStateChange(server: FarmServer, previous: ServerState): void;
}

export interface FarmServerOptions {
  readonly clock?: Clock;
  /** Window of the average response time (the farm's leastResponseTimePeriod), ms. Default 5 s. */
  readonly responseTimeWindowMs?: number;
  /** What a failed exchange counts as in leastResponseTime's average (the farm's timeout), ms. Default 30 s. */
  readonly failurePenaltyMs?: number;
  /** Statuses that count as failed (liveTrafficFailureCodes), as a 1000-entry table. Default 500-999. */
  readonly failureStatuses?: Uint8Array;
  readonly hooks?: FarmServerHooks;
}

/** The requests/s window: the last 5 s. */
const RATE_WINDOW_MS = 5000;

function defaultFailureStatuses(): Uint8Array {
  const table = new Uint8Array(1000);
  table.fill(1, 500);
  return table;
}

export class FarmServer {
  /** The server's config; a reload that keeps the server (same address) replaces it (adopt). */
  config: ServerConfig;
  /** Its identity: a reload keeps a server whose address stays in its farm, with its counters and health. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Changed only by a reload (adopt). */
  weight: number;
  /** `server/@enabled`: false takes nothing, ever (not even URL tests). Changed only by a reload (adopt). */
  isEnabled: boolean;
  /** `http://host:port`, the origin requests are sent to. */
  readonly origin: string;
  readonly counters: ServerCounters = { totalRequests: 0, currentRequests: 0, failedRequests: 0, bytesSent: 0, bytesReceived: 0, responseTimeTotalMs: 0 };
  /** undici pool for URL tests; made by the farm's connection factory (a reload may replace it). */
  dispatcher: Dispatcher | undefined;
  /** Keep-alive connections that carry the proxied requests; made by the farm's connection factory (a reload may replace them). */
  pool: ConnectionPool | undefined;
  /**
   * Whether pick() may give this server a new request: enabled, `available`, its farm enabled, and
   * healthy (or its farm ignoring health under minServers). Kept current by the farm.
   */
  isSelectable = true;
  /** Why the health is what it is (the last change's reason); undefined while it has never changed. */
  healthReason: string | undefined;
  /** When the health last changed (clock ms); undefined while it has never changed. */
  healthChangedAtMs: number | undefined;
  /** Slow start: the ramp from 10% to the full weight runs from slowStartFromMs to slowStartEndMs (0: none). */
  slowStartFromMs = 0;
  slowStartEndMs = 0;

  #state: ServerState;
  #isHealthy = true;
  readonly #clock: Clock;
  #hooks: FarmServerHooks | undefined;
  #failureStatuses: Uint8Array;
  readonly #requests = new SlidingWindow(RATE_WINDOW_MS);
  #responseTimes: SlidingWindow;
  /** Response times with failures counted as failurePenaltyMs: what leastResponseTime compares. */
  #scoredTimes: SlidingWindow;
  #failurePenaltyMs: number;
  #countingSinceMs: number;

  constructor(config: ServerConfig, options: FarmServerOptions = {}) {
    this.config = config;
    this.address = config.address;
    this.host = config.host;
    this.port = config.port;
    this.weight = config.weight;
    this.isEnabled = config.enabled;
    this.#state = config.state;
    this.#clock = options.clock ?? systemClock;
    this.#hooks = options.hooks;
    this.#failureStatuses = options.failureStatuses ?? defaultFailureStatuses();
    this.#responseTimes = new SlidingWindow(options.responseTimeWindowMs ?? 5000);
    this.#scoredTimes = new SlidingWindow(options.responseTimeWindowMs ?? 5000);
    this.#failurePenaltyMs = options.failurePenaltyMs ?? 30_000;
    this.#countingSinceMs = this.#clock.now();
    this.origin = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
    this.refreshSelectable();
  }

  /**
   * A reload kept this server (same address) in its farm, whose new FarmState calls this when the reload
   * is committed: the new config's weight and enabled flag, and the new farm's hooks, failure statuses,
   * failure penalty and response-time window apply. Counters, health, slow start, the requests/s window
   * and the availability state stay (the farm applies a state the new config changes). The response-time
   * averages stay too unless leastResponseTimePeriod changed (they restart then).
   */
  adopt(config: ServerConfig, options: FarmServerOptions): void {
    this.config = config;
    this.weight = config.weight;
    this.isEnabled = config.enabled;
    this.#hooks = options.hooks;
    this.#failureStatuses = options.failureStatuses ?? defaultFailureStatuses();
    this.#failurePenaltyMs = options.failurePenaltyMs ?? 30_000;
    const windowMs = options.responseTimeWindowMs ?? 5000;
    if (windowMs !== this.#responseTimes.windowMs) {
      this.#responseTimes = new SlidingWindow(windowMs);
      this.#scoredTimes = new SlidingWindow(windowMs);
    }
    this.refreshSelectable();
  }

  /** Availability: `drain` takes no new clients but keeps affinitised ones; `unavailable` takes nothing new. */
  get state(): ServerState {
    return this.#state;
  }

  set state(state: ServerState) {
    if (!STATES.includes(state)) throw new TypeError(`server state must be one of ${STATES.join(', ')}, not ${String(state)}`);
    const previous = this.#state;
    if (state === previous) return;
    this.#state = state;
    this.refreshSelectable();
    this.#hooks?.onStateChange(this, previous);
  }

  /** Health as the URL and live-traffic tests (or an admin) last set it; servers start healthy. */
  get isHealthy(): boolean {
    return this.#isHealthy;
  }

  /** Sets health; for the farm (FarmState.markHealthy/markUnhealthy), which logs and notifies. */
  setHealth(isHealthy: boolean, reason: string, now: number): void {
    this.#isHealthy = isHealthy;
    this.healthReason = reason;
    this.healthChangedAtMs = now;
    this.refreshSelectable();
  }

  /** Recomputes `isSelectable` from state, health and the farm's flags. */
  refreshSelectable(): void {
    const flags = this.#hooks?.flags;
    this.isSelectable = this.isEnabled && this.#state === 'available' && (flags === undefined || (flags.isEnabled && (this.#isHealthy || flags.isIgnoringHealth)));
  }


  /** Weight for new requests at `now`: during slow start, from 10% of `weight` up to all of it. */
  weightAt(now: number): number {
    const end = this.slowStartEndMs;
    if (end === 0) return this.weight;
    if (now >= end) {
      this.slowStartEndMs = 0;
      return this.weight;
    }
    const from = this.slowStartFromMs;
    const progress = now <= from ? 0 : (now - from) / (end - from);
    return this.weight * (0.1 + 0.9 * progress);
  }

  /** A request is being sent to this server. */
  onRequestStart(): void {
    this.counters.totalRequests++;
    this.counters.currentRequests++;
    this.#requests.add(this.#clock.now());
  }

  /** The exchange with this server ended (after a response, or a failure). */
  onRequestEnd(report: ExchangeReport): void {
    const counters = this.counters;
    if (counters.currentRequests > 0) counters.currentRequests--;
    counters.bytesSent += report.bytesSent;
    counters.bytesReceived += report.bytesReceived;
    counters.responseTimeTotalMs += report.responseTimeMs;
    const now = this.#clock.now();
    this.#responseTimes.add(now, report.responseTimeMs);
    const isFailure = report.isConnectionError || this.#failureStatuses[report.status] === 1;
    if (isFailure) counters.failedRequests++;
    // A refused connection or a quick 500 must not make a server look fast.
    this.#scoredTimes.add(now, isFailure ? Math.max(report.responseTimeMs, this.#failurePenaltyMs) : report.responseTimeMs);
    this.#hooks?.onExchangeEnd(this, report, isFailure);
  }

  /** Requests started per second over the last few (5) seconds. */
  requestsPerSecond(now = this.#clock.now()): number {
    return this.#requests.ratePerSecond(now, this.#countingSinceMs);
  }

  /** Average response time over the farm's leastResponseTimePeriod, ms; undefined when nothing ended in it. */
  averageResponseTimeMs(now = this.#clock.now()): number | undefined {
    return this.#responseTimes.average(now);
  }

  /**
   * What leastResponseTime compares: the average over the same window with each failed exchange
   * (connection error, timeout, liveTrafficFailureCodes status) counted as the farm's timeout.
   */
  scoredResponseTimeMs(now = this.#clock.now()): number | undefined {
    return this.#scoredTimes.average(now);
  }

  /** ARR's "Reset Runtime Statistics": zeroes the counters but the requests in flight. */
  resetCounters(): void {
    const counters = this.counters;
    counters.totalRequests = counters.currentRequests;
    counters.failedRequests = 0;
    counters.bytesSent = 0;
    counters.bytesReceived = 0;
    counters.responseTimeTotalMs = 0;
    this.#requests.clear();
    this.#responseTimes.clear();
    this.#scoredTimes.clear();
    this.#countingSinceMs = this.#clock.now();
  }
}
