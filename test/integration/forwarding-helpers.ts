/**
 * Helpers for the forwarding and farm integration tests: config text for one site in front of one
 * farm, a node http/https client that reports exactly what it sent and received, raw TCP backends for
 * responses node:http would not produce, and deterministic large bodies.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { EchoReply } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import type { ClientFiles, TestPki } from '../support/test-pki.js';

/** What node:test's TestContext offers that the helpers use. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

export const SITE = 'app';
export const FARM = 'web';

export type BindingSpec = 'http' | 'https' | { protocol: 'http' | 'https'; address?: string; hostName?: string };
export type ServerSpec = string | { address: string; weight?: number; enabled?: boolean };

export interface GatehouseSpec {
  servers: readonly ServerSpec[];
  bindings?: readonly BindingSpec[];
  clientCertificates?: 'ignore' | 'accept' | 'require';
  /** Farm `protocol` keys, as written in the config. */
  protocol?: Record<string, unknown>;
  /** Default `off`. */
  accessLog?: string;
  siteName?: string;
  farmName?: string;
  /** The site's `limits` keys. */
  limits?: Record<string, unknown>;
}

/** The config (JSON, which is YAML) of one site with its bindings in front of one farm. */
export function gatehouseConfig(pki: TestPki, spec: GatehouseSpec): string {
  const bindings = (spec.bindings ?? ['http', 'https']).map((b) => {
    const binding = typeof b === 'string' ? { protocol: b } : b;
    return {
      protocol: binding.protocol,
      address: binding.address ?? '127.0.0.1',
      port: 0,
      ...(binding.hostName ? { hostName: binding.hostName } : {}),
      ...(binding.protocol === 'https' ? { certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } } : {}),
    };
  });
  const mode = spec.clientCertificates ?? 'ignore';
  const config = {
    accessLog: spec.accessLog ?? 'off',
    sites: [
      {
        name: spec.siteName ?? SITE,
        bindings,
        ssl: { clientCertificates: mode, ...(mode === 'ignore' ? {} : { trustedCaFile: pki.caFile }) },
        farm: spec.farmName ?? FARM,
        ...(spec.limits ? { limits: spec.limits } : {}),
      },
    ],
    farms: [
      {
        name: spec.farmName ?? FARM,
        servers: spec.servers.map((s) => (typeof s === 'string' ? { address: s } : s)),
        ...(spec.protocol ? { protocol: spec.protocol } : {}),
      },
    ],
  };
  return JSON.stringify(config, null, 2);
}

/** Starts Gatehouse for a spec and stops it when the test ends. */
export async function launch(t: Cleanup, pki: TestPki, dir: string, spec: GatehouseSpec): Promise<RunningGatehouse> {
  const running = await startGatehouse(gatehouseConfig(pki, spec), dir);
  t.after(() => running.stop());
  return running;
}

// ---------------------------------------------------------------------------------------------
// Client

export interface ClientReply {
  /** 0 when no response arrived. */
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** Collected body (empty when `onData` consumed it). */
  body: Buffer;
  bodyBytes: number;
  /** True only when the whole response body arrived (node's IncomingMessage.complete). */
  complete: boolean;
  /** The client socket's local port (what the proxy sees as the client port). */
  localPort: number;
  /** Negotiated cipher's standard name on https. */
  cipher: string | undefined;
  error: Error | undefined;
  /** Time from sending to the end of the response, ms. */
  elapsedMs: number;
  /** https: the last TLS session (ticket) the server gave, to resume with `session`. */
  session: Buffer | undefined;
  /** https: whether the TLS session was resumed. */
  isSessionReused: boolean;
}

export interface SendOptions {
  method?: string;
  /** Raw headers, flat [name, value, …], sent as written (case, order, duplicates). Host is added unless given. */
  headers?: readonly string[];
  body?: Buffer | string | AsyncIterable<Buffer>;
  /** Client certificate to present (certFile may hold leaf + chain). */
  clientCert?: ClientFiles;
  /** Trusted root PEM for https (the test root). */
  ca?: string;
  timeoutMs?: number;
  /** Consumes the body instead of collecting it. */
  onData?: (chunk: Buffer) => void;
  /** https: a TLS session to resume (from a previous reply's `session`). */
  session?: Buffer;
  /** Extra TLS options (ciphers, maxVersion, …). */
  tls?: Record<string, unknown>;
}

