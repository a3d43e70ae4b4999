/**
 * Helpers for the admin API's events tests: their config (an admin listener, a plain site and one that
 * answers 403.16 to an untrusted client certificate), and a real Server-Sent Events client over https
 * that parses `id:`, `event:`, `data:` and `retry:` lines into frames (and comments) as they arrive.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { GatehouseEvent } from '../../src/admin/events.js';
import type { TestPki } from '../support/test-pki.js';
import { within } from '../support/within.js';

/**
 * A config (`head`: top-level keys first) with the admin listener over https (users ops: operator, and
 * watcher: viewer, from their token files) and two sites on farm `web`: `web` (http) and `badges` (https,
 * client certificates required from the test CA: an untrusted one gets 403.16); `farm`: the farm's keys
 * (`servers`, ...), indented under `- name: web`.
 */
export function eventsConfig(pki: TestPki, tokenFiles: { readonly ops: string; readonly watcher: string }, farm: string, head = ''): string {
  return `accessLog: off
${head}admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  users:
    - { name: ops, tokenFile: ${tokenFiles.ops}, role: operator }
    - { name: watcher, tokenFile: ${tokenFiles.watcher}, role: viewer }
sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
  - name: badges
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: web
farms:
  - name: web
${farm}`;
}

export interface Frame {
  readonly id: number | undefined;
  readonly event: string | undefined;
  readonly data: string | undefined;
}

/** A real SSE client over https: parses `id:`/`event:`/`data:` lines into frames as they arrive. */
export class StreamClient {
  readonly frames: Frame[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  status = 0;
  headers: IncomingMessage['headers'] = {};
  response: IncomingMessage | undefined;
  closed: Promise<void>;
  #waiters: (() => void)[] = [];
  #buffer = '';
  #request: ReturnType<typeof httpsRequest>;

  /** `adminUrl`: the admin listener's base URL; `caFile`: the CA its certificate chains to. */
  constructor(adminUrl: string, caFile: string, headers: Record<string, string>, onResponse?: (res: IncomingMessage) => void) {
    let markClosed: () => void = () => {};
    this.closed = new Promise((resolve) => (markClosed = resolve));
    this.#request = httpsRequest(`${adminUrl}/api/v1/events/stream`, { headers, ca: readFileSync(caFile), agent: false }, (res) => {
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      this.response = res;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.#parse(chunk));
      res.on('close', markClosed);
      res.on('error', () => {});
      this.#wake();
      onResponse?.(res);
    });
    this.#request.on('error', () => markClosed());
    this.#request.end();
  }

  get events(): GatehouseEvent[] {
    return this.frames.map((frame) => JSON.parse(frame.data as string) as GatehouseEvent);
  }

  #parse(chunk: string): void {
    this.#buffer += chunk;
    for (let end = this.#buffer.indexOf('\n\n'); end >= 0; end = this.#buffer.indexOf('\n\n')) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        const at = line.indexOf(': ');
        if (at > 0) fields[line.slice(0, at)] = line.slice(at + 2);
      }
      if (fields.retry !== undefined) this.retry = Number(fields.retry);
      if (fields.data !== undefined) this.frames.push({ id: fields.id === undefined ? undefined : Number(fields.id), event: fields.event, data: fields.data });
    }
    this.#wake();
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Resolves once `done()` holds (checked on every chunk), within `ms`. */
  until(done: () => boolean, ms: number, what: string): Promise<void> {
    const check = new Promise<void>((resolve) => {
      const test = () => (done() ? resolve() : this.#waiters.push(test));
      test();
    });
    return within(check, ms, what);
  }

  close(): void {
    this.#request.destroy();
  }
}
