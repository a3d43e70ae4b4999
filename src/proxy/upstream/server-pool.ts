/**
 * The keep-alive connections to one farm server: an idle list (the most recently used first, so a quiet
 * period lets the others expire), a new connection whenever none is idle (no limit, as ARR), and a
 * graceful close for a retired farm (idle connections now, busy ones after their exchange).
 */
import { ServerConnection, type ConnectionOwner, type ExchangeHandler, type OutgoingRequest } from './server-connection.js';

export interface ServerPoolOptions {
  /** Connect, response headers, gaps in the response body, and idle keep-alive (ARR's protocol timeout). */
  readonly timeoutMs: number;
  /** The longest an idle connection is reused (the server's Keep-Alive hint may shorten it). */
  readonly keepAliveMs: number;
}

export class ServerPool implements ConnectionOwner {
  readonly host: string;
  readonly port: number;
  readonly #options: ServerPoolOptions;
  readonly #idle: ServerConnection[] = [];
  readonly #all = new Set<ServerConnection>();
  #isClosing = false;
  #onEmpty: (() => void) | undefined;

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
      connection = new ServerConnection(this.host, this.port, this, this.#options.timeoutMs, this.#options.keepAliveMs);
      this.#all.add(connection);
    }
    connection.send(request, handler);
  }

  release(connection: ServerConnection): void {
    if (this.#isClosing) {
      connection.close();
      return;
    }
    this.#idle.push(connection);
  }

  forget(connection: ServerConnection): void {
    this.#all.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    if (this.#all.size === 0) this.#onEmpty?.();
  }

  /** No new requests are expected: idle connections close now, busy ones after their exchange. */
  close(): Promise<void> {
    this.#isClosing = true;
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
