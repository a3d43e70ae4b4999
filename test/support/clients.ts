/**
 * Clients for tests: node's http/https client (`send`: one request on a fresh connection, raw headers,
 * client certificate, TLS session, never rejects), and curl and openssl as child processes, with bounded
 * run time.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EchoReply } from './backends.js';
import type { ClientFiles } from './test-pki.js';

export interface CurlResult {
  status: number;
  body: string;
  headers: Record<string, string>;
  exitCode: number;
  stderr: string;
}

/** Runs a program; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: options.timeoutMs ?? 20_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * curl a URL. `resolve` maps host names to 127.0.0.1 for SNI tests; `cert`/`key` present a client
 * certificate; `cacert` trusts the test root.
 *
 * The response headers go to a temporary file (`-D file`): `-D /dev/stderr` makes curl 7.88 crash with
 * SIGSEGV when stderr is the socket pair node gives a child process (it cannot open /proc/self/fd/2).
 * `stderr` in the result is the header block(s) followed by curl's own messages, as before.
 */
export async function curl(url: string, options: { cacert?: string; cert?: string; key?: string; resolve?: string[]; headers?: string[]; extra?: string[] } = {}): Promise<CurlResult> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-curl-'));
  const headerFile = join(dir, 'headers');
  try {
    const args = ['-sS', '--max-time', '15', '-D', headerFile, '-o', '-'];
    if (options.cacert) args.push('--cacert', options.cacert);
    if (options.cert) args.push('--cert', options.cert);
    if (options.key) args.push('--key', options.key);
    for (const r of options.resolve ?? []) args.push('--resolve', r);
    for (const h of options.headers ?? []) args.push('-H', h);
    args.push(...(options.extra ?? []), url);
    const result = await run('curl', args);
    const headerText = await readFile(headerFile, 'latin1').catch(() => '');
    const blocks = headerText.split(/\r?\n\r?\n/);
    const statusBlocks = blocks.filter((b) => /^HTTP\/[\d.]+ \d{3}/.test(b));
    const last = statusBlocks[statusBlocks.length - 1] ?? '';
    const lines = last.split(/\r?\n/);
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, body: result.stdout, headers, exitCode: result.code, stderr: headerText + result.stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SClientResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Whether the server sent a CertificateRequest during the handshake (from `-msg`). */
  certificateRequested: boolean;
  /** Whether the handshake completed (a cipher other than (NONE) was negotiated). */
  handshakeDone: boolean;
}

/**
 * `openssl s_client -msg` against host:port, stdin closed right away (handshake, then quit). `servername`
 * sends SNI (omitted: -noservername); `extra` adds options such as `-tls1_2`, `-cert`, `-key`, `-CAfile`.
 */
export async function opensslSClient(host: string, port: number, options: { servername?: string; extra?: string[]; input?: string } = {}): Promise<SClientResult> {
  const args = ['s_client', '-connect', `${host}:${port}`, '-msg', '-state'];
  if (options.servername) args.push('-servername', options.servername);
  else args.push('-noservername');
  args.push(...(options.extra ?? []));
  const result = await run('openssl', args, { input: options.input ?? '', timeoutMs: 15_000 });
  const all = `${result.stdout}\n${result.stderr}`;
  return {
    ...result,
    certificateRequested: /<<< [^\n]*Handshake[^\n]*CertificateRequest/.test(all) || /read server certificate request/.test(all),
    handshakeDone: /Cipher is (?!\(NONE\))\S+/.test(all),
  };
}

// ---------------------------------------------------------------------------------------------
// node:http / node:https

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
