/**
 * Support for the seeded fuzz tests (fuzz-http1.test.ts, fuzz-h2.test.ts): Gatehouse as a REAL child
 * process (`node bin/gatehouse.js start -c FILE`), a recording raw backend that parses everything
 * Gatehouse sends it, a strict HTTP/1.1 response parser, an HTTP/2 frame codec with a tiny HPACK encoder
 * (literal fields, no Huffman) and just enough HPACK decoding to read `:status`, and the checks every fuzz
 * input must pass (docs: /work/hardening-spec.md, the decided hardening behaviour); `FuzzFile` runs a
 * file's properties against one child and does the per-input bookkeeping both fuzz files share.
 *
 * Inputs run one at a time: each fuzz input is a "run" with a number; the backend attributes what it
 * receives to a run by the `X-Fuzz-Run` header the fuzzer puts in every request (or, when a mutation broke
 * that header, to the run in progress when the bytes arrived).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectHttp2, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { hpackString, huffmanDigits } from './support.js';

/** The repository root (this file runs from dist/test/hostile). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(REPO, 'bin', 'gatehouse.js');

/** Host name the fuzzer uses (the site's bindings have no host name: they answer every name). */
export const SITE_HOST = 'fuzz.test';
/**
 * Replaced by the run number when an input is sent; the X-Fuzz-Run header says `RUN.INDEX.RUN` (INDEX:
 * the request's position in the input, 0 when not known).
 */
export const RUN_PLACEHOLDER = '@RUN@';
export function runMark(run: number, index = 0): string {
  return `${run}.${index}.${run}`;
}
export const RUN_HEADER = 'X-Fuzz-Run';
export const STREAM_HEADER = 'x-fuzz-stream';
export const SEQ_HEADER = 'x-fuzz-seq';
/** Marker value of the liveness probes (never a run number). */
export const PROBE_MARK = 'probe';

export type Header = readonly [name: string, value: string];

const sleep = (ms: number) => new Promise<void>((resolvePromise) => setTimeout(resolvePromise, ms));

// ---------------------------------------------------------------------------------------------
// Showing bytes

/** Bytes as one readable string: CR/LF/TAB/backslash escaped, other control and high bytes as \xHH. */
export function show(bytes: Buffer | string, max = 1500): string {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  let out = '';
  for (const c of buffer.subarray(0, max)) {
    if (c === 0x0d) out += '\\r';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20 || c >= 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(c);
  }
  return buffer.length > max ? `${out}… (${buffer.length} bytes)` : out;
}

// ---------------------------------------------------------------------------------------------
// What the backend may receive

/** The client-certificate family (spec: removed in every spelling; Gatehouse sets none on plain http or without a certificate). */
export const CERT_FAMILY = ['X-ARR-ClientCert', 'Client-Cert', 'Client-Cert-Chain', 'X-Forwarded-Client-Cert', 'X-SSL-Client-Cert', 'X-Client-Cert', 'MS-ASPNETCORE-CLIENTCERT'] as const;
/** Headers Gatehouse sets itself (spec: a client's copy never reaches the backend, in any spelling). */
export const GATEHOUSE_HEADERS = ['X-ARR-SSL', 'X-ARR-LOG-ID', 'X-Forwarded-Proto', 'X-Original-URL', 'Max-Forwards', 'X-Gatehouse-Signature', 'X-Forwarded-For'] as const;

const CERT_FAMILY_NORMAL = new Set(CERT_FAMILY.map((n) => n.toLowerCase()));
const GATEHOUSE_NORMAL = new Set(GATEHOUSE_HEADERS.map((n) => n.toLowerCase()));

/** A header name lower-cased with `_` read as `-`. */
export function normalHeaderName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

function percentDecodeLoose(text: string): string {
  // Decodes every %XX (bytes as latin1 characters, as a byte-oriented backend would); leaves bad escapes.
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * The path a lenient backend could read from a request target: the path part of an absolute-form target,
 * percent-decoded (up to three times, so double escaping counts too), `\` read as `/`, `;params` removed
 * from every segment, `//` collapsed and dot segments removed; lower-cased.
 */
export function lenientPath(target: string): string {
  let path = target;
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(path);
  if (absolute) path = absolute[1] ?? '';
  path = path.split('?')[0] ?? '';
  path = path.split('#')[0] ?? '';
  for (let i = 0; i < 3; i++) {
    const decoded = percentDecodeLoose(path);
    if (decoded === path) break;
    path = decoded;
  }
  path = path.replace(/\\/g, '/');
  const out: string[] = [];
  for (const raw of path.split('/')) {
    const segment = raw.split(';')[0] ?? '';
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      out.pop();
      continue;
    }
    out.push(segment);
  }
  return `/${out.join('/')}`.toLowerCase();
}

/** Whether a lenient backend would read this target as `/admin` or something under `/admin/`. */
export function readsAsAdmin(target: string): boolean {
  const path = lenientPath(target);
  return path === '/admin' || path.startsWith('/admin/');
}

