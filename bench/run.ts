/**
 * npm run bench: requests/s and proxy CPU per request through Gatehouse against the same load sent
 * directly to a backend, measured side by side in one run.
 *
 * Method: Gatehouse runs as its own process pinned to CPU 0 (`taskset`); the two backends and the load
 * generator share CPU 1. Plain HTTP and TLS keep-alive load comes from wrk (installed from Debian when
 * missing); mTLS keep-alive load (wrk cannot present a client certificate) from bench/mtls-load.ts, an
 * undici pool presenting one. Scenarios are interleaved over ROUNDS rounds; the table shows medians.
 * Proxy CPU per request = Gatehouse's process CPU time (utime+stime from /proc) / requests served.
 * Writes the table to stdout and docs/benchmarks.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createTestPki } from '../test/support/test-pki.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Length of the sample being taken (the warm-up is shorter). */
let SECONDS_NOW = SECONDS;
const CONNECTIONS = 50;
const root = new URL('../../', import.meta.url).pathname;
const dist = join(root, 'dist');
const hasTwoCores = cpus().length >= 2;
const children: ChildProcess[] = [];

function pinned(cpu: number, command: string, args: string[]): [string, string[]] {
  return hasTwoCores ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}

function ensureWrk(): void {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  process.stderr.write('bench: installing wrk from Debian\n');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const run = (args: string[]) => spawnSync(sudo[0] ?? args[0] as string, sudo.length ? args : args.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000 });
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', 'wrk']);
  if (spawnSync('wrk', ['--version']).error !== undefined) throw new Error('bench: wrk is not installed and could not be installed (apt-get install wrk)');
}

/** Starts a process and resolves when a stdout line matches. */
function startUntil(cpu: number, command: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray; lines: string[] }> {
  const [cmd, argv] = pinned(cpu, command, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')}: not ready within 20 s`)), 20_000);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
    const seen: string[] = [];
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      seen.push(line);
      const match = ready.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, lines: seen });
      }
    });
  });
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

function run(cpu: number, command: string, args: string[], timeoutMs: number): string {
  const [cmd, argv] = pinned(cpu, command, args);
  const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: timeoutMs });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

interface Sample {
  rps: number;
  p99Ms: number;
  /** Proxy CPU µs per request; undefined for the direct path. */
  cpuUsPerRequest: number | undefined;
}

