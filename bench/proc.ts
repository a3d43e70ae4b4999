/**
 * Process plumbing for the benchmark: Debian installs, pinned detached processes stopped by process
 * group, free ports, process-tree CPU time and RSS from /proc, per-CPU busy time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const hasTwoCores = cpus().length >= 2;
export const isRoot = process.getuid?.() === 0;

export function pinned(cpu: number, command: string, args: string[]): [string, string[]] {
  return hasTwoCores ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}

export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** True when `command` can be run (found on PATH or as a path). */
export function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Installs the Debian packages whose `present()` check fails: apt-get update once, then one
 * `apt-get install -y` (with sudo when not root); if that fails, each package alone, so one missing
 * package does not keep the others out. Bounded: every apt-get call has a timeout.
 */
export function ensureDebianPackages(wanted: { pkg: string; present: () => boolean }[]): void {
  const missing = wanted.filter((w) => !w.present()).map((w) => w.pkg);
  if (missing.length === 0) return;
  log(`installing from Debian: ${missing.join(' ')}`);
  const sudo = isRoot ? [] : ['sudo', '-n'];
  const apt = (args: string[], timeout: number) => {
    const argv = [...sudo, 'apt-get', ...args];
    return spawnSync(argv[0] as string, argv.slice(1), {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', CI: 'true' },
      timeout,
    }).status === 0;
  };
  apt(['update', '-qq'], 180_000);
  const opts = ['install', '-y', '-qq', '--no-install-recommends'];
  if (!apt([...opts, ...missing], 300_000)) for (const pkg of missing) apt([...opts, pkg], 180_000);
  for (const w of wanted) if (!w.present()) log(`${w.pkg}: not installed (the scenarios that need it are skipped)`);
}

const groups = new Set<number>();

/** Spawns a pinned process in its own process group (so stopAll can kill it and its children). */
export function startProcess(cpu: number, command: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const [cmd, argv] = pinned(cpu, command, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: env ?? process.env });
  if (child.pid !== undefined) groups.add(child.pid);
  const tail: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    tail.push(chunk.toString());
    if (tail.length > 20) tail.shift();
  });
  (child as ChildProcess & { stderrTail: () => string }).stderrTail = () => tail.join('');
  child.once('exit', () => {
    if (child.pid !== undefined) groups.delete(child.pid);
  });
  return child;
}

export function stderrTail(child: ChildProcess): string {
  return (child as ChildProcess & { stderrTail?: () => string }).stderrTail?.() ?? '';
}

/** Kills the process group of `child` (the process and what it forked). */
export function stopProcess(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  groups.delete(child.pid);
}

/** Kills the process group of every process started by startProcess that is still running. */
export function stopAll(): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
}

/** Resolves with every stdout line read until one matches `ready` (rejects after `timeoutMs` or on exit). */
export function waitForLine(child: ChildProcess, ready: RegExp, timeoutMs = 20_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    const timer = setTimeout(() => reject(new Error(`not ready within ${timeoutMs} ms: ${seen.join(' | ')} ${stderrTail(child)}`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready: ${stderrTail(child)}`));
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      seen.push(line);
      if (ready.test(line)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
  });
}

/** Resolves when every port accepts a TCP connection (rejects after `timeoutMs`, or when `child` exits). */
export async function waitForPorts(ports: number[], child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode}: ${stderrTail(child)}`);
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`port ${port} not listening within ${timeoutMs} ms: ${stderrTail(child)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** An ephemeral port that was free a moment ago (for peers whose config needs a number). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function statFields(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ');
  } catch {
    return undefined;
  }
}

/** `root` and every process descending from it. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(statFields(Number(entry))?.[1]);
    if (Number.isFinite(ppid)) parent.set(Number(entry), ppid);
  }
  const tree = [root];
  for (let changed = true; changed; ) {
    changed = false;
    for (const [pid, ppid] of parent) {
      if (!tree.includes(pid) && tree.includes(ppid)) {
        tree.push(pid);
        changed = true;
      }
    }
  }
  return tree.filter((pid) => existsSync(`/proc/${pid}`));
}

/** CPU seconds (user + system) used by the processes, from /proc. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

/** Resident memory of the processes in MB, from /proc/PID/status. */
export function rssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

/** Busy and total jiffies per CPU (cpu0, cpu1, ...) from /proc/stat. */
export function cpuTimes(): { busy: number; total: number }[] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((line) => /^cpu\d+ /.test(line))
    .map((line) => {
      const v = line.split(/\s+/).slice(1).map(Number);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      return { busy: total - idle, total };
    });
}

/**
 * Compiles bench/wrk-client-cert.c (the LD_PRELOAD shim that makes wrk present a client certificate) into
 * `dir`. Returns its path, or why it could not be built.
 */
export function compileWrkShim(root: string, dir: string): { path: string } | { error: string } {
  const compiler = have('cc') ? 'cc' : have('gcc') ? 'gcc' : undefined;
  if (!compiler) return { error: 'no C compiler' };
  const out = join(dir, 'wrk-client-cert.so');
  const cc = spawnSync(compiler, ['-O2', '-shared', '-fPIC', '-o', out, join(root, 'bench/wrk-client-cert.c'), '-ldl', '-lssl', '-lcrypto'], { encoding: 'utf8', timeout: 60_000 });
  if (cc.status !== 0) return { error: (cc.stderr || cc.error?.message || '').split('\n')[0] ?? 'cc failed' };
  return { path: out };
}
