/**
 * npm run bench: Gatehouse against nginx, HAProxy and a Node peer (the http-proxy library), with the direct path (load sent straight to a backend) as the upper bound.
 *
 * Method: each proxy runs as its own process(es) pinned to CPU 0 (`taskset`) with one worker/thread;
 * the two backends and the load generator share CPU 1. Load comes from wrk (Debian); wrk cannot present a
 * client certificate, so bench/wrk-client-cert.c (an LD_PRELOAD shim compiled here with cc) makes it
 * present one, and forces full handshakes unless resumption is being measured (fallback when it cannot
 * be built: bench/mtls-load.ts). Scenarios and peers are interleaved over ROUNDS rounds (peer order
 * rotated each round); tables show medians. Proxy CPU per request = the proxy's process CPU time
 * (utime+stime of its processes, from /proc) / requests served. Writes the tables to stdout,
 * docs/benchmarks.md and docs/benchmarks.svg, each naming the Node version (every Node process of the run
 * is started with the node that runs this script: `/path/to/node dist/bench/run.js` benchmarks that one). Bounded: every load has a duration and a timeout, the
 * rounds stop early when the time budget (BENCH_BUDGET_SECONDS, default 540, plus the build) would be exceeded.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAtomic } from '../src/pki/write.js';
import { createTestPki } from '../test/support/test-pki.js';
import { writeChart, type ChartScenario } from './chart.js';
import { measure, type ClientCert, type Generator, type Load, type Sample } from './measure.js';
import { GATEHOUSE_NAME, HAPROXY_NAME, NGINX_NAME, NJS_MODULE, NODE_FLOOR_NAME, NODE_NAME, njsAvailable, serverCertificates, startBackends, startGatehouse, startHaproxy, startNginx, startNodePeer, type Peer, type PeerFiles } from './peers.js';
import { compileWrkShim, ensureDebianPackages, hasTwoCores, have, log, rssMb, startProcess, stderrTail, stopAll, stopProcess, waitForLine } from './proc.js';

const T0 = Date.now();
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadAtStart = loadAverage();
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Seconds per keep-alive sample. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/** Seconds per handshake and transfer sample. */
const SHORT_SECONDS = Number(process.env.BENCH_SHORT_SECONDS ?? 2);
const BUDGET_SECONDS = Number(process.env.BENCH_BUDGET_SECONDS ?? 540);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 10_000);
const IDLE_MIN_SECONDS = Number(process.env.BENCH_IDLE_MIN_SECONDS ?? 15);
const IDLE_MAX_SECONDS = Number(process.env.BENCH_IDLE_MAX_SECONDS ?? 40);
const CONNECTIONS = 50;
const TRANSFER_CONNECTIONS = 4;
const root = new URL('../../', import.meta.url).pathname;
const dist = join(root, 'dist');
const DIRECT = 'direct (backend, no proxy)';
const CEILING = 'ceiling: nginx `return 200`, no backend';
const TRACED = 'Gatehouse, tracing on (no rule matches)';
/** The same Gatehouse config plus an `admin` key, with an events stream (SSE) connected and read for the whole run. */
const ADMIN_STREAM = 'Gatehouse, admin API open + events stream connected';
/** The same admin config with no API client: what the `admin` key itself costs (the metrics are collected). */
const ADMIN_ONLY = 'Gatehouse, admin key (metrics), no API client';
/**
 * BENCH_SCENARIOS: only these scenario keys (comma-separated: http, mtls, new-rsa, new-ecdsa, resume,
 * download, upload), for a quick check; such a partial run prints its report but does not write docs/.
 */
const ONLY_SCENARIOS = (process.env.BENCH_SCENARIOS ?? '')
  .split(',')
  .map((key) => key.trim())
  .filter((key) => key !== '');
/**
 * BENCH_GATEHOUSE_NODES: other node binaries (comma-separated) that each run a second Gatehouse peer in the
 * same run, named `Gatehouse on node vX` (Node 20 and 24 side by side: the same load, the same rounds).
 */
const OTHER_NODES = (process.env.BENCH_GATEHOUSE_NODES ?? '')
  .split(',')
  .map((path) => path.trim())
  .filter((path) => path !== '')
  .map((path) => ({ path, name: `${GATEHOUSE_NAME} on node ${spawnSync(path, ['-v'], { encoding: 'utf8' }).stdout.trim() || path}` }));
const PEER_ORDER = [DIRECT, CEILING, NODE_FLOOR_NAME, GATEHOUSE_NAME, ADMIN_ONLY, ADMIN_STREAM, ...OTHER_NODES.map((node) => node.name), TRACED, NGINX_NAME, `${NGINX_NAME} (escaped PEM)`, HAPROXY_NAME, NODE_NAME];
const notes: string[] = [];

const elapsed = () => (Date.now() - T0) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

interface Cell {
  peer: string;
  /** The proxy whose CPU is charged; undefined for the direct path. */
  proxy: Peer | undefined;
  load: Load;
}

interface Scenario {
  key: string;
  title: string;
  /** What one request is: shown in the column headers. */
  unit: 'req' | 'conn';
  cells: Cell[];
  /** Scenario whose direct row is the upper bound of this one, when it has none. */
  directFrom?: string;
  /** Bytes per request, for MB/s. */
  bytes?: number;
}

/** Builds the wrk client-certificate shim; undefined (with a note) when it cannot be built. */
function buildShim(tmp: string): string | undefined {
  if (process.env.BENCH_NO_SHIM === '1') {
    notes.push('BENCH_NO_SHIM=1: the wrk client-certificate shim was not used; mTLS load came from bench/mtls-load.ts (undici) instead of wrk.');
    return undefined;
  }
  const shim = compileWrkShim(root, tmp);
  if ('error' in shim) {
    notes.push(`The wrk client-certificate shim could not be built (${shim.error}): mTLS load came from bench/mtls-load.ts (undici) instead of wrk.`);
    return undefined;
  }
  return shim.path;
}

