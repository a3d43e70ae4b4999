/**
 * Shared helpers of the hostile-input suite (docs: /work/hardening-spec.md is the contract):
 *  - a RECORDING RAW BACKEND: a node:net server that keeps every byte each connection received (and what it
 *    answered, in order), parses request heads and bodies well enough to answer each request with a small
 *    valid HTTP/1.1 response, or with whatever a test asks for (101, 200 to an upgrade, broken framing);
 *  - a RAW CLIENT over node:net / node:tls that writes exact bytes and collects everything until the server
 *    closes (or a bounded wait ends), and a parser that splits what came back into HTTP/1.1 responses;
 *  - a RAW HTTP/2 CLIENT (frames over node:tls with ALPN h2, literal HPACK) for requests node:http2 would
 *    refuse to send (uppercase names, connection-specific headers, pseudo-header tricks, CONNECT);
 *  - a launcher: one site (http and https bindings) in front of the recording backend, optionally with a rule
 *    answering 403 to /admin/* and client certificates accept/require, using the in-process Gatehouse;
 *  - `hostileSuite`, the before/after every test file shares: test PKI, temporary directory, recording
 *    backend, Gatehouse launched in front of it, and their cleanup.
 * Every wait is bounded; everything is on loopback.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { assertHttp2Fallback, offersHttp2 } from '../support/http2.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';
import { makeTempDir, type TempDir } from '../support/temp.js';
import { within } from '../support/within.js';

export { offersHttp2 } from '../support/http2.js';

/** Default bound of every wait in this suite. */
export const WAIT_MS = 4_000;

/** A printable view of bytes for assertion messages. */
export function show(bytes: Buffer | string, max = 1500): string {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  const shown = JSON.stringify(text.length > max ? `${text.slice(0, max)}…(${text.length} bytes)` : text);
  return shown;
}

// =============================================================================================================
// Recording raw backend

export interface RecordedRequest {
  /** Index of the backend connection that carried it. */
  readonly connection: number;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** Header fields exactly as received (name case kept), in order. */
  readonly headers: readonly (readonly [string, string])[];
  /** The head as received, request line included, without the blank line (latin1). */
  readonly head: string;
  /** The body as decoded (chunked framing removed). */
  readonly body: Buffer;
}

