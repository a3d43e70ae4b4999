/**
 * Gatehouse's Prometheus metrics (prom-client), on a registry of their own (never prom-client's global one).
 *
 * What it costs on the request path: the ARR Monitoring counters live on FarmServer and are read at scrape
 * time (`collect()`), so they cost a request nothing here. `requestEnded` looks up the cached histogram
 * child (farm → server, no allocation) and observes it (prom-client's label hashing: about 0.4 µs), looks up
 * a client certificate's thumbprint, and counts a rejection only when Gatehouse answered itself. Every label value comes from the config (site, farm,
 * server) or from a fixed list (reasons): never from request text, so the series stay bounded.
 *
 * Names (all `gatehouse_`):
 *   farm_server_requests_total{farm,server}            requests sent to the server (ARR "Total requests")
 *   farm_server_current_requests{farm,server}          requests in flight (ARR "Current requests")
 *   farm_server_failed_requests_total{farm,server}     connection errors, timeouts, broken responses (ARR "Failed requests")
 *   farm_server_sent_bytes_total{farm,server}          request body bytes sent to the server (ARR "Bytes sent")
 *   farm_server_received_bytes_total{farm,server}      response body bytes received from it (ARR "Bytes received")
 *   farm_server_response_time_seconds{farm,server}     histogram: time taken of the requests it served
 *   farm_server_available{farm,server}                 1 when it may take new requests
 *   farm_server_healthy{farm,server}                   1 unless a health test marks it unhealthy
 *   farm_server_state{farm,server,state}               1 for its current state (available, drain, unavailable)
 *   rejections_total{site,status,substatus,reason}     answers Gatehouse gave itself: 400, 403.x, 502.x; reason = the outcome code
 *   tls_handshakes_total{site,type}                    completed handshakes, type full or resumed
 *   tls_handshake_failures_total{site,reason}          handshakes that failed
 *   client_certificates_seen                           distinct valid client certificates seen (bounded)
 *   client_certificates_expiring                       those of them that expire within the window (30 days)
 *   client_certificate_soonest_expiry_seconds          seconds until the first of them expires (+Inf: none)
 *   plus Node's process metrics (collectDefaultMetrics, prefix gatehouse_).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestObserver, RequestRecord } from './request-record.js';
import { OUTCOMES } from '../shared/outcome.js';

/** The ARR Monitoring counters the metrics read (FarmServer.counters has them). */
export interface MetricsCounters {
  readonly totalRequests: number;
  readonly currentRequests: number;
  readonly failedRequests: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/**
 * What the metrics read of a farm server (FarmServer has it): counters, whether it may take new requests
 * (`isSelectable`), its `state` and `isHealthy`.
 */
export interface MetricsServer {
  readonly address: string;
  readonly counters: MetricsCounters;
  readonly isSelectable?: boolean;
  readonly state?: string;
  readonly isHealthy?: boolean;
}

/** What the metrics read of a farm (FarmState has it). */
export interface MetricsFarm {
  readonly name: string;
  readonly servers: readonly MetricsServer[];
}

export interface MetricsOptions {
  /** Client certificates remembered (thumbprint → notAfter); the oldest is forgotten past it. Default 10,000. */
  readonly certificateCapacity?: number;
  /** A certificate counts as expiring when it expires within this many ms. Default 30 days. */
  readonly expiryWindowMs?: number;
  /** Node's process metrics (CPU, memory, event loop, GC). Default true. */
  readonly processMetrics?: boolean;
  /** The clock for certificate expiry, ms since the epoch (tests). Default Date.now. */
  readonly now?: () => number;
}

/** The TLS handshake side of the metrics, as the listeners report it (see metrics-tls.ts). */
export interface HandshakeObserver {
  tlsHandshakeCompleted(siteName: string, resumed: boolean): void;
  tlsHandshakeFailed(reason: HandshakeFailureReason, siteName: string): void;
}

export const HANDSHAKE_FAILURE_REASONS = [
  'client_closed',
  'client_alert',
  'protocol_version',
  'no_shared_cipher',
  'plain_http',
  'timeout',
  'unknown_server_name',
  'tls_error',
  'other',
] as const;
export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

const DAY_MS = 86_400_000;
const DEFAULT_CAPACITY = 10_000;
/** Response-time buckets, seconds: 5 ms … 1 min (a farm's timeout is 30 s by default). */
export const RESPONSE_TIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Server states always exported (0 or 1), so a dashboard sees a state change as a value change. */
const KNOWN_STATES = ['available', 'drain', 'unavailable'] as const;

type Observe = (value: number) => void;

export class GatehouseMetrics implements RequestObserver, HandshakeObserver {
  /** Everything to scrape: Gatehouse's metrics and the process metrics. */
  readonly registry: Registry;
  #farms: readonly MetricsFarm[];
  /** farm → server → the histogram child: one lookup per forwarded request, no label hashing set-up. */
  readonly #responseTime = new Map<string, Map<string, Observe>>();
  readonly #responseTimeHistogram: Histogram<'farm' | 'server'>;
  readonly #rejections: Counter<'site' | 'status' | 'substatus' | 'reason'>;
  readonly #rejectionChildren = new Map<string, (value?: number) => void>();
  readonly #handshakes: Counter<'site' | 'type'>;
  readonly #handshakeChildren = new Map<string, (value?: number) => void>();
  readonly #handshakeFailures: Counter<'site' | 'reason'>;
  readonly #revocationChecks: Counter<'source' | 'result'>;
  readonly #http2Closed: Counter<'reason'>;
  readonly #connectionsQueued: Counter<'outcome'>;
  readonly #revocationFetches: Histogram<'kind' | 'outcome'>;
  /** thumbprint → notAfter (ms), in the order first seen. */
  readonly #certificates = new Map<string, number>();
  readonly #capacity: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(farms: ReadonlyMap<string, MetricsFarm> | Iterable<MetricsFarm>, options: MetricsOptions = {}) {
    this.#farms = isMap(farms) ? [...farms.values()] : [...farms];
    this.#capacity = Math.max(1, options.certificateCapacity ?? DEFAULT_CAPACITY);
    this.#windowMs = options.expiryWindowMs ?? 30 * DAY_MS;
    this.#now = options.now ?? Date.now;
    const own = new Registry();
    const registers = [own];
    const self = this;
    const eachServer = (fn: (labels: { farm: string; server: string }, server: MetricsServer) => void) => {
      for (const farm of self.#farms) for (const server of farm.servers) fn({ farm: farm.name, server: server.address }, server);
    };
    const counterOf = (name: string, help: string, read: (c: MetricsCounters) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['farm', 'server'] as const,
        registers,
        collect() {
          this.reset();
          eachServer((labels, server) => this.inc(labels, read(server.counters)));
        },
      });
    counterOf('gatehouse_farm_server_requests_total', 'Requests sent to the farm server, retries included (ARR Monitoring "Total requests").', (c) => c.totalRequests);
    new Gauge({
      name: 'gatehouse_farm_server_current_requests',
      help: 'Requests in flight to the farm server (ARR Monitoring "Current requests").',
      labelNames: ['farm', 'server'] as const,
      registers,
      collect() {
        eachServer((labels, server) => this.set(labels, server.counters.currentRequests));
      },
    });
    counterOf('gatehouse_farm_server_failed_requests_total', 'Requests to the farm server that failed: refused, reset, timed out or broken response (ARR Monitoring "Failed requests").', (c) => c.failedRequests);
    counterOf('gatehouse_farm_server_sent_bytes_total', 'Request body bytes sent to the farm server (ARR Monitoring "Bytes sent").', (c) => c.bytesSent);
    counterOf('gatehouse_farm_server_received_bytes_total', 'Response body bytes received from the farm server (ARR Monitoring "Bytes received").', (c) => c.bytesReceived);
    new Gauge({
      name: 'gatehouse_farm_server_available',
      aggregator: 'min', // across cluster workers
      help: '1 when the farm server may take new requests, 0 when it is disabled, unavailable or unhealthy.',
      labelNames: ['farm', 'server'] as const,
      registers,
      collect() {
        eachServer((labels, server) => this.set(labels, isSelectable(server) ? 1 : 0));
      },
    });
    new Gauge({
      name: 'gatehouse_farm_server_healthy',
      aggregator: 'min', // across cluster workers
      help: '1 unless the farm\'s health test marks the server unhealthy (ARR Monitoring "Health status").',
      labelNames: ['farm', 'server'] as const,
      registers,
      collect() {
        eachServer((labels, server) => this.set(labels, server.isHealthy === false ? 0 : 1));
      },
    });
    new Gauge({
      name: 'gatehouse_farm_server_state',
      aggregator: 'max', // across cluster workers
      help: '1 for the farm server\'s current state, 0 for the others (ARR Monitoring "State": available, drain, unavailable).',
      labelNames: ['farm', 'server', 'state'] as const,
      registers,
      collect() {
        this.reset();
        eachServer((labels, server) => {
          const current = stateOf(server);
          for (const state of KNOWN_STATES) this.set({ ...labels, state }, state === current ? 1 : 0);
          if (!(KNOWN_STATES as readonly string[]).includes(current)) this.set({ ...labels, state: current }, 1);
        });
      },
    });
    this.#responseTimeHistogram = new Histogram({
      name: 'gatehouse_farm_server_response_time_seconds',
      help: 'Time taken by the requests a farm server served, from the request\'s arrival to the end of its response (502.3 included), seconds.',
      labelNames: ['farm', 'server'] as const,
      buckets: RESPONSE_TIME_BUCKETS,
      registers,
    });
    eachServer((labels) => {
      this.#responseTimeHistogram.zero(labels);
      this.#childFor(labels.farm, labels.server);
    });
    this.#rejections = new Counter({
      name: 'gatehouse_rejections_total',
      help: 'Answers Gatehouse gave itself instead of a farm server\'s: 400 (unknown host name), 403.x (SSL and client certificate policy), 408, 413, 414 and 431 (request limits) and 502.x (no server, server failed), by reason: the outcome code (see docs/outcomes.md).',
      labelNames: ['site', 'status', 'substatus', 'reason'] as const,
      registers,
    });
    this.#handshakes = new Counter({
      name: 'gatehouse_tls_handshakes_total',
      help: 'Completed TLS handshakes by site, type full or resumed (a resumed TLS session).',
      labelNames: ['site', 'type'] as const,
      registers,
    });
    this.#handshakeFailures = new Counter({
      name: 'gatehouse_tls_handshake_failures_total',
      help: `TLS handshakes that failed, by reason: ${HANDSHAKE_FAILURE_REASONS.join(', ')}.`,
      labelNames: ['site', 'reason'] as const,
      registers,
    });
    const certificates = this.#certificates;
    const metrics = this;
    new Gauge({
      name: 'gatehouse_client_certificates_seen',
      aggregator: 'max', // across cluster workers
      help: `Distinct client certificates seen on requests that passed the door and not yet expired (at most the last ${this.#capacity} first seen).`,
      registers,
      collect() {
        metrics.#forgetExpired();
        this.set(certificates.size);
      },
    });
    new Gauge({
      name: 'gatehouse_client_certificates_expiring',
      aggregator: 'max', // across cluster workers
      help: `Of the client certificates seen, those that expire within ${formatWindow(this.#windowMs)}.`,
      registers,
      collect() {
        this.set(metrics.expiringCertificates().count);
      },
    });
    new Gauge({
      name: 'gatehouse_client_certificate_soonest_expiry_seconds',
      aggregator: 'min', // across cluster workers
      help: 'Seconds until the first of the client certificates seen expires; +Inf while none is known.',
      registers,
      collect() {
        const soonest = metrics.expiringCertificates().soonestMs;
        this.set(soonest === undefined ? Infinity : Math.max(0, (soonest - metrics.#now()) / 1000));
      },
    });
    new Gauge({
      name: 'gatehouse_websocket_connections',
      help: 'WebSocket connections open through Gatehouse (each is also one current request on its farm server).',
      registers,
      collect() {
        this.set(metrics.openTunnels());
      },
    });
    this.#connectionsQueued = new Counter({
      name: 'gatehouse_connections_over_limit_total',
      help: 'New client connections that found a listening socket at limits.maxConnections, by outcome: waited (served once another closed) or closed (node\'s fallback).',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.#http2Closed = new Counter({
      name: 'gatehouse_http2_connections_closed_total',
      help: 'HTTP/2 connections Gatehouse closed for abuse, by reason: rapid_reset (GOAWAY ENHANCE_YOUR_CALM), protocol_flood (a CONTINUATION, SETTINGS or invalid-frame flood node cut).',
      labelNames: ['reason'] as const,
      registers,
    });
    this.#revocationChecks = new Counter({
      name: 'gatehouse_revocation_checks_total',
      help: 'Client certificate revocation checks, one per certificate checked on a new connection, by source (file: a crlFile; crl: a CRL distribution point; ocsp: a responder; none: the certificate names neither) and result (good, revoked, unknown).',
      labelNames: ['source', 'result'] as const,
      registers,
    });
    this.#revocationFetches = new Histogram({
      name: 'gatehouse_revocation_fetch_duration_seconds',
      help: 'Online revocation fetches (CRL from a distribution point, OCSP request), by kind (crl, ocsp) and outcome (ok, failed: unreachable, timed out, bad signature, stale), seconds.',
      labelNames: ['kind', 'outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'gatehouse_revocation_cache_age_seconds',
      aggregator: 'min', // across cluster workers: the freshest copy
      help: 'Age of each cached online revocation answer (CRL or OCSP), by kind and URL, seconds.',
      labelNames: ['kind', 'url'] as const,
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        const oldest = new Map<string, number>();
        for (const entry of metrics.revocationEntries?.() ?? []) {
          if (entry.answer === undefined) continue;
          const key = `${entry.kind}\u0000${entry.url}`;
          oldest.set(key, Math.max(oldest.get(key) ?? 0, (now - entry.fetchedAtMs) / 1000));
        }
        for (const [key, age] of oldest) {
          const [kind, url] = key.split('\u0000') as [string, string];
          this.set({ kind, url }, age);
        }
      },
    });
    new Gauge({
      name: 'gatehouse_revocation_crl_file_next_update_seconds',
      aggregator: 'min', // across cluster workers
      help: 'Seconds until each configured CRL file\'s CRL reaches its nextUpdate; negative once it is stale (it is still used: fetch a fresh one).',
      labelNames: ['file', 'issuer'] as const,
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const crl of metrics.crlFiles?.() ?? []) if (crl.nextUpdateMs !== undefined) this.set({ file: crl.file, issuer: crl.issuer }, (crl.nextUpdateMs - now) / 1000);
      },
    });
    this.registry = options.processMetrics === false ? own : Registry.merge([processRegistry(), own]);
  }

  /** Open WebSocket tunnels (app.ts sets it). */
  openTunnels: () => number = () => 0;

  /** The CRLs of the configured crlFiles (app.ts sets it), for their nextUpdate. */
  crlFiles: (() => Iterable<{ readonly file: string; readonly issuer: string; readonly nextUpdateMs: number | undefined }>) | undefined;

  /** The cached online revocation answers (app.ts sets it), for their age. */
  revocationEntries: (() => Iterable<{ readonly kind: string; readonly url: string; readonly fetchedAtMs: number; readonly answer: unknown }>) | undefined;

  /** A connection found maxConnections reached: it waited (or, on node's fallback, was closed). */
  connectionQueued(isDropped: boolean): void {
    this.#connectionsQueued.inc({ outcome: isDropped ? 'closed' : 'waited' });
  }

  /** An HTTP/2 connection closed for abuse (rapid reset, a flood node's limits caught). */
  http2ConnectionClosed(reason: 'rapid_reset' | 'protocol_flood'): void {
    this.#http2Closed.inc({ reason });
  }

  /** A client certificate's revocation check (tls/online). */
  checked(source: 'file' | 'crl' | 'ocsp' | 'none', result: 'good' | 'revoked' | 'unknown'): void {
    this.#revocationChecks.inc({ source, result });
  }

  /** An online revocation fetch. */
  fetched(kind: 'crl' | 'ocsp', outcome: 'ok' | 'failed', seconds: number): void {
    this.#revocationFetches.observe({ kind, outcome }, seconds);
  }

  /** A config reload: the counters are read from these farms from now on. */
  replaceFarms(farms: ReadonlyMap<string, MetricsFarm>): void {
    this.#farms = [...farms.values()];
  }

  /** Told of every finished request (HandlerDeps.observers). */
  requestEnded(record: RequestRecord): void {
    const server = record.server;
    if (server !== '') {
      const observe = this.#responseTime.get(record.farm)?.get(server) ?? this.#childFor(record.farm, server);
      observe(record.timeTakenMs / 1000);
    }
    const status = record.status;
    if (status === 403 || status === 502 || status === 400) this.#countRejection(record);
    const thumbprint = record.thumbprint;
    if (thumbprint !== '' && status !== 403 && !this.#certificates.has(thumbprint)) this.#remember(thumbprint, record.certificateNotAfterMs);
  }

  tlsHandshakeCompleted(siteName: string, resumed: boolean): void {
    const key = resumed ? `r${siteName}` : `f${siteName}`;
    let inc = this.#handshakeChildren.get(key);
    if (!inc) {
      inc = this.#handshakes.labels({ site: siteName, type: resumed ? 'resumed' : 'full' }).inc;
      this.#handshakeChildren.set(key, inc);
    }
    inc();
  }

  tlsHandshakeFailed(reason: HandshakeFailureReason, siteName: string): void {
    const bounded = (HANDSHAKE_FAILURE_REASONS as readonly string[]).includes(reason) ? reason : 'other';
    this.#handshakeFailures.inc({ site: siteName, reason: bounded });
  }

  /** The seen certificates that expire within the window, and the soonest notAfter of all (ms). */
  expiringCertificates(): { count: number; soonestMs: number | undefined } {
    this.#forgetExpired();
    const limit = this.#now() + this.#windowMs;
    let count = 0;
    let soonestMs: number | undefined;
    for (const notAfter of this.#certificates.values()) {
      if (notAfter <= limit) count++;
      if (soonestMs === undefined || notAfter < soonestMs) soonestMs = notAfter;
    }
    return { count, soonestMs };
  }

  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  #childFor(farm: string, server: string): Observe {
    let servers = this.#responseTime.get(farm);
    if (!servers) this.#responseTime.set(farm, (servers = new Map()));
    let observe = servers.get(server);
    if (!observe) {
      observe = this.#responseTimeHistogram.labels({ farm, server }).observe;
      servers.set(server, observe);
    }
    return observe;
  }

  #countRejection(record: RequestRecord): void {
    const reason = rejectionReason(record);
    if (reason === undefined) return;
    const key = `${record.site}\u0000${record.status}.${record.subStatus}\u0000${reason}`;
    let inc = this.#rejectionChildren.get(key);
    if (!inc) {
      inc = this.#rejections.labels({ site: record.site, status: String(record.status), substatus: String(record.subStatus), reason }).inc;
      this.#rejectionChildren.set(key, inc);
    }
    inc();
  }

  #remember(thumbprint: string, notAfterMs: number): void {
    if (!(notAfterMs > 0)) return;
    if (this.#certificates.size >= this.#capacity) {
      const oldest = this.#certificates.keys().next();
      if (!oldest.done) this.#certificates.delete(oldest.value);
    }
    this.#certificates.set(thumbprint, notAfterMs);
  }

  /** An expired certificate is rejected (403.17) from then on: it leaves the set. */
  #forgetExpired(): void {
    const now = this.#now();
    for (const [thumbprint, notAfter] of this.#certificates) if (notAfter < now) this.#certificates.delete(thumbprint);
  }
}