/** One request on a fresh connection. Never rejects: failures are in `error` (status 0 before a response). */
export function send(url: string, options: SendOptions = {}): Promise<ClientReply> {
  const target = new URL(url);
  const isHttps = target.protocol === 'https:';
  const headers = [...(options.headers ?? [])];
  if (!headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')) headers.unshift('Host', target.host);
  const started = performance.now();
  return new Promise((resolve) => {
    const result: ClientReply = { status: 0, headers: {}, rawHeaders: [], body: Buffer.alloc(0), bodyBytes: 0, complete: false, localPort: 0, cipher: undefined, error: undefined, elapsedMs: 0, session: undefined, isSessionReused: false };
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) result.error ??= error;
      result.body = Buffer.concat(chunks);
      result.elapsedMs = performance.now() - started;
      resolve(result);
    };
    const requestOptions: RequestOptions & Record<string, unknown> = {
      method: options.method ?? 'GET',
      host: target.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(target.port),
      path: `${target.pathname}${target.search}`,
      headers: headers as unknown as RequestOptions['headers'],
      agent: false,
    };
    if (isHttps) {
      requestOptions['ca'] = options.ca;
      if (options.session) requestOptions['session'] = options.session;
      Object.assign(requestOptions, options.tls ?? {});
      if (options.clientCert) {
        requestOptions['cert'] = readFileSync(options.clientCert.certFile);
        requestOptions['key'] = readFileSync(options.clientCert.keyFile);
      }
    }
    const req = (isHttps ? httpsRequest : httpRequest)(requestOptions, (res) => {
      result.status = res.statusCode ?? 0;
      result.headers = res.headers;
      result.rawHeaders = res.rawHeaders;
      result.localPort = res.socket.localPort ?? 0;
      if (isHttps) {
        result.cipher = (res.socket as TLSSocket).getCipher()?.standardName;
        result.isSessionReused = (res.socket as TLSSocket).isSessionReused();
      }
      res.on('data', (chunk: Buffer) => {
        result.bodyBytes += chunk.length;
        if (options.onData) options.onData(chunk);
        else chunks.push(chunk);
      });
      res.on('end', () => {
        result.complete = res.complete;
        finish(res.complete ? undefined : new Error('response ended before its end'));
      });
      res.on('error', (error) => finish(error));
      res.on('close', () => {
        result.complete = res.complete;
        finish(res.complete ? undefined : new Error('response closed before its end'));
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${options.timeoutMs ?? 20_000} ms`)), options.timeoutMs ?? 20_000);
    req.on('error', (error) => finish(error));
    if (isHttps) req.on('socket', (socket) => socket.on('session', (session: Buffer) => (result.session = session)));
    const body = options.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      const source = Readable.from(body, { objectMode: false });
      source.on('error', (error) => req.destroy(error));
      source.pipe(req);
    }
  });
}

/** The JSON an echo backend answered with. */
export function echoOf(reply: ClientReply): EchoReply {
  if (reply.status !== 200) throw new Error(`expected 200 from the echo backend, got ${reply.status}: ${reply.body.toString()} ${reply.error?.message ?? ''}`);
  return JSON.parse(reply.body.toString('utf8')) as EchoReply;
}

/** Every value of a header in a raw [name, value, …] list, matching the name in any letter case. */
export function rawValues(rawHeaders: readonly string[], name: string): string[] {
  const lower = name.toLowerCase();
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if ((rawHeaders[i] as string).toLowerCase() === lower) values.push(rawHeaders[i + 1] as string);
  return values;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// ---------------------------------------------------------------------------------------------
// Raw TCP backends

export interface RawBackend {
  readonly server: NetServer;
  readonly address: string;
  readonly port: number;
  /** Request heads received, in order. */
  readonly heads: string[];
  close(): Promise<void>;
}

/**
 * A TCP server speaking just enough HTTP/1.1: for each request head (everything up to the blank line,
 * bodies are not expected) it calls `answer` with the socket. One request per head; pipelining is not used.
 */
export async function startRawBackend(answer: (socket: Socket, head: string) => void): Promise<RawBackend> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'), n = 0; end >= 0 && n < 100; end = pending.indexOf('\r\n\r\n'), n++) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        heads.push(head);
        answer(socket, head);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    address: `127.0.0.1:${port}`,
    heads,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic large bodies

export const MB = 1024 * 1024;

/**
 * `totalBytes` of deterministic, non-periodic bytes in `chunkBytes` chunks (a fresh buffer per chunk,
 * since streams hold on to what they are given). `hash` is updated with every byte produced.
 */
export async function* deterministicBytes(totalBytes: number, hash: ReturnType<typeof createHash>, chunkBytes = 256 * 1024, onChunk?: () => void): AsyncGenerator<Buffer> {
  const pattern = Buffer.alloc(chunkBytes);
  for (let i = 0; i < chunkBytes; i++) pattern[i] = (i * 31 + 7) & 0xff;
  let produced = 0;
  for (let index = 0; produced < totalBytes && index < 1_000_000; index++) {
    const size = Math.min(chunkBytes, totalBytes - produced);
    const chunk = Buffer.allocUnsafe(size);
    pattern.copy(chunk, 0, 0, size);
    if (size >= 8) chunk.writeBigUInt64BE(BigInt(index), 0);
    hash.update(chunk);
    produced += size;
    onChunk?.();
    yield chunk;
  }
}

/** The DER of the first certificate in a PEM text. */
export function derOfPem(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

export type { RunningGatehouse };