/** GET over https presenting `cert` (or none); resolves with the status and body, or the error. */
function httpsGet(url: string, path: string, cert: ClientCert | undefined): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const options: RequestOptions = { host: u.hostname, port: u.port, path, agent: false, servername: 'localhost', rejectUnauthorized: false, timeout: 5000 };
    if (cert) Object.assign(options, { cert: readFileSync(cert.cert), key: readFileSync(cert.key) });
    const req = request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode as number, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ error: error.message }));
    req.end();
  });
}

/**
 * Checks that a peer does what Gatehouse does on its mTLS listeners: with the client certificate the
 * backend receives it as base64 DER in X-ARR-ClientCert; without one the request is refused.
 */
async function verifyPeer(peer: Peer, cert: ClientCert, derBase64: string): Promise<boolean> {
  let ok = true;
  for (const name of ['mtls', 'mtls-ecdsa'] as const) {
    const url = peer.urls[name];
    if (!url) continue;
    const withCert = await httpsGet(url, '/echo-cert', cert);
    let forwarded = withCert.body ?? '';
    if (peer.name.includes('escaped PEM')) forwarded = decodeURIComponent(forwarded).replace(/-----[^-]*-----|\s+/g, '');
    if (withCert.status !== 200 || forwarded !== derBase64) {
      notes.push(`${peer.name} ${name}: the certificate check failed (status ${withCert.status ?? withCert.error}, header ${forwarded === derBase64 ? 'as expected' : `"${forwarded.slice(0, 40)}…"`}).`);
      ok = false;
    }
    const without = await httpsGet(url, '/', undefined);
    if (without.status === 200) {
      notes.push(`${peer.name} ${name}: answered 200 to a client without a certificate.`);
      ok = false;
    }
  }
  return ok;
}

/** Checks the shim: wrk presenting the certificate gets 200s (not 400/403) and makes full handshakes. */
function verifyShim(gen: Generator, url: string, cert: ClientCert): boolean {
  try {
    const keepAlive = measure({ url, connections: 2, seconds: 1, clientCert: cert }, gen, undefined);
    const full = measure({ url, connections: 2, seconds: 1, clientCert: cert, close: true }, gen, undefined);
    const resumed = measure({ url, connections: 2, seconds: 1, clientCert: cert, close: true, resume: true }, gen, undefined);
    const fine = keepAlive.requests > 0 && keepAlive.errors === 0 && full.requests > 0 && full.errors === 0 && (full.resumed ?? 1) === 0;
    if (!fine) notes.push(`The wrk shim did not pass its check (keep-alive ${keepAlive.requests} requests ${keepAlive.errors} errors; new connections ${full.requests} requests ${full.errors} errors, ${((full.resumed ?? 1) * 100).toFixed(0)}% resumed).`);
    else log(`wrk shim checked: 200s with the client certificate, ${full.requests} full handshakes (0 resumed); with resumption allowed ${((resumed.resumed ?? 0) * 100).toFixed(0)}% resumed`);
    return fine;
  } catch (error) {
    notes.push(`The wrk shim did not pass its check: ${(error as Error).message.split('\n')[0]}`);
    return false;
  }
}

interface IdleResult {
  peer: string;
  open: number;
  failed: number;
  seconds: number;
  beforeMb: number;
  afterMb: number;
}

