/**
 * The keep-alive connections to one farm server: an idle list (the most recently used first, so a quiet
 * period lets the others expire), a new connection whenever none is idle (no limit, as ARR, unless the
 * farm sets maxConnectionsPerServer: then a request waits for a connection, at most the protocol timeout),
 * and a graceful close for a retired farm (idle connections now, busy ones after their exchange).
 */
import type { ConnectionPool, ExchangeHandler, OutgoingRequest } from '../../shared/exchange.js';
import { ServerConnection, UpstreamError, type ConnectionOwner } from './server-connection.js';

export interface ServerPoolOptions {
  /** Connect, response headers, gaps in the response body, and idle keep-alive (ARR's protocol timeout). */
  readonly timeoutMs: number;
  /** The longest an idle connection is reused (the server's Keep-Alive hint may shorten it). */
  readonly keepAliveMs: number;
  /** The largest response head the server may send (bytes). Default 65536 (ARR). */
  readonly maxResponseHeaderSize?: number;
  /** Connections at most; undefined: unlimited. */
  readonly maxConnections?: number;
}

interface Waiting {
  readonly request: OutgoingRequest;
  readonly handler: ExchangeHandler;
  readonly timer: NodeJS.Timeout;
}

export class ServerPool implements ConnectionOwner, ConnectionPool {
  readonly host: string;
  readonly port: number;
  readonly #options: ServerPoolOptions;
  readonly #idle: ServerConnection[] = [];
  readonly #all = new Set<ServerConnection>();
  #isClosing = false;
  #onEmpty: (() => void) | undefined;
  /** Requests waiting for a connection (maxConnections reached), oldest first. */
  readonly #waiting: Waiting[] = [];

  constructor(host: string, port: number, options: ServerPoolOptions) {
    this.host = host;
    this.port = port;
    this.#options = options;
  }

  /** Open connections (idle and busy). */
  get size(): number {
    return this.#all.size;
  }

  /** Sends a request on an idle connection, or on a new one. */
  send(request: OutgoingRequest, handler: ExchangeHandler): void {
    const now = performance.now();
    let connection: ServerConnection | undefined;
    while ((connection = this.#idle.pop()) !== undefined) {
      if (connection.reusableUntilMs > now && connection.isIdle) break;
      connection.close(); // past the server's keep-alive: it may be closing it right now
    }
    if (!connection) {
      const max = this.#options.maxConnections;
      if (max !== undefined && this.#all.size >= max) {
        this.#wait(request, handler);
        return;
      }
      connection = new ServerConnection(this.host, this.port, this, this.#options.timeoutMs, this.#options.keepAliveMs, this.#options.maxResponseHeaderSize);
      this.#all.add(connection);
    }
    connection.send(request, handler);
  }

  /** Requests waiting for a free connection. */
  get waiting(): number {
    return this.#waiting.length;
  }

  #wait(request: OutgoingRequest, handler: ExchangeHandler): void {
    const ms = this.#options.timeoutMs;
    const timer = setTimeout(() => {
      const at = this.#waiting.findIndex((w) => w.handler === handler);
      if (at < 0) return;
      this.#waiting.splice(at, 1);
      handler.onError(new UpstreamError('ERR_POOL_TIMEOUT', `every connection to ${this.host}:${this.port} stayed busy for ${ms} ms (maxConnectionsPerServer ${this.#options.maxConnections})`));
    }, ms);
    this.#waiting.push({ request, handler, timer });
  }

  /** The oldest waiting request, on `connection` (idle) or on a new one (a connection went away). */
  #next(connection?: ServerConnection): boolean {
    const waiting = this.#waiting.shift();
    if (!waiting) return false;
    clearTimeout(waiting.timer);
    if (connection) connection.send(waiting.request, waiting.handler);
    else this.send(waiting.request, waiting.handler);
    return true;
  }

  release(connection: ServerConnection): void {
    if (this.#isClosing) {
      connection.close();
      return;
    }
    if (this.#waiting.length > 0 && this.#next(connection)) return;
    this.#idle.push(connection);
  }

  forget(connection: ServerConnection): void {
    this.#all.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    if (this.#waiting.length > 0 && !this.#isClosing) this.#next();
    if (this.#all.size === 0) this.#onEmpty?.();
  }

  /** No new requests are expected: idle connections close now, busy ones after their exchange. */
  close(): Promise<void> {
    this.#isClosing = true;
    for (const waiting of this.#waiting.splice(0)) {
      clearTimeout(waiting.timer);
      waiting.handler.onError(new UpstreamError('ERR_POOL_CLOSED', `the farm's connections to ${this.host}:${this.port} are closing`));
    }
    for (const connection of this.#idle.splice(0)) connection.close();
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#onEmpty = resolve));
  }

  /** Closes every connection now. */
  destroy(): Promise<void> {
    this.#isClosing = true;
    this.#idle.length = 0;
    for (const connection of [...this.#all]) connection.destroy();
    return this.close();
  }
}
