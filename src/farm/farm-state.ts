/**
 * FarmState: a farm at run time: its servers, the algorithm that picks among them, and its health tests
 * (the URL test, the live-traffic test, the retry after a back-off when there is no URL test, minServers
 * and slow start). Every change of health is logged on the event log with its reason.
 *
 * The request path calls pick() (synchronous, no allocation beyond the algorithm's own) and each
 * server's onRequestStart()/onRequestEnd(report). start() arms the timers and close() clears them.
 */
import { Pool, type Dispatcher } from 'undici';
import type { HealthCheckPolicy } from '../config/farm-model.js';
import type { Farm, ServerConfig } from '../config/model.js';
import { eventLog as defaultEventLog, type EventLog } from '../tracing/log.js';
import { FarmAffinity } from './affinity.js';
import type { Algorithm } from './algorithms/algorithm.js';
import { ALGORITHMS } from './algorithms/index.js';
import { systemClock, systemRandom, type Clock, type Random, type TimerHandle } from './clock.js';
import { FarmServer, type ConnectionFactory, type FarmServerHooks, type FarmServerOptions, type ServerCounters, type ServerState } from './farm-server.js';
import { LiveTrafficCount } from './health/live-traffic.js';
import { createUndiciProbe } from './health/probe.js';
import { UrlTest, type HealthProbe, type UrlTestResult } from './health/url-test.js';
import type { ExchangeReport, RequestInfo } from './request-info.js';

export interface FarmStateOptions {
  /** Where health changes go; Gatehouse's event log (stderr) by default. */
  readonly eventLog?: EventLog;
  readonly clock?: Clock;
  /** For powerOfTwoChoices. */
  readonly random?: Random;
  /** Sends URL tests; undici through each server's dispatcher by default. */
  readonly probe?: HealthProbe;
  /**
   * Makes the connections of each server this farm adds (a server kept from `previous` keeps its own).
   * Without it servers have none: URL tests then go through small pools of the farm's own.
   */
  readonly connect?: ConnectionFactory;
  /**
   * The farm of the same name in the config in force, when a reload changes it: the servers whose
   * address stays are the same FarmServer objects (their counters, health, slow start, state, pools and
   * affinity carry on). Nothing of `previous` changes until takeOver() (the reload's commit).
   */
  readonly previous?: FarmState;
}

/** What marked a server healthy or unhealthy. */
export type HealthSource = 'urlTest' | 'liveTraffic' | 'retry' | 'admin';

export interface HealthChange {
  readonly server: FarmServer;
  readonly isHealthy: boolean;
  readonly reason: string;
  readonly source: HealthSource;
}

/** A server's availability changed (an administrator, or a reload that changed its `state`). */
export interface StateChange {
  readonly server: FarmServer;
  readonly from: ServerState;
  readonly to: ServerState;
}

/** One server in a snapshot: plain JSON, what ARR's Monitoring page shows. */
export interface ServerSnapshot {
  readonly address: string;
  readonly weight: number;
  /** The weight new requests get now (below `weight` during slow start). */
  readonly effectiveWeight: number;
  readonly enabled: boolean;
  readonly state: ServerState;
  readonly isHealthy: boolean;
  readonly health: 'healthy' | 'unhealthy';
  /** The last health change's reason; null while it never changed. */
  readonly healthReason: string | null;
  /** When health last changed (ISO 8601); null while it never changed. */
  readonly healthChangedAt: string | null;
  /** Whether new requests may go to it now. */
  readonly isSelectable: boolean;
  readonly counters: ServerCounters;
  /** Requests started per second over the last 5 s. */
  readonly requestsPerSecond: number;
  /** Average response time over leastResponseTimePeriod, ms; null when nothing ended in it. */
  readonly averageResponseTimeMs: number | null;
  /** This server's share of the farm's totalRequests, %. */
  readonly requestDistributionPercent: number;
  /** This server's share of the farm's weights, %. */
  readonly loadBalanceWeightPercent: number;
  /** Live-traffic failures that count now toward maxLiveTrafficFailures. */
  readonly liveTrafficFailures: number;
}

