/**
 * Helpers for the command-line tests: run the real `bin/gatehouse.js` as a child process, wait for its
 * output lines and exit with bounded timeouts, write config files into temp folders.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { startBackend, type Backend } from '../support/backends.js';

/** The repository root (this file runs from dist/test/integration). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = join(REPO, 'bin', 'gatehouse.js');

export type { TestContextLike } from '../support/temp.js';
import type { TestContextLike } from '../support/temp.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Rejects with `what` when `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
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

/** A running `gatehouse start`, killed after the test if still running. */
export class RunningCli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #waiters = new Set<() => void>();

  constructor(t: TestContextLike, args: readonly string[], cwd: string) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#wake();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#wake();
    });
    this.exited = new Promise((resolvePromise) => {
      this.child.on('close', (code, signal) => {
        this.#exit = { code, signal };
        resolvePromise(this.#exit);
        this.#wake();
      });
    });
    t.after(async () => {
      if (this.#exit) return;
      this.child.kill('SIGKILL');
      await within(this.exited, 10_000, 'killed gatehouse to exit');
    });
  }

  get hasExited(): boolean {
    return this.#exit !== undefined;
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Waits until `stream` matches `pattern`; fails when the process exits first or on timeout. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolvePromise, reject) => {
      const check = () => {
        const match = this[stream].match(pattern);
        if (match) return done(() => resolvePromise(match));
        if (this.#exit) return done(() => reject(new Error(`gatehouse exited (${JSON.stringify(this.#exit)}) before ${stream} matched ${pattern}\n${this.#describe()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${stream} to match ${pattern}\n${this.#describe()}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Waits for the exit (bounded). */
  waitExit(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return within(this.exited, timeoutMs, `gatehouse to exit\n${this.#describe()}`);
  }

  #describe(): string {
    return `--- stdout ---\n${this.stdout}--- stderr ---\n${this.stderr}`;
  }
}

/** Starts `gatehouse start -c config` in `cwd`. */
export function startCli(t: TestContextLike, cwd: string, config?: string): RunningCli {
  return new RunningCli(t, config === undefined ? ['start'] : ['start', '-c', config], cwd);
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

/**
 * The first line (from index `from`) of a child's collected output that matches; rejects naming `what`
 * after `ms`. The lines are pushed by a readline listener; this checks after each turn of the event loop.
 */
export function waitForLine(lines: readonly string[], pattern: RegExp, what: string, from = 0, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  return new Promise<string>((resolve, reject) => {
    const check = () => {
      const found = lines.slice(from).find((l) => pattern.test(l));
      if (found !== undefined) resolve(found);
      else if (Date.now() > deadline) reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      else setImmediate(check);
    };
    check();
  });
}