function isMap(farms: ReadonlyMap<string, MetricsFarm> | Iterable<MetricsFarm>): farms is ReadonlyMap<string, MetricsFarm> {
  return typeof (farms as { get?: unknown }).get === 'function' && typeof (farms as { values?: unknown }).values === 'function';
}

function isSelectable(server: MetricsServer): boolean {
  return server.isSelectable !== false;
}

function stateOf(server: MetricsServer): string {
  const state: unknown = server.state;
  if (typeof state === 'string' && /^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(state)) return state;
  return isSelectable(server) ? 'available' : 'unavailable';
}

function formatWindow(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS} days` : `${ms / 1000} s`;
}

let sharedProcessRegistry: Registry | undefined;

/**
 * Node's process metrics, made once per process: they watch the event loop and GC for the whole process,
 * and collectDefaultMetrics cannot be undone, so a second GatehouseMetrics (tests, a reload) shares them.
 */
function processRegistry(): Registry {
  if (!sharedProcessRegistry) {
    sharedProcessRegistry = new Registry();
    collectDefaultMetrics({ register: sharedProcessRegistry, prefix: 'gatehouse_' });
  }
  return sharedProcessRegistry;
}

// ---------------------------------------------------------------------------------------------------------------
// Bounded reasons

/**
 * The `reason` label of an answer Gatehouse gave itself: the request's outcome code when the catalogue
 * counts it as a rejection and the status is an error (a response cut after a 200 began is not an answer
 * Gatehouse gave); undefined otherwise. Always a catalogue code: the free text never becomes a label.
 */
export function rejectionReason(record: Pick<RequestRecord, 'status' | 'outcome'>): string | undefined {
  return record.status >= 400 && OUTCOMES[record.outcome].isRejection ? record.outcome : undefined;
}