export interface FarmSnapshot {
  readonly name: string;
  readonly enabled: boolean;
  readonly algorithm: string;
  readonly minServers: number;
  /** Servers that are enabled, `available` and healthy. */
  readonly healthyServers: number;
  /** True while fewer than minServers servers are healthy: new requests ignore health. */
  readonly isIgnoringHealth: boolean;
  readonly servers: readonly ServerSnapshot[];
}

/** Without a URL test, the retry delay doubles up to this (or the configured delay, if larger). */
const MAX_RETRY_DELAY_MS = 5 * 60_000;

/** Per server: the live-traffic count and the retry after a back-off. */
class ServerHealth {
  count: LiveTrafficCount;
  nextRetryDelayMs: number;
  retryTimer: TimerHandle | undefined;
  /** When the armed retry fires (clock ms), so a reload can carry it over. */
  retryAtMs = 0;
  /** Back after a retry: the first failure before a success marks it unhealthy again. */
  isOnProbation = false;
  constructor(policy: HealthCheckPolicy) {
    this.count = new LiveTrafficCount(policy.maxLiveTrafficFailures, policy.liveTrafficFailurePeriodMs);
    this.nextRetryDelayMs = policy.liveTrafficRecoveryDelayMs;
  }
}

function statusTable(codes: HealthCheckPolicy['liveTrafficFailureCodes']): Uint8Array {
  const table = new Uint8Array(1000);
  for (const [low, high] of codes.ranges) table.fill(1, low, high + 1);
  return table;
}

function describeFailure(report: ExchangeReport): string {
  if (!report.isConnectionError) return `status ${report.status}`;
  return report.status === 0 ? 'connection error' : `connection error after status ${report.status}`;
}

export class FarmState {
  readonly name: string;
  readonly config: Farm;
  readonly servers: readonly FarmServer[];
  readonly algorithm: Algorithm;
  /** Client affinity; undefined when the farm has none. */
  readonly affinity: FarmAffinity | undefined;
  readonly #policy: HealthCheckPolicy;
  readonly #eventLog: EventLog;
  readonly #clock: Clock;
  readonly #probe: HealthProbe | undefined;
  readonly #flags: { isEnabled: boolean; isIgnoringHealth: boolean };
  readonly #health = new Map<FarmServer, ServerHealth>();
  readonly #listeners: ((change: HealthChange) => void)[] = [];
  readonly #stateListeners: ((change: StateChange) => void)[] = [];
  readonly #probePools = new Map<FarmServer, Pool>();
  readonly #serverOptions: FarmServerOptions;
  /** The farm this one replaces, until takeOver(). */
  #previous: FarmState | undefined;
  #urlTest: UrlTest | undefined;
  #isStarted = false;
  #isClosed = false;

