/**
 * Helpers for the end-to-end tests of `gatehouse cert`, `gatehouse demo` and the backend library: the
 * CLI and openssl/curl as real child processes (bounded), file modes, plain HTTP requests sent straight
 * to a backend, and servers that listen on 127.0.0.1 port 0.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli, type CliResult } from './cli-helpers.js';
import { within } from '../support/within.js';

/** `gatehouse ARGS…` in `cwd` (bounded: runCli's 20 s by default). */
export function gatehouse(cwd: string, ...args: string[]): Promise<CliResult> {
  return runCli(args, { cwd, timeoutMs: 60_000 });
}

/** Asserts exit 0 and returns the result (the output is in the failure message). */
export async function gatehouseOk(cwd: string, ...args: string[]): Promise<CliResult> {
  const result = await gatehouse(cwd, ...args);
  assert.equal(result.code, 0, `gatehouse ${args.join(' ')} exited ${result.code}\n--- stdout ---\n${result.stdout}--- stderr ---\n${result.stderr}`);
  return result;
}

export interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program in `cwd` with a bounded run time; resolves with its exit code (never rejects on non-zero). */
export function runIn(cwd: string, file: string, args: readonly string[], timeoutMs = 30_000): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        if (error.killed) return reject(new Error(`${file} ${args.join(' ')} did not finish within ${timeoutMs} ms (killed)\n${stdout}\n${stderr}`));
        return reject(error);
      }
      resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
    });
  });
}

/** `openssl ARGS…` in `cwd`. */
export function openssl(cwd: string, ...args: string[]): Promise<ProgramResult> {
  return runIn(cwd, 'openssl', args);
}

/** `openssl ARGS…`, asserting exit 0; returns stdout. */
export async function opensslOk(cwd: string, ...args: string[]): Promise<string> {
  const result = await openssl(cwd, ...args);
  assert.equal(result.code, 0, `openssl ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** openssl's fingerprint of a certificate file as upper-case hex without colons. */
export async function opensslFingerprint(cwd: string, file: string, digest: 'sha1' | 'sha256'): Promise<string> {
  const out = await opensslOk(cwd, 'x509', '-in', file, '-noout', '-fingerprint', `-${digest}`);
  const match = /Fingerprint=([0-9A-Fa-f:]+)/.exec(out);
  assert.ok(match, `no fingerprint in: ${out}`);
  return (match[1] as string).replace(/:/g, '').toUpperCase();
}

/** openssl's view of a certificate's subjectAltName entries, e.g. ['DNS:localhost', 'IP Address:127.0.0.1']. */
export async function opensslSans(cwd: string, file: string): Promise<string[]> {
  const out = await opensslOk(cwd, 'x509', '-in', file, '-noout', '-ext', 'subjectAltName');
  const body = out.split('\n').slice(1).join(' ').trim();
  return body === '' ? [] : body.split(',').map((s) => s.trim());
}

/** The serial of a certificate file per openssl: upper-case hex, leading zeros removed. */
export async function opensslSerial(cwd: string, file: string): Promise<string> {
  const out = await opensslOk(cwd, 'x509', '-in', file, '-noout', '-serial');
  const match = /serial=([0-9A-Fa-f]+)/.exec(out);
  assert.ok(match, `no serial in: ${out}`);
  return normalizeSerial(match[1] as string);
}

export function normalizeSerial(hex: string): string {
  return hex.replace(/:/g, '').toUpperCase().replace(/^0+(?=.)/, '');
}

/** Permission bits of a file (e.g. 0o600). */
export async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

/** Asserts a file's permission bits are exactly 0600. */
export async function assertMode0600(file: string): Promise<void> {
  const mode = await modeOf(file);
  assert.equal(mode, 0o600, `${file} has mode ${mode.toString(8)}, expected 600`);
}

/** The first certificate of a PEM text (a leaf followed by its chain). */
export function leafOfPem(pem: string): X509Certificate {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  assert.ok(block, 'no PEM certificate');
  return new X509Certificate(block[0]);
}

/** The value of a `label   value` line of the CLI's output (first match), e.g. valueOf(out, 'SHA-1'). */
export function valueOf(output: string, label: string): string {
  const line = output.split('\n').find((l) => l.startsWith(`${label} `));
  assert.ok(line !== undefined, `no "${label}" line in:\n${output}`);
  return line.slice(label.length).trim();
}

/** Starts a node:http server (or anything listening like one) on 127.0.0.1 port 0; resolves with its port. */
export async function listenLocal(server: Server): Promise<number> {
  await within(
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    }),
    10_000,
    'a server to listen on 127.0.0.1',
  );
  return (server.address() as AddressInfo).port;
}

/** Closes a node:http server and its connections (bounded). */
export function closeServer(server: Server): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
    10_000,
    'a server to close',
  );
}

export interface DirectResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A plain HTTP request sent straight to 127.0.0.1:port (bypassing Gatehouse), with exactly `headers`
 * (an object, or a flat raw [name, value, …] list as node's rawHeaders gives it). One connection, no agent.
 */
export function directRequest(port: number, path: string, headers: OutgoingHttpHeaders | string[] = {}, method = 'GET'): Promise<DirectResponse> {
  return within(
    new Promise<DirectResponse>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false, headers, setHost: !hasHost(headers) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }),
    15_000,
    `direct ${method} 127.0.0.1:${port}${path}`,
  );
}

function hasHost(headers: OutgoingHttpHeaders | string[]): boolean {
  if (Array.isArray(headers)) return headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host');
  return Object.keys(headers).some((h) => h.toLowerCase() === 'host');
}

/** Hop-by-hop and framing headers that must not be copied onto a new request. */
const NOT_COPIED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'te', 'upgrade', 'trailer', 'proxy-connection']);

/** A received request's raw headers (flat list) minus hop-by-hop/framing ones: ready to send again. */
export function replayableHeaders(rawHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (NOT_COPIED.has(name.toLowerCase())) continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  return out;
}

/** The value of a header in a flat raw list (case-insensitive; first). */
export function rawHeader(rawHeaders: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if ((rawHeaders[i] as string).toLowerCase() === name.toLowerCase()) return rawHeaders[i + 1];
  return undefined;
}

/** A flat raw list with one header replaced (or added when absent). */
export function withHeader(rawHeaders: readonly string[], name: string, value: string | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === name.toLowerCase()) continue;
    out.push(rawHeaders[i] as string, rawHeaders[i + 1] as string);
  }
  if (value !== undefined) out.push(name, value);
  return out;
}

export interface CurlRun {
  status: number;
  body: string;
  exitCode: number;
  stderr: string;
}

/**
 * Runs curl with `args` in `cwd`, adding only `-sS --max-time 15` and a `-w` that appends the status on
 * a last line of its own, so a command printed for a user can be run exactly as printed.
 */
export async function curlIn(cwd: string, args: readonly string[]): Promise<CurlRun> {
  const marker = '\n@@gatehouse-test-status=';
  const result = await runIn(cwd, 'curl', [...args, '-sS', '--max-time', '15', '-w', `${marker}%{http_code}`], 30_000);
  const at = result.stdout.lastIndexOf(marker);
  const status = at === -1 ? 0 : Number(result.stdout.slice(at + marker.length).trim());
  return { status, body: at === -1 ? result.stdout : result.stdout.slice(0, at), exitCode: result.code, stderr: result.stderr };
}

/** Every PEM certificate in a text (openssl output, a bundle). */
export function certificatesIn(text: string): X509Certificate[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
}
