/**
 * The composition root: the only module that wires config, farms, listeners and logs together.
 * Gatehouse.start binds every listener (or none: a failure closes those already bound) and
 * Gatehouse.stop drains: no new connections, in-flight requests finish within drainTimeout.
 */
import { type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Pool } from 'undici';
import type { Config, Farm } from './config/model.js';
import { loadConfig } from './config/load.js';
import { ConfigError } from './config/problem.js';
import type { RequestObserver } from './tracing/request-record.js';
import { FarmState } from './farm/farm-state.js';
import type { FarmServer, ServerConnections } from './farm/farm-server.js';
import { createRequestHandler } from './proxy/handler.js';
import { createUpgradeHandler } from './proxy/upgrade.js';
import { Tunnels } from './proxy/tunnels.js';
import { createClientErrorHandler } from './proxy/client-error.js';
import { isHttp2Request } from './proxy/admission.js';
import { answerAndClose, continueInOrder } from './proxy/connection-state.js';
import { ServerPool } from './proxy/upstream/server-pool.js';
import { ListenerRuntime, type ListenerServer, type ListenerUpdate } from './proxy/listener.js';
import { BindingRuntime, SiteRuntime } from './proxy/site-runtime.js';
import { AccessLogs } from './tracing/access-log.js';
import { RevocationService } from './tls/online/revocation-service.js';
import { DynamicIpSecurity } from './proxy/dynamic-ip-security.js';
import { probePlatform, platformProblem } from './platform/probes.js';
import { closeAllConnections, trackConnections } from './platform/connections.js';
import cluster from 'node:cluster';
import { SiteTracer } from './tracing/site-tracer.js';
import type { AdminServer } from './admin/admin-server.js';
import { startAdminListener } from './admin/start.js';
import { localFarmRuntime } from './admin/farm-runtime.js';
import { applyOperation, type FarmOperation } from './admin/operations.js';
import { attributedFarms, EventBus, type CounterSample } from './admin/events.js';
import type { ReloadSummary } from './admin/context.js';
import { GatehouseMetrics } from './tracing/metrics.js';
import { observeTlsHandshakes } from './tracing/metrics-tls.js';
import { eventLog as defaultEventLog, type EventLog } from './tracing/log.js';
import { ClientCertificateInventory } from './tls/client-certificate-inventory.js';

export interface StartOptions {
  /** Where Gatehouse's own events go; stderr by default. */
  readonly eventLog?: EventLog;
  /** TLS session ticket key (48 bytes) shared by the workers; else config.sessionTicketKey, else per process. */
  readonly ticketKeys?: Buffer;
  /** A cluster worker: collect metrics for the primary's /metrics, but serve no admin listener. */
  readonly collectMetrics?: boolean;
  /** Run-time state to apply once the farms are built, before anything listens (a cluster worker's: the primary's operations so far). */
  readonly runtimeOperations?: readonly { readonly operation: FarmOperation; readonly actor: string }[];
}

/** A listening socket, as it was actually bound (port 0 becomes the chosen port). */
export interface BoundListener {
  readonly protocol: 'http' | 'https';
  readonly address: string;
  readonly port: number;
  readonly url: string;
  /** Site names served on this socket. */
  readonly sites: readonly string[];
}

/** Farms, sites and bindings built from one config. */
interface Runtime {
  readonly farms: Map<string, FarmState>;
  readonly sites: SiteRuntime[];
  /** Bindings per listening socket key. */
  readonly groups: Map<string, BindingRuntime[]>;
  /** The farms built for this config (an unchanged farm is the running one, not built again). */
  readonly built: FarmState[];
  /** Connections made for servers a changed farm keeps whose connection settings changed: swapped in at commit. */
  readonly swaps: (ServerConnections & { readonly server: FarmServer })[];
}