/** Why the spec would refuse this target with 400 (its path part), or undefined. */
export function refusedTargetReason(target: string): string | undefined {
  if (target.includes('#')) return '`#` in the target';
  const path = target.split('?')[0] ?? '';
  if (path.includes('\\')) return 'a raw backslash in the path';
  if (/%5c/i.test(path)) return '%5C in the path';
  if (/%2f/i.test(path)) return '%2F in the path';
  if (/%(0[0-9a-f]|1[0-9a-f]|7f)/i.test(path)) return 'an encoded control character in the path';
  if (/%(?![0-9a-f]{2})/i.test(path)) return 'a bad percent escape in the path';
  if (/%25[0-9a-f]{2}/i.test(path)) return 'double escaping (%25XX) in the path';
  const bytes = Buffer.from(percentDecodeLoose(path), 'latin1');
  if (!isValidUtf8(bytes)) return 'bytes that are not UTF-8 after decoding';
  return undefined;
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export interface BackendRequest {
  readonly seq: number;
  readonly connection: number;
  /** The run in progress when the head arrived. */
  readonly windowRun: number;
  /** The run named by its X-Fuzz-Run header `RUN.INDEX.RUN` (NaN: a header that is not one; undefined: none). */
  readonly markedRun: number | undefined;
  /** The request's position in its input (X-Fuzz-Run `RUN.INDEX`). */
  readonly markedIndex: number | undefined;
  readonly isProbe: boolean;
  /** Its x-fuzz-stream header (HTTP/2 inputs). */
  readonly markedStream: number | undefined;
  readonly method: string;
  readonly target: string;
  readonly headers: readonly Header[];
  readonly head: string;
}

export interface BackendAnomaly {
  readonly connection: number;
  readonly windowRun: number;
  readonly what: string;
  readonly sample: string;
}

/** A failed check: `code` names its class (for the survey), `text` says what happened. */
export interface Problem {
  readonly code: string;
  readonly text: string;
}

/**
 * Checks a request head Gatehouse forwarded. `scheme` is how the client reached Gatehouse; no client
 * certificate is ever presented by the fuzzers.
 */
export function checkForwarded(request: BackendRequest, scheme: 'http' | 'https'): Problem[] {
  const problems: Problem[] = [];
  const where = `backend request #${request.seq}${request.markedIndex === undefined ? '' : ` (request ${request.markedIndex} of the input)`} \`${show(`${request.method} ${request.target}`, 300)}\``;
  const add = (code: string, text: string) => problems.push({ code, text: `${where}: ${text}` });
  if (readsAsAdmin(request.target)) add('backend: /admin path', `the path reads as ${lenientPath(request.target)} (the rule answers /admin and /admin/* with 403)`);
  if (request.method.toUpperCase() === 'CONNECT') add('backend: CONNECT', 'a CONNECT request reached the backend (spec: 405 / stream refused)');
  if (request.head.includes('PRI * HTTP/2.0')) add('backend: HTTP/2 preface', 'HTTP/2 preface bytes reached the backend');
  if (!request.target.startsWith('/') && !(request.target === '*' && request.method === 'OPTIONS')) add('backend: target not origin-form', 'the target is not in origin form');
  const refused = refusedTargetReason(request.target);
  if (refused) add(`backend: target the spec refuses (${refused.replace(/ in the (path|target)$/, '')})`, `${refused} (spec: refused with 400)`);
  const counts = new Map<string, number>();
  for (const [name, value] of request.headers) {
    const normal = normalHeaderName(name);
    counts.set(name.toLowerCase(), (counts.get(name.toLowerCase()) ?? 0) + 1);
    if (CERT_FAMILY_NORMAL.has(normal)) add(`backend: client-certificate header (${name.includes('_') ? 'underscore' : 'dash'} spelling)`, `carries \`${show(name)}: ${show(value, 80)}\` (client-certificate family; no certificate was presented)`);
    else if (name.includes('_') && GATEHOUSE_NORMAL.has(normal)) add('backend: underscore spelling of a Gatehouse header', `carries \`${show(name)}: ${show(value, 80)}\` (an underscore spelling of a header Gatehouse sets)`);
    if (normal === 'http2-settings') add('backend: HTTP2-Settings', 'carries HTTP2-Settings (spec: dropped)');
    if (name.toLowerCase() === 'upgrade' && value.trim().toLowerCase() !== 'websocket') add('backend: Upgrade other than websocket', `carries \`Upgrade: ${show(value, 80)}\` (spec: only websocket is forwarded)`);
  }
  const count = (name: string) => counts.get(name) ?? 0;
  if (count('host') !== 1) add('backend: Host count', `${count('host')} Host fields`);
  if (count('content-length') > 0 && count('transfer-encoding') > 0) add('backend: Content-Length with Transfer-Encoding', 'both Content-Length and Transfer-Encoding');
  const expectOne = (name: string, value?: string) => {
    const values = request.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
    if (values.length !== 1) add(`backend: ${values.length > 1 ? 'several' : 'no'} ${name}`, `${values.length} ${name} fields (Gatehouse sets exactly one)`);
    else if (value !== undefined && values[0] !== value) add(`backend: wrong ${name}`, `${name} is ${show(values[0] ?? '', 80)}, not ${value}`);
  };
  expectOne('x-forwarded-proto', scheme);
  expectOne('x-arr-log-id');
  expectOne('max-forwards', '10');
  expectOne('x-original-url');
  if (scheme === 'http' && count('x-arr-ssl') > 0) add('backend: X-ARR-SSL on http', 'X-ARR-SSL on a plain http request');
  if (scheme === 'https') expectOne('x-arr-ssl');
  if (count('x-gatehouse-signature') > 0) add('backend: X-Gatehouse-Signature', 'X-Gatehouse-Signature although no signature secret is configured');
  return problems;
}

/** Problems with bytes the backend could not read as HTTP/1.1 requests. */
export function checkAnomaly(anomaly: BackendAnomaly): Problem {
  const extra: string[] = [];
  if (anomaly.sample.includes('PRI * HTTP/2.0')) extra.push('HTTP/2 preface bytes');
  for (const line of anomaly.sample.split('\r\n')) {
    const name = /^([^:\s]+)\s*:/.exec(line)?.[1];
    if (name !== undefined && CERT_FAMILY_NORMAL.has(normalHeaderName(name))) extra.push(`a ${name} header line`);
    const target = /^[A-Za-z-]+ (\S+) HTTP\//.exec(line)?.[1];
    if (target !== undefined && readsAsAdmin(target)) extra.push(`a request line for ${target}`);
  }
  return {
    code: `backend: not well-formed HTTP/1.1 (${anomaly.what.replace(/:.*$/, '')})`,
    text: `backend connection ${anomaly.connection} received bytes that are not a well-formed HTTP/1.1 request (${anomaly.what})${extra.length ? `, including ${extra.join(', ')}` : ''}: \`${show(anomaly.sample, 600)}\``,
  };
}

// ---------------------------------------------------------------------------------------------
// The recording backend

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

function parseRequestHead(head: string): { method: string; target: string; headers: Header[]; framing: Framing } | { error: string } {
  const lines = head.split('\r\n');
  if (lines.some((line) => line.includes('\r') || line.includes('\n'))) return { error: 'a bare CR or LF' };
  const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\x00-\x20\x7f]+) HTTP\/1\.1$/.exec(lines[0] ?? '');
  if (!requestLine) return { error: 'the request line is not `METHOD target HTTP/1.1`' };
  const headers: Header[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) return { error: 'obs-fold' };
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    if (!TOKEN.test(name)) return { error: `a header name that is not a token: ${show(name, 80)}` };
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return { error: `a header value with control characters in ${name}` };
    headers.push([name, value]);
  }
  const te = headers.filter(([n]) => n.toLowerCase() === 'transfer-encoding').map(([, v]) => v);
  const cl = headers.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v);
  let framing: Framing = { kind: 'none' };
  if (te.length > 0) {
    const codings = te.join(',').toLowerCase().split(',').map((c) => c.trim());
    if (codings[codings.length - 1] !== 'chunked') return { error: `Transfer-Encoding ${te.join(', ')} does not end with chunked` };
    framing = { kind: 'chunked' };
  } else if (cl.length > 0) {
    // RFC 9110 §8.6: a list of identical values may be read as one.
    const values = cl.join(',').split(',').map((v) => v.trim());
    if (!values.every((v) => /^\d{1,15}$/.test(v)) || new Set(values).size !== 1) return { error: `Content-Length ${cl.join(', ')}` };
    framing = { kind: 'length', length: Number(values[0]) };
  }
  return { method: requestLine[1] ?? '', target: requestLine[2] ?? '', headers, framing };
}

type ParseState =
  | { kind: 'head' }
  | { kind: 'length'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'chunk-crlf' }
  | { kind: 'trailers' }
  | { kind: 'dead' };

/**
 * A node:net server on 127.0.0.1:0 that records every byte and parses what it receives as HTTP/1.1
 * requests (strictly: what it cannot parse is recorded as an anomaly and the rest of that connection is
 * kept raw). Each request head is answered at once with `200 OK`, keep-alive, `Content-Length`, and
 * `X-Fuzz-Seq: <n>` (body `ok <n>\n`), so a client can tell the backend's answers from Gatehouse's own.
 */
export class RecordingBackend {
  readonly requests: BackendRequest[] = [];
  readonly anomalies: BackendAnomaly[] = [];
  bytes = 0;
  lastActivity = performance.now();
  /** The run whose window is open. */
  currentRun = 0;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #connections = 0;
  port = 0;

