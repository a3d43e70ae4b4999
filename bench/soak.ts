/**
 * npm run bench:soak: does Gatehouse's memory stay flat under steady load? Gatehouse (`gatehouse start`,
 * `workers: 1`, one process, pinned to CPU 0) in front of the two bench backends, loaded by wrk (CPU 1) for SOAK_SECONDS
 * (default 300) in cycles of three 15-second segments: mTLS keep-alive (client certificate presented
 * through bench/wrk-client-cert.c), new mTLS connections (a handshake per request), plain HTTP keep-alive.
 * After each cycle it reads the RSS of Gatehouse's processes; the first cycle is the warm-up. Writes a
 * table to stdout and docs/soak.md. Bounded: every wrk run has a duration and a timeout, the loop a count.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAtomic } from '../src/pki/write.js';
import { createTestPki } from '../test/support/test-pki.js';
import { measure, type ClientCert, type Generator, type Load, type Sample } from './measure.js';
import { startGatehouse, type PeerFiles } from './peers.js';
import { compileWrkShim, ensureDebianPackages, have, log, rssMb, startProcess, stopAll, waitForLine } from './proc.js';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const SEGMENT_SECONDS = 15;
const CONNECTIONS = 50;
const root = new URL('../../', import.meta.url).pathname;
const dist = join(root, 'dist');

interface Cycle {
  atSeconds: number;
  rssMb: number;
  requests: number;
  errors: number;
  samples: Sample[];
}

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<void> {
  ensureDebianPackages([
    { pkg: 'wrk', present: () => have('wrk') },
    { pkg: 'gcc', present: () => have('cc') || have('gcc') },
    { pkg: 'libssl-dev', present: () => existsSync('/usr/include/openssl/ssl.h') },
  ]);
  const started = Date.now();
  const pki = await createTestPki();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-soak-'));
  process.once('exit', () => stopAll());
  const shim = compileWrkShim(root, dir);
  if ('error' in shim) throw new Error(`bench:soak needs the wrk client-certificate shim (cc and libssl-dev): ${shim.error}`);
  const gen: Generator = { shim: shim.path, dist, tmp: dir };
  const cert: ClientCert = { cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile, ca: pki.caFile };
  const backends: number[] = [];
  for (let i = 0; i < 2; i++) {
    const child = startProcess(1, process.execPath, [join(dist, 'bench/backend.js'), '0']);
    const lines = await waitForLine(child, /^ready (\d+)/);
    child.stdout?.resume();
    backends.push(Number(/^ready (\d+)/.exec(lines[lines.length - 1] as string)?.[1]));
  }
  const files: PeerFiles = { dir, caFile: pki.caFile, rsa: { certFile: pki.server.certFile, keyFile: pki.server.keyFile }, ecdsa: { certFile: pki.server.certFile, keyFile: pki.server.keyFile }, backendPorts: backends };
  const gatehouse = await startGatehouse(root, files);
  const mtls = gatehouse.urls.mtls as string;
  const http = gatehouse.urls.http as string;
  const loads: [string, Load][] = [
    ['mTLS keep-alive', { url: `${mtls}/`, connections: CONNECTIONS, seconds: SEGMENT_SECONDS, clientCert: cert }],
    ['new mTLS connections', { url: `${mtls}/`, connections: CONNECTIONS, seconds: SEGMENT_SECONDS, clientCert: cert, close: true }],
    ['plain HTTP keep-alive', { url: `${http}/`, connections: CONNECTIONS, seconds: SEGMENT_SECONDS }],
  ];
  const cycleSeconds = SEGMENT_SECONDS * loads.length;
  const cycles: Cycle[] = [];
  const maxCycles = Math.max(2, Math.round(SOAK_SECONDS / cycleSeconds));
  const t0 = Date.now();
  for (let i = 0; i < maxCycles; i++) {
    const samples = loads.map(([, load]) => measure(load, gen, gatehouse.pids()));
    const cycle: Cycle = {
      atSeconds: (Date.now() - t0) / 1000,
      rssMb: rssMb(gatehouse.pids()),
      requests: samples.reduce((s, x) => s + x.requests, 0),
      errors: samples.reduce((s, x) => s + x.errors, 0),
      samples,
    };
    cycles.push(cycle);
    log(`soak cycle ${i + 1}/${maxCycles} at ${cycle.atSeconds.toFixed(0)} s: RSS ${cycle.rssMb.toFixed(1)} MB, ${cycle.requests} requests, ${cycle.errors} errors`);
  }
  stopAll();

  const steady = cycles.slice(1); // the first cycle warms up (JIT, pools, TLS caches)
  const first = steady[0] as Cycle;
  const last = steady[steady.length - 1] as Cycle;
  const perMinute = slope(steady.map((c) => [c.atSeconds / 60, c.rssMb]));
  const totalRequests = cycles.reduce((s, c) => s + c.requests, 0);
  const totalErrors = cycles.reduce((s, c) => s + c.errors, 0);
  const rows = cycles.map((c, i) => `| ${i + 1}${i === 0 ? ' (warm-up)' : ''} | ${c.atSeconds.toFixed(0)} s | ${c.rssMb.toFixed(1)} | ${c.samples.map((s) => s.rps.toFixed(0)).join(' / ')} | ${c.requests} | ${c.errors} |`);
  const text = [
    '# Soak: memory under steady load',
    '',
    'Generated by `npm run bench:soak` (bench/soak.ts); rerun it to refresh.',
    '',
    `Gatehouse (\`gatehouse start\`, \`workers: 1\`: one process, access log off) pinned to CPU 0 in front of the two bench backends; wrk (CPU 1, ${CONNECTIONS} connections) in cycles of three ${SEGMENT_SECONDS}-second segments: ${loads.map(([name]) => name).join(', ')}. RSS is that of the Gatehouse process, read from /proc after each cycle. The first cycle is the warm-up.`,
    '',
    `## Result (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${((Date.now() - t0) / 1000).toFixed(0)} s of load)`,
    '',
    `- RSS after the warm-up cycle: ${first.rssMb.toFixed(1)} MB; after the last cycle: ${last.rssMb.toFixed(1)} MB (${last.rssMb >= first.rssMb ? '+' : ''}${(last.rssMb - first.rssMb).toFixed(1)} MB, ${(((last.rssMb - first.rssMb) / first.rssMb) * 100).toFixed(1)}%).`,
    `- Trend over the steady cycles (least squares): ${perMinute >= 0 ? '+' : ''}${perMinute.toFixed(2)} MB per minute.`,
    `- ${totalRequests} requests, ${totalErrors} errors (non-2xx or socket errors).`,
    '',
    '| Cycle | At | RSS (MB) | req/s per segment (mTLS keep-alive / new mTLS / HTTP) | Requests | Errors |',
    '| ---: | ---: | ---: | --- | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
  await writeAtomic(join(root, 'docs/soak.md'), text, 0o644, true);
  process.stdout.write(`${text}\nwrote docs/soak.md in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main().catch((error: unknown) => {
  stopAll();
  process.stderr.write(`bench:soak failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