function wrkSample(url: string, proxyPid: number | undefined): Sample {
  const before = proxyPid ? cpuSeconds(proxyPid) : 0;
  const out = run(1, 'wrk', ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS_NOW}s`, '--latency', url], (SECONDS_NOW + 30) * 1000);
  const cpu = proxyPid ? cpuSeconds(proxyPid) - before : 0;
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99Ms = p99 ? Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1) : 0;
  return { rps, p99Ms, cpuUsPerRequest: proxyPid && total ? (cpu * 1e6) / total : undefined };
}

function mtlsSample(url: string, proxyPid: number, files: { cert: string; key: string; ca: string }): Sample {
  const before = cpuSeconds(proxyPid);
  const out = run(1, process.execPath, [join(dist, 'bench/mtls-load.js'), url, files.cert, files.key, files.ca, String(CONNECTIONS), String(SECONDS_NOW)], (SECONDS_NOW + 30) * 1000);
  const cpu = cpuSeconds(proxyPid) - before;
  const result = JSON.parse(out) as { requests: number; errors: number; seconds: number; p99Ms: number };
  if (result.errors > 0) throw new Error(`mTLS load: ${result.errors} errors`);
  return { rps: result.requests / result.seconds, p99Ms: result.p99Ms, cpuUsPerRequest: (cpu * 1e6) / result.requests };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  ensureWrk();
  const pki = await createTestPki();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'));
  try {
    const backends = await Promise.all([0, 1].map(() => startUntil(1, process.execPath, [join(dist, 'bench/backend.js'), '0'], /^ready (\d+)/)));
    const backendPorts = backends.map((b) => Number(b.match[1]));
    const config = join(dir, 'gatehouse.yaml');
    await writeFile(
      config,
      `accessLog: off
sites:
  - name: plain
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: bench
  - name: traced
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: bench
    tracing:
      directory: ${dir}/traces
      rules: [{ path: /never-requested/*, statusCodes: '500-599' }]
  - name: tls
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    farm: bench
  - name: mtls
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: bench
farms:
  - name: bench
    servers:
${backendPorts.map((port) => `      - address: 127.0.0.1:${port}`).join('\n')}
`,
    );
    const gatehouse = await startUntil(0, process.execPath, [join(root, 'bin/gatehouse.js'), 'start', '-c', config], /listening https:\/\/127\.0\.0\.1:(\d+) \(site mtls\)/);
    const proxyPid = gatehouse.child.pid as number;
    const urls = new Map<string, string>();
    for (const line of gatehouse.lines) {
      const match = /^listening (\S+) \(site (\w+)\)/.exec(line);
      if (match) urls.set(match[2] as string, match[1] as string);
    }
    const direct = `http://127.0.0.1:${backendPorts[0]}/`;
    const scenarios: [name: string, sample: () => Sample][] = [
      ['direct to a backend (HTTP keep-alive)', () => wrkSample(direct, undefined)],
      ['Gatehouse, HTTP keep-alive', () => wrkSample(`${urls.get('plain')}/`, proxyPid)],
      ['Gatehouse, HTTP keep-alive, tracing on (no rule matches)', () => wrkSample(`${urls.get('traced')}/`, proxyPid)],
      ['Gatehouse, TLS keep-alive', () => wrkSample(`${urls.get('tls')}/`, proxyPid)],
      ['Gatehouse, mTLS keep-alive (client cert required)', () => mtlsSample(`${urls.get('mtls')}`, proxyPid, { cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile, ca: pki.caFile })],
    ];
    const samples = new Map<string, Sample[]>(scenarios.map(([name]) => [name, []]));
    // Warm-up, not recorded: the JIT and the keep-alive pools see the path first.
    const seconds = SECONDS;
    SECONDS_NOW = 1;
    for (const [, sample] of scenarios) sample();
    SECONDS_NOW = seconds;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, sample] of scenarios) {
        const s = sample();
        samples.get(name)?.push(s);
        process.stderr.write(`round ${round}/${ROUNDS} ${name}: ${Math.round(s.rps)} req/s, p99 ${s.p99Ms.toFixed(2)} ms${s.cpuUsPerRequest ? `, ${s.cpuUsPerRequest.toFixed(1)} µs CPU/request` : ''}\n`);
      }
    }
    const directRps = median((samples.get(scenarios[0]?.[0] as string) ?? []).map((s) => s.rps));
    const rows = scenarios.map(([name]) => {
      const list = samples.get(name) ?? [];
      const rps = median(list.map((s) => s.rps));
      const p99 = median(list.map((s) => s.p99Ms));
      const cpu = list[0]?.cpuUsPerRequest === undefined ? undefined : median(list.map((s) => s.cpuUsPerRequest as number));
      return { name, rps, p99, cpu, ratio: rps / directRps };
    });
    const table = [
      '| Scenario | req/s (median) | × direct | p99 latency | Gatehouse CPU per request |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.name} | ${Math.round(r.rps)} | ${r.ratio.toFixed(2)} | ${r.p99.toFixed(2)} ms | ${r.cpu === undefined ? '—' : `${r.cpu.toFixed(1)} µs`} |`),
    ].join('\n');
    const plainCpu = rows.find((r) => r.name === 'Gatehouse, HTTP keep-alive')?.cpu;
    const tracedCpu = rows.find((r) => r.name.includes('tracing on'))?.cpu;
    const tracingLine = plainCpu && tracedCpu ? `Tracing cost: CPU per request with tracing on and no rule matching / tracing off = ${(tracedCpu / plainCpu).toFixed(3)}` : '';
    process.stdout.write(`\n${table}\n\n${tracingLine}\n`);
    const doc = `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts); rerun it to refresh. Figures drift on a shared machine: read
the ratios, measured side by side in one run, not the absolute numbers.

## Method

- Gatehouse (\`gatehouse start\`, access log off) runs as its own process pinned to CPU 0 with \`taskset\`;
  two backends (node:http, 1 KB responses, keep-alive) and the load generator share CPU 1.${hasTwoCores ? '' : ' (This run had one CPU: no pinning.)'}
- HTTP and TLS keep-alive load: \`wrk -t1 -c${CONNECTIONS} -d${SECONDS}s\`. mTLS keep-alive load: wrk cannot
  present a client certificate, so \`bench/mtls-load.ts\` (an undici pool of ${CONNECTIONS} connections presenting one)
  generates it; being a Node process on one core, it is itself a ceiling, which is why CPU per request is
  the figure to compare.
- The farm is two backends, weighted round robin; the direct path sends the same load to one backend.
- ${ROUNDS} interleaved rounds of ${SECONDS} s per scenario; medians. Gatehouse CPU per request is its process CPU
  time (user + system, from /proc) divided by requests served: steadier than req/s on a noisy machine.

## Results (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} CPUs)

${table}

${tracingLine}
`;
    await writeFile(join(root, 'docs/benchmarks.md'), doc);
    process.stdout.write('\ndocs/benchmarks.md written\n');
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await pki.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