/** A reload built and not yet in force: everything it made, to switch in at once (commit) or to close (discard). */
interface PreparedReload {
  readonly config: Config;
  readonly runtime: Runtime;
  /** The listeners that stay, each with its prepared change. */
  readonly updates: [ListenerRuntime, ListenerUpdate][];
  /** The listeners this config adds, already bound. */
  readonly added: [string, ListenerRuntime][];
  readonly accessLog: AccessLogs;
  /** The Dynamic IP Restrictions of the new config: the running ones when their settings are unchanged. */
  readonly dynamicIp: DynamicIpSecurity | undefined;
}

/** What a reload did, for the event log's readers and the admin API: the last one tried. */
export interface ReloadResult {
  /** When it was tried (epoch ms). */
  readonly atMs: number;
  /** The config file it read. */
  readonly file: string;
  /** True: the new config is in force. False: refused, the running config stays (nothing of the new one applied). */
  readonly ok: boolean;
  /** Why it was refused: the config's problems (FILE:LINE key.path: …) or what could not be applied; empty when ok. */
  readonly problems: readonly string[];
}

/** A farm's config as a comparable string (Sets and Maps included, Buffers as hex). */
function fingerprintOf(farm: Farm): string {
  return JSON.stringify(farm, (_key, value: unknown) => {
    if (value instanceof Set) return [...value];
    if (value instanceof Map) return [...value];
    if (value instanceof RegExp) return value.source;
    if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') return `buffer:${JSON.stringify(value)}`;
    return value;
  });
}

/** A server's connections for a farm's config: the connection factory app.ts gives each farm (FarmState's `connect`). */
function connectionsFor(server: FarmServer, farm: Farm): ServerConnections {
  return {
    pool: new ServerPool(server.host, server.port, {
      timeoutMs: farm.protocol.timeoutMs,
      keepAliveMs: 30_000,
      maxResponseHeaderSize: farm.protocol.maxResponseHeaderSize,
      ...(farm.maxConnectionsPerServer !== undefined ? { maxConnections: farm.maxConnectionsPerServer } : {}),
    }),
    // URL tests (health) go through undici, on connections of their own.
    dispatcher: new Pool(server.origin, { connect: { timeout: farm.protocol.timeoutMs }, connections: 2, keepAliveTimeout: 10_000, pipelining: 1 }),
  };
}

/** Whether two configs of a farm make the same connections to its servers (connectionsFor). */
function isSameConnections(a: Farm, b: Farm): boolean {
  return a.protocol.timeoutMs === b.protocol.timeoutMs && a.protocol.maxResponseHeaderSize === b.protocol.maxResponseHeaderSize && a.maxConnectionsPerServer === b.maxConnectionsPerServer;
}

/**
 * A farm's state for a config, its servers connected by connectionsFor. A changed farm (`previous` of the
 * same name) keeps the servers whose address stays, as the same objects (FarmState takeOver at commit),
 * and their connections unless the settings connections are made with changed: those get new ones, swapped
 * in at commit. New servers get connections of their own (from the farm).
 */
function farmStateFor(farm: Farm, eventLog: EventLog, previous: FarmState | undefined, swaps: Runtime['swaps']): FarmState {
  const connect = (server: FarmServer): ServerConnections => connectionsFor(server, farm);
  const state = new FarmState(farm, previous ? { eventLog, previous, connect } : { eventLog, connect });
  if (previous !== undefined && !isSameConnections(previous.config, farm)) {
    for (const server of state.servers) if (state.keeps(server)) swaps.push({ server, ...connect(server) });
  }
  return state;
}

/**
 * The runtime of a config. With `previous` (a reload), an unchanged farm is the running one, a changed one
 * keeps its staying servers (farmStateFor), and a site keeps the client chains its connections showed.
 * Changes nothing of `previous`.
 */
