/**
 * Helpers for the command-line tests: run the real `bin/gatehouse.js` as a child process, wait for its
 * output lines and exit with bounded timeouts, write config files into temp folders.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { startBackend, type Backend } from '../support/backends.js';
import { BIN, REPO } from '../support/gatehouse.js';
import { within } from '../support/within.js';

import type { TestContextLike } from '../support/temp.js';

export type { TestContextLike };

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Writes `text` to `dir/rel` (creating folders); returns the absolute path. */
export async function writeText(dir: string, rel: string, text: string | Buffer, mode?: number): Promise<string> {
  const full = join(dir, rel);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, text, mode === undefined ? {} : { mode });
  return full;
}

/** 1-based number of the first line of `text` that contains `needle` (fails the test when none does). */
export function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  assert.notEqual(index, -1, `no line contains ${JSON.stringify(needle)}`);
  return index + 1;
}

/** Non-empty lines of an output. */
export function linesOf(output: string): string[] {
  return output.split('\n').filter((line) => line.trim() !== '');
}

/** The contract's problem line: `FILE:LINE key.path: what is wrong (what was expected)`. */
export const PROBLEM_LINE = /^(\S.*):(\d+) ([A-Za-z0-9_.[\]()]+): (.+) \(expected (.+)\)$/;

/** Regex source for a literal string. */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs the CLI to completion (bounded). `command` defaults to node + bin/gatehouse.js. */
export function runCli(
  args: readonly string[],
  options: { cwd: string; timeoutMs?: number; uid?: number; gid?: number; command?: readonly string[]; env?: NodeJS.ProcessEnv } = { cwd: REPO },
): Promise<CliResult> {
  const [file, ...prefix] = options.command ?? [process.execPath, BIN];
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file as string, [...prefix, ...args], {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gatehouse ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** `gatehouse validate -c FILE` (or without -c when `config` is undefined). */
export function validate(cwd: string, config?: string, extra: { uid?: number; gid?: number } = {}): Promise<CliResult> {
  return runCli(config === undefined ? ['validate'] : ['validate', '-c', config], { cwd, ...extra });
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
  return port;
}

/** A TCP server holding a port on 127.0.0.1 until the test ends. */
export async function occupyPort(t: TestContextLike): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  t.after(() => new Promise<void>((resolvePromise) => server.close(() => resolvePromise())));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Resolves when a TCP connection to 127.0.0.1:port is refused; rejects when it is accepted. */
export async function assertRefused(port: number, host = '127.0.0.1'): Promise<void> {
  const { connect } = await import('node:net');
  await within(
    new Promise<void>((resolvePromise, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        reject(new Error(`something accepts connections on ${host}:${port}`));
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED') resolvePromise();
        else reject(error);
      });
    }),
    5_000,
    `connection attempt to ${host}:${port}`,
  );
}

/**
 * Waits (bounded) until connections to 127.0.0.1:port are refused: a process writes its "draining" line
 * a moment before it closes its listening sockets, so a few attempts may still be accepted.
 */
export async function waitUntilRefused(port: number, timeoutMs = 5_000, host = '127.0.0.1'): Promise<void> {
  const { connect } = await import('node:net');
  const attempt = () =>
    new Promise<boolean>((resolvePromise, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolvePromise(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        // ECONNRESET: accepted into the backlog just as the listening socket closed; try again.
        if (error.code === 'ECONNREFUSED') resolvePromise(true);
        else if (error.code === 'ECONNRESET') resolvePromise(false);
        else reject(error);
      });
    });
  let stop = false;
  await within(
    (async () => {
      while (!stop && !(await attempt())) await new Promise((resolvePromise) => setImmediate(resolvePromise));
    })(),
    timeoutMs,
    `connections to ${host}:${port} to be refused`,
  ).finally(() => (stop = true));
}

export interface GetResult {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** GET over http or https (trusting `ca`); one connection, no keep-alive. Rejects on connection errors. */
export function get(url: string, options: { ca?: string | Buffer; timeoutMs?: number } = {}): Promise<GetResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return within(
    new Promise<GetResult>((resolvePromise, reject) => {
      const onResponse = (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => (res.complete ? resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) : reject(new Error('response ended before it was complete'))));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
      };
      const headers = { connection: 'close' };
      const req = url.startsWith('https:')
        ? httpsRequest(url, { ...(options.ca === undefined ? {} : { ca: options.ca }), agent: false, headers }, onResponse)
        : httpRequest(url, { agent: false, headers }, onResponse);
      req.on('error', reject);
      req.end();
    }),
    timeoutMs,
    `GET ${url}`,
  );
}

/**
 * A backend that holds every request until `release()`: `arrived` resolves when the first request has
 * been received in full. The response body is `bodySize` bytes of 'x'.
 */
export async function holdingBackend(t: TestContextLike, bodySize = 256 * 1024): Promise<{ backend: Backend; arrived: Promise<void>; release(): void; body: Buffer }> {
  let arrive!: () => void;
  const arrived = new Promise<void>((resolvePromise) => (arrive = resolvePromise));
  let release!: () => void;
  const released = new Promise<void>((resolvePromise) => (release = resolvePromise));
  const body = Buffer.alloc(bodySize, 'x');
  const backend = await startBackend('slow', (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      arrive();
      void released.then(() => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
        res.end(body);
      });
    });
  });
  t.after(() => backend.close());
  return { backend, arrived, release, body };
}

/** A backend that receives requests and never answers. `arrived` resolves on the first one. */
export async function silentBackend(t: TestContextLike): Promise<{ backend: Backend; arrived: Promise<void> }> {
  let arrive!: () => void;
  const arrived = new Promise<void>((resolvePromise) => (arrive = resolvePromise));
  const backend = await startBackend('silent', (req) => {
    req.resume();
    req.on('end', () => arrive());
  });
  t.after(() => backend.close());
  return { backend, arrived };
}

/** Is `file` readable by this process (root reads mode 000 files)? */
export async function canRead(file: string): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  try {
    await readFile(file);
    return true;
  } catch {
    return false;
  }
}