  async start(): Promise<void> {
    this.#server = createServer((socket) => this.#accept(socket));
    await new Promise<void>((resolvePromise) => this.#server?.listen(0, '127.0.0.1', resolvePromise));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolvePromise) => (this.#server ? this.#server.close(() => resolvePromise()) : resolvePromise()));
  }

  /** Resolves once nothing has arrived for `quietMs` (at most `maxMs`). */
  async quiet(quietMs: number, maxMs = 200): Promise<void> {
    const deadline = performance.now() + maxMs;
    for (;;) {
      const idle = performance.now() - this.lastActivity;
      if (idle >= quietMs || performance.now() >= deadline) return;
      await sleep(Math.max(1, Math.ceil(quietMs - idle)));
    }
  }

  #accept(socket: Socket): void {
    const id = ++this.#connections;
    this.#sockets.add(socket);
    socket.on('error', () => {});
    let buffer: Buffer = Buffer.alloc(0);
    let state: ParseState = { kind: 'head' };
    const anomaly = (what: string, sample: Buffer | string) => {
      this.anomalies.push({ connection: id, windowRun: this.currentRun, what, sample: typeof sample === 'string' ? sample : sample.toString('latin1') });
      state = { kind: 'dead' };
    };
    const pump = () => {
      for (;;) {
        switch (state.kind) {
          case 'dead': {
            if (buffer.length > 0) {
              const last = this.anomalies[this.anomalies.length - 1];
              if (last && last.connection === id && last.sample.length < 4096) {
                this.anomalies[this.anomalies.length - 1] = { ...last, sample: last.sample + buffer.toString('latin1') };
              }
            }
            buffer = Buffer.alloc(0);
            return;
          }
          case 'head': {
            if (buffer.length === 0) return;
            const end = buffer.indexOf('\r\n\r\n');
            if (end < 0) {
              if (buffer.length > 256 * 1024) anomaly('a request head over 256 KiB', buffer.subarray(0, 4096));
              else if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]*( |$)/.test(buffer.subarray(0, 64).toString('latin1'))) anomaly('bytes that cannot start a request line', buffer);
              return;
            }
            const head = buffer.subarray(0, end).toString('latin1');
            buffer = buffer.subarray(end + 4);
            const parsed = parseRequestHead(head);
            if ('error' in parsed) {
              anomaly(parsed.error, `${head}\r\n\r\n${buffer.toString('latin1')}`);
              buffer = Buffer.alloc(0);
              return;
            }
            const seq = this.requests.length + 1;
            const runValue = parsed.headers.find(([n]) => n.toLowerCase() === RUN_HEADER.toLowerCase())?.[1];
            const streamValue = parsed.headers.find(([n]) => n.toLowerCase() === STREAM_HEADER)?.[1];
            // `RUN.INDEX.RUN`: the run twice, so that a mutated marker is never read as another run.
            const triple = runValue === undefined ? undefined : /^(\d+)\.(\d+)\.(\d+)$/.exec(runValue);
            const mark = triple && triple[1] === triple[3] ? triple : undefined;
            this.requests.push({
              seq,
              connection: id,
              windowRun: this.currentRun,
              markedRun: runValue === undefined ? undefined : mark ? Number(mark[1]) : NaN,
              markedIndex: mark?.[2] === undefined || mark[2] === '0' ? undefined : Number(mark[2]),
              isProbe: runValue === PROBE_MARK,
              markedStream: streamValue !== undefined && /^\d+$/.test(streamValue) ? Number(streamValue) : undefined,
              method: parsed.method,
              target: parsed.target,
              headers: parsed.headers,
              head,
            });
            const body = `ok ${seq}\n`;
            socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nX-Fuzz-Seq: ${seq}\r\n\r\n${parsed.method === 'HEAD' ? '' : body}`);
            if (parsed.framing.kind === 'length') state = parsed.framing.length > 0 ? { kind: 'length', remaining: parsed.framing.length } : { kind: 'head' };
            else if (parsed.framing.kind === 'chunked') state = { kind: 'chunk-size' };
            break;
          }
          case 'length': {
            const take = Math.min(state.remaining, buffer.length);
            buffer = buffer.subarray(take);
            state = state.remaining - take === 0 ? { kind: 'head' } : { kind: 'length', remaining: state.remaining - take };
            if (state.kind === 'length') return;
            break;
          }
          case 'chunk-size': {
            const end = buffer.indexOf('\r\n');
            if (end < 0) {
              if (buffer.length > 1024) anomaly('a chunk-size line over 1 KiB', buffer);
              return;
            }
            const line = buffer.subarray(0, end).toString('latin1');
            buffer = buffer.subarray(end + 2);
            const size = /^([0-9A-Fa-f]{1,15})(;.*)?$/.exec(line);
            if (!size) {
              anomaly('a bad chunk-size line', `${line}\r\n${buffer.toString('latin1')}`);
              break;
            }
            const n = parseInt(size[1] ?? '0', 16);
            state = n === 0 ? { kind: 'trailers' } : { kind: 'chunk-data', remaining: n };
            break;
          }
          case 'chunk-data': {
            const take = Math.min(state.remaining, buffer.length);
            buffer = buffer.subarray(take);
            if (state.remaining - take > 0) {
              state = { kind: 'chunk-data', remaining: state.remaining - take };
              return;
            }
            state = { kind: 'chunk-crlf' };
            break;
          }
          case 'chunk-crlf': {
            if (buffer.length < 2) return;
            if (buffer[0] !== 0x0d || buffer[1] !== 0x0a) {
              anomaly('chunk data not followed by CRLF', buffer);
              break;
            }
            buffer = buffer.subarray(2);
            state = { kind: 'chunk-size' };
            break;
          }
          case 'trailers': {
            const end = buffer.indexOf('\r\n');
            if (end < 0) return;
            const line = buffer.subarray(0, end).toString('latin1');
            buffer = buffer.subarray(end + 2);
            if (line === '') state = { kind: 'head' };
            else if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/.test(line)) anomaly('a bad trailer line', line);
            break;
          }
        }
      }
    };
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.lastActivity = performance.now();
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      pump();
    });
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.lastActivity = performance.now();
      if (state.kind === 'head' && buffer.length > 0) anomaly('the connection closed inside a request head', buffer);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Gatehouse as a child process

export interface GatehouseChild {
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly httpsPort: number;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  output: string;
}

/**
 * The fuzz target: one site with an http binding and an https binding (`http2: true`) on 127.0.0.1,
 * `workers: 1` (one process: a crash is the process exiting), rules answering `/admin` and `/admin/*` with
 * 403, and the farm = the recording backend. Restarts the child when it died (each death is kept in `deaths`).
 */
export class FuzzGatehouse {
  readonly backend = new RecordingBackend();
  pki: TestPki | undefined;
  dir = '';
  config = '';
  current: GatehouseChild | undefined;
  readonly deaths: string[] = [];
  starts = 0;

  static async create(): Promise<FuzzGatehouse> {
    const fuzz = new FuzzGatehouse();
    await fuzz.backend.start();
    fuzz.pki = await createTestPki();
    fuzz.dir = await mkdtemp(join(tmpdir(), 'gatehouse-fuzz-'));
    fuzz.config = join(fuzz.dir, 'gatehouse.yaml');
    const config = {
      sites: [
        {
          name: 'fuzz',
          bindings: [
            { protocol: 'http', address: '127.0.0.1', port: 0 },
            { protocol: 'https', address: '127.0.0.1', port: 0, http2: true, certificate: { certFile: fuzz.pki.server.certFile, keyFile: fuzz.pki.server.keyFile } },
          ],
          farm: 'web',
          rules: [
            { name: 'deny admin', match: { path: '/admin' }, action: { type: 'respond', status: 403 } },
            { name: 'deny admin tree', match: { path: '/admin/*' }, action: { type: 'respond', status: 403 } },
          ],
        },
      ],
      farms: [{ name: 'web', servers: [{ address: fuzz.backend.address }], protocol: { timeout: 5 } }],
      workers: 1,
      drainTimeout: 1,
      accessLog: 'off',
    };
    // JSON is valid YAML.
    await writeFile(fuzz.config, `${JSON.stringify(config, null, 2)}\n`);
    await fuzz.ensureRunning();
    return fuzz;
  }

  get alive(): boolean {
    return this.current !== undefined && this.current.exit === undefined;
  }

  get httpPort(): number {
    return this.current?.httpPort ?? 0;
  }

  get httpsPort(): number {
    return this.current?.httpsPort ?? 0;
  }

  /** The last lines of the child's output. */
  tail(lines = 25): string {
    return (this.current?.output ?? '').split('\n').slice(-lines).join('\n');
  }

  describeExit(): string {
    const exit = this.current?.exit;
    return exit ? `gatehouse exited (code ${exit.code}, signal ${exit.signal}); its last output:\n${this.tail()}` : 'gatehouse is running';
  }

  /** Starts the child unless one is running (after a death, a fresh one: new ports). */
  async ensureRunning(): Promise<void> {
    if (this.alive) return;
    if (this.current) this.deaths.push(this.describeExit());
    this.starts++;
    const child = spawn(process.execPath, [BIN, 'start', '-c', this.config], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const running: { child: ChildProcess; httpPort: number; httpsPort: number; exit: GatehouseChild['exit']; output: string } = { child, httpPort: 0, httpsPort: 0, exit: undefined, output: '' };
    const append = (chunk: string) => {
      running.output += chunk;
      if (running.output.length > 256 * 1024) running.output = running.output.slice(-128 * 1024);
    };
    child.stdout?.setEncoding('utf8').on('data', append);
    child.stderr?.setEncoding('utf8').on('data', append);
    const exited = new Promise<void>((resolvePromise) => {
      child.on('exit', (code, signal) => {
        running.exit = { code, signal };
        resolvePromise();
      });
    });
    this.current = running;
    const deadline = performance.now() + 20_000;
    for (;;) {
      const http = /^listening http:\/\/127\.0\.0\.1:(\d+) \(site fuzz\)$/m.exec(running.output);
      const https = /^listening https:\/\/127\.0\.0\.1:(\d+) \(site fuzz\)$/m.exec(running.output);
      if (http && https) {
        running.httpPort = Number(http[1]);
        running.httpsPort = Number(https[1]);
        return;
      }
      if (running.exit) throw new Error(`gatehouse did not start: ${this.describeExit()}`);
      if (performance.now() > deadline) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`gatehouse did not print its listening lines within 20 s:\n${running.output}`);
      }
      await Promise.race([exited, sleep(20)]);
    }
  }

  async stop(): Promise<void> {
    const current = this.current;
    if (current && current.exit === undefined) {
      const exited = new Promise<void>((resolvePromise) => current.child.once('exit', () => resolvePromise()));
      current.child.kill('SIGTERM');
      const timer = setTimeout(() => current.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await this.backend.close();
    await this.pki?.cleanup();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** A plain `GET /ok` on the http binding, answered by the backend; problems as text. */
  async probeHttp1(run: number): Promise<string[]> {
    this.backend.currentRun = run;
    const request = Buffer.from(`GET /ok HTTP/1.1\r\nHost: ${SITE_HOST}\r\n${RUN_HEADER}: ${PROBE_MARK}\r\n\r\n`, 'latin1');
    const exchange = await exchangeHttp1(this.httpPort, [request], { expectedResponses: 1, timeoutMs: 3_000 });
    const parsed = parseResponses(exchange.received, exchange.closed);
    const first = parsed.responses[0];
    const seq = first ? Number(headerOf(first.headers, SEQ_HEADER)) : NaN;
    const problems: string[] = [];
    if (!first || first.status !== 200 || !Number.isInteger(seq)) {
      problems.push(`a plain GET /ok on http no longer gets the backend's 200: \`${show(exchange.received, 400)}\`${parsed.error ? ` (${parsed.error})` : ''}`);
    } else if (!this.backend.requests[seq - 1]?.isProbe) {
      problems.push(`a plain GET /ok on http got the backend's answer to another request (seq ${seq}: \`${show(this.backend.requests[seq - 1]?.head ?? '?', 200)}\`): responses are out of step`);
    }
    return problems;
  }

  /** A plain HTTP/2 `GET /ok` on the https binding (node:http2 client); problems as text. */
  async probeHttp2(run: number): Promise<string[]> {
    this.backend.currentRun = run;
    const ca = this.pki?.root.certPem ?? '';
    let session: ClientHttp2Session | undefined;
    try {
      const reply = await new Promise<{ status: number; body: string; seq: string | undefined }>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3_000);
        session = connectHttp2(`https://localhost:${this.httpsPort}`, { ca });
        session.on('error', reject);
        const stream = session.request({ ':method': 'GET', ':path': '/ok', [RUN_HEADER.toLowerCase()]: PROBE_MARK });
        let status = 0;
        let seq: string | undefined;
        let body = '';
        stream.on('response', (headers) => {
          status = Number(headers[':status']);
          const value = headers[SEQ_HEADER];
          seq = Array.isArray(value) ? value[0] : value;
        });
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (body += chunk));
        stream.on('end', () => {
          clearTimeout(timer);
          resolvePromise({ status, body, seq });
        });
        stream.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      const problems: string[] = [];
      if (reply.status !== 200 || reply.seq === undefined) problems.push(`a plain HTTP/2 GET /ok got ${reply.status} ${show(reply.body, 200)}, not the backend's 200`);
      else if (!this.backend.requests[Number(reply.seq) - 1]?.isProbe) problems.push(`a plain HTTP/2 GET /ok got the backend's answer to another request (seq ${reply.seq})`);
      return problems;
    } catch (error) {
      return [`a plain HTTP/2 GET /ok failed: ${(error as Error).message}`];
    } finally {
      session?.destroy();
    }
  }
}

/** The first value of a header (case-insensitive). */
export function headerOf(headers: readonly Header[], name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1: one exchange on a fresh connection, and a strict response parser

export interface ParsedResponse {
  readonly status: number;
  readonly headers: readonly Header[];
  readonly body: Buffer;
  /** The response carries `Connection: close`. */
  readonly closes: boolean;
}

export interface ResponsesParse {
  readonly responses: ParsedResponse[];
  /** Not well-formed HTTP/1.1 responses. */
  readonly error: string | undefined;
  /** The bytes end inside a response (only meaningful while the connection is open). */
  readonly incomplete: boolean;
}

/**
 * Parses bytes from a server as a sequence of HTTP/1.1 responses, strictly: status line
 * `HTTP/1.1 NNN reason`, header lines `token: value` ending CRLF, a blank line, a body framed by
 * Content-Length (one valid value) or chunked (not both), or none for 1xx/204/304, or read to the close.
 * Nothing may follow a response that says `Connection: close`. `closed`: the server closed the connection.
 */
export function parseResponses(bytes: Buffer, closed: boolean): ResponsesParse {
  const responses: ParsedResponse[] = [];
  let at = 0;
  const done = (error: string | undefined, incomplete = false): ResponsesParse => ({ responses, error, incomplete });
  const cutShort = (what: string) => (closed ? done(`the connection closed inside ${what}`) : done(undefined, true));
  while (at < bytes.length) {
    const last = responses[responses.length - 1];
    if (last?.closes) return done(`bytes after a response with Connection: close: \`${show(bytes.subarray(at), 200)}\``);
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end < 0) {
      const partial = bytes.subarray(at).toString('latin1');
      if (!'HTTP/1.1 '.startsWith(partial.slice(0, 9)) ) return done(`not a status line: \`${show(partial, 200)}\``);
      return cutShort('a response head');
    }
    const head = bytes.subarray(at, end).toString('latin1');
    at = end + 4;
    const lines = head.split('\r\n');
    if (lines.some((line) => line.includes('\r') || line.includes('\n'))) return done(`a bare CR or LF in a response head: \`${show(head, 300)}\``);
    const statusLine = /^HTTP\/1\.1 ([1-5]\d\d) ([\t\x20-\x7e\x80-\xff]*)$/.exec(lines[0] ?? '');
    if (!statusLine) return done(`not a status line: \`${show(lines[0] ?? '', 200)}\``);
    const status = Number(statusLine[1]);
    const headers: Header[] = [];
    for (const line of lines.slice(1)) {
      const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
      if (!match || !FIELD_VALUE.test(match[2] ?? '')) return done(`a bad header line \`${show(line, 200)}\` in a ${status} response`);
      headers.push([match[1] ?? '', match[2] ?? '']);
    }
    const values = (name: string) => headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
    const closes = values('connection').some((v) => v.toLowerCase().split(',').some((t) => t.trim() === 'close'));
    const te = values('transfer-encoding');
    const cl = values('content-length');
    if (te.length > 0 && cl.length > 0) return done(`a ${status} response with both Content-Length and Transfer-Encoding`);
    if (status === 101) {
      responses.push({ status, headers, body: bytes.subarray(at), closes });
      return done(undefined);
    }
    if ((status >= 100 && status < 200) || status === 204 || status === 304) {
      if (te.length > 0 || (cl.length > 0 && status !== 304 && cl.some((v) => v !== '0'))) return done(`a ${status} response with a body framing`);
      responses.push({ status, headers, body: Buffer.alloc(0), closes });
      continue;
    }
    if (te.length > 0) {
      if (te.join(',').toLowerCase().replace(/\s/g, '') !== 'chunked') return done(`a ${status} response with Transfer-Encoding ${te.join(', ')}`);
      const chunks: Buffer[] = [];
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', at);
        if (lineEnd < 0) return cutShort('a chunked body');
        const size = /^([0-9A-Fa-f]{1,8})(;[^\r\n]*)?$/.exec(bytes.subarray(at, lineEnd).toString('latin1'));
        if (!size) return done(`a bad chunk size \`${show(bytes.subarray(at, lineEnd), 80)}\``);
        const n = parseInt(size[1] ?? '0', 16);
        at = lineEnd + 2;
        if (n === 0) {
          for (;;) {
            const trailerEnd = bytes.indexOf('\r\n', at);
            if (trailerEnd < 0) return cutShort('the trailers');
            const line = bytes.subarray(at, trailerEnd).toString('latin1');
            at = trailerEnd + 2;
            if (line === '') break;
            if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/.test(line)) return done(`a bad trailer line \`${show(line, 80)}\``);
          }
          break;
        }
        if (bytes.length < at + n + 2) return cutShort('a chunk');
        chunks.push(bytes.subarray(at, at + n));
        if (bytes[at + n] !== 0x0d || bytes[at + n + 1] !== 0x0a) return done('a chunk not followed by CRLF');
        at += n + 2;
      }
      responses.push({ status, headers, body: Buffer.concat(chunks), closes });
      continue;
    }
    if (cl.length > 0) {
      if (cl.length !== 1 || !/^\d{1,15}$/.test(cl[0] ?? '')) return done(`a ${status} response with Content-Length ${cl.join(', ')}`);
      const n = Number(cl[0]);
      if (bytes.length < at + n) return cutShort('a body');
      responses.push({ status, headers, body: bytes.subarray(at, at + n), closes });
      at += n;
      continue;
    }
    // Neither: the body runs to the close.
    if (!closed) return done(undefined, true);
    responses.push({ status, headers, body: bytes.subarray(at), closes: true });
    at = bytes.length;
  }
  return done(undefined);
}

export interface RawExchange {
  readonly received: Buffer;
  /** The server closed (or reset) the connection. */
  readonly closed: boolean;
  readonly timedOut: boolean;
  readonly ms: number;
}

/** After a complete response that says `Connection: close`, how long the server has to close (load on a shared machine delays it). */
export const CLOSE_GRACE_MS = 2_000;

/**
 * Sends `chunks` (1 ms apart) on a fresh TCP connection to 127.0.0.1:port and collects the answer until
 * the server closes, or `expectedResponses` complete responses arrived and nothing more came for 3 ms,
 * or `timeoutMs`. Once a complete response says `Connection: close`, the wait is for the close itself, up
 * to CLOSE_GRACE_MS from that response (not cut by `timeoutMs`).
 */
export function exchangeHttp1(port: number, chunks: readonly Buffer[], options: { expectedResponses: number; timeoutMs: number }): Promise<RawExchange> {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const received: Buffer[] = [];
    let size = 0;
    let finished = false;
    let idleTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    const socket: Socket = netConnect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const finish = (closed: boolean, timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(idleTimer);
      clearTimeout(closeTimer);
      socket.destroy();
      resolvePromise({ received: Buffer.concat(received, size), closed, timedOut, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false, true), options.timeoutMs);
    socket.on('connect', async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (finished || socket.destroyed) return;
        if (i > 0) await sleep(1);
        socket.write(chunk);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      size += chunk.length;
      clearTimeout(idleTimer);
      const parsed = parseResponses(Buffer.concat(received, size), false);
      const finals = parsed.responses.filter((r) => r.status >= 200 || r.status === 101).length;
      const closing = parsed.responses.some((r) => r.closes);
      if (parsed.error !== undefined || (!parsed.incomplete && !closing && finals >= options.expectedResponses) || parsed.responses.some((r) => r.status === 101)) {
        idleTimer = setTimeout(() => finish(false, false), 3);
      } else if (closing && !parsed.incomplete && closeTimer === undefined) {
        clearTimeout(timer);
        closeTimer = setTimeout(() => finish(false, true), CLOSE_GRACE_MS);
      }
    });
    socket.on('error', () => finish(true, false));
    socket.on('end', () => finish(true, false));
    socket.on('close', () => finish(true, false));
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP/2: frames and HPACK

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = { DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4, PUSH_PROMISE: 0x5, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9 } as const;
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
export const ErrorCode = { NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, SETTINGS_TIMEOUT: 0x4, STREAM_CLOSED: 0x5, FRAME_SIZE_ERROR: 0x6, REFUSED_STREAM: 0x7, CANCEL: 0x8, COMPRESSION_ERROR: 0x9 } as const;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** One frame; `declaredLength` overrides the length field (a frame that lies about its size). */
export function frame(type: number, flags: number, streamId: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(declaredLength & 0xffffff, 0, 3);
  head[3] = type & 0xff;
  head[4] = flags & 0xff;
  head.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([head, payload]);
}

export function settingsFrame(params: readonly (readonly [id: number, value: number])[], ack = false): Buffer {
  const payload = Buffer.alloc(params.length * 6);
  params.forEach(([id, value], i) => {
    payload.writeUInt16BE(id & 0xffff, i * 6);
    payload.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, ack ? Flag.ACK : 0, 0, payload);
}

/** A literal header field with a literal name, non-Huffman: without indexing (0000), never indexed (0001) or with incremental indexing (01). */
export function hpackLiteral(name: string, value: string, kind: 'without' | 'never' | 'incremental' = 'without'): Buffer {
  const first = kind === 'incremental' ? Buffer.from([0x40]) : Buffer.from([kind === 'never' ? 0x10 : 0x00]);
  return Buffer.concat([first, hpackString(name), hpackString(value)]);
}

/** RFC 7541 Appendix A. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'], [':scheme', 'http'], [':scheme', 'https'],
  [':status', '200'], [':status', '204'], [':status', '206'], [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'],
  ['accept-charset', ''], ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''], ['content-disposition', ''],
  ['content-encoding', ''], ['content-language', ''], ['content-length', ''], ['content-location', ''], ['content-range', ''], ['content-type', ''],
  ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''],
  ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''],
  ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

export interface DecodedField {
  /** undefined: a Huffman-coded name this decoder does not read. */
  readonly name: string | undefined;
  readonly value: string | undefined;
}

/**
 * Decodes a header block from Gatehouse. The client's SETTINGS set SETTINGS_HEADER_TABLE_SIZE to 0, so
 * the server's encoder may not use the dynamic table: an index beyond the static table, or a table size
 * update above 0, is an error. Huffman strings are read only when they are digits.
 */
export function hpackDecode(block: Buffer): { fields: DecodedField[] } | { error: string } {
  const fields: DecodedField[] = [];
  let at = 0;
  const integer = (prefixBits: number): number | undefined => {
    const max = (1 << prefixBits) - 1;
    let value = (block[at] ?? 0) & max;
    at++;
    if (value < max) return value;
    let shift = 0;
    for (;;) {
      if (at >= block.length || shift > 28) return undefined;
      const byte = block[at++] ?? 0;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) return value;
    }
  };
  const string = (): { text: string | undefined } | undefined => {
    if (at >= block.length) return undefined;
    const huffman = ((block[at] ?? 0) & 0x80) !== 0;
    const length = integer(7);
    if (length === undefined || at + length > block.length) return undefined;
    const bytes = block.subarray(at, at + length);
    at += length;
    return { text: huffman ? huffmanDigits(bytes) : bytes.toString('latin1') };
  };
  while (at < block.length) {
    const byte = block[at] ?? 0;
    if (byte & 0x80) {
      const index = integer(7);
      const entry = index === undefined ? undefined : STATIC_TABLE[index - 1];
      if (!entry || index === 0) return { error: `indexed field ${index} (not in the static table; the dynamic table is 0 bytes)` };
      fields.push({ name: entry[0], value: entry[1] });
      continue;
    }
    if ((byte & 0xe0) === 0x20) {
      const size = integer(5);
      if (size !== 0) return { error: `dynamic table size update to ${size} (above SETTINGS_HEADER_TABLE_SIZE 0)` };
      continue;
    }
    const prefixBits = (byte & 0xc0) === 0x40 ? 6 : 4;
    const index = integer(prefixBits);
    if (index === undefined) return { error: 'a truncated integer' };
    let name: string | undefined;
    if (index === 0) {
      const literal = string();
      if (!literal) return { error: 'a truncated name' };
      name = literal.text;
    } else {
      const entry = STATIC_TABLE[index - 1];
      if (!entry) return { error: `name index ${index} (not in the static table)` };
      name = entry[0];
    }
    const value = string();
    if (!value) return { error: 'a truncated value' };
    fields.push({ name, value: value.text });
  }
  return { fields };
}

export interface StreamSeen {
  /** Header blocks received (response heads, then trailers). */
  readonly blocks: DecodedField[][];
  status: number | undefined;
  readonly body: Buffer[];
  ended: boolean;
  resetCode: number | undefined;
}

export interface H2Exchange {
  alpn: string | false | null;
  readonly frames: Frame[];
  readonly streams: Map<number, StreamSeen>;
  goaway: { lastStreamId: number; errorCode: number; debug: string } | undefined;
  pingAcked: boolean;
  closed: boolean;
  timedOut: boolean;
  /** Frames or header blocks from the server that are not well-formed. */
  readonly errors: string[];
  ms: number;
}

const PING_MARK = Buffer.from('fuzzdone', 'latin1');

/**
 * One HTTP/2 connection over TLS (ALPN h2) to 127.0.0.1:port: sends the preface, SETTINGS
 * (HEADER_TABLE_SIZE 0, ENABLE_PUSH 0), `input`, then (unless `truncatedTail`: the input ends inside a
 * frame) a PING. Collects and checks the server's frames until it closes, sends GOAWAY with an error, or
 * has answered the PING and finished (END_STREAM or RST_STREAM) every stream in `obligations`; or until
 * `timeoutMs`. `session`: a TLS session to resume (saves the RSA handshake); the newest is passed to `onSession`.
 */
export function exchangeH2(
  port: number,
  input: Buffer,
  options: { obligations: readonly number[]; truncatedTail: boolean; timeoutMs: number; ca: string; session: Buffer | undefined; onSession: (session: Buffer) => void },
): Promise<H2Exchange> {
  const started = performance.now();
  const seen: H2Exchange = { alpn: null, frames: [], streams: new Map(), goaway: undefined, pingAcked: false, closed: false, timedOut: false, errors: [], ms: 0 };
  return new Promise((resolvePromise) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], ca: options.ca, ...(options.session ? { session: options.session } : {}) });
    socket.on('session', (session: Buffer) => options.onSession(session));
    let buffer: Buffer = Buffer.alloc(0);
    let finished = false;
    let lastFrameAt = performance.now();
    let block: { streamId: number; parts: Buffer[]; endStream: boolean } | undefined;
    let sawSettings = false;
    let sent = false;
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearInterval(ticker);
      seen.timedOut = timedOut;
      seen.ms = performance.now() - started;
      socket.destroy();
      resolvePromise(seen);
    };
    const timer = setTimeout(() => finish(true), options.timeoutMs);
    const stream = (id: number): StreamSeen => {
      let s = seen.streams.get(id);
      if (!s) {
        s = { blocks: [], status: undefined, body: [], ended: false, resetCode: undefined };
        seen.streams.set(id, s);
      }
      return s;
    };
    const obligationsMet = () => options.obligations.every((id) => {
      const s = seen.streams.get(id);
      return s !== undefined && (s.ended || s.resetCode !== undefined);
    });
    const maybeDone = () => {
      if (seen.closed) return finish(false);
      if (!sent || !sawSettings) return;
      if (seen.goaway && seen.goaway.errorCode !== ErrorCode.NO_ERROR) return setTimeout(() => finish(false), 3);
      if (seen.goaway && obligationsMet()) return setTimeout(() => finish(false), 3);
      if ((seen.pingAcked || options.truncatedTail) && obligationsMet()) {
        // After the PING's answer, give responses a moment; without a PING, wait for 30 ms of silence.
        const wait = options.truncatedTail ? 30 : 3;
        if (performance.now() - lastFrameAt >= wait) finish(false);
      }
    };
    const ticker = setInterval(maybeDone, 2);
    const endBlock = (streamId: number, endStream: boolean, parts: Buffer[]) => {
      const decoded = hpackDecode(Buffer.concat(parts));
      if ('error' in decoded) {
        seen.errors.push(`stream ${streamId}: a header block that is not valid HPACK: ${decoded.error}`);
        return;
      }
      const s = stream(streamId);
      s.blocks.push(decoded.fields);
      if (s.blocks.length === 1) {
        const statuses = decoded.fields.filter((f) => f.name === ':status');
        const status = statuses[0]?.value;
        if (statuses.length !== 1 || decoded.fields[0]?.name !== ':status' || status === undefined || !/^[1-5]\d\d$/.test(status)) {
          seen.errors.push(`stream ${streamId}: a response head without exactly one valid leading :status (${JSON.stringify(decoded.fields)})`);
        } else {
          s.status = Number(status);
          // An informational head is followed by another head.
          if (s.status < 200) s.blocks.pop();
        }
      }
      if (endStream) s.ended = true;
    };
    const onFrame = (f: Frame) => {
      seen.frames.push(f);
      lastFrameAt = performance.now();
      if (!sawSettings && !(f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0)) seen.errors.push(`the server's first frame is type ${f.type}, not SETTINGS`);
      sawSettings = true;
      if (block && f.type !== FrameType.CONTINUATION) seen.errors.push(`a frame of type ${f.type} inside the header block of stream ${block.streamId}`);
      if (f.payload.length > 16_384) seen.errors.push(`a frame of ${f.payload.length} bytes (above SETTINGS_MAX_FRAME_SIZE 16384)`);
      const unpad = (payload: Buffer): Buffer | undefined => {
        if ((f.flags & Flag.PADDED) === 0) return payload;
        const pad = payload[0] ?? 0;
        if (payload.length < 1 + pad) return undefined;
        return payload.subarray(1, payload.length - pad);
      };
      switch (f.type) {
        case FrameType.DATA: {
          const data = unpad(f.payload);
          if (f.streamId === 0 || data === undefined) {
            seen.errors.push('a bad DATA frame');
            break;
          }
          const s = stream(f.streamId);
          s.body.push(data);
          if (f.flags & Flag.END_STREAM) s.ended = true;
          break;
        }
        case FrameType.HEADERS: {
          let fragment = unpad(f.payload);
          if (f.streamId === 0 || f.streamId % 2 === 0 || fragment === undefined) {
            seen.errors.push(`a bad HEADERS frame on stream ${f.streamId}`);
            break;
          }
          if (f.flags & Flag.PRIORITY) fragment = fragment.subarray(5);
          if (f.flags & Flag.END_HEADERS) endBlock(f.streamId, (f.flags & Flag.END_STREAM) !== 0, [fragment]);
          else block = { streamId: f.streamId, parts: [fragment], endStream: (f.flags & Flag.END_STREAM) !== 0 };
          break;
        }
        case FrameType.CONTINUATION: {
          if (!block || block.streamId !== f.streamId) {
            seen.errors.push(`a CONTINUATION on stream ${f.streamId} outside a header block`);
            break;
          }
          block.parts.push(f.payload);
          if (f.flags & Flag.END_HEADERS) {
            const done = block;
            block = undefined;
            endBlock(done.streamId, done.endStream, done.parts);
          }
          break;
        }
        case FrameType.RST_STREAM:
          if (f.streamId === 0 || f.payload.length !== 4) seen.errors.push('a bad RST_STREAM frame');
          else stream(f.streamId).resetCode = f.payload.readUInt32BE(0);
          break;
        case FrameType.SETTINGS:
          if (f.streamId !== 0 || f.payload.length % 6 !== 0) seen.errors.push('a bad SETTINGS frame');
          else if ((f.flags & Flag.ACK) === 0 && !socket.destroyed) socket.write(settingsFrame([], true));
          break;
        case FrameType.PING:
          if (f.streamId !== 0 || f.payload.length !== 8) seen.errors.push('a bad PING frame');
          else if (f.flags & Flag.ACK) {
            if (f.payload.equals(PING_MARK)) seen.pingAcked = true;
          } else if (!socket.destroyed) socket.write(frame(FrameType.PING, Flag.ACK, 0, f.payload));
          break;
        case FrameType.GOAWAY:
          if (f.streamId !== 0 || f.payload.length < 8) seen.errors.push('a bad GOAWAY frame');
          else seen.goaway = { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, errorCode: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString('latin1') };
          break;
        case FrameType.PUSH_PROMISE:
          seen.errors.push('a PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0');
          break;
        default:
          break;
      }
    };
    socket.on('secureConnect', () => {
      seen.alpn = socket.alpnProtocol;
      if (socket.alpnProtocol !== 'h2') {
        seen.errors.push(`ALPN chose ${String(socket.alpnProtocol)}, not h2`);
        return finish(false);
      }
      const ping = options.truncatedTail ? Buffer.alloc(0) : frame(FrameType.PING, 0, 0, PING_MARK);
      socket.write(Buffer.concat([PREFACE, settingsFrame([[0x1, 0], [0x2, 0]]), input, ping]));
      sent = true;
      lastFrameAt = performance.now();
    });
    socket.on('data', (chunk: Buffer) => {
      if (finished) return;
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      while (buffer.length >= 9) {
        const length = buffer.readUIntBE(0, 3);
        if (length > 16_384) {
          seen.errors.push(`a frame header announcing ${length} bytes`);
          buffer = Buffer.alloc(0);
          return finish(false);
        }
        if (buffer.length < 9 + length) break;
        onFrame({ type: buffer[3] ?? 0, flags: buffer[4] ?? 0, streamId: buffer.readUInt32BE(5) & 0x7fffffff, payload: buffer.subarray(9, 9 + length) });
        buffer = buffer.subarray(9 + length);
      }
      maybeDone();
    });
    const onClose = () => {
      seen.closed = true;
      if (buffer.length > 0) seen.errors.push(`the connection closed inside a frame (${buffer.length} bytes)`);
      finish(false);
    };
    socket.on('error', onClose);
    socket.on('close', onClose);
  });
}