function buildRuntime(config: Config, eventLog: EventLog, revocation: RevocationService, previous?: { readonly farms: ReadonlyMap<string, FarmState>; readonly sites: readonly SiteRuntime[] }): Runtime {
  const runtime: Runtime = { farms: new Map(), sites: [], groups: new Map(), built: [], swaps: [] };
  try {
    return buildInto(runtime, config, eventLog, revocation, previous);
  } catch (error) {
    closeBuilt(runtime); // nothing of it is in force yet
    throw error;
  }
}

/** What a refused reload built and the running config does not use: new servers' connections, swaps, tracers. */
function closeBuilt(runtime: Pick<Runtime, 'built' | 'swaps' | 'sites'>): void {
  for (const farm of runtime.built) {
    // Its kept servers are the running farm's: untouched; its health tests never started.
    for (const server of farm.servers) {
      if (farm.keeps(server)) continue;
      void server.pool?.destroy();
      void server.dispatcher?.destroy();
    }
    farm.close();
  }
  for (const { pool, dispatcher } of runtime.swaps) {
    void pool.destroy();
    void dispatcher.destroy();
  }
  for (const site of runtime.sites) void site.tracer?.close();
}

function buildInto(runtime: Runtime, config: Config, eventLog: EventLog, revocation: RevocationService, previous: Parameters<typeof buildRuntime>[3]): Runtime {
  const { farms, sites, groups, built, swaps } = runtime;
  for (const farm of config.farms) {
    const old = previous?.farms.get(farm.name);
    // An unchanged farm keeps its state: health, counters, affinity memory and connection pools.
    if (old && fingerprintOf(old.config) === fingerprintOf(farm)) {
      farms.set(farm.name, old);
      continue;
    }
    const state = farmStateFor(farm, eventLog, old, swaps);
    built.push(state);
    farms.set(farm.name, state);
  }
  for (const site of config.sites) {
    const runtime = new SiteRuntime(site, farms.get(site.farm.name) as FarmState, farms);
    const chains = previous?.sites.find((old) => old.name === site.name)?.chains;
    if (chains) runtime.chains = chains;
    if (site.tracing) runtime.tracer = new SiteTracer(site.tracing, eventLog);
    const online = revocation.checkerFor(site.ssl);
    if (online || !site.ssl.revocation.isEmpty) runtime.revocation = { online, get observer() { return revocation.observer; }, warn: (message) => eventLog.warn(message) };
    sites.push(runtime);
    for (const [index, binding] of site.bindings.entries()) {
      // Port 0 asks for a free port: such a binding always gets a socket of its own.
      const key = binding.port === 0 ? `${binding.address}|0|${site.name}.${index}` : `${binding.address}|${binding.port}|${binding.protocol}`;
      const bindingRuntime = new BindingRuntime(binding, runtime);
      bindingRuntime.staple = revocation.stapleFor(binding, site.ssl);
      groups.set(key, [...(groups.get(key) ?? []), bindingRuntime]);
    }
  }
  return runtime;
}

/** The OCSP staples of a runtime's bindings. */
function* stapleOf(runtime: Runtime) {
  for (const bindings of runtime.groups.values()) for (const binding of bindings) yield binding.staple;
}

export class Gatehouse {
  #config: Config;
  #farms: Map<string, FarmState>;
  #listeners = new Map<string, ListenerRuntime>();
  /** Prometheus metrics; undefined without an `admin` key (nothing is collected then). */
  readonly metrics: GatehouseMetrics | undefined;
  #admin: AdminServer | undefined;
  /** The admin API's events (reloads, health, state, rejections, admin writes); undefined without an `admin` key. */
  readonly events: EventBus | undefined;
  /** The client certificates seen since start (kept when the admin API, here or in the primary, can show them). */
  readonly clientCertificates: ClientCertificateInventory | undefined;
  #stopForced = false;
  /** Once stopped: whether the drain timeout had to close connections (the stop was forced, not graceful). */
  get wasStopForced(): boolean {
    return this.#stopForced;
  }

