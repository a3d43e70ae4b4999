/**
 * One measurement: a load generator pinned to CPU 1 against a URL, with the proxy's process CPU time
 * and both CPUs' busy share read from /proc around it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpuSeconds, cpuTimes, pinned } from './proc.js';

export interface Sample {
  rps: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx responses plus socket errors. */
  errors: number;
  /** Proxy CPU µs per request (user + system of its processes / requests); undefined without a proxy. */
  cpuUsPerRequest: number | undefined;
  /** Busy share of CPU 0 (proxy) and CPU 1 (generator + backends), 0..1. */
  cpu0: number;
  cpu1: number;
  /** Share of TLS handshakes that resumed a session (from the wrk shim), when known. */
  resumed: number | undefined;
  /** CPU seconds used by the load generator itself, and the sample's length in seconds. */
  generatorCpu: number;
  seconds: number;
}

/** CPU seconds of the children this process has waited for (cutime + cstime): spawnSync reaps the generator. */
function reapedChildrenCpu(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

export interface ClientCert {
  cert: string;
  key: string;
  ca: string;
}

export interface Load {
  url: string;
  connections: number;
  seconds: number;
  /** Present the client certificate (through the wrk shim, or bench/mtls-load.ts without it). */
  clientCert?: ClientCert;
  /** `Connection: close` on every request: one new connection (TLS handshake) per request. */
  close?: boolean;
  /** Let the client resume its previous TLS session on a new connection. */
  resume?: boolean;
  /** A wrk Lua script (the upload scenario). */
  script?: string;
}

export interface Generator {
  /** Path of the compiled wrk shim, undefined when it could not be built. */
  shim: string | undefined;
  dist: string;
  tmp: string;
}

let statsCounter = 0;

function busyShares(before: { busy: number; total: number }[], after: { busy: number; total: number }[]): [number, number] {
  const share = (i: number) => {
    const b = before[i];
    const a = after[i];
    if (!a || !b || a.total === b.total) return 0;
    return (a.busy - b.busy) / (a.total - b.total);
  };
  return [share(0), share(1)];
}

function parseWrk(out: string): { requests: number; rps: number; p99Ms: number; errors: number } {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99Ms = p99 ? Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return { requests, rps, p99Ms, errors: non2xx + socketErrors };
}

/** Runs one load and returns its sample. `proxyPids`: the processes whose CPU time is charged. */
export function measure(load: Load, gen: Generator, proxyPids: number[] | undefined): Sample {
  const cpuBefore = proxyPids ? cpuSeconds(proxyPids) : 0;
  const timesBefore = cpuTimes();
  const generatorBefore = reapedChildrenCpu();
  let result: { requests: number; rps: number; p99Ms: number; errors: number };
  let resumed: number | undefined;
  const timeout = (load.seconds + 30) * 1000;
  if (load.clientCert && !gen.shim) {
    // Fallback: an undici pool presenting the certificate.
    const args = [join(gen.dist, 'bench/mtls-load.js'), load.url, load.clientCert.cert, load.clientCert.key, load.clientCert.ca, String(load.connections), String(load.seconds), ...(load.close ? ['close'] : [])];
    const [cmd, argv] = pinned(1, process.execPath, args);
    const run = spawnSync(cmd, argv, { encoding: 'utf8', timeout });
    if (run.status !== 0) throw new Error(`mtls-load failed: ${run.stderr || run.error?.message}`);
    const json = JSON.parse(run.stdout) as { requests: number; errors: number; seconds: number; p99Ms: number };
    result = { requests: json.requests, rps: json.requests / json.seconds, p99Ms: json.p99Ms, errors: json.errors };
  } else {
    const args = ['-t1', `-c${load.connections}`, `-d${load.seconds}s`, '--timeout', '10s', '--latency'];
    if (load.close) args.push('-H', 'Connection: close');
    if (load.script) args.push('-s', load.script);
    args.push(load.url);
    const env: NodeJS.ProcessEnv = { ...process.env };
    const statsFile = join(gen.tmp, `wrk-tls-${process.pid}-${statsCounter++}.txt`);
    if (load.clientCert && gen.shim) {
      Object.assign(env, { LD_PRELOAD: gen.shim, WRK_CLIENT_CERT: load.clientCert.cert, WRK_CLIENT_KEY: load.clientCert.key, WRK_TLS_STATS: statsFile });
      if (load.resume) env.WRK_TLS_RESUME = '1';
    }
    const [cmd, argv] = pinned(1, 'wrk', args);
    const run = spawnSync(cmd, argv, { encoding: 'utf8', timeout, env });
    if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr || run.error?.message}`);
    result = parseWrk(run.stdout);
    if (load.clientCert && gen.shim) {
      try {
        const stats = /handshakes=(\d+) resumed=(\d+)/.exec(readFileSync(statsFile, 'utf8'));
        if (stats && Number(stats[1]) > 0) resumed = Number(stats[2]) / Number(stats[1]);
        rmSync(statsFile, { force: true });
      } catch {
        // no stats: the shim did not run its destructor
      }
    }
  }
  const [cpu0, cpu1] = busyShares(timesBefore, cpuTimes());
  const cpu = proxyPids ? cpuSeconds(proxyPids) - cpuBefore : 0;
  return {
    rps: result.rps,
    p99Ms: result.p99Ms,
    requests: result.requests,
    errors: result.errors,
    cpuUsPerRequest: proxyPids && result.requests ? (cpu * 1e6) / result.requests : undefined,
    cpu0,
    cpu1,
    resumed,
    generatorCpu: reapedChildrenCpu() - generatorBefore,
    seconds: load.seconds,
  };
}