/** A frame list for a failure report. */
export function describeFrames(frames: readonly Frame[], max = 40): string {
  const names = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k])) as Record<number, string>;
  const lines = frames.slice(0, max).map((f) => {
    let detail = '';
    if (f.type === FrameType.RST_STREAM && f.payload.length === 4) detail = ` code ${f.payload.readUInt32BE(0)}`;
    if (f.type === FrameType.GOAWAY && f.payload.length >= 8) detail = ` last ${f.payload.readUInt32BE(0)} code ${f.payload.readUInt32BE(4)} ${show(f.payload.subarray(8), 80)}`;
    if (f.type === FrameType.DATA) detail = ` \`${show(f.payload, 60)}\``;
    return `${names[f.type] ?? `type ${f.type}`} flags 0x${f.flags.toString(16)} stream ${f.streamId} (${f.payload.length} B)${detail}`;
  });
  return lines.join('; ') + (frames.length > max ? `; … ${frames.length - max} more` : '');
}

// ---------------------------------------------------------------------------------------------
// Generators shared by both fuzzers

/** Spellings a lenient server may read as /admin…: lead + word + tail. */
export const ADMIN_LEADS = ['/', '//', '///', '/./', '/x/../', '/public/../', '/public/..;/', '/..;/', '/../', '/../../', '/%2e/', '/%2e%2e/', '/.%2e/', '/%2E%2E/', '\\', '/\\', '%2F', '/%2F', '/%2f', '%5C', '/%5c', '/;x/', '/x/%2e%2e/', '/x;y/../', '/x/..%2f', '/x/..%5c', '/x/..\\', '/%252e%252e/', '/x/../../', '/x/.%2E/', '/%2e/./', '/public/.%2e;/'] as const;
export const ADMIN_WORDS = ['admin', 'ADMIN', 'Admin', 'aDmIn', '%61dmin', '%61%64%6d%69%6e', 'a%64min', '%41dmin', 'adm%69n', 'ad%6Din', '%2561dmin', 'admin%00', 'adm%C0%AFin', 'admi%6E'] as const;
export const ADMIN_TAILS = ['', '/', '/x', '/x/y', ';x/', ';x/y', ';', '/.', '/./x', '/x/..', '?q=1', '/x?q=%2F', '#frag', '/#', '%2F', '%2Fx', '%5Cx', '\\x', '/%00', '%00', '/x%23', ';jsessionid=1/x', '//x', '/..;/x', '.', '%20', '/x%09', '/%2e', '/%2e%2e/admin/x'] as const;
export const adminSpelling = fc.tuple(fc.constantFrom(...ADMIN_LEADS), fc.constantFrom(...ADMIN_WORDS), fc.constantFrom(...ADMIN_TAILS)).map(([lead, word, tail]) => lead + word + tail);
/** A header name with its case changed (0 as is, 1 lower, 2 upper, 3 mixed by `mask`) and some `-` read as `_` (by `mask`). */
export function respell(base: string, caseMode: number, mask: number): string {
  let out = '';
  let dash = 0;
  [...base].forEach((ch, i) => {
    if (ch === '-') {
      out += (mask >> dash++) & 1 ? '_' : '-';
      return;
    }
    if (caseMode === 1) out += ch.toLowerCase();
    else if (caseMode === 2) out += ch.toUpperCase();
    else if (caseMode === 3) out += (mask >> (8 + (i % 8))) & 1 ? ch.toUpperCase() : ch.toLowerCase();
    else out += ch;
  });
  return out;
}
export const spelled = (bases: readonly string[]) => fc.tuple(fc.constantFrom(...bases), fc.nat(3), fc.nat(0xffff)).map(([base, caseMode, mask]) => respell(base, caseMode, mask));