  /** Open WebSocket tunnels: closed when a drain times out, counted by the metrics. */
  readonly #tunnels = new Tunnels();
  readonly #deps: { accessLog: AccessLogs; eventLog: EventLog; observers: RequestObserver[]; dynamicIp: () => DynamicIpSecurity | undefined; tunnels: Tunnels };
  #sites: SiteRuntime[];
  readonly #eventLog: EventLog;
  readonly #options: StartOptions;
  /** Online revocation caches: shared by the sites, kept across reloads. */
  readonly #revocation: RevocationService;
  /** Dynamic IP Restrictions (a reload replaces them). */
  #dynamicIp: DynamicIpSecurity | undefined;
  #stopping: Promise<void> | undefined;
  #reloading: Promise<boolean> | undefined;
  #lastReload: ReloadResult | undefined;

  private constructor(config: Config, eventLog: EventLog, options: StartOptions) {
    this.#config = config;
    this.#eventLog = eventLog;
    this.#options = options;
    this.#revocation = new RevocationService((message) => eventLog.warn(message));
    const runtime = buildRuntime(config, eventLog, this.#revocation);
    this.#farms = runtime.farms;
    this.#sites = runtime.sites;
    this.events = config.admin ? new EventBus() : undefined;
    for (const farm of this.#farms.values()) this.events?.watchFarm(farm);
    for (const [key, bindings] of runtime.groups) this.#listeners.set(key, new ListenerRuntime(bindings));
    this.#revocation.staplesInForce(stapleOf(runtime));
    this.metrics = config.admin || options.collectMetrics ? new GatehouseMetrics(this.#farms) : undefined;
    this.clientCertificates = config.admin || options.collectMetrics ? new ClientCertificateInventory() : undefined;
    if (this.metrics) {
      this.#revocation.observeWith(this.metrics);
      this.metrics.revocationEntries = () => this.#revocation.entries();
      this.metrics.crlFiles = () => this.#config.sites.flatMap((site) => site.ssl.revocation.crls);
      this.metrics.openTunnels = () => this.#tunnels.count;
    }
    this.#dynamicIp = config.dynamicIpSecurity ? new DynamicIpSecurity(config.dynamicIpSecurity, cluster.isWorker ? config.workers : 1) : undefined;
    this.#deps = { accessLog: new AccessLogs(config.accessLog, config.sites, { eventLog }), eventLog, observers: this.metrics ? [this.metrics] : [], dynamicIp: () => this.#dynamicIp, tunnels: this.#tunnels };
  }

  /** The config in force (a reload replaces it). */
  get config(): Config {
    return this.#config;
  }

  get farms(): ReadonlyMap<string, FarmState> {
    return this.#farms;
  }

  get listeners(): readonly ListenerRuntime[] {
    return [...this.#listeners.values()];
  }

  /** The admin listener (GET /metrics) once bound; undefined without an `admin` key, or in a worker. */
  get admin(): AdminServer | undefined {
    return this.#admin;
  }

  /** Binds every listener. Rejects (having closed what was bound) when one cannot be bound. */
  static async start(config: Config, options: StartOptions = {}): Promise<Gatehouse> {
    // Node's internals are probed by behaviour once per process (platform/probes.ts); a fallback is used where one fails.
    const platform = await probePlatform({ http2: config.sites.some((site) => site.bindings.some((binding) => binding.http2)) });
    const problem = platformProblem(platform);
    if (problem) throw new Error(problem);
    const http2 = platform.checks.find((check) => check.name === 'http2');
    if (http2?.status === 'fallback') (options.eventLog ?? defaultEventLog).warn(http2.reason);
    const gatehouse = new Gatehouse(config, options.eventLog ?? defaultEventLog, options);
    for (const { operation, actor } of options.runtimeOperations ?? []) {
      try {
        applyOperation(gatehouse.#farms, operation, actor);
      } catch (error) {
        gatehouse.#eventLog.warn(`run-time ${operation.type} for farm ${operation.farm} not applied: ${(error as Error).message}`);
      }
    }
    try {
      for (const listener of gatehouse.#listeners.values()) await gatehouse.#open(listener);
      // In a worker the primary serves /metrics, aggregated over the workers.
      if (config.admin && gatehouse.metrics && !options.collectMetrics) {
        // The admin API reads and changes this Gatehouse's farms in force (a reload replaces them; servers that stay keep their state).
        const events = gatehouse.events as EventBus;
        const source = { config: () => gatehouse.config, farms: attributedFarms(localFarmRuntime(() => gatehouse.farms), events), events, lastReload: () => gatehouse.lastReload, reload: () => gatehouse.reload().then(() => gatehouse.lastReload as ReloadSummary), startedAtMs: Date.now(), workers: 1, clientCertificates: async () => gatehouse.clientCertificates?.snapshot() ?? [] };
        gatehouse.#admin = await startAdminListener(config.admin, gatehouse.metrics, source, gatehouse.#eventLog).catch((error: Error) => {
          throw new ListenError(error.message, { cause: error });
        });
        const rejections = gatehouse.metrics.registry.getSingleMetric('gatehouse_rejections_total');
        if (rejections) events.watchRejections(async () => (await rejections.get()).values as CounterSample[]);
      }
      for (const farm of gatehouse.#farms.values()) farm.start();
    } catch (error) {
      await gatehouse.stop(0);
      throw error;
    }
    return gatehouse;
  }

  /** Creates a listener's server and binds it. */
  async #open(listener: ListenerRuntime): Promise<void> {
    const onRequest = createRequestHandler(listener, this.#deps);
    listener.onConnectionQueued = (isDropped) => this.metrics?.connectionQueued(isDropped);
    listener.clientCertificates = this.clientCertificates;
    listener.onHttp2Abuse = (kind, detail, peer) => {
      this.#eventLog.warn(`HTTP/2 connection from ${peer} closed (${kind}): ${detail}`);
      this.metrics?.http2ConnectionClosed(kind);
    };
    const server = listener.createServer(onRequest, this.#options.ticketKeys ?? this.#config.sessionTicketKey);
    trackConnections(server); // only when closeAllConnections is on its fallback
    server.on('clientError', createClientErrorHandler(this.#eventLog, this.#deps));
    // CONNECT is never proxied (node would close the connection without a word). Over HTTP/2 node's
    // compatibility API hands over a request and a response, over HTTP/1.1 a request and its socket.
    server.on('connect', (req: IncomingMessage, socketOrResponse: Socket | ServerResponse) => {
      // HTTP/2's goes through admission like any request: a WebSocket (RFC 8441) is tunnelled, any other CONNECT is 405.
      if (isHttp2Request(req)) onRequest(req, socketOrResponse as ServerResponse);
      else answerAndClose(socketOrResponse as Socket, 405);
    });
    // Expect: 100-continue: the 100 only for a request that is going to a server (a refused one gets its
    // final answer instead, RFC 9110 §10.1.1), and behind the answers owed before it.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => continueInOrder(req, res, onRequest));
    server.on('tlsClientError', () => {}); // failed handshakes are the client's problem (counted by the metrics)
    server.on('upgrade', createUpgradeHandler(listener, this.#deps, this.#tunnels));
    if (this.metrics) observeTlsHandshakes(server, listener, this.metrics);
    await listen(server, listener);
  }

  /**
   * Reloads the config file, all or nothing. The new config is loaded and checked; then everything it needs
   * is built and bound (farms with their connections, TLS contexts for every https binding, new listening
   * sockets) while the running config serves on; then it is switched in at once, in one synchronous step.
   * Anything that fails before the switch (an invalid config, a certificate OpenSSL refuses, HTTP/2 turned
   * on or off on a bound socket, a port in use) refuses the reload: what was built is closed, nothing of
   * the new config was applied, the reason is logged once and kept in `lastReload`.
   *
   * Once switched: requests in flight finish on the config they started with; open connections take the
   * new config with their next request, and stay open unless their binding's TLS material (certificate,
   * TLS policy, client-certificate mode, trusted CAs, CRLs) changed since their handshake (then an HTTP/2
   * connection gets a GOAWAY and an HTTP/1.1 one closes after its next response). A changed farm keeps the
   * servers whose address stays, with their counters, health, slow start, state, affinity and connections.
   * Removed sockets are drained. Resolves true when the new config is in force (and the access logs it retired have written what they held).
   */
  reload(file = this.#config.file): Promise<boolean> {
    const previous = this.#reloading ?? Promise.resolve(true);
    const next = previous.then(() => this.#reload(file));
    this.#reloading = next;
    return next;
  }

  /** The last reload tried (undefined before the first): when, which file, whether it is in force, and why not. */
  get lastReload(): ReloadResult | undefined {
    return this.#lastReload;
  }

  async #reload(file: string): Promise<boolean> {
    if (this.#stopping) return false;
    const atMs = Date.now();
    let config: Config;
    try {
      config = (await loadConfig(file)).config;
    } catch (error) {
      const lines = error instanceof ConfigError ? error.lines : [(error as Error).message];
      return this.#refuse(atMs, file, `${file} is invalid\n${lines.join('\n')}`, lines);
    }
    let prepared: PreparedReload;
    try {
      prepared = await this.#prepare(config);
    } catch (error) {
      const message = (error as Error).message;
      return this.#refuse(atMs, file, message, [message]);
    }
    // A state the new config changes is a state event `by` the reload.
    const retired = this.events ? this.events.attributed(`config reload (${file})`, () => this.#commit(prepared, file)) : this.#commit(prepared, file);
    this.#lastReload = { atMs, file, ok: true, problems: [] };
    for (const line of this.#admin?.reload(config.admin) ?? []) this.#eventLog.warn(line);
    this.events?.publish({ type: 'reload', ok: true, problems: [], file });
    // The new config is in force; the old access logs write what they hold before reload() resolves.
    await retired;
    return true;
  }

  #refuse(atMs: number, file: string, reason: string, problems: readonly string[]): false {
    this.#eventLog.error(`reload refused, the running config stays: ${reason}`);
    this.#lastReload = { atMs, file, ok: false, problems };
    this.events?.publish({ type: 'reload', ok: false, problems, file });
    return false;
  }

  /**
   * Builds everything a config needs next to the running one, which it does not change: farms (a changed
   * one keeping its staying servers), sites, each staying listener's prepared update (TLS contexts), the
   * access logs, and the new listeners, bound (they serve the new config's sites from then on). Throws
   * having closed what it built.
   */
  async #prepare(config: Config): Promise<PreparedReload> {
    const runtime = buildRuntime(config, this.#eventLog, this.#revocation, { farms: this.#farms, sites: this.#sites });
    for (const farm of runtime.built) this.events?.watchFarm(farm);
    const added: [string, ListenerRuntime][] = [];
    let accessLog: AccessLogs | undefined;
    let dynamicIp = this.#dynamicIp;
    try {
      const updates: [ListenerRuntime, ListenerUpdate][] = [];
      for (const [key, bindings] of runtime.groups) {
        const listener = this.#listeners.get(key);
        if (listener) updates.push([listener, listener.prepare(bindings)]);
      }
      accessLog = new AccessLogs(config.accessLog, config.sites, { eventLog: this.#eventLog });
      if (JSON.stringify(config.dynamicIpSecurity) !== JSON.stringify(this.#dynamicIp?.settings)) {
        dynamicIp = config.dynamicIpSecurity ? new DynamicIpSecurity(config.dynamicIpSecurity, cluster.isWorker ? config.workers : 1) : undefined;
      }
      // Last, as the only step that is seen from outside: a socket bound serves at once.
      for (const [key, bindings] of runtime.groups) {
        if (this.#listeners.has(key)) continue;
        const listener = new ListenerRuntime(bindings);
        added.push([key, listener]);
        await this.#open(listener);
      }
      return { config, runtime, updates, added, accessLog, dynamicIp };
    } catch (error) {
      await this.#discard(runtime, added, accessLog, dynamicIp === this.#dynamicIp ? undefined : dynamicIp);
      throw error;
    }
  }

  /** A refused reload: closes what #prepare built (new sockets unbound, new pools and tracers closed). */
  async #discard(runtime: Runtime, added: readonly [string, ListenerRuntime][], accessLog: AccessLogs | undefined, dynamicIp: DynamicIpSecurity | undefined): Promise<void> {
    closeBuilt(runtime);
    void accessLog?.close();
    dynamicIp?.close();
    await Promise.all(added.map(([, listener]) => unbind(listener)));
  }

  /**
   * Switches a prepared reload in, in one synchronous step (nothing here can fail). Returns when the
   * retired access logs have written what they held.
   */
  #commit(prepared: PreparedReload, file: string): Promise<void> {
    const { config, runtime } = prepared;
    for (const [listener, update] of prepared.updates) listener.commit(update);
    for (const [key, listener] of prepared.added) this.#listeners.set(key, listener);
    const removed = [...this.#listeners.entries()].filter(([key]) => !runtime.groups.has(key));
    const before = this.#farms;
    const retiredSites = this.#sites;
    const retiredLog = this.#deps.accessLog;
    this.#config = config;
    this.#farms = runtime.farms;
    this.#sites = runtime.sites;
    this.#deps.accessLog = prepared.accessLog;
    if (prepared.dynamicIp !== this.#dynamicIp) {
      this.#dynamicIp?.close();
      this.#dynamicIp = prepared.dynamicIp;
    }
    this.metrics?.replaceFarms(runtime.farms);
    // A changed farm takes its staying servers over (settings, hooks, health tests), then their new connections.
    for (const farm of runtime.built) farm.takeOver();
    for (const { server, pool, dispatcher } of runtime.swaps) {
      const old = { pool: server.pool, dispatcher: server.dispatcher };
      server.pool = pool;
      server.dispatcher = dispatcher;
      void old.pool?.close();
      void old.dispatcher?.close();
    }
    // What the old config used and the new one does not goes once its requests are done: pools close
    // after their last request. A replaced farm was closed by its successor's takeOver.
    let replaced = 0;
    for (const [name, old] of before) {
      const now = runtime.farms.get(name);
      if (now === old) continue;
      if (now) replaced++;
      else old.close();
      const kept = new Set(now?.servers);
      for (const server of old.servers) {
        if (kept.has(server)) continue;
        void server.pool?.close();
        void server.dispatcher?.close();
      }
    }
    for (const farm of runtime.farms.values()) farm.start();
    this.#revocation.staplesInForce(stapleOf(runtime));
    for (const [key, listener] of removed) {
      this.#listeners.delete(key);
      void drain(listener, config.drainTimeoutMs, this.#tunnels, this.#eventLog);
    }
    const retired = retiredLog.close();
    for (const site of retiredSites) void site.tracer?.close();
    this.#eventLog.info(`config reloaded from ${file}: ${config.sites.length} sites, ${config.farms.length} farms${replaced ? `, ${replaced} farms changed` : ''}`);
    return retired;
  }

  /** Every listening socket with its real port. */
  get bound(): BoundListener[] {
    return [...this.#listeners.values()]
      .filter((l) => l.server?.listening)
      .map((l) => {
        const port = (l.server?.address() as { port: number }).port;
        const protocol = l.isHttps ? 'https' : 'http';
        const host = l.address.includes(':') ? `[${l.address}]` : l.address;
        return { protocol, address: l.address, port, url: `${protocol}://${host}:${port}`, sites: [...new Set(l.bindings.map((b) => b.site.name))] } as const;
      });
  }

  /**
   * Stops accepting connections, lets in-flight requests finish (connections close after their
   * response), and after `drainTimeoutMs` closes whatever is left. Idempotent.
   */
  stop(drainTimeoutMs = this.config.drainTimeoutMs): Promise<void> {
    this.#stopping ??= this.#stop(drainTimeoutMs);
    return this.#stopping;
  }

  async #stop(drainTimeoutMs: number): Promise<void> {
    await this.#reloading?.catch(() => false);
    const forced = await Promise.all([...this.#listeners.values()].map((listener) => drain(listener, drainTimeoutMs, this.#tunnels, this.#eventLog)));
    this.#stopForced = forced.includes(true);
    for (const farm of this.#farms.values()) farm.close();
    await this.#admin?.close();
    this.events?.close();
    await Promise.all([...this.#farms.values()].flatMap((farm) => farm.servers.flatMap((s) => [s.pool?.destroy(), s.dispatcher?.destroy()])));
    await this.#deps.accessLog.close();
    await Promise.all(this.#sites.map((site) => site.tracer?.close()));
    this.#revocation.close();
    this.#dynamicIp?.close();
  }
}

/** Closes a listener a refused reload bound: the socket is released, any connection it took is closed. */
async function unbind(listener: ListenerRuntime): Promise<void> {
  const server = listener.server as HttpServer | undefined; // an http2 server with HTTP/1.1 has the same connection methods
  if (!server?.listening) return;
  const closed = once(server, 'close');
  server.close();
  listener.closeWaiting();
  closeAllConnections(server);
  listener.destroySessions();
  await closed;
}

function listen(server: ListenerServer, listener: ListenerRuntime): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const sites = [...new Set(listener.bindings.map((b) => b.site.name))].join(', ');
      const why = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : error.code === 'EADDRNOTAVAIL' ? 'the address is not on this machine' : error.message;
      reject(new ListenError(`cannot listen on ${listener.address}:${listener.port} (site ${sites}): ${why}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen({ host: listener.address, port: listener.port, ipv6Only: listener.address === '::' ? false : undefined }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export class ListenError extends Error {
  readonly code = 'ERR_LISTEN';
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

/**
 * Stops a listener: no new connections; requests that arrive on open HTTP/1.1 connections are served and
 * their connection closes; idle ones close now; HTTP/2 connections get a GOAWAY and close after their
 * open streams; WebSocket tunnels run on. After `drainTimeoutMs` whatever is left is closed, tunnels
 * included, and the stop is logged as forced. Resolves true when it had to force connections closed.
 */
async function drain(listener: ListenerRuntime, drainTimeoutMs: number, tunnels: Tunnels, eventLog?: EventLog): Promise<boolean> {
  const server = listener.server as HttpServer | undefined; // an http2 server with HTTP/1.1 has the same connection methods
  if (!server?.listening) return false;
  server.on('request', (_req, res) => {
    res.shouldKeepAlive = false;
  });
  const done = once(server, 'close');
  server.close();
  listener.closeWaiting();
  server.closeIdleConnections();
  listener.closeSessions();
  // A connection becomes idle when its response ends: close it then.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  let forced = false;
  const timer = setTimeout(() => {
    const websockets = tunnels.countOf(listener);
    eventLog?.warn(`drain timeout (${drainTimeoutMs} ms) reached on ${listener.address}:${listener.port}: forcing the remaining connections closed${websockets > 0 ? ` (${websockets} WebSocket)` : ''}`);
    forced = true;
    // An http2 server has no closeAllConnections of its own; node:http's works on its HTTP/1.1 connections.
    closeAllConnections(server);
    listener.destroySessions();
    // Upgraded connections are no longer node's HTTP connections: they are closed here.
    tunnels.closeAll(listener);
  }, drainTimeoutMs);
  await done.finally(() => {
    clearInterval(sweep);
    clearTimeout(timer);
  });
  return forced;
}
