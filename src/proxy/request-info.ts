/** `ip:port`, IPv6 in brackets (`[::1]:443`), as X-Forwarded-For and the logs write an address. */
export function addressWithPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The client's address, with its port (`ip:port`, `[v6]:port`) or without. */
export function clientAddressOf(req: IncomingMessage, withPort: boolean): string {
  const ip = req.socket.remoteAddress ?? '';
  return withPort ? addressWithPort(ip, req.socket.remotePort ?? 0) : ip;
}

/** RequestInfo over a node:http request: getters, nothing copied until an algorithm asks. */
import type { IncomingMessage } from 'node:http';
import type { RequestInfo } from '../farm/request-info.js';

export class IncomingRequestInfo implements RequestInfo {
  readonly #req: IncomingMessage;
  constructor(req: IncomingMessage) {
    this.#req = req;
  }
  get url(): string {
    return this.#req.url ?? '/';
  }
  get host(): string | undefined {
    return this.#req.headers.host;
  }
  get remoteAddress(): string {
    return this.#req.socket.remoteAddress ?? '';
  }
  header(name: string): string | undefined {
    const value = this.#req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }
}