/** Opens up to IDLE_CONNECTIONS idle mTLS connections to the peer and reads its RSS before and after. */
async function idleMemory(peer: Peer, cert: ClientCert, seconds: number): Promise<IdleResult | undefined> {
  const url = peer.urls['mtls-ecdsa'];
  if (!url) return undefined;
  await sleep(1000);
  const beforeMb = rssMb(peer.pids());
  const child = startProcess(1, process.execPath, [join(dist, 'bench/idle-conns.js'), new URL(url).port, cert.cert, cert.key, String(IDLE_CONNECTIONS), '64', String(seconds)]);
  try {
    const lines = await waitForLine(child, /^\{/, (seconds + 15) * 1000);
    const result = JSON.parse(lines[lines.length - 1] as string) as { open: number; failed: number; seconds: number };
    await sleep(1000);
    const afterMb = rssMb(peer.pids());
    return { peer: peer.name, ...result, beforeMb, afterMb };
  } catch (error) {
    notes.push(`Idle connections to ${peer.name}: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  } finally {
    stopProcess(child);
    await sleep(1000);
  }
}

/** The hand-kept optimisation log at the end of docs/benchmarks.md: each run keeps it as it is. */
const LOG_HEADING = '## Optimisation log';

function keptLog(file: string): string {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const at = text.indexOf(`\n${LOG_HEADING}`);
  return at < 0 ? '' : `\n${text.slice(at).trimEnd()}\n`;
}

function fmtRatio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(2)}`;
}

function fmtNum(value: number): string {
  return value >= 100 ? String(Math.round(value)) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/**
 * The admin variant: Gatehouse with an `admin` key and a token user, and an events stream client connected
 * to it (reading) for the whole run. Undefined (noted) when either does not start.
 */
async function startAdminStream(files: PeerFiles): Promise<{ peer: Peer; state(): Promise<{ read: string | undefined; closed: string | undefined }> } | undefined> {
  try {
    const tokenFile = join(files.dir, 'bench-admin.token');
    await writeFile(tokenFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    const peer = await startGatehouse(root, files, process.execPath, ADMIN_STREAM, { tokenFile });
    if (!peer.admin) throw new Error('no admin listener line');
    const client: ChildProcess = startProcess(1, process.execPath, [join(dist, 'bench/events-client.js'), peer.admin, tokenFile]);
    let read: string | undefined;
    let closed: string | undefined;
    let onRead: (() => void) | undefined;
    await waitForLine(client, /^connected$/);
    client.stdout?.setEncoding('utf8');
    client.stdout?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (line.startsWith('read ')) read = line;
        if (line.startsWith('closed')) closed = line;
      }
      onRead?.();
    });
    log(`${ADMIN_STREAM}: admin API at ${peer.admin}, events stream connected`);
    // The measurements block this process (wrk runs synchronously): the client's latest line is read after them.
    const state = async () => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        onRead = () => (clearTimeout(timer), resolve());
      });
      return { read, closed };
    };
    return { peer, state };
  } catch (error) {
    notes.push(`${ADMIN_STREAM} did not start: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

async function main(): Promise<void> {
  // Every Node process of the run (Gatehouse, the Node peer and floor, the backends, the idle-connection and
  // mTLS load helpers) is started with process.execPath: the node that runs this script, named in the output.
  log(`node ${process.version} (${process.execPath}), ${process.arch}, ${cpus().length} CPUs`);
  ensureDebianPackages([
    { pkg: 'wrk', present: () => have('wrk') },
    { pkg: 'nginx', present: () => have('nginx') || existsSync('/usr/sbin/nginx') },
    { pkg: 'libnginx-mod-http-js', present: njsAvailable },
    { pkg: 'haproxy', present: () => have('haproxy') || existsSync('/usr/sbin/haproxy') },
    { pkg: 'gcc', present: () => have('cc') || have('gcc') },
    { pkg: 'libssl-dev', present: () => existsSync('/usr/include/openssl/ssl.h') },
  ]);
  if (!have('wrk')) throw new Error('bench: wrk is not installed and could not be installed (apt-get install wrk)');
  process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
  const setupStart = elapsed();
  const pki = await createTestPki();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'));
  const cleanup = () => stopAll();
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  process.once('SIGTERM', () => {
    cleanup();
    process.exit(143);
  });
  process.once('exit', cleanup);
  try {
    const certificates = await serverCertificates(pki, dir);
    const cert: ClientCert = { cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile, ca: pki.caFile };
    const derBase64 = new X509Certificate(pki.clients.valid.issued.certPem).raw.toString('base64');
    const gen: Generator = { shim: buildShim(dir), dist, tmp: dir };

    const backends = await startBackends(dist);
    const files: PeerFiles = { dir, caFile: pki.caFile, ...certificates, backendPorts: backends };

    const peers: Peer[] = [];
    const tryStart = async (name: string, available: boolean, start: () => Promise<Peer>) => {
      if (!available) {
        notes.push(`${name}: not installed, not measured.`);
        return;
      }
      try {
        peers.push(await start());
      } catch (error) {
        notes.push(`${name} did not start: ${(error as Error).message.split('\n')[0]}`);
      }
    };
    await tryStart(GATEHOUSE_NAME, true, () => startGatehouse(root, files));
    for (const node of OTHER_NODES) await tryStart(node.name, true, () => startGatehouse(root, files, node.path, node.name));
    const withNjs = njsAvailable();
    if (!withNjs) notes.push(`nginx: njs (${NJS_MODULE}, Debian libnginx-mod-http-js) is missing, so nginx forwards $ssl_client_escaped_cert (URL-encoded PEM) instead of base64 DER.`);
    await tryStart(NGINX_NAME, have('nginx'), () => startNginx(files, withNjs));
    await tryStart(HAPROXY_NAME, have('haproxy'), () => startHaproxy(files));
    await tryStart(NODE_NAME, true, () => startNodePeer(dist, files));
    const gatehouse = peers.find((p) => p.name === GATEHOUSE_NAME);
    if (!gatehouse) throw new Error(`bench: Gatehouse did not start: ${notes.join(' ')}`);
    // Not among the peers of every scenario: measured in mTLS keep-alive only, beside the plain Gatehouse.
    const withAdmin = await startAdminStream(files);
    let adminOnly: Peer | undefined;
    try {
      const tokenFile = join(files.dir, 'bench-admin-only.token');
      await writeFile(tokenFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
      adminOnly = await startGatehouse(root, files, process.execPath, ADMIN_ONLY, { tokenFile });
    } catch (error) {
      notes.push(`${ADMIN_ONLY} did not start: ${(error as Error).message.split('\n')[0]}`);
    }
    const nginx = peers.find((p) => p.name.startsWith(NGINX_NAME));
    const proxies = peers;
    // Not a proxy: what node:https alone costs (handshake, certificate read, 1 KB answer), beside nginx's ceiling.
    let floor: Peer | undefined;
    try {
      floor = await startNodePeer(dist, files, true);
    } catch (error) {
      notes.push(`The Node floor did not start: ${(error as Error).message.split('\n')[0]}`);
    }
    const floorCells = (listener: 'mtls' | 'mtls-ecdsa', load: (url: string) => Load): Cell[] =>
      floor?.urls[listener] && gen.shim ? [{ peer: NODE_FLOOR_NAME, proxy: floor, load: load(floor.urls[listener] as string) }] : [];

    for (const peer of peers) {
      if (await verifyPeer(peer, cert, derBase64)) log(`${peer.name}: forwards the client certificate as base64 DER, refuses a client without one`);
    }
    const shimTarget = nginx?.urls.ceiling ?? gatehouse.urls.mtls;
    if (gen.shim && shimTarget && !verifyShim(gen, shimTarget, cert)) {
      gen.shim = undefined;
      notes.push('mTLS load came from bench/mtls-load.ts (undici) instead of wrk.');
    }
    const generatorName = gen.shim ? 'wrk + bench/wrk-client-cert.c' : 'bench/mtls-load.ts (undici)';

    const direct = `http://127.0.0.1:${backends[0]}`;
    const uploadScript = join(dir, 'upload.lua');
    await writeFile(uploadScript, 'wrk.method = "POST"\nwrk.body = string.rep("u", 10 * 1024 * 1024)\nwrk.headers["Content-Type"] = "application/octet-stream"\n');
    const ka = (url: string, clientCert?: ClientCert): Load => ({ url, connections: CONNECTIONS, seconds: SECONDS, ...(clientCert ? { clientCert } : {}) });
    const hs = (url: string, clientCert: ClientCert | undefined, resume = false): Load => ({ url, connections: CONNECTIONS, seconds: SHORT_SECONDS, close: true, resume, ...(clientCert ? { clientCert } : {}) });
    const xfer = (url: string, clientCert: ClientCert | undefined, upload: boolean): Load => ({
      url: upload ? `${url}/` : `${url}/10mb`,
      connections: TRANSFER_CONNECTIONS,
      seconds: SHORT_SECONDS,
      ...(clientCert ? { clientCert } : {}),
      ...(upload ? { script: uploadScript } : {}),
    });
    const proxyCells = (listener: 'http' | 'mtls' | 'mtls-ecdsa', load: (url: string) => Load): Cell[] =>
      proxies.filter((p) => p.urls[listener]).map((p) => ({ peer: p.name, proxy: p, load: load(p.urls[listener] as string) }));
    // wrk's TLS client needs a certificate to reach an mTLS listener; the undici fallback cannot do the
    // transfer scripts, so those scenarios need the shim.
    const scenarios: Scenario[] = [
      {
        key: 'http',
        title: `HTTP keep-alive, ${CONNECTIONS} connections, 1 KB responses`,
        unit: 'req',
        cells: [
          { peer: DIRECT, proxy: undefined, load: ka(`${direct}/`) },
          ...proxyCells('http', (url) => ka(`${url}/`)),
          ...(gatehouse.urls.traced ? [{ peer: TRACED, proxy: gatehouse, load: ka(`${gatehouse.urls.traced}/`) }] : []),
        ],
      },
      {
        key: 'mtls',
        title: `mTLS keep-alive (client certificate presented), ${CONNECTIONS} connections, RSA-2048 server certificate`,
        unit: 'req',
        directFrom: 'http',
        cells: [
          ...(nginx?.urls.ceiling && gen.shim ? [{ peer: CEILING, proxy: nginx, load: ka(`${nginx.urls.ceiling}/`, cert) }] : []),
          ...floorCells('mtls', (url) => ka(`${url}/`, cert)),
          ...proxyCells('mtls', (url) => ka(`${url}/`, cert)),
          ...(adminOnly?.urls.mtls ? [{ peer: ADMIN_ONLY, proxy: adminOnly, load: ka(`${adminOnly.urls.mtls}/`, cert) }] : []),
          ...(withAdmin?.peer.urls.mtls ? [{ peer: ADMIN_STREAM, proxy: withAdmin.peer, load: ka(`${withAdmin.peer.urls.mtls}/`, cert) }] : []),
        ],
      },
      {
        key: 'new-rsa',
        title: `New mTLS connection per request (full handshake), ${CONNECTIONS} connections, RSA-2048 server certificate`,
        unit: 'conn',
        cells: [
          { peer: DIRECT, proxy: undefined, load: hs(`${direct}/`, undefined) },
          ...(nginx?.urls.ceiling && gen.shim ? [{ peer: CEILING, proxy: nginx, load: hs(`${nginx.urls.ceiling}/`, cert) }] : []),
          ...floorCells('mtls', (url) => hs(`${url}/`, cert)),
          ...proxyCells('mtls', (url) => hs(`${url}/`, cert)),
        ],
      },
      {
        key: 'new-ecdsa',
        title: `New mTLS connection per request (full handshake), ${CONNECTIONS} connections, ECDSA P-256 server certificate`,
        unit: 'conn',
        directFrom: 'new-rsa',
        cells: [
          ...(nginx?.urls['ceiling-ecdsa'] && gen.shim ? [{ peer: CEILING, proxy: nginx, load: hs(`${nginx.urls['ceiling-ecdsa']}/`, cert) }] : []),
          ...floorCells('mtls-ecdsa', (url) => hs(`${url}/`, cert)),
          ...proxyCells('mtls-ecdsa', (url) => hs(`${url}/`, cert)),
        ],
      },
      ...(gen.shim
        ? [
            {
              key: 'resume',
              title: `New mTLS connection per request, TLS session resumed when the proxy allows it, ${CONNECTIONS} connections, RSA-2048`,
              unit: 'conn' as const,
              directFrom: 'new-rsa',
              cells: [...floorCells('mtls', (url) => hs(`${url}/`, cert, true)), ...proxyCells('mtls', (url) => hs(`${url}/`, cert, true))],
            },
            {
              key: 'download',
              title: `10 MB download over mTLS keep-alive, ${TRANSFER_CONNECTIONS} connections`,
              unit: 'req' as const,
              bytes: 10 * 1024 * 1024,
              cells: [{ peer: DIRECT, proxy: undefined, load: xfer(direct, undefined, false) }, ...proxyCells('mtls', (url) => xfer(url, cert, false))],
            },
            {
              key: 'upload',
              title: `10 MB upload over mTLS keep-alive, ${TRANSFER_CONNECTIONS} connections`,
              unit: 'req' as const,
              bytes: 10 * 1024 * 1024,
              cells: [{ peer: DIRECT, proxy: undefined, load: xfer(direct, undefined, true) }, ...proxyCells('mtls', (url) => xfer(url, cert, true))],
            },
          ]
        : []),
    ];
    if (!gen.shim) notes.push('Without the wrk shim, session resumption and the 10 MB transfers over mTLS were not measured.');
    if (ONLY_SCENARIOS.length) scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => ONLY_SCENARIOS.includes(s.key)));
    if (ONLY_SCENARIOS.length) notes.push(`BENCH_SCENARIOS=${ONLY_SCENARIOS.join(',')}: only these scenarios ran (docs/ not written).`);

    const samples = new Map<string, Sample[]>();
    const failures = new Map<string, string>();
    const run = (scenario: Scenario, cell: Cell, seconds?: number): Sample | undefined => {
      const id = `${scenario.key}|${cell.peer}`;
      try {
        return measure(seconds ? { ...cell.load, seconds } : cell.load, gen, cell.proxy?.pids());
      } catch (error) {
        failures.set(id, (error as Error).message.split('\n')[0] as string);
        return undefined;
      }
    };

    // Warm-up, not recorded: the JIT, the keep-alive pools and the session caches see each path first.
    for (const scenario of scenarios.filter((s) => ['http', 'mtls', 'new-ecdsa'].includes(s.key))) for (const cell of scenario.cells) run(scenario, cell, 1);
    if (withAdmin && (await verifyPeer(withAdmin.peer, cert, derBase64))) log(`${ADMIN_STREAM}: forwards the client certificate as base64 DER, refuses a client without one`);
    if (adminOnly && (await verifyPeer(adminOnly, cert, derBase64))) log(`${ADMIN_ONLY}: forwards the client certificate as base64 DER, refuses a client without one`);
    log(`set-up and warm-up done at ${elapsed().toFixed(0)} s`);

    // Time kept for the idle-connection test: at least IDLE_MIN_SECONDS per peer, at most IDLE_MAX_SECONDS.
    // The Node floor holds idle connections too: what node:https itself keeps per TLS connection.
    const idlePeers = floor ? [...proxies, floor] : proxies;
    const idleReserve = IDLE_CONNECTIONS > 0 ? idlePeers.length * (IDLE_MIN_SECONDS + 4) : 0;
    let roundsDone = 0;
    let roundSeconds = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      if (round > 1 && elapsed() + roundSeconds + idleReserve + 10 > BUDGET_SECONDS) {
        notes.push(`Only ${roundsDone} of ${ROUNDS} rounds fitted in the time budget of ${BUDGET_SECONDS} s.`);
        break;
      }
      const roundStart = elapsed();
      for (const scenario of scenarios) {
        const n = scenario.cells.length;
        // Rotate the peer order each round, so that no peer always runs right after the same one.
        const order = scenario.cells.map((_, i) => scenario.cells[(i + round - 1) % n] as Cell);
        for (const cell of order) {
          const s = run(scenario, cell);
          if (!s) continue;
          const id = `${scenario.key}|${cell.peer}`;
          samples.set(id, [...(samples.get(id) ?? []), s]);
          process.stderr.write(
            `round ${round}/${ROUNDS} ${scenario.key} ${cell.peer}: ${Math.round(s.rps)} ${scenario.unit}/s, p99 ${s.p99Ms.toFixed(2)} ms` +
              `${s.cpuUsPerRequest ? `, ${s.cpuUsPerRequest.toFixed(1)} µs CPU/${scenario.unit}` : ''}, CPU0 ${(s.cpu0 * 100).toFixed(0)}% CPU1 ${(s.cpu1 * 100).toFixed(0)}%` +
              `${s.errors ? `, ${s.errors} errors` : ''}${s.resumed !== undefined && scenario.unit === 'conn' ? `, ${(s.resumed * 100).toFixed(0)}% resumed` : ''}\n`,
          );
        }
      }
      roundsDone = round;
      roundSeconds = elapsed() - roundStart;
    }

    const idle: IdleResult[] = [];
    let idleSeconds = 0;
    if (IDLE_CONNECTIONS > 0) {
      for (const [i, peer] of idlePeers.entries()) {
        const seconds = Math.min(IDLE_MAX_SECONDS, Math.floor((BUDGET_SECONDS - elapsed() - 10) / (idlePeers.length - i)) - 4);
        if (seconds < 5) {
          notes.push(`Idle connections: ${peer.name} skipped (time budget).`);
          continue;
        }
        idleSeconds = Math.max(idleSeconds, seconds);
        const result = await idleMemory(peer, cert, seconds);
        if (result) {
          idle.push(result);
          if (result.failed > 0) {
            notes.push(
              `Idle connections: ${result.failed} to ${peer.name} failed (refused, or not accepted within 10 s)${peer.name === HAPROXY_NAME ? ": HAProxy's maxconn is 9900" : ''}.`,
            );
          }
          log(`idle ${peer.name}: ${result.open} open (${result.failed} failed) in ${result.seconds.toFixed(1)} s, RSS ${result.beforeMb.toFixed(1)} → ${result.afterMb.toFixed(1)} MB`);
        }
      }
    }

    // What the peers logged: errors here would make their figures suspect.
    try {
      const errorLog = readFileSync(join(dir, 'nginx', 'error.log'), 'utf8').split('\n');
      const bad = errorLog.filter((line) => /\[(error|crit|alert|emerg)\]/.test(line));
      const buffered = errorLog.filter((line) => /buffered to a temporary file/.test(line)).length;
      if (bad.length) notes.push(`nginx logged ${bad.length} errors, e.g. ${bad[0]?.replace(/^\S+ \S+ /, '')}`);
      if (buffered) notes.push(`nginx buffered ${buffered} request or response bodies to a temporary file (its default for 10 MB bodies).`);
    } catch {
      // nginx did not run
    }
    for (const peer of proxies) {
      const alerts = stderrTail(peer.child).split('\n').filter((line) => /ALERT|WARNING|Error|error/.test(line));
      if (alerts.length) notes.push(`${peer.name} wrote to stderr: ${alerts[0]?.trim().slice(0, 200)}`);
    }

    // ---- Report ----
    interface Row {
      peer: string;
      rps: number;
      p99: number;
      cpu: number | undefined;
      cpu0: number;
      cpu1: number;
      errors: number;
      resumed: number | undefined;
      n: number;
      /** Share of a CPU the generator used, and its CPU µs per request. */
      generatorShare: number;
      generatorUs: number;
    }
    const rowsOf = (scenario: Scenario): Row[] =>
      scenario.cells
        .map((cell) => {
          const list = samples.get(`${scenario.key}|${cell.peer}`) ?? [];
          if (list.length === 0) return undefined;
          const cpuList = list.map((s) => s.cpuUsPerRequest).filter((v): v is number => v !== undefined);
          const resumedList = list.map((s) => s.resumed).filter((v): v is number => v !== undefined);
          return {
            peer: cell.peer,
            rps: median(list.map((s) => s.rps)),
            p99: median(list.map((s) => s.p99Ms)),
            cpu: cpuList.length ? median(cpuList) : undefined,
            cpu0: median(list.map((s) => s.cpu0)),
            cpu1: median(list.map((s) => s.cpu1)),
            errors: list.reduce((sum, s) => sum + s.errors, 0),
            resumed: resumedList.length ? median(resumedList) : undefined,
            n: list.length,
            generatorShare: median(list.map((s) => s.generatorCpu / s.seconds)),
            generatorUs: median(list.map((s) => (s.requests ? (s.generatorCpu * 1e6) / s.requests : 0))),
          };
        })
        .filter((r): r is Row => r !== undefined)
        .sort((a, b) => PEER_ORDER.indexOf(a.peer) - PEER_ORDER.indexOf(b.peer));
    const allRows = new Map(scenarios.map((s) => [s.key, rowsOf(s)]));
    for (const r of allRows.get('resume') ?? []) {
      if (r.resumed !== undefined && r.resumed < 0.8) {
        notes.push(
          `${r.peer} resumed only ${(r.resumed * 100).toFixed(0)}% of the handshakes although wrk offered its latest session every time. ` +
            (r.peer === GATEHOUSE_NAME || r.peer === NODE_NAME
              ? "Node's TLS server sends no new session ticket after a resumed TLS 1.3 handshake (openssl s_client -msg shows none), so wrk's next connection is a full handshake: every other one resumes (nginx and HAProxy resume over 90% with the same client)."
              : ''),
        );
      }
    }

    const find = (key: string | undefined, peer: string) => (key ? allRows.get(key)?.find((r) => r.peer === peer) : undefined);
    const nginxName = nginx?.name ?? NGINX_NAME;
    const sections: string[] = [];
    const summary: string[] = [];
    for (const scenario of scenarios) {
      const rows = allRows.get(scenario.key) ?? [];
      if (rows.length === 0) continue;
      const directRow = find(scenario.key, DIRECT) ?? find(scenario.directFrom, DIRECT);
      const nginxRow = find(scenario.key, nginxName);
      const u = scenario.unit === 'conn' ? 'connection' : 'request';
      const mb = scenario.bytes ? ' | MB/s' : '';
      const lines = [
        `### ${scenario.title}`,
        '',
        ...(directRow && !find(scenario.key, DIRECT) ? [`× direct: against the direct row of "${scenarios.find((s) => s.key === scenario.directFrom)?.title}".`, ''] : []),
        `| Peer | ${scenario.unit}/s${mb} | × nginx | × direct | p99 latency | p99 × nginx | proxy CPU per ${u} | CPU × nginx | CPU 0 / CPU 1 busy | notes |`,
        `| --- | ---: |${scenario.bytes ? ' ---: |' : ''} ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
        ...rows.map((r) => {
          const note = [
            r.errors ? `${r.errors} errors` : '',
            r.resumed !== undefined && scenario.unit === 'conn' ? `${(r.resumed * 100).toFixed(0)}% resumed` : '',
            r.n < roundsDone ? `${r.n} samples` : '',
            failures.get(`${scenario.key}|${r.peer}`) ? `failed once: ${failures.get(`${scenario.key}|${r.peer}`)}` : '',
          ]
            .filter(Boolean)
            .join('; ');
          return `| ${r.peer} | ${Math.round(r.rps)}${scenario.bytes ? ` | ${Math.round((r.rps * scenario.bytes) / 1e6)}` : ''} | ${fmtRatio(nginxRow ? r.rps / nginxRow.rps : undefined)} | ${fmtRatio(directRow ? r.rps / directRow.rps : undefined)} | ${fmtNum(r.p99)} ms | ${fmtRatio(nginxRow && nginxRow.p99 > 0 ? r.p99 / nginxRow.p99 : undefined)} | ${r.cpu === undefined ? '—' : `${r.cpu.toFixed(1)} µs`} | ${fmtRatio(nginxRow?.cpu && r.cpu !== undefined ? r.cpu / nginxRow.cpu : undefined)} | ${(r.cpu0 * 100).toFixed(0)}% / ${(r.cpu1 * 100).toFixed(0)}% | ${note} |`;
        }),
      ];
      sections.push(lines.join('\n'));
      const g = find(scenario.key, GATEHOUSE_NAME);
      if (g) {
        const ratio = (peer: string) => {
          const other = find(scenario.key, peer);
          return other ? fmtRatio(g.rps / other.rps) : '—';
        };
        const cpuRatio = (peer: string) => {
          const other = find(scenario.key, peer);
          return other?.cpu && g.cpu ? fmtRatio(g.cpu / other.cpu) : '—';
        };
        summary.push(
          `| ${scenario.title} | ${Math.round(g.rps)} ${scenario.unit}/s | ${ratio(nginxName)} | ${ratio(HAPROXY_NAME)} | ${ratio(NODE_NAME)} | ${directRow ? fmtRatio(g.rps / directRow.rps) : '—'} | ${g.cpu === undefined ? '—' : `${g.cpu.toFixed(1)} µs`} | ${cpuRatio(nginxName)} | ${cpuRatio(HAPROXY_NAME)} | ${cpuRatio(NODE_NAME)} |`,
        );
      }
    }
    const summaryTable = [
      '| Scenario | Gatehouse | ÷ nginx | ÷ HAProxy | ÷ Node peer | ÷ direct | Gatehouse CPU per request (or connection) | CPU ÷ nginx | CPU ÷ HAProxy | CPU ÷ Node peer |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...summary,
    ].join('\n');
    const idleTable = idle.length
      ? [
          `### Idle mTLS connections (up to ${IDLE_CONNECTIONS}, handshake done, no request; at most ${idleSeconds} s to open them), ECDSA P-256 server certificate`,
          '',
          '| Peer | connections held | RSS before | RSS after | MB per 1,000 connections | × nginx |',
          '| --- | ---: | ---: | ---: | ---: | ---: |',
          ...idle.map((r) => {
            const per = r.open ? ((r.afterMb - r.beforeMb) / r.open) * 1000 : NaN;
            const ng = idle.find((x) => x.peer === nginxName);
            const ngPer = ng && ng.open ? ((ng.afterMb - ng.beforeMb) / ng.open) * 1000 : NaN;
            return `| ${r.peer} | ${r.open}${r.failed ? ` (${r.failed} failed)` : ''} | ${r.beforeMb.toFixed(1)} MB | ${r.afterMb.toFixed(1)} MB | ${per.toFixed(2)} | ${fmtRatio(per / ngPer)} |`;
          }),
        ].join('\n')
      : '';
    const plain = find('http', GATEHOUSE_NAME)?.cpu;
    const traced = find('http', TRACED)?.cpu;
    const tracingLine = plain && traced ? `Tracing cost: CPU per request with tracing on and no rule matching / tracing off = ${(traced / plain).toFixed(3)}` : '';
    const plainMtls = find('mtls', GATEHOUSE_NAME)?.cpu;
    const adminMtls = find('mtls', ADMIN_STREAM)?.cpu;
    const stream = await withAdmin?.state();
    const keyMtls = find('mtls', ADMIN_ONLY)?.cpu;
    const adminLine =
      plainMtls && adminMtls
        ? `Admin API cost: mTLS keep-alive CPU per request with the admin API open (an \`admin\` key: the metrics are collected too) and an events stream (GET /api/v1/events/stream) connected and read for the whole run, / the plain Gatehouse, same run: ${(adminMtls / plainMtls).toFixed(3)} (${adminMtls.toFixed(1)} µs against ${plainMtls.toFixed(1)} µs per request)` +
          (keyMtls ? `; of which the \`admin\` key alone (metrics collected, no API client) / plain: ${(keyMtls / plainMtls).toFixed(3)}, and the API open with the stream connected / the \`admin\` key alone: ${(adminMtls / keyMtls).toFixed(3)}` : '') +
          `. The stream client ${stream?.closed ? `lost the stream (${stream.closed})` : 'stayed connected'}: ${stream?.read ?? 'nothing read'}.`
        : '';
    const ceiling = find('mtls', CEILING);
    const ceilingNew = find('new-rsa', CEILING);
    const ceilingLine = ceiling
      ? `Generator ceiling. wrk's own CPU cost (${generatorName}, from the CPU time of the reaped wrk process): ` +
        `${ceiling.generatorUs.toFixed(1)} µs per mTLS keep-alive request, i.e. about ${Math.round(1e6 / ceiling.generatorUs)} req/s if it had CPU 1 to itself` +
        (ceilingNew ? `; ${Math.round(ceilingNew.generatorUs)} µs per new mTLS connection (RSA-2048 server), about ${Math.round(1e6 / ceilingNew.generatorUs)} connections/s` : '') +
        `. Measured against nginx answering \`return 200\` with mTLS and no backend: ${Math.round(ceiling.rps)} req/s keep-alive (wrk used ${(ceiling.generatorShare * 100).toFixed(0)}% of CPU 1; CPU 0 ${(ceiling.cpu0 * 100).toFixed(0)}% / CPU 1 ${(ceiling.cpu1 * 100).toFixed(0)}% busy)` +
        (ceilingNew
          ? `, ${Math.round(ceilingNew.rps)} new connections/s (wrk ${(ceilingNew.generatorShare * 100).toFixed(0)}% of CPU 1, CPU 0 ${(ceilingNew.cpu0 * 100).toFixed(0)}% busy` +
            (ceilingNew.generatorShare < 0.8 && ceilingNew.cpu0 > 0.9 ? ": there nginx's handshakes on CPU 0, not wrk, are the limit)" : ')')
          : '') +
        (Math.max(0, ...(allRows.get('mtls') ?? []).filter((r) => r.peer !== CEILING).map((r) => r.rps)) < 0.8 * ceiling.rps
          ? '. Every proxy\'s mTLS keep-alive figure is well under that ceiling: the proxies, not the generator, set them.'
          : '. A proxy came close to that ceiling: its figure may be capped by the generator.')
      : '';
    const floorParts = (['mtls', 'new-rsa', 'new-ecdsa', 'resume'] as const).flatMap((key) => {
      const f = find(key, NODE_FLOOR_NAME)?.cpu;
      const n = find(key, CEILING)?.cpu;
      const g = find(key, GATEHOUSE_NAME)?.cpu;
      return f && g ? [`${key}: floor ${f.toFixed(0)} µs${n ? ` (${(f / n).toFixed(2)}× nginx's \`return 200\`)` : ''}, Gatehouse ${(g / f).toFixed(2)}× the floor`] : [];
    });
    const floorLine = floorParts.length
      ? `Node floor (${NODE_FLOOR_NAME}: TLS, the client certificate read, 1 KB answered, nothing proxied), CPU per request or connection: ${floorParts.join('; ')}. What Gatehouse costs above the floor is its own; the floor itself is node's TLS and HTTP stack.`
      : '';
    const report = [
      '## Summary: Gatehouse against each peer (req/s ratios: above 1 means Gatehouse is faster; CPU ratios: below 1 means Gatehouse uses less)',
      '',
      summaryTable,
      '',
      ceilingLine,
      '',
      floorLine,
      '',
      tracingLine,
      '',
      adminLine,
      '',
      '## Per scenario',
      '',
      sections.join('\n\n'),
      '',
      idleTable,
      '',
      ...(notes.length ? ['## Notes from this run', '', ...notes.map((n) => `- ${n}`), ''] : []),
    ].join('\n');
    process.stdout.write(`\n# Benchmarks on Node ${process.version} (${process.execPath})\n\n${report}\n`);
    if (ONLY_SCENARIOS.length) return;

    const chartScenarios: ChartScenario[] = scenarios.map((s) => ({ title: s.title, rows: (allRows.get(s.key) ?? []).map((r) => ({ peer: r.peer, rps: r.rps, p99Ms: r.p99 })) }));
    const date = new Date().toISOString().slice(0, 10);
    await writeChart(join(root, 'docs/benchmarks.svg'), chartScenarios, `${date}, Node ${process.version}, ${cpus().length} CPUs, medians of ${roundsDone} rounds; proxy on CPU 0, ${generatorName} and backends on CPU 1`);
    const versions = [
      spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr?.trim(),
      spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim(),
      spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim(),
    ]
      .filter(Boolean)
      .join('; ');
    const doc = `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts); rerun it to refresh. Figures drift on a shared machine: read
the ratios, measured side by side in one run, more than the absolute numbers.

![requests/s and p99 latency per peer and scenario](benchmarks.svg)

## Method

- **Peers.** Gatehouse (\`gatehouse start\`, access log off, \`workers: 1\`: one process, which serves
  itself without a cluster primary); nginx (\`worker_processes 1\`); HAProxy (\`nbthread 1\`); ${NODE_NAME}, the Node peer
  (bench/node-peer.ts): the http-proxy library (devDependency) behind a node:https server, keep-alive to
  the backends through a node:http \`Agent\`, \`xfwd\` on. nginx and HAProxy are Debian's packages, installed by the script when missing (${versions}).
  Each does what Gatehouse does: TLS termination with the same server certificate, client certificate
  required and verified against the test CA, the certificate forwarded as base64 DER in \`X-ARR-ClientCert\`
  (nginx: ${withNjs ? '\`$ssl_client_raw_cert\` with the PEM armour and line breaks stripped by a one-line njs function' : '**\`$ssl_client_escaped_cert\` (URL-encoded PEM), as njs was missing**'};
  HAProxy: \`%[ssl_c_der,base64]\`), X-Forwarded-For and X-Forwarded-Proto set, round robin over the same two
  keep-alive backends (nginx: \`upstream\` with \`keepalive 64\`, \`proxy_http_version 1.1\`,
  \`proxy_set_header Connection ""\`, \`keepalive_requests\` raised; HAProxy: \`http-reuse always\`, \`maxconn 9900\`,
  two file descriptors per connection within the machine's limit of 20000). Before
  measuring, the script checks every peer: with the client certificate the backend receives it as base64 DER;
  without one the request is refused. Otherwise the peers keep their defaults (nginx buffers a 10 MB
  response or request body to a temp file, as it does out of the box).
- **${ADMIN_STREAM}**: a second Gatehouse with the same config plus an \`admin\` key (loopback, a viewer
  token user), measured in mTLS keep-alive beside the plain one. Its events stream is connected by
  bench/events-client.ts (its own process, on CPU 1 with the generator), which reads it for the whole run;
  the "Admin API cost" line gives the CPU-per-request ratio of the two.
- **${ADMIN_ONLY}**: the same admin config with no API client, beside them: it separates what the \`admin\`
  key costs by itself (the per-request metrics) from what an open API with a live events stream adds.
- **Direct** is the upper bound: the same load sent straight to one backend over plain HTTP.
- **Pinning.** Each proxy runs as its own process(es) pinned to CPU 0 with \`taskset\`; the two backends
  (node:http, 1 KB responses, keep-alive) and the load generator share CPU 1.${hasTwoCores ? '' : ' (This run had one CPU: no pinning.)'}
  All peers run side by side for the whole run, on 127.0.0.1 ephemeral ports, and are killed (process group)
  at the end.
- **Generator.** wrk (\`-t1\`, Debian). wrk cannot present a client certificate, so bench/wrk-client-cert.c,
  an LD_PRELOAD shim compiled at bench time (\`cc -shared -fPIC … -ldl -lssl\`), wraps \`SSL_CTX_new\` to load
  the certificate and key named in \`WRK_CLIENT_CERT\` / \`WRK_CLIENT_KEY\`, and wraps \`SSL_connect\` to drop the
  session wrk would otherwise resume, so that a new connection is a full handshake (it counts handshakes and
  resumptions, shown as "% resumed"). The script checks the shim before measuring (200s, not 400/403; 0%
  resumed). The client certificate is ECDSA P-256 (the test PKI's), so the generator's side of a handshake
  is cheap. ${gen.shim ? '' : '**This run could not use the shim: mTLS load came from bench/mtls-load.ts (undici).** '}
  The generator's own ceiling: wrk's CPU time per request (the kernel's account of the reaped wrk process)
  tells the rate it could send alone on CPU 1; a run against nginx answering \`return 200\` (1 KB) with mTLS
  and no backend shows the highest rate this setup reaches.
- **Scenarios.** ${CONNECTIONS} connections for keep-alive and new connections (\`-H 'Connection: close'\`: one
  TLS handshake per request), ${TRANSFER_CONNECTIONS} for 10 MB transfers (download: a /10mb path of the backends; upload: a
  wrk Lua script POSTing 10 MB). "Session resumption" lets wrk offer its previous session (TLS 1.3 ticket).
  ${IDLE_CONNECTIONS > 0 ? `Idle connections: bench/idle-conns.ts opens ${IDLE_CONNECTIONS} mTLS connections (64 handshakes in flight, bounded to ${idleSeconds} s per peer by the time budget, so fewer may be open: the table says how many) and leaves them idle; memory per connection = the proxy's RSS after − before (all its processes, from /proc).` : ''}
- **Rounds.** ${roundsDone} interleaved rounds (peer order rotated each round) of ${SECONDS} s per keep-alive
  sample and ${SHORT_SECONDS} s per handshake or transfer sample, after a 1 s warm-up of each keep-alive path and each ECDSA handshake path; the tables show
  medians. p99 latency is wrk's. Proxy CPU per request is its processes' CPU time (user + system, from
  /proc) divided by the requests served: steadier than req/s on a noisy machine. "CPU 0 / CPU 1 busy" tells
  which side was saturated.
- **Ratios.** "× nginx" and "× direct" divide each figure by nginx's and by the direct path's in the
  same scenario (or the scenario named above the table).

## Results (${date}, Node ${process.version} ${process.arch}, ${cpus().length} CPUs, run took ${Math.round(elapsed())} s of which ${Math.round(setupStart)} s installing)

Load average (1, 5, 15 min) at the start: ${loadAtStart}; at the end: ${loadAverage()}. Anything else running on the
machine shares the two CPUs with the peers: the "CPU 0 / CPU 1 busy" column counts it too.

${report}${keptLog(join(root, 'docs/benchmarks.md'))}`;
    await writeAtomic(join(root, 'docs/benchmarks.md'), doc, 0o644, true);
    process.stdout.write(`\ndocs/benchmarks.md and docs/benchmarks.svg written (${Math.round(elapsed())} s)\n`);
  } finally {
    stopAll();
    await pki.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