/** Every value of a header (name matched case-insensitively, exactly: `X_ARR_ClientCert` is not `X-ARR-ClientCert`). */
export function headerValues(headers: readonly (readonly [string, string])[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** Header names of a request folded the way IIS/CGI does (`-` and `_` alike, any case): `X_ARR_ClientCert` = `x-arr-clientcert`. */
export function cgiName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

/** Every value whose name folds (case, `_` = `-`) to `name`. */
export function cgiHeaderValues(headers: readonly (readonly [string, string])[], name: string): string[] {
  const folded = cgiName(name);
  return headers.filter(([n]) => cgiName(n) === folded).map(([, v]) => v);
}

export interface BackendEvent {
  readonly direction: 'in' | 'out';
  readonly bytes: Buffer;
}

export interface RecordedConnection {
  readonly id: number;
  readonly socket: Socket;
  /** Bytes received and bytes sent, in the order they happened. */
  readonly events: BackendEvent[];
  /** Set when the connection closed. */
  closed: boolean;
  /** Once a 101 (or a reply with `tunnel`) was sent: the bytes after it are no longer parsed as requests. */
  tunnel: boolean;
  /** The bytes could not be parsed as HTTP/1.1 requests any more (kept, not answered). */
  broken: string | undefined;
  /** Everything received on this connection. */
  received(): Buffer;
}

/** What the backend answers to one request; `undefined` from a reply function gives the default 200. */
export interface BackendReply {
  readonly bytes: string | Buffer;
  /** End the connection after writing. */
  readonly close?: boolean;
  /** Stop parsing requests on this connection after writing (a 101): later bytes are tunnel bytes. */
  readonly tunnel?: boolean;
}

export type ReplyFunction = (request: RecordedRequest, connection: RecordedConnection) => BackendReply | undefined;

export interface RecordingBackendOptions {
  /** How to answer each request (default: 200 `ok METHOD TARGET`, keep-alive). */
  readonly reply?: ReplyFunction;
  /** In a tunnel, echo the bytes back upper-cased (proves a byte went through this server). */
  readonly echoTunnel?: boolean;
}

/** A point in the backend's record, to look only at what arrived after it. */
export interface BackendMark {
  readonly requests: number;
  readonly connections: number;
  readonly received: readonly number[];
}

export interface BackendActivity {
  readonly requests: readonly RecordedRequest[];
  /** Bytes received after the mark, every connection's concatenated (latin1). */
  readonly text: string;
  readonly bytes: number;
  /** Connections opened after the mark. */
  readonly newConnections: number;
}

export interface RecordingBackend {
  readonly server: NetServer;
  readonly port: number;
  /** `127.0.0.1:port`, as a farm server address. */
  readonly address: string;
  readonly connections: readonly RecordedConnection[];
  readonly requests: readonly RecordedRequest[];
  /** Every byte received so far on every connection (latin1), connection by connection. */
  text(): string;
  mark(): BackendMark;
  since(mark: BackendMark): BackendActivity;
  /** Resolves when `predicate` holds (checked after every received chunk); rejects after `ms`. */
  waitFor(predicate: () => boolean, what: string, ms?: number): Promise<void>;
  /** Resolves when `n` requests were received after `mark`. */
  waitForRequests(n: number, mark?: BackendMark, ms?: number): Promise<readonly RecordedRequest[]>;
  /**
   * Resolves once no byte has arrived for `quietMs` (bounded by `maxMs`). Used only to assert an ABSENCE
   * (nothing reached the backend), which no event can announce; every presence is awaited by waitFor.
   */
  settle(quietMs?: number, maxMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The default answer: 200 with a short body, keep-alive. */
export function okReply(request: RecordedRequest, extraHeaders = ''): BackendReply {
  const body = request.method === 'HEAD' ? '' : `ok ${request.method} ${request.target}`;
  const length = request.method === 'HEAD' ? `ok ${request.method} ${request.target}`.length : body.length;
  return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\nConnection: keep-alive\r\n${extraHeaders}\r\n${body}` };
}

/** 101 Switching Protocols to `protocol`; later bytes are tunnel bytes. */
export function switchingReply(protocol: string): BackendReply {
  return { bytes: `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${protocol}\r\nConnection: Upgrade\r\n\r\n`, tunnel: true };
}

/** Raw bytes as the answer. */
export function rawReply(bytes: string | Buffer, options: { close?: boolean; tunnel?: boolean } = {}): BackendReply {
  return { bytes, ...(options.close ? { close: true } : {}), ...(options.tunnel ? { tunnel: true } : {}) };
}

/** A response with both Content-Length and Transfer-Encoding (what a proxy must not pass on). */
export function clAndTeReply(secret = 'SERVER-SECRET'): BackendReply {
  const chunk = `${secret.length.toString(16)}\r\n${secret}\r\n0\r\n\r\n`;
  return { bytes: `HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n${chunk}` };
}

const HEAD_LIMIT = 256 * 1024;

interface ParseState {
  pending: Buffer;
}

type Parsed = { request: Omit<RecordedRequest, 'connection'>; consumed: number } | { incomplete: true } | { error: string };

/** Parses one request at the start of `data` (RFC 9112 framing, strictly enough for a test backend). */
function parseRequest(data: Buffer): Parsed {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return data.length > HEAD_LIMIT ? { error: 'head too large' } : { incomplete: true };
  const head = data.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const requestLine = lines[0] ?? '';
  const match = /^(\S+) (\S+) (HTTP\/\d\.\d)$/.exec(requestLine);
  if (!match) return { error: `bad request line ${JSON.stringify(requestLine)}` };
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `bad header line ${JSON.stringify(line)}` };
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  let offset = end + 4;
  let body: Buffer = Buffer.alloc(0);
  const te = headerValues(headers, 'transfer-encoding').join(',').toLowerCase();
  const cl = headerValues(headers, 'content-length');
  if (te.includes('chunked')) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = data.indexOf('\r\n', offset);
      if (lineEnd < 0) return { incomplete: true };
      const sizeText = data.subarray(offset, lineEnd).toString('latin1').split(';')[0]?.trim() ?? '';
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return { error: `bad chunk size ${JSON.stringify(sizeText)}` };
      const size = parseInt(sizeText, 16);
      offset = lineEnd + 2;
      if (size === 0) {
        // trailers, up to the blank line
        const trailerEnd = data.indexOf('\r\n', offset);
        if (trailerEnd < 0) return { incomplete: true };
        if (trailerEnd === offset) {
          offset += 2;
          break;
        }
        const allEnd = data.indexOf('\r\n\r\n', offset);
        if (allEnd < 0) return { incomplete: true };
        offset = allEnd + 4;
        break;
      }
      if (data.length < offset + size + 2) return { incomplete: true };
      parts.push(data.subarray(offset, offset + size));
      offset += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (cl.length > 0) {
    const length = Number(cl[0]);
    if (!Number.isSafeInteger(length) || length < 0) return { error: `bad content-length ${cl.join(',')}` };
    if (data.length < offset + length) return { incomplete: true };
    body = Buffer.from(data.subarray(offset, offset + length));
    offset += length;
  }
  return { request: { method: match[1] ?? '', target: match[2] ?? '', version: match[3] ?? '', headers, head, body }, consumed: offset };
}

export async function startRecordingBackend(options: RecordingBackendOptions = {}): Promise<RecordingBackend> {
  const connections: RecordedConnection[] = [];
  const requests: RecordedRequest[] = [];
  const waiters = new Set<() => void>();
  let lastByteAt = performance.now();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const server = createNetServer((socket) => {
    const events: BackendEvent[] = [];
    const connection: RecordedConnection = {
      id: connections.length,
      socket,
      events,
      closed: false,
      tunnel: false,
      broken: undefined,
      received: () => Buffer.concat(events.filter((e) => e.direction === 'in').map((e) => e.bytes)),
    };
    connections.push(connection);
    const state: ParseState = { pending: Buffer.alloc(0) };
    socket.on('error', () => {});
    socket.on('close', () => {
      connection.closed = true;
      notify();
    });
    const send = (bytes: string | Buffer) => {
      const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
      events.push({ direction: 'out', bytes: buffer });
      if (!socket.destroyed) socket.write(buffer);
    };
    socket.on('data', (chunk: Buffer) => {
      lastByteAt = performance.now();
      events.push({ direction: 'in', bytes: chunk });
      if (connection.tunnel) {
        if (options.echoTunnel) send(Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'));
        notify();
        return;
      }
      if (connection.broken !== undefined) return notify();
      state.pending = Buffer.concat([state.pending, chunk]);
      for (let guard = 0; guard < 10_000 && state.pending.length > 0 && !connection.tunnel; guard++) {
        const parsed = parseRequest(state.pending);
        if ('incomplete' in parsed) break;
        if ('error' in parsed) {
          connection.broken = parsed.error;
          break;
        }
        state.pending = state.pending.subarray(parsed.consumed);
        const request: RecordedRequest = { ...parsed.request, connection: connection.id };
        requests.push(request);
        const reply = options.reply?.(request, connection) ?? okReply(request);
        send(reply.bytes);
        if (reply.tunnel) {
          connection.tunnel = true;
          const rest = state.pending;
          state.pending = Buffer.alloc(0);
          if (rest.length > 0 && options.echoTunnel) send(Buffer.from(rest.toString('latin1').toUpperCase(), 'latin1'));
        }
        if (reply.close) {
          socket.end();
          connection.broken = 'closed by reply';
          break;
        }
      }
      notify();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const waitFor = (predicate: () => boolean, what: string, ms = WAIT_MS): Promise<void> => {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`backend: timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      waiters.add(check);
    });
  };

  const mark = (): BackendMark => ({ requests: requests.length, connections: connections.length, received: connections.map((c) => c.received().length) });

  return {
    server,
    port,
    address: `127.0.0.1:${port}`,
    connections,
    requests,
    text: () => connections.map((c) => c.received().toString('latin1')).join(''),
    mark,
    since(from: BackendMark): BackendActivity {
      let text = '';
      let bytes = 0;
      for (const connection of connections) {
        const received = connection.received();
        const start = from.received[connection.id] ?? 0;
        text += received.subarray(start).toString('latin1');
        bytes += received.length - start;
      }
      return { requests: requests.slice(from.requests), text, bytes, newConnections: connections.length - from.connections };
    },
    waitFor,
    async waitForRequests(n: number, from: BackendMark = { requests: 0, connections: 0, received: [] }, ms = WAIT_MS) {
      await waitFor(() => requests.length - from.requests >= n, `${n} request(s) at the backend`, ms);
      return requests.slice(from.requests);
    },
    async settle(quietMs = 60, maxMs = 2_000) {
      const started = performance.now();
      lastByteAt = Math.max(lastByteAt, started);
      for (;;) {
        const now = performance.now();
        if (now - lastByteAt >= quietMs || now - started >= maxMs) return;
        await new Promise((resolve) => setTimeout(resolve, Math.max(5, quietMs - (now - lastByteAt))));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of connections) connection.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// =============================================================================================================
// Raw HTTP/1.x client

export interface RawTlsOptions {
  readonly ca: string | Buffer;
  /** SNI; default none for an IP address (as clients do), `localhost` never implied. */
  readonly servername?: string;
  /** ALPN protocols to offer; undefined: no ALPN extension at all. */
  readonly alpn?: readonly string[];
  readonly clientCert?: ClientFiles;
}

export interface RawTarget {
  readonly port: number;
  readonly host?: string;
  /** TLS when given. */
  readonly tls?: RawTlsOptions;
}

export interface HttpResponse {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  /** The whole body arrived (by its framing, or by the close for a close-delimited body). */
  readonly complete: boolean;
  /** The response as received (head + framed body). */
  readonly raw: Buffer;
  /** Values of a header joined with `, ` (undefined when absent). */
  header(name: string): string | undefined;
  /** Whether `Connection` holds the `close` token. */
  readonly hasConnectionClose: boolean;
  /** A Gatehouse local answer: the body starts `HTTP Error <status>.<sub>` (or the HTML page with it). */
  readonly localStatus: string | undefined;
}

export interface ParsedResponses {
  readonly responses: HttpResponse[];
  /** Bytes after the last whole response (tunnel bytes after a 101, or garbage). */
  readonly rest: Buffer;
  /** A 101 was parsed: `rest` is tunnel data. */
  readonly switched: boolean;
}

function makeResponse(version: string, status: number, reason: string, headers: [string, string][], body: Buffer, complete: boolean, raw: Buffer): HttpResponse {
  const header = (name: string) => {
    const values = headerValues(headers, name);
    return values.length === 0 ? undefined : values.join(', ');
  };
  const connection = (header('connection') ?? '').toLowerCase().split(',').map((t) => t.trim());
  const text = body.toString('utf8');
  const local = /HTTP Error (\d{3}\.\d+)/.exec(text.slice(0, 400));
  return { version, status, reason, headers, body, complete, raw, header, hasConnectionClose: connection.includes('close'), localStatus: local?.[1] };
}

/**
 * Splits bytes a server sent into HTTP/1.1 responses: Content-Length, chunked, no body (1xx, 204, 304,
 * answers to HEAD when `headIndexes` says so), or up to the close. A 101 ends the parse; its tunnel bytes are `rest`.
 */
export function parseResponses(data: Buffer, closed: boolean, headIndexes: readonly number[] = []): ParsedResponses {
  const responses: HttpResponse[] = [];
  let offset = 0;
  while (offset < data.length) {
    const end = data.indexOf('\r\n\r\n', offset);
    if (end < 0) break;
    const head = data.subarray(offset, end).toString('latin1');
    const lines = head.split('\r\n');
    const statusLine = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (!statusLine) break;
    const headers: [string, string][] = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
    const status = Number(statusLine[2]);
    const bodyStart = end + 4;
    const te = headerValues(headers, 'transfer-encoding').join(',').toLowerCase();
    const cl = headerValues(headers, 'content-length')[0];
    const isHead = headIndexes.includes(responses.length);
    let body: Buffer = Buffer.alloc(0);
    let next = bodyStart;
    let complete = true;
    if ((status >= 100 && status < 200) || status === 204 || status === 304 || isHead) {
      // no body
    } else if (te.includes('chunked')) {
      const parts: Buffer[] = [];
      let at = bodyStart;
      complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', at);
        if (lineEnd < 0) break;
        const size = parseInt(data.subarray(at, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
        if (!Number.isFinite(size)) break;
        at = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n\r\n', at - 2);
          if (trailerEnd < 0) break;
          at = trailerEnd + 4;
          complete = true;
          break;
        }
        if (data.length < at + size + 2) {
          parts.push(data.subarray(at, Math.min(data.length, at + size)));
          at = data.length;
          break;
        }
        parts.push(data.subarray(at, at + size));
        at += size + 2;
      }
      body = Buffer.concat(parts);
      next = at;
    } else if (cl !== undefined) {
      const length = Number(cl);
      body = data.subarray(bodyStart, Math.min(data.length, bodyStart + length));
      complete = body.length === length;
      next = bodyStart + body.length;
    } else {
      body = data.subarray(bodyStart);
      complete = closed;
      next = data.length;
    }
    responses.push(makeResponse(statusLine[1] ?? '', status, statusLine[3] ?? '', headers, Buffer.from(body), complete, Buffer.from(data.subarray(offset, next))));
    offset = next;
    if (status === 101) return { responses, rest: Buffer.from(data.subarray(offset)), switched: true };
    if (!complete) break;
  }
  return { responses, rest: Buffer.from(data.subarray(offset)), switched: false };
}

/** One client connection whose bytes the test writes itself. */
export class RawConnection {
  readonly socket: Socket | TLSSocket;
  readonly #chunks: Buffer[] = [];
  #closed = false;
  #error: Error | undefined;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#notify();
    });
    socket.on('error', (error) => {
      this.#error ??= error;
      this.#notify();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#notify();
    });
    socket.on('end', () => {
      // The server half-closed: we are done too.
      this.#closed = true;
      socket.end();
      this.#notify();
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Connects (and completes the TLS handshake); rejects on failure or after `ms`. */
  static open(target: RawTarget, ms = WAIT_MS): Promise<RawConnection> {
    const host = target.host ?? '127.0.0.1';
    return within(
      new Promise<RawConnection>((resolve, reject) => {
        if (!target.tls) {
          const socket = netConnect({ host, port: target.port });
          socket.once('connect', () => resolve(new RawConnection(socket)));
          socket.once('error', reject);
          return;
        }
        const options: ConnectionOptions = { host, port: target.port, ca: target.tls.ca, rejectUnauthorized: true };
        if (target.tls.servername !== undefined) options.servername = target.tls.servername;
        if (target.tls.alpn !== undefined) options.ALPNProtocols = [...target.tls.alpn];
        if (target.tls.clientCert) {
          options.cert = readFileSync(target.tls.clientCert.certFile);
          options.key = readFileSync(target.tls.clientCert.keyFile);
        }
        const socket = tlsConnect(options);
        socket.once('secureConnect', () => resolve(new RawConnection(socket)));
        socket.once('error', reject);
      }),
      ms,
      `connecting to 127.0.0.1:${target.port}`,
    );
  }

  get data(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  /** The server ended or closed the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Resolves true when `predicate` holds, false when `ms` passed first (never rejects). */
  until(predicate: () => boolean, ms = WAIT_MS): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!predicate()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(predicate());
      }, ms);
      this.#waiters.add(check);
    });
  }

  /** Resolves true when the server closed within `ms`. */
  waitForClose(ms = WAIT_MS): Promise<boolean> {
    return this.until(() => this.#closed, ms);
  }

  parsed(headIndexes: readonly number[] = []): ParsedResponses {
    return parseResponses(this.data, this.#closed, headIndexes);
  }

  /** Waits for `n` whole responses (or a close, or `ms`); returns what was parsed. */
  async waitForResponses(n: number, ms = WAIT_MS): Promise<ParsedResponses> {
    await this.until(() => {
      if (this.#closed) return true;
      const parsed = this.parsed();
      return parsed.switched || parsed.responses.filter((r) => r.complete && (r.status < 100 || r.status >= 200 || r.status === 101)).length >= n;
    }, ms);
    return this.parsed();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface RawExchange {
  readonly data: Buffer;
  readonly closed: boolean;
  readonly responses: HttpResponse[];
  readonly rest: Buffer;
  readonly switched: boolean;
  /** A socket error (ECONNRESET after the server's close, a TLS alert). */
  readonly error: Error | undefined;
}

export interface ExchangeOptions {
  /** Stop as soon as this many whole responses arrived (keep-alive answers); default: wait for the close. */
  readonly responses?: number;
  /**
   * Wait for the close, but stop early once this many whole responses arrived and the last of them does not
   * announce `Connection: close` (the refusal did not come: no use waiting for a close that will not come).
   */
  readonly refusalAt?: number;
  readonly timeoutMs?: number;
  /** Indexes of requests that were HEAD (their responses have no body). */
  readonly headIndexes?: readonly number[];
}

/**
 * Writes `bytes` (each item one write) on a fresh connection and collects everything until the server
 * closes, `responses` whole responses arrived, or `timeoutMs` passed. The connection is then destroyed.
 */
export async function rawExchange(target: RawTarget, bytes: string | Buffer | readonly (string | Buffer)[], options: ExchangeOptions = {}): Promise<RawExchange> {
  const connection = await RawConnection.open(target);
  try {
    for (const item of Array.isArray(bytes) ? bytes : [bytes]) connection.write(item as string | Buffer);
    const ms = options.timeoutMs ?? WAIT_MS;
    if (options.responses !== undefined) await connection.waitForResponses(options.responses, ms);
    else if (options.refusalAt !== undefined) {
      const n = options.refusalAt;
      await connection.until(() => {
        if (connection.closed) return true;
        const { responses, switched } = connection.parsed(options.headIndexes);
        const last = responses[n - 1];
        return switched || responses.length > n || (last !== undefined && last.complete && !last.hasConnectionClose);
      }, ms);
    } else await connection.waitForClose(ms);
    const parsed = connection.parsed(options.headIndexes);
    return { data: connection.data, closed: connection.closed, ...parsed, error: connection.error };
  } finally {
    connection.destroy();
  }
}

/** Summary of an exchange for assertion messages. */
export function describeExchange(exchange: RawExchange): string {
  const statuses = exchange.responses.map((r) => `${r.status}${r.localStatus ? `(${r.localStatus})` : ''}${r.hasConnectionClose ? '[close]' : ''}${r.complete ? '' : '[partial]'}`);
  return `responses [${statuses.join(', ')}] closed=${exchange.closed} error=${exchange.error?.message ?? '-'} bytes=${show(exchange.data, 600)}`;
}

/**
 * The contract of a refused request (hardening spec): after the `before` responses owed on the connection
 * (each whole, in order, with the statuses given), a response `status` with `Connection: close`, and then
 * the connection is closed; nothing else follows.
 */
export function assertRefusedAfter(exchange: RawExchange, before: readonly number[], status: number, what: string): HttpResponse {
  const info = `${what}: ${describeExchange(exchange)}`;
  assert.ok(exchange.responses.length >= before.length + 1, `expected ${before.length} response(s) then ${status}; ${info}`);
  for (const [i, expected] of before.entries()) {
    const response = exchange.responses[i] as HttpResponse;
    assert.equal(response.status, expected, `response ${i + 1} first, whole: ${info}`);
    assert.ok(response.complete, `response ${i + 1} arrives whole before the refusal: ${info}`);
  }
  const refusal = exchange.responses[before.length] as HttpResponse;
  assert.equal(refusal.status, status, `then ${status}: ${info}`);
  assert.ok(refusal.hasConnectionClose, `the ${status} carries Connection: close: ${info}`);
  assert.equal(exchange.responses.length, before.length + 1, `nothing after the ${status}: ${info}`);
  assert.equal(exchange.rest.length, 0, `no stray bytes after the ${status}: ${info}`);
  assert.ok(exchange.closed, `the connection is closed after the ${status}: ${info}`);
  return refusal;
}

/** A request head (HTTP/1.1 unless the request line says otherwise). */
export function request(line: string, headers: readonly string[] = [], body = ''): string {
  return `${line}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;
}

// =============================================================================================================
// Raw HTTP/2 client (frames over TLS, literal HPACK without Huffman on the way out)

export const H2 = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PROTOCOL_ERROR: 0x1,
  PREFACE: Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
} as const;

export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** HPACK integer with an N-bit prefix; `firstByteHigh` holds the representation's leading bits. */
function hpackInteger(value: number, prefixBits: number, firstByteHigh: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteHigh | value]);
  const bytes = [firstByteHigh | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** An HPACK string literal, not Huffman-coded (a string's bytes are latin1). */
export function hpackString(text: string | Buffer): Buffer {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  return Buffer.concat([hpackInteger(bytes.length, 7, 0), bytes]);
}

/** A header block of literal fields without indexing, names and values sent byte for byte as given. */
export function hpackLiteralBlock(fields: readonly (readonly [string, string | Buffer])[]): Buffer {
  return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]));
}

/** RFC 7541 static table entries whose name is `:status`, with their values. */
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

function readInteger(block: Buffer, at: number, prefixBits: number): { value: number; next: number } {
  const max = (1 << prefixBits) - 1;
  let value = (block[at] ?? 0) & max;
  let next = at + 1;
  if (value < max) return { value, next };
  let shift = 0;
  for (;;) {
    const byte = block[next++] ?? 0;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) break;
  }
  return { value, next };
}

/** Huffman-decodes a string of digits (RFC 7541 Appendix B: '0'-'2' are 5-bit codes, '3'-'9' 6-bit). */
export function huffmanDigits(bytes: Buffer): string | undefined {
  let bits = '';
  for (const byte of bytes) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  let at = 0;
  while (at < bits.length) {
    const rest = bits.slice(at);
    if (rest.length < 8 && /^1*$/.test(rest)) break; // EOS padding
    const five = parseInt(rest.slice(0, 5), 2);
    if (rest.length >= 5 && five <= 2) {
      out += String(five);
      at += 5;
      continue;
    }
    const six = parseInt(rest.slice(0, 6), 2);
    if (rest.length >= 6 && six >= 0x19 && six <= 0x1f) {
      out += String(six - 0x19 + 3);
      at += 6;
      continue;
    }
    return undefined;
  }
  return out;
}

/** The `:status` of a response header block (the first field; a dynamic table size update may come first). */
export function statusOfHeaderBlock(block: Buffer): number | undefined {
  let at = 0;
  while (at < block.length && ((block[at] ?? 0) & 0xe0) === 0x20) at = readInteger(block, at, 5).next; // table size updates
  const first = block[at];
  if (first === undefined) return undefined;
  if (first & 0x80) {
    const { value } = readInteger(block, at, 7);
    return STATIC_STATUS[value];
  }
  const prefix = (first & 0xc0) === 0x40 ? 6 : 4;
  const name = readInteger(block, at, prefix);
  if (STATIC_STATUS[name.value] === undefined) return undefined; // name not :status (or a literal name)
  const huffman = ((block[name.next] ?? 0) & 0x80) !== 0;
  const length = readInteger(block, name.next, 7);
  const bytes = block.subarray(length.next, length.next + length.value);
  const text = huffman ? huffmanDigits(bytes) : bytes.toString('latin1');
  return text === undefined ? undefined : Number(text);
}

export interface H2StreamResult {
  readonly id: number;
  /** The response's :status, when a response header block arrived and could be read. */
  readonly status: number | undefined;
  readonly data: Buffer;
  /** The stream ended normally (END_STREAM). */
  readonly ended: boolean;
  /** RST_STREAM error code, when the server reset the stream. */
  readonly rstCode: number | undefined;
  /** GOAWAY the server sent (lastStreamId and error code), if any. */
  readonly goaway: { lastStreamId: number; code: number } | undefined;
  readonly connectionClosed: boolean;
}

/** Whether the server refused the stream: a reset, or a GOAWAY/close before any response to it. */
export function isRefusedStream(result: H2StreamResult): boolean {
  if (result.rstCode !== undefined) return true;
  if (result.status !== undefined) return false;
  return result.connectionClosed || (result.goaway !== undefined && (result.goaway.lastStreamId < result.id || result.goaway.code !== 0));
}

export function describeStream(result: H2StreamResult): string {
  return `stream ${result.id}: status=${result.status ?? '-'} ended=${result.ended} rst=${result.rstCode ?? '-'} goaway=${result.goaway ? `${result.goaway.lastStreamId}/${result.goaway.code}` : '-'} closed=${result.connectionClosed} body=${show(result.data, 300)}`;
}

interface StreamState {
  headerBlock: Buffer[];
  headersDone: boolean;
  status: number | undefined;
  data: Buffer[];
  ended: boolean;
  rstCode: number | undefined;
}

/**
 * HTTP/2 over TLS with ALPN h2, frame by frame. Sends the preface and SETTINGS (header table size 0, so the
 * server's header blocks never refer to a dynamic table, and no push), ACKs the server's SETTINGS and PINGs.
 */
export class RawH2 {
  readonly socket: TLSSocket;
  #buffer = Buffer.alloc(0);
  readonly #streams = new Map<number, StreamState>();
  readonly #waiters = new Set<() => void>();
  #nextId = 1;
  #continuationOf: number | undefined;
  goaway: { lastStreamId: number; code: number } | undefined;
  closed = false;
  readonly frames: { type: number; flags: number; streamId: number; payload: Buffer }[] = [];

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#notify();
    });
  }

  static open(port: number, tls: RawTlsOptions, ms = WAIT_MS): Promise<RawH2> {
    return within(
      new Promise<RawH2>((resolve, reject) => {
        const options: ConnectionOptions = { host: '127.0.0.1', port, ca: tls.ca, ALPNProtocols: ['h2'] };
        if (tls.servername !== undefined) options.servername = tls.servername;
        if (tls.clientCert) {
          options.cert = readFileSync(tls.clientCert.certFile);
          options.key = readFileSync(tls.clientCert.keyFile);
        }
        const socket = tlsConnect(options);
        socket.once('error', reject);
        socket.once('secureConnect', () => {
          if (socket.alpnProtocol !== 'h2') {
            socket.destroy();
            return reject(new Error(`ALPN chose ${String(socket.alpnProtocol)}, not h2`));
          }
          const client = new RawH2(socket);
          const settings = Buffer.alloc(12);
          settings.writeUInt16BE(0x1, 0); // HEADER_TABLE_SIZE
          settings.writeUInt32BE(0, 2);
          settings.writeUInt16BE(0x2, 6); // ENABLE_PUSH
          settings.writeUInt32BE(0, 8);
          socket.write(Buffer.concat([H2.PREFACE, h2Frame(H2.SETTINGS, 0, 0, settings)]));
          resolve(client);
        });
      }),
      ms,
      `h2 connection to port ${port}`,
    );
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #stream(id: number): StreamState {
    let state = this.#streams.get(id);
    if (!state) this.#streams.set(id, (state = { headerBlock: [], headersDone: false, status: undefined, data: [], ended: false, rstCode: undefined }));
    return state;
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) break;
      const type = this.#buffer.readUInt8(3);
      const flags = this.#buffer.readUInt8(4);
      const streamId = this.#buffer.readUInt32BE(5) & 0x7fffffff;
      const payload = Buffer.from(this.#buffer.subarray(9, 9 + length));
      this.#buffer = this.#buffer.subarray(9 + length);
      this.frames.push({ type, flags, streamId, payload });
      this.#onFrame(type, flags, streamId, payload);
    }
    this.#notify();
  }

  #onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case H2.SETTINGS:
        if (!(flags & H2.ACK)) this.socket.write(h2Frame(H2.SETTINGS, H2.ACK, 0));
        break;
      case H2.PING:
        if (!(flags & H2.ACK)) this.socket.write(h2Frame(H2.PING, H2.ACK, 0, payload));
        break;
      case H2.GOAWAY:
        this.goaway = { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
        break;
      case H2.RST_STREAM:
        this.#stream(streamId).rstCode = payload.readUInt32BE(0);
        break;
      case H2.HEADERS:
      case H2.CONTINUATION: {
        const state = this.#stream(streamId);
        let block = payload;
        if (type === H2.HEADERS) {
          let start = 0;
          let end = payload.length;
          if (flags & 0x8) {
            const pad = payload.readUInt8(0);
            start = 1;
            end -= pad;
          }
          if (flags & 0x20) start += 5;
          block = payload.subarray(start, end);
          if (flags & H2.END_STREAM) state.ended = true;
        }
        if (!state.headersDone) state.headerBlock.push(block);
        if (flags & H2.END_HEADERS) {
          if (!state.headersDone) {
            const status = statusOfHeaderBlock(Buffer.concat(state.headerBlock));
            // 1xx: an interim response; wait for the final one.
            if (status !== undefined && status >= 200) {
              state.status = status;
              state.headersDone = true;
            } else if (status === undefined) state.headersDone = true;
            else state.headerBlock = [];
          }
          this.#continuationOf = undefined;
        } else this.#continuationOf = streamId;
        break;
      }
      case H2.DATA: {
        const state = this.#stream(streamId);
        let body = payload;
        if (flags & 0x8) body = payload.subarray(1, payload.length - payload.readUInt8(0));
        state.data.push(body);
        if (flags & H2.END_STREAM) state.ended = true;
        // Give the window back, so bodies of any size arrive.
        if (payload.length > 0) {
          const increment = Buffer.alloc(4);
          increment.writeUInt32BE(payload.length, 0);
          this.socket.write(Buffer.concat([h2Frame(H2.WINDOW_UPDATE, 0, 0, increment), h2Frame(H2.WINDOW_UPDATE, 0, streamId, increment)]));
        }
        break;
      }
      default:
        break;
    }
  }

  /** The next client stream id (odd, increasing). */
  nextStreamId(): number {
    const id = this.#nextId;
    this.#nextId += 2;
    return id;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** A HEADERS frame of literal fields. */
  headers(streamId: number, fields: readonly (readonly [string, string | Buffer])[], endStream: boolean): void {
    this.write(h2Frame(H2.HEADERS, H2.END_HEADERS | (endStream ? H2.END_STREAM : 0), streamId, hpackLiteralBlock(fields)));
  }

  data(streamId: number, bytes: Buffer | string, endStream: boolean): void {
    this.write(h2Frame(H2.DATA, endStream ? H2.END_STREAM : 0, streamId, typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes));
  }

  rst(streamId: number, code = 0x8): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(code, 0);
    this.write(h2Frame(H2.RST_STREAM, 0, streamId, payload));
  }

  result(id: number): H2StreamResult {
    const state = this.#stream(id);
    return { id, status: state.status, data: Buffer.concat(state.data), ended: state.ended, rstCode: state.rstCode, goaway: this.goaway, connectionClosed: this.closed };
  }

  /** Waits until the stream ended, was reset, or the connection went away (GOAWAY not covering it, or close). */
  async waitForStream(id: number, ms = WAIT_MS): Promise<H2StreamResult> {
    const done = () => {
      const state = this.#stream(id);
      return state.ended || state.rstCode !== undefined || this.closed || (this.goaway !== undefined && this.goaway.lastStreamId < id);
    };
    if (!done()) {
      await new Promise<void>((resolve) => {
        const check = () => {
          if (!done()) return;
          this.#waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          this.#waiters.delete(check);
          resolve();
        }, ms);
        this.#waiters.add(check);
      });
    }
    return this.result(id);
  }

  /** One request on a new stream: HEADERS (ending the stream when there is no body), then the body's DATA frames. */
  async request(fields: readonly (readonly [string, string | Buffer])[], body?: readonly (Buffer | string)[], ms = WAIT_MS): Promise<H2StreamResult> {
    const id = this.nextStreamId();
    this.headers(id, fields, body === undefined);
    if (body !== undefined) {
      if (body.length === 0) this.data(id, Buffer.alloc(0), true);
      body.forEach((part, i) => this.data(id, typeof part === 'string' ? Buffer.from(part, 'latin1') : part, i === body.length - 1));
    }
    return this.waitForStream(id, ms);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The usual request pseudo-headers for `path` on `authority`. */
export function h2Request(path: string, authority: string, method = 'GET', extra: readonly (readonly [string, string])[] = []): [string, string][] {
  return [[':method', method], [':scheme', 'https'], [':authority', authority], [':path', path], ...extra.map(([n, v]) => [n, v] as [string, string])];
}

// =============================================================================================================
// Gatehouse in front of the recording backend

export const SITE = 'app';
export const FARM = 'web';
/** The name of the site's http binding when `httpHostName` is used. */
export const SITE_HOST = 'site.example';

export interface HostileSpec {
  readonly backend: RecordingBackend;
  /** A rule answering 403 (respond) to `/admin/*`. */
  readonly denyAdmin?: boolean;
  readonly clientCertificates?: 'ignore' | 'accept' | 'require';
  readonly requireSsl?: boolean;
  /** Host name of the http binding (none: it answers every host). */
  readonly httpHostName?: string;
  /** Which bindings; default both. */
  readonly bindings?: readonly ('http' | 'https')[];
  /** HTTP/2 on the https binding (default true). */
  readonly http2?: boolean;
  /** Farm `protocol` settings. */
  readonly protocol?: Record<string, unknown>;
  /** The site's `limits`. */
  readonly limits?: Record<string, unknown>;
  /** The top-level `limits`. */
  readonly topLimits?: Record<string, unknown>;
  /** More keys of the farm (maxConnectionsPerServer, …). */
  readonly farm?: Record<string, unknown>;
  /** The top-level `accessLog` (default off). */
  readonly accessLog?: unknown;
  /** The top-level `dynamicIpSecurity`. */
  readonly dynamicIpSecurity?: Record<string, unknown>;
}

export function hostileConfig(pki: TestPki, spec: HostileSpec): string {
  const bindings = (spec.bindings ?? ['http', 'https']).map((protocol) =>
    protocol === 'http'
      ? { protocol, address: '127.0.0.1', port: 0, ...(spec.httpHostName ? { hostName: spec.httpHostName } : {}) }
      : { protocol, address: '127.0.0.1', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile }, ...(spec.http2 === false ? { http2: false } : {}) },
  );
  const mode = spec.clientCertificates ?? 'ignore';
  const rules = spec.denyAdmin ? [{ name: 'deny admin', match: { path: '/admin/*' }, action: { type: 'respond', status: 403 } }] : [];
  return JSON.stringify(
    {
      accessLog: spec.accessLog ?? 'off',
      drainTimeout: 1,
      sites: [
        {
          name: SITE,
          bindings,
          ssl: { clientCertificates: mode, ...(spec.requireSsl ? { requireSsl: true } : {}), ...(mode === 'ignore' ? {} : { trustedCaFile: pki.caFile }) },
          farm: FARM,
          ...(rules.length > 0 ? { rules } : {}),
          ...(spec.limits ? { limits: spec.limits } : {}),
        },
      ],
      ...(spec.topLimits ? { limits: spec.topLimits } : {}),
      ...(spec.dynamicIpSecurity ? { dynamicIpSecurity: spec.dynamicIpSecurity } : {}),
      farms: [{ name: FARM, servers: [{ address: spec.backend.address }], ...(spec.protocol ? { protocol: spec.protocol } : {}), ...(spec.farm ?? {}) }],
    },
    null,
    2,
  );
}

export interface Hostile {
  readonly running: RunningGatehouse;
  readonly backend: RecordingBackend;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Plain HTTP/1.x to the http binding. */
  readonly http: RawTarget;
  /** HTTP/1.1 over TLS without ALPN (as wrk, openssl s_client, old clients). */
  readonly https: RawTarget;
  /** An https target with other TLS options (ALPN, SNI, client certificate). */
  httpsWith(options: Omit<RawTlsOptions, 'ca'>): RawTarget;
  readonly ca: string;
  /** Opens a raw HTTP/2 connection to the https binding. */
  h2(options?: Omit<RawTlsOptions, 'ca'>): Promise<RawH2>;
  /**
   * Where this node's HTTP/2 is off (`offersHttp2` false): asserts the documented fallback on the https
   * binding instead of HTTP/2 (ALPN http/1.1, no h2, the warning in the event log; support/http2.ts).
   */
  http2Fallback(t: TestContext, options?: Omit<RawTlsOptions, 'ca' | 'alpn'>): Promise<void>;
  /** `127.0.0.1:<https port>` */
  readonly authority: string;
  stop(): Promise<void>;
}

/** Starts Gatehouse in the test process in front of `spec.backend`. */
export async function launchHostile(pki: TestPki, dir: string, spec: HostileSpec): Promise<Hostile> {
  const running = await startGatehouse(hostileConfig(pki, spec), dir);
  const has = (p: 'http' | 'https') => (spec.bindings ?? ['http', 'https']).includes(p);
  const httpPort = has('http') ? running.port(SITE, 'http') : 0;
  const httpsPort = has('https') ? running.port(SITE, 'https') : 0;
  const ca = pki.root.certPem;
  const httpsWith = (options: Omit<RawTlsOptions, 'ca'>): RawTarget => ({ port: httpsPort, tls: { ca, ...options } });
  return {
    running,
    backend: spec.backend,
    httpPort,
    httpsPort,
    http: { port: httpPort },
    https: { port: httpsPort, tls: { ca } },
    httpsWith,
    ca,
    h2: (options = {}) => RawH2.open(httpsPort, { ca, ...options }),
    http2Fallback: (t, options = {}) => assertHttp2Fallback(t, { port: httpsPort, ca, ...options, log: () => running.events }),
    authority: `127.0.0.1:${httpsPort}`,
    stop: () => running.stop(),
  };
}

export interface HostileSuiteOptions {
  /** Options of the file's recording backend. */
  readonly backend?: RecordingBackendOptions;
  /** Launch one Gatehouse with this spec in front of the file's backend in the before hook: `suite.gh`. */
  readonly gatehouse?: Partial<HostileSpec>;
  /**
   * More setup, at the end of the suite's before hook. (A file's own top-level `before` cannot wait for the
   * suite's: node 20 starts the top-level before hooks of a file together.)
   */
  readonly setup?: (suite: HostileSuite) => Promise<void>;
}

/** The setup every hostile test file shares (`hostileSuite`). */
export interface HostileSuite {
  readonly pki: TestPki;
  /** A temporary directory (config files). */
  readonly dir: string;
  /** The file's recording backend. */
  readonly backend: RecordingBackend;
  /** The Gatehouse of `options.gatehouse`. */
  readonly gh: Hostile;
  /**
   * Starts another Gatehouse (`launchHostile`) in front of the file's backend, or of `spec.backend`. It is
   * stopped in the suite's after hook unless the test stopped it before.
   */
  launch(spec?: Partial<HostileSpec>): Promise<Hostile>;
}

/**
 * The shared setup of a hostile test file, registered as the file's before and after hooks: before creates
 * a test PKI, a temporary directory and a recording backend, and launches `options.gatehouse` in front of
 * it; after stops every Gatehouse the suite launched that is still running, then closes the backend and
 * removes the directory and the PKI. Call it at the top level of the file; read its properties in hooks and
 * tests (once its before hook ran).
 */
export function hostileSuite(options: HostileSuiteOptions = {}): HostileSuite {
  let pki: TestPki | undefined;
  let tmp: TempDir | undefined;
  let backend: RecordingBackend | undefined;
  let gh: Hostile | undefined;
  const running = new Set<Hostile>();
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`hostileSuite: ${what} read before the suite's before hook ran`);
    return value;
  };

  const suite: HostileSuite = {
    get pki() {
      return ready(pki, 'pki');
    },
    get dir() {
      return ready(tmp, 'dir').dir;
    },
    get backend() {
      return ready(backend, 'backend');
    },
    get gh() {
      if (!options.gatehouse) throw new Error('hostileSuite: gh is there only with the `gatehouse` option');
      return ready(gh, 'gh');
    },
    async launch(spec = {}) {
      const launched = await launchHostile(suite.pki, suite.dir, { backend: suite.backend, ...spec });
      const tracked: Hostile = {
        ...launched,
        stop: () => {
          running.delete(tracked);
          return launched.stop();
        },
      };
      running.add(tracked);
      return tracked;
    },
  };

  before(async () => {
    pki = await createTestPki();
    tmp = await makeTempDir('gatehouse-hostile-');
    backend = await startRecordingBackend(options.backend);
    if (options.gatehouse) gh = await suite.launch(options.gatehouse);
    await options.setup?.(suite);
  });

  after(async () => {
    for (const launched of running) await launched.stop();
    await backend?.close();
    await tmp?.remove();
    await pki?.cleanup();
  });

  return suite;
}

/**
 * A test of HTTP/2 on the https binding of `gh()`: `fn` where this node offers HTTP/2; where Gatehouse
 * turned it off (the crash probe), the documented fallback on that binding instead, never a skip.
 */
export function http2Test(name: string, gh: () => Hostile, fn: (t: TestContext) => Promise<void>): void {
  test(name, (t) => (offersHttp2 ? fn(t) : gh().http2Fallback(t)));
}

/**
 * A Gatehouse local answer (the spec's "local answer": the body starts `HTTP Error <status>.<sub>`).
 * `status` is `403.16` (exact) or `505` (any sub-status).
 */
export function assertLocal(response: HttpResponse | undefined, status: string, what: string): void {
  assert.ok(response, `${what}: no response`);
  const matches = status.includes('.') ? response.localStatus === status : response.localStatus?.startsWith(`${status}.`) === true;
  assert.ok(matches, `${what}: a local ${status} answer, got ${response.status} ${show(response.body, 300)}`);
}