  constructor(config: Farm, options: FarmStateOptions = {}) {
    this.name = config.name;
    this.config = config;
    this.#policy = config.policies.healthCheck;
    this.#eventLog = options.eventLog ?? defaultEventLog;
    this.#clock = options.clock ?? systemClock;
    this.#probe = options.probe;
    this.#flags = { isEnabled: config.enabled, isIgnoringHealth: false };
    const failureStatuses = statusTable(this.#policy.liveTrafficFailureCodes);
    const hooks: FarmServerHooks = {
      flags: this.#flags,
      onExchangeEnd: (server, report, isFailure) => this.#onExchangeEnd(server, report, isFailure),
      onStateChange: (server, previous) => this.#onStateChange(server, previous),
    };
    const serverOptions = { clock: this.#clock, responseTimeWindowMs: config.policies.loadBalancing.leastResponseTimePeriodMs, failurePenaltyMs: config.protocol.timeoutMs, failureStatuses, hooks };
    this.#serverOptions = serverOptions;
    const previous = options.previous;
    this.#previous = previous;
    const kept = new Map(previous?.servers.map((server) => [server.address, server]));
    this.servers = config.servers.map((server) => kept.get(server.address) ?? new FarmServer(server, serverOptions));
    for (const server of this.servers) this.#health.set(server, new ServerHealth(this.#policy));
    this.algorithm = ALGORITHMS[config.policies.loadBalancing.algorithm]({ servers: this.servers, clock: this.#clock, random: options.random ?? systemRandom }, config.policies.loadBalancing);
    this.affinity = config.policies.affinity ? new FarmAffinity(this, config.policies.affinity) : undefined;
    // Kept servers still answer to the farm in force: they are refreshed by takeOver().
    this.#refresh(false, previous ? this.servers.filter((server) => !kept.has(server.address)) : this.servers);
    const connect = options.connect;
    if (connect) {
      for (const server of this.servers) {
        if (kept.has(server.address)) continue;
        const connections = connect(server);
        server.pool = connections.pool;
        server.dispatcher = connections.dispatcher;
      }
    }
  }

  /** Whether `server` is one of `previous`'s that this farm keeps; false once takeOver() ran. */
  keeps(server: FarmServer): boolean {
    return this.#previous?.servers.includes(server) ?? false;
  }

  /**
   * The reload that built this farm is committed: it replaces `previous` (options.previous). The servers
   * it keeps take this config's settings (weight, enabled) and answer to this farm from now on, with their
   * counters, health, slow start and availability state (a state applies only when the config changed
   * it: a server an administrator drained stays drained), live-traffic counts (while their settings are
   * unchanged) and pending retries; client affinity stays; the previous farm's URL test and retries stop
   * (this farm's start() runs its own). The previous farm's servers that this one dropped still answer to
   * it (closed) while their requests finish. Cannot throw; does nothing without a previous farm.
   */
  takeOver(): void {
    const previous = this.#previous;
    if (!previous) return;
    this.#previous = undefined;
    const now = this.#clock.now();
    const policy = this.#policy;
    const before = previous.#policy;
    const isSameCount = before.maxLiveTrafficFailures === policy.maxLiveTrafficFailures && before.liveTrafficFailurePeriodMs === policy.liveTrafficFailurePeriodMs;
    // Read the pending retries before close() clears them.
    const retries = new Map<FarmServer, number>();
    for (const [server, health] of previous.#health) if (health.retryTimer !== undefined) retries.set(server, health.retryAtMs);
    previous.close();
    this.#flags.isEnabled = previous.config.enabled === this.config.enabled ? previous.#flags.isEnabled : this.config.enabled;
    const stateChanges: [FarmServer, ServerConfig['state']][] = [];
    for (const [index, server] of this.servers.entries()) {
      const old = previous.#health.get(server);
      if (!old) continue; // a server this reload added
      const config = this.config.servers[index] as ServerConfig;
      if (config.state !== server.config.state) stateChanges.push([server, config.state]);
      server.adopt(config, this.#serverOptions);
      const health = this.#health.get(server) as ServerHealth;
      if (isSameCount) health.count = old.count;
      health.isOnProbation = old.isOnProbation;
      health.nextRetryDelayMs = before.liveTrafficRecoveryDelayMs === policy.liveTrafficRecoveryDelayMs ? old.nextRetryDelayMs : policy.liveTrafficRecoveryDelayMs;
      if (server.isHealthy || policy.url !== undefined) continue; // healthy, or the URL test decides
      // Unhealthy without a URL test: a pending retry keeps its time; one the URL test was deciding gets a retry.
      const at = retries.get(server);
      if (at !== undefined) this.#armRetry(server, health, Math.max(0, at - now));
      else if (before.url !== undefined) this.#scheduleRetry(server, health);
    }
    this.affinity?.inherit(previous.affinity);
    this.#refresh(true);
    for (const [server, state] of stateChanges) server.state = state;
  }

  /** The server for a new request, or undefined when none is selectable (502.4). */
  pick(request: RequestInfo, exclude?: FarmServer): FarmServer | undefined {
    if (!this.#flags.isEnabled) return undefined;
    return this.algorithm.pick(request, exclude);
  }

  /**
   * Whether a client with affinity to `server` may keep going to it: the farm and the server are
   * enabled, its state is `available` or `drain`, and it is healthy (or the farm ignores health under
   * minServers).
   */
  canKeepAffinity(server: FarmServer): boolean {
    const flags = this.#flags;
    return flags.isEnabled && server.isEnabled && server.state !== 'unavailable' && (server.isHealthy || flags.isIgnoringHealth);
  }

  /** Whether the farm takes requests (`enabled`; ARR's "Take Server Farm Offline" sets it false). */
  get isEnabled(): boolean {
    return this.#flags.isEnabled;
  }

  set isEnabled(isEnabled: boolean) {
    if (isEnabled === this.#flags.isEnabled) return;
    this.#flags.isEnabled = isEnabled;
    this.#eventLog.info(`farm ${this.name} ${isEnabled ? 'enabled: takes requests again' : 'disabled: takes no requests (502.4)'}`);
    this.#refresh(true);
  }

  /** True while fewer than minServers servers are healthy and available: new requests ignore health. */
  get isIgnoringHealth(): boolean {
    return this.#flags.isIgnoringHealth;
  }

  /** Calls `listener` on every health change (after it is logged); returns the unsubscribe function. */
  onHealthChange(listener: (change: HealthChange) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const index = this.#listeners.indexOf(listener);
      if (index >= 0) this.#listeners.splice(index, 1);
    };
  }

  /** Calls `listener` on every availability change (after it is logged); returns the unsubscribe function. */
  onStateChange(listener: (change: StateChange) => void): () => void {
    this.#stateListeners.push(listener);
    return () => {
      const index = this.#stateListeners.indexOf(listener);
      if (index >= 0) this.#stateListeners.splice(index, 1);
    };
  }

  /** Marks a server healthy (admin "Mark healthy", or a test). False when it already was. */
  markHealthy(server: FarmServer, reason = 'marked healthy by an administrator', source: HealthSource = 'admin'): boolean {
    if (server.isHealthy) return false;
    const now = this.#clock.now();
    const health = this.#healthOf(server);
    this.#clearRetry(health);
    health.count.reset();
    server.setHealth(true, reason, now);
    if (this.#policy.slowStartMs > 0) this.#startSlowStart(server, now);
    this.#announce(server, true, reason, source);
    return true;
  }

  /** Marks a server unhealthy (admin "Mark unhealthy", or a test). False when it already was. */
  markUnhealthy(server: FarmServer, reason = 'marked unhealthy by an administrator', source: HealthSource = 'admin'): boolean {
    if (!server.isHealthy) return false;
    const now = this.#clock.now();
    const health = this.#healthOf(server);
    health.count.reset();
    health.isOnProbation = false;
    server.setHealth(false, reason, now);
    server.slowStartEndMs = 0;
    if (source === 'liveTraffic' && this.#policy.url === undefined) this.#scheduleRetry(server, health);
    this.#announce(server, false, reason, source);
    return true;
  }

  /** Starts the URL test, when there is one. Idempotent; does nothing after close(). */
  start(): void {
    if (this.#isStarted || this.#isClosed) return;
    this.#isStarted = true;
    const url = this.#policy.url;
    if (url === undefined) return;
    const probe = this.#probe ?? createUndiciProbe((server) => this.#dispatcherOf(server));
    this.#urlTest = new UrlTest(this.servers, { ...this.#policy, url }, this.#clock, probe, (server, result) => this.#onUrlTest(server, result));
    this.#urlTest.start();
  }

  /** Stops the URL test and the retries and closes the farm's own pools; idempotent, fine after a partial start. */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#urlTest?.close();
    for (const health of this.#health.values()) this.#clearRetry(health);
    for (const pool of this.#probePools.values()) void pool.destroy().catch(() => {});
    this.#probePools.clear();
  }

  /** Plain JSON of the farm and each server (for the admin API and metrics). */
  snapshot(): FarmSnapshot {
    const now = this.#clock.now();
    let totalRequests = 0;
    let totalWeight = 0;
    for (const server of this.servers) {
      totalRequests += server.counters.totalRequests;
      if (server.isEnabled) totalWeight += server.weight;
    }
    const servers = this.servers.map((server): ServerSnapshot => {
      const average = server.averageResponseTimeMs(now);
      const changedAt = server.healthChangedAtMs;
      return {
        address: server.address,
        weight: server.weight,
        effectiveWeight: server.weightAt(now),
        enabled: server.isEnabled,
        state: server.state,
        isHealthy: server.isHealthy,
        health: server.isHealthy ? 'healthy' : 'unhealthy',
        healthReason: server.healthReason ?? null,
        healthChangedAt: changedAt === undefined ? null : new Date(changedAt).toISOString(),
        isSelectable: server.isSelectable,
        counters: { ...server.counters },
        requestsPerSecond: server.requestsPerSecond(now),
        averageResponseTimeMs: average ?? null,
        requestDistributionPercent: totalRequests === 0 ? 0 : (100 * server.counters.totalRequests) / totalRequests,
        loadBalanceWeightPercent: totalWeight === 0 || !server.isEnabled ? 0 : (100 * server.weight) / totalWeight,
        liveTrafficFailures: this.#healthOf(server).count.current(now),
      };
    });
    return {
      name: this.name,
      enabled: this.#flags.isEnabled,
      algorithm: this.algorithm.name,
      minServers: this.#policy.minServers,
      healthyServers: this.#healthyCount(),
      isIgnoringHealth: this.#flags.isIgnoringHealth,
      servers,
    };
  }

  /** ARR's "Reset Runtime Statistics" for every server. */
  resetCounters(): void {
    for (const server of this.servers) server.resetCounters();
  }

  #healthOf(server: FarmServer): ServerHealth {
    const health = this.#health.get(server);
    if (!health) throw new Error(`server ${server.address} is not in farm ${this.name}`);
    return health;
  }

  #onExchangeEnd(server: FarmServer, report: ExchangeReport, isFailure: boolean): void {
    const policy = this.#policy;
    if (policy.maxLiveTrafficFailures === 0 || !server.isHealthy) return;
    const health = this.#health.get(server);
    if (!health) return;
    if (!isFailure) {
      if (report.status === 0) return; // the client went away: says nothing about the server
      health.count.success();
      if (health.isOnProbation) {
        health.isOnProbation = false;
        health.nextRetryDelayMs = policy.liveTrafficRecoveryDelayMs;
      }
      return;
    }
    if (health.isOnProbation) {
      this.markUnhealthy(server, `live traffic: failed again after the retry (${describeFailure(report)})`, 'liveTraffic');
      return;
    }
    if (health.count.failure(this.#clock.now())) {
      const window = policy.liveTrafficFailurePeriodMs === 0 ? 'in a row' : `within ${policy.liveTrafficFailurePeriodMs} ms`;
      this.markUnhealthy(server, `live traffic: ${policy.maxLiveTrafficFailures} failures ${window} (last: ${describeFailure(report)})`, 'liveTraffic');
    }
  }

  #onUrlTest(server: FarmServer, result: UrlTestResult): void {
    if (result.isPassed) this.markHealthy(server, result.reason, 'urlTest');
    else this.markUnhealthy(server, result.reason, 'urlTest');
  }

  #onStateChange(server: FarmServer, previous: ServerState): void {
    this.#eventLog.info(`farm ${this.name} server ${server.address} state ${previous} → ${server.state}`);
    if (server.state === 'available' && this.#policy.slowStartMs > 0 && server.isHealthy) this.#startSlowStart(server, this.#clock.now());
    this.#refresh(true);
    for (const listener of [...this.#stateListeners]) {
      try {
        listener({ server, from: previous, to: server.state });
      } catch (error) {
        this.#eventLog.error(`farm ${this.name}: a state-change listener failed: ${(error as Error).message}`);
      }
    }
  }

  #startSlowStart(server: FarmServer, now: number): void {
    server.slowStartFromMs = now;
    server.slowStartEndMs = now + this.#policy.slowStartMs;
  }

  #scheduleRetry(server: FarmServer, health: ServerHealth): void {
    if (this.#isClosed) return;
    const delay = health.nextRetryDelayMs;
    health.nextRetryDelayMs = Math.min(delay * 2, Math.max(MAX_RETRY_DELAY_MS, this.#policy.liveTrafficRecoveryDelayMs));
    this.#armRetry(server, health, delay);
  }

  /** Marks the server healthy again (on probation) after `delay` ms. */
  #armRetry(server: FarmServer, health: ServerHealth, delay: number): void {
    if (this.#isClosed) return;
    this.#clearRetry(health);
    health.retryAtMs = this.#clock.now() + delay;
    health.retryTimer = this.#clock.setTimeout(() => {
      health.retryTimer = undefined;
      if (this.#isClosed) return;
      if (this.markHealthy(server, `retry after ${delay} ms (no URL test): live traffic decides again`, 'retry')) health.isOnProbation = true;
    }, delay);
  }

  #clearRetry(health: ServerHealth): void {
    if (health.retryTimer !== undefined) this.#clock.clearTimeout(health.retryTimer);
    health.retryTimer = undefined;
  }

  #announce(server: FarmServer, isHealthy: boolean, reason: string, source: HealthSource): void {
    this.#refresh(true);
    const ignored = !isHealthy && this.#flags.isIgnoringHealth ? ` (still takes requests: fewer than minServers ${this.#policy.minServers} servers are healthy)` : '';
    const line = `farm ${this.name} server ${server.address} marked ${isHealthy ? 'healthy' : 'unhealthy'}: ${reason}${ignored}`;
    if (isHealthy) this.#eventLog.info(line);
    else this.#eventLog.warn(line);
    const change: HealthChange = { server, isHealthy, reason, source };
    for (const listener of [...this.#listeners]) {
      // A listener's failure must not reach the request path that reported the exchange.
      try {
        listener(change);
      } catch (error) {
        this.#eventLog.error(`farm ${this.name}: a health-change listener failed: ${(error as Error).message}`);
      }
    }
  }

  #healthyCount(): number {
    let healthy = 0;
    for (const server of this.servers) if (server.isEnabled && server.state === 'available' && server.isHealthy) healthy++;
    return healthy;
  }

  /** Recomputes minServers' mode and every server's isSelectable (or those given); logs a change of mode. */
  #refresh(isLogged: boolean, servers: readonly FarmServer[] = this.servers): void {
    const minServers = this.#policy.minServers;
    const healthy = this.#healthyCount();
    const isIgnoringHealth = minServers > 0 && healthy < minServers;
    if (isIgnoringHealth !== this.#flags.isIgnoringHealth) {
      this.#flags.isIgnoringHealth = isIgnoringHealth;
      if (isLogged && isIgnoringHealth) {
        this.#eventLog.warn(`farm ${this.name}: ${healthy} server(s) healthy and available, fewer than minServers ${minServers}: new requests go to every available server, healthy or not`);
      } else if (isLogged) {
        this.#eventLog.info(`farm ${this.name}: ${healthy} servers healthy and available (minServers ${minServers}): unhealthy servers get no new requests again`);
      }
    }
    for (const server of servers) server.refreshSelectable();
  }

  #dispatcherOf(server: FarmServer): Dispatcher {
    if (server.dispatcher) return server.dispatcher;
    let pool = this.#probePools.get(server);
    if (!pool) {
      pool = new Pool(server.origin, { connections: 2, keepAliveTimeout: 10_000 });
      this.#probePools.set(server, pool);
    }
    return pool;
  }
}
