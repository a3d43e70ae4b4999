/**
 * The composition root: the only module that wires config, farms, listeners and logs together.
 * Gatehouse.start binds every listener (or none: a failure closes those already bound) and
 * Gatehouse.stop drains: no new connections, in-flight requests finish within drainTimeout.
 */
import type { Server as HttpServer } from 'node:http';
import { once } from 'node:events';
import { Pool } from 'undici';
import type { Config } from './config/model.js';
import { FarmState } from './farm/farm-state.js';
import { createRequestHandler } from './proxy/handler.js';
import { ListenerRuntime } from './proxy/listener.js';
import { BindingRuntime, SiteRuntime } from './proxy/site-runtime.js';
import { AccessLogs } from './tracing/access-log.js';
import { SiteTracer } from './tracing/site-tracer.js';
import { startAdminServer, type AdminServer } from './admin/admin-server.js';
import { GatehouseMetrics } from './tracing/metrics.js';
import { observeTlsHandshakes } from './tracing/metrics-tls.js';
import { eventLog as defaultEventLog, type EventLog } from './tracing/log.js';

export interface StartOptions {
  /** Where Gatehouse's own events go; stderr by default. */
  readonly eventLog?: EventLog;
  /** TLS session ticket key (48 bytes) shared by the workers; else config.sessionTicketKey, else per process. */
  readonly ticketKeys?: Buffer;
  /** A cluster worker: collect metrics for the primary's /metrics, but serve no admin listener. */
  readonly collectMetrics?: boolean;
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

export class Gatehouse {
  readonly config: Config;
  readonly farms: ReadonlyMap<string, FarmState>;
  readonly listeners: readonly ListenerRuntime[];
  /** Prometheus metrics; undefined without an `admin` key (nothing is collected then). */
  readonly metrics: GatehouseMetrics | undefined;
  #admin: AdminServer | undefined;
  readonly #accessLog: AccessLogs;
  readonly #sites: SiteRuntime[] = [];
  readonly #eventLog: EventLog;
  #stopping: Promise<void> | undefined;

  private constructor(config: Config, eventLog: EventLog, options: StartOptions) {
    this.config = config;
    this.#eventLog = eventLog;
    this.#accessLog = new AccessLogs(config.accessLog, config.sites, { eventLog });
    const farms = new Map<string, FarmState>();
    for (const farm of config.farms) {
      const state = new FarmState(farm, { eventLog });
      for (const server of state.servers) {
        server.dispatcher = new Pool(server.origin, {
          connect: { timeout: farm.protocol.timeoutMs },
          headersTimeout: farm.protocol.timeoutMs,
          bodyTimeout: farm.protocol.timeoutMs,
          keepAliveTimeout: 30_000,
          keepAliveMaxTimeout: 600_000,
          pipelining: 1,
        });
      }
      farms.set(farm.name, state);
    }
    this.farms = farms;
    const groups = new Map<string, BindingRuntime[]>();
    for (const site of config.sites) {
      const runtime = new SiteRuntime(site, farms.get(site.farm.name) as FarmState);
      if (site.tracing) runtime.tracer = new SiteTracer(site.tracing, eventLog);
      this.#sites.push(runtime);
      for (const [index, binding] of site.bindings.entries()) {
        // Port 0 asks for a free port: such a binding always gets a socket of its own.
        const key = binding.port === 0 ? `${binding.address}|0|${site.name}.${index}` : `${binding.address}|${binding.port}`;
        groups.set(key, [...(groups.get(key) ?? []), new BindingRuntime(binding, runtime)]);
      }
    }
    this.listeners = [...groups.values()].map((bindings) => new ListenerRuntime(bindings));
    this.metrics = config.admin || options.collectMetrics ? new GatehouseMetrics(farms) : undefined;
  }

  /** The admin listener (GET /metrics) once bound; undefined without an `admin` key, or in a worker. */
  get admin(): AdminServer | undefined {
    return this.#admin;
  }

  /** Binds every listener. Rejects (having closed what was bound) when one cannot be bound. */
  static async start(config: Config, options: StartOptions = {}): Promise<Gatehouse> {
    const gatehouse = new Gatehouse(config, options.eventLog ?? defaultEventLog, options);
    const metrics = gatehouse.metrics;
    const deps = { accessLog: gatehouse.#accessLog, eventLog: gatehouse.#eventLog, observers: metrics ? [metrics] : [] };
    try {
      for (const listener of gatehouse.listeners) {
        const server = listener.createServer(createRequestHandler(listener, deps), options.ticketKeys ?? config.sessionTicketKey);
        server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
          if (error.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
          socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        });
        server.on('tlsClientError', () => {}); // failed handshakes are the client's problem (counted by the metrics)
        if (metrics) observeTlsHandshakes(server, listener, metrics);
        await listen(server, listener);
      }
      // In a worker the primary serves /metrics, aggregated over the workers.
      if (config.admin && metrics && !options.collectMetrics) {
        gatehouse.#admin = await startAdminServer(config.admin, metrics, { eventLog: gatehouse.#eventLog }).catch((error: Error) => {
          throw new ListenError(error.message, { cause: error });
        });
      }
      for (const farm of gatehouse.farms.values()) farm.start();
    } catch (error) {
      await gatehouse.stop(0);
      throw error;
    }
    return gatehouse;
  }

  /** Every listening socket with its real port. */
  get bound(): BoundListener[] {
    return this.listeners
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
    const servers = this.listeners.map((l) => l.server).filter((s): s is HttpServer => s !== undefined);
    const closed = servers.map((server) => {
      if (!server.listening) return Promise.resolve();
      // Requests that arrive on open keep-alive connections are served, then their connection closes.
      server.on('request', (_req, res) => {
        res.shouldKeepAlive = false;
      });
      const done = once(server, 'close').then(() => undefined);
      server.close();
      server.closeIdleConnections();
      // A connection becomes idle when its response ends: close it then.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      void done.finally(() => clearInterval(sweep));
      return done;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), drainTimeoutMs)));
    const result = await Promise.race([Promise.all(closed), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.#eventLog.warn(`drain timeout (${drainTimeoutMs} ms) reached: closing the remaining connections`);
      for (const server of servers) server.closeAllConnections();
      await Promise.all(closed);
    }
    for (const farm of this.farms.values()) farm.close();
    await this.#admin?.close();
    await Promise.all([...this.farms.values()].flatMap((farm) => farm.servers.map((s) => s.dispatcher?.destroy())));
    await this.#accessLog.close();
    await Promise.all(this.#sites.map((site) => site.tracer?.close()));
  }
}

function listen(server: HttpServer, listener: ListenerRuntime): Promise<void> {
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
