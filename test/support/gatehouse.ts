/**
 * Gatehouse for tests, the two ways the tests run it:
 *  - in the test process from YAML text (`startGatehouse`), with its event log captured, on port 0;
 *    `url(site, protocol)` gives the URL a client uses;
 *  - as the real command line, `bin/gatehouse.js`, in a child process (`RunningCli`, `startCli`): its output
 *    collected, waits for output lines and the exit bounded, killed after the test if still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gatehouse, type BoundListener } from '../../src/app.js';
import { loadConfigText } from '../../src/config/load.js';
import type { EventLog } from '../../src/tracing/log.js';
import type { TestContextLike } from './temp.js';
import { within } from './within.js';

/** The repository root (this file runs from dist/test/support). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = join(REPO, 'bin', 'gatehouse.js');
/**
 * How long a test waits for a line of a gatehouse child (its listening lines, a reload): a start loads
 * the code, probes node, and with `workers` forks them; on a loaded CI machine (two test files at once,
 * one of them driving Chromium) that took over 15 s. A line that never comes still fails the test.
 */
export const START_TIMEOUT_MS = 60_000;

export interface RunningGatehouse {
  readonly gatehouse: Gatehouse;
  readonly events: string[];
  readonly bound: BoundListener[];
  /** The config file written for this run (for CLI commands that read it). */
  readonly configFile: string;
  /** The first bound URL of a site with that protocol. */
  url(site: string, protocol?: 'http' | 'https'): string;
  /** Port of the first listener of a site with that protocol. */
  port(site: string, protocol?: 'http' | 'https'): number;
  stop(): Promise<void>;
}

export async function startGatehouse(yaml: string, dir: string): Promise<RunningGatehouse> {
  const file = join(dir, `gatehouse-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, yaml);
  const { config } = await loadConfigText(yaml, file, dir);
  const events: string[] = [];
  const eventLog: EventLog = { info: (m) => events.push(`info ${m}`), warn: (m) => events.push(`warn ${m}`), error: (m) => events.push(`error ${m}`) };
  const gatehouse = await Gatehouse.start(config, { eventLog });
  const bound = gatehouse.bound;
  const find = (site: string, protocol: 'http' | 'https') => {
    const listener = bound.find((l) => l.sites.includes(site) && l.protocol === protocol);
    if (!listener) throw new Error(`no ${protocol} listener for site ${site}`);
    return listener;
  };
  return {
    gatehouse,
    events,
    bound,
    configFile: file,
    url: (site, protocol = 'https') => find(site, protocol).url,
    port: (site, protocol = 'https') => find(site, protocol).port,
    stop: () => gatehouse.stop(1000),
  };
}

// ---------------------------------------------------------------------------------------------
// The command line in a child process

/** A running `gatehouse start`, killed after the test if still running. */
export class RunningCli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #waiters = new Set<() => void>();

  /** `t`: the process is killed (SIGKILL) when it ends, if still running; without one, call `kill()`. */
  constructor(t: TestContextLike | undefined, args: readonly string[], cwd: string = REPO, options: { env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(options.env ? { env: options.env } : {}) });
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
    t?.after(() => this.kill());
  }

  /** SIGKILL if still running, then waits for the exit (bounded). */
  async kill(): Promise<void> {
    if (this.#exit) return;
    this.child.kill('SIGKILL');
    await within(this.exited, 10_000, 'killed gatehouse to exit');
  }

  /** The complete lines of `stream` so far (a line still being written is not one yet). */
  lines(stream: 'stdout' | 'stderr'): string[] {
    const lines = this[stream].split('\n');
    lines.pop();
    return lines;
  }

  /** The first complete line of `stream` (from line index `from`) that matches; fails when the process exits first or on timeout. */
  async waitForLine(stream: 'stdout' | 'stderr', pattern: RegExp, from = 0, timeoutMs = START_TIMEOUT_MS): Promise<string> {
    const find = () => this.lines(stream).slice(from).find((line) => pattern.test(line));
    await this.#until(() => find() !== undefined, `${stream} to have a line (from line ${from}) matching ${pattern}`, timeoutMs);
    return find() as string;
  }

  get hasExited(): boolean {
    return this.#exit !== undefined;
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Waits until `stream` matches `pattern`; fails when the process exits first or on timeout. */
  async waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<RegExpMatchArray> {
    await this.#until(() => pattern.test(this[stream]), `${stream} to match ${pattern}`, timeoutMs);
    return this[stream].match(pattern) as RegExpMatchArray;
  }

  /** Resolves once `isDone()` holds (checked on every output chunk); rejects when the process exits first or after `timeoutMs`. */
  #until(isDone: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      const check = () => {
        if (isDone()) return done(() => resolvePromise());
        if (this.#exit) return done(() => reject(new Error(`gatehouse exited (${JSON.stringify(this.#exit)}) before ${what}\n${this.#describe()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.#describe()}`))), timeoutMs);
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