// ---------------------------------------------------------------------------------------------
// Running a property

export interface FuzzStats {
  runs: number;
  ms: number;
  statuses: Map<string, number>;
}

export function newStats(): FuzzStats {
  return { runs: 0, ms: 0, statuses: new Map() };
}

export function countStatus(stats: FuzzStats, key: string): void {
  stats.statuses.set(key, (stats.statuses.get(key) ?? 0) + 1);
}

export function describeStats(name: string, stats: FuzzStats): string {
  const statuses = [...stats.statuses.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${k}×${v}`).join(' ');
  return `${name}: ${stats.runs} inputs in ${(stats.ms / 1000).toFixed(1)} s (${(stats.ms / Math.max(1, stats.runs)).toFixed(1)} ms each); answers: ${statuses}`;
}

/** GATEHOUSE_FUZZ_SHRINK=1: shrink a counterexample (slower; Gatehouse is restarted after each crash). */
export const SHRINK = process.env['GATEHOUSE_FUZZ_SHRINK'] === '1';
/**
 * GATEHOUSE_FUZZ_SURVEY=1: do not stop at the first failing input; run all inputs and list every class of
 * problem found, each with its smallest input (the test still fails when any was found).
 */
export const SURVEY = process.env['GATEHOUSE_FUZZ_SURVEY'] === '1';

/** What checking one input found. */
export interface Checked {
  readonly problems: readonly Problem[];
  /** The input, the answer and what the backend received, for a failure report. */
  report(): string;
  /** Input size, to keep the smallest example of each problem class in a survey. */
  readonly size: number;
}

/**
 * fc.assert over `check` with a fixed seed and numRuns (and a time budget); a failure names the file,
 * property, seed and numRuns so the run can be repeated.
 */
export async function runProperty<T>(options: {
  readonly file: string;
  readonly name: string;
  readonly seed: number;
  readonly numRuns: number;
  readonly budgetMs: number;
  readonly arbitrary: fc.Arbitrary<T>;
  readonly check: (input: T) => Promise<Checked>;
  readonly stats: FuzzStats;
  diagnostic(message: string): void;
}): Promise<void> {
  const { file, name, seed, numRuns } = options;
  const survey = new Map<string, { count: number; size: number; example: string }>();
  const header = `[${file} ${name}] seed ${seed}, numRuns ${numRuns}; rerun the file to repeat this run (GATEHOUSE_FUZZ_SHRINK=1 shrinks, GATEHOUSE_FUZZ_SURVEY=1 lists every kind of failure)`;
  try {
    await fc.assert(
      fc.asyncProperty(options.arbitrary, async (input) => {
        const checked = await options.check(input);
        if (checked.problems.length === 0) return;
        const report = () => `${checked.report()}\nproblems:\n${checked.problems.map((p) => `  - [${p.code}] ${p.text}`).join('\n')}`;
        if (!SURVEY) throw new Error(report());
        for (const code of new Set(checked.problems.map((p) => p.code))) {
          const seen = survey.get(code);
          if (!seen) survey.set(code, { count: 1, size: checked.size, example: report() });
          else {
            seen.count++;
            if (checked.size < seen.size) Object.assign(seen, { size: checked.size, example: report() });
          }
        }
      }),
      { seed, numRuns, endOnFailure: !SHRINK, includeErrorInReport: true, interruptAfterTimeLimit: SHRINK || SURVEY ? 300_000 : options.budgetMs },
    );
  } catch (error) {
    throw new Error(`${header}\n${(error as Error).message}`);
  } finally {
    const cut = options.stats.runs < numRuns ? ` — ${options.stats.runs} of ${numRuns} inputs (stopped at the first failure or by the ${options.budgetMs} ms budget)` : '';
    options.diagnostic(`${describeStats(name, options.stats)}${cut}`);
  }
  if (survey.size > 0) {
    const lines = [...survey.entries()].sort((a, b) => b[1].count - a[1].count).map(([code, s]) => `=== ${code}: ${s.count} input(s); smallest:\n${s.example}`);
    throw new Error(`${header}\n${survey.size} kind(s) of problem:\n${[...survey.entries()].sort((a, b) => b[1].count - a[1].count).map(([code, s]) => `  ${s.count}× ${code}`).join('\n')}\n\n${lines.join('\n\n')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// A fuzz test file: one gatehouse child for all its properties, inputs run one at a time

export interface FuzzFileOptions {
  /** The file's name in failure reports (`fuzz-http1`). */
  readonly file: string;
  /** The seed of the file; property k uses seed + k. */
  readonly seed: number;
  /** Each property stops after this long. */
  readonly budgetMs: number;
  /** And all properties of the file together after this long (the fixed-seed sequence is then run up to where time ran out). */
  readonly fileBudgetMs: number;
  /** A plain request checks that Gatehouse still proxies, every this many inputs. */
  readonly probeEvery: number;
  /** The door the inputs go to: HTTP/1.x on the http binding, or HTTP/2 on the https binding. */
  readonly door: 'http1' | 'h2';
}

/**
 * The shared part of a fuzz test file, registered as its before hook (start the gatehouse child and its
 * recording backend) and after hook (stop them): the run numbers, the time budget of the file's
 * properties, and the checks every input gets whatever the protocol (`FuzzRun`).
 */
export class FuzzFile {
  /** The number of the last input (or final probe). */
  run = 0;
  #gatehouse: FuzzGatehouse | undefined;
  /** The previous input's report, for a crash noticed only at the next input. */
  #previousReport = '(none)';
  /** The dead child whose death a check already reported. */
  #reportedDeath: unknown;
  #started = 0;

  constructor(readonly options: FuzzFileOptions) {
    before(async () => {
      this.#gatehouse = await FuzzGatehouse.create();
      this.#started = performance.now();
    });
    after(async () => {
      await this.#gatehouse?.stop();
    });
  }

  get gatehouse(): FuzzGatehouse {
    if (!this.#gatehouse) throw new Error(`${this.options.file}: the gatehouse is read before the file's before hook ran`);
    return this.#gatehouse;
  }

  /** The plain request of the liveness probes, on the file's door; problems as text. */
  probe(run: number): Promise<string[]> {
    return this.options.door === 'http1' ? this.gatehouse.probeHttp1(run) : this.gatehouse.probeHttp2(run);
  }

  /**
   * Starts one input: a death noticed only now happened after the previous input was judged (a late crash:
   * blamed on that one); restarts the child if needed, numbers the run and notes what the backend had.
   */
  async begin(): Promise<FuzzRun> {
    const gatehouse = this.gatehouse;
    const diedBefore = gatehouse.alive || gatehouse.current === this.#reportedDeath ? undefined : gatehouse.describeExit();
    await gatehouse.ensureRunning();
    const started = performance.now();
    return new FuzzRun(this, ++this.run, started, diedBefore === undefined ? [] : [{ code: 'gatehouse died (after the previous input)', text: `gatehouse had died by the time this input was sent, after the previous input was judged; that input:\n${this.#previousReport}\n${diedBefore}` }]);
  }

  /** Called by `FuzzRun`: the child is dead now; reports its death once. */
  noteDeath(): Problem | undefined {
    const gatehouse = this.gatehouse;
    if (gatehouse.alive) return undefined;
    this.#reportedDeath = gatehouse.current;
    return { code: 'gatehouse died', text: gatehouse.describeExit() };
  }

  /** Called by `FuzzRun`: the report of the input just judged. */
  judged(report: string): void {
    this.#previousReport = report;
  }

  /** One property: `runProperty` with the file's seed + `offset` and what is left of the time budgets. */
  async property<T>(t: { diagnostic(message: string): void }, name: string, offset: number, numRuns: number, arbitrary: fc.Arbitrary<T>, check: (input: T, stats: FuzzStats) => Promise<Checked>): Promise<void> {
    const { file, seed, budgetMs, fileBudgetMs } = this.options;
    const stats = newStats();
    try {
      await runProperty({ file, name, seed: seed + offset, numRuns, budgetMs: Math.max(1_000, Math.min(budgetMs, fileBudgetMs - (performance.now() - this.#started))), arbitrary, check: (input) => check(input, stats), stats, diagnostic: (message) => t.diagnostic(message) });
    } finally {
      if (this.gatehouse.deaths.length > 0) t.diagnostic(`gatehouse died ${this.gatehouse.deaths.length} time(s) so far (restarted each time)`);
    }
  }

  /** The file's last test: the process is alive, a plain request still gets the backend, and it never died. */
  async assertSurvived(): Promise<void> {
    assert.ok(this.gatehouse.alive, this.gatehouse.describeExit());
    assert.deepEqual(await this.probe(++this.run), []);
    assert.deepEqual(this.gatehouse.deaths, [], 'gatehouse died during the fuzzing (and was restarted)');
  }
}

/** One input of a fuzz file in progress: its run number, where the backend's records stood, its problems. */
export class FuzzRun {
  readonly backend: RecordingBackend;
  readonly problems: Problem[];
  /** What the backend received for this input (set by `checkBackend`). */
  added: readonly BackendRequest[] = [];
  readonly #firstRequest: number;
  readonly #firstAnomaly: number;
  readonly #firstByte: number;

  constructor(readonly file: FuzzFile, readonly run: number, readonly started: number, problems: Problem[]) {
    this.problems = problems;
    this.backend = file.gatehouse.backend;
    this.backend.currentRun = run;
    this.#firstRequest = this.backend.requests.length;
    this.#firstAnomaly = this.backend.anomalies.length;
    this.#firstByte = this.backend.bytes;
  }

  add(code: string, text: string): void {
    this.problems.push({ code, text });
  }

  /** After the exchange: waits until the backend is quiet, then notes the child's death. */
  async settle(): Promise<void> {
    await this.backend.quiet(4, 100);
    const death = this.file.noteDeath();
    if (death) this.problems.push(death);
  }

  /** Checks every request the backend received for this input (checkForwarded) and every anomaly; returns the requests. */
  checkBackend(): readonly BackendRequest[] {
    this.added = this.backend.requests.slice(this.#firstRequest);
    for (const request of this.added) if (!request.isProbe) this.problems.push(...checkForwarded(request, this.file.options.door === 'http1' ? 'http' : 'https'));
    for (const anomaly of this.backend.anomalies.slice(this.#firstAnomaly)) this.problems.push(checkAnomaly(anomaly));
    return this.added;
  }

  /**
   * Ends the input: the liveness probe every `probeEvery` inputs (when nothing failed yet), the stats (`key`:
   * what came back), and the result, whose report is `report` and then what the backend received.
   */
  async finish(stats: FuzzStats, key: string, size: number, report: () => readonly string[]): Promise<Checked> {
    const { run, backend } = this;
    if (run % this.file.options.probeEvery === 0 && this.problems.length === 0) {
      for (const p of await this.file.probe(run)) this.add(this.file.options.door === 'http1' ? 'probe: plain GET failed' : 'probe: plain HTTP/2 GET failed', p);
    }
    stats.runs++;
    stats.ms += performance.now() - this.started;
    countStatus(stats, key);
    const result: Checked = {
      problems: this.problems,
      size,
      report: () => [...report(), `backend received for this input (${backend.bytes - this.#firstByte} bytes): ${this.added.length === 0 ? 'nothing' : this.added.map((q) => `#${q.seq} \`${show(q.head, 400)}\``).join(' ; ')}`].join('\n'),
    };
    this.file.judged(result.report());
    return result;
  }
}
