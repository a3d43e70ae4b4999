/**
 * `npm run bench:instructions`: user-space instructions per request (and per new connection), counted by
 * valgrind's callgrind, for Gatehouse, nginx and the Node floor, each doing what `npm run bench` has them do.
 * Unlike CPU time on a shared machine, which moves by up to 40% between runs, an instruction count repeats
 * to within a few percent: it is the yardstick for one change to the request path. It leaves out the
 * kernel (the socket writes and reads), which `npm run bench` counts; read the two together.
 *
 * Each peer runs alone under callgrind on CPU 0 (nginx without a master process); the load comes from this
 * process on CPU 1: a fixed number of keep-alive requests, or of new mTLS connections with one request each.
 * After a warm-up, `callgrind_control -z` zeroes the counters and `-d` dumps them once the load is done.
 * Writes docs/instructions.md. Bounded: every load and wait has a timeout.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCrl, issueClient, type Issued } from '../src/pki/index.js';
import { writeAtomic } from '../src/pki/write.js';
import { createTestPki } from '../test/support/test-pki.js';
import { GATEHOUSE_NAME, NGINX_NAME, NODE_FLOOR_NAME, njsAvailable, serverCertificates, startBackends, startGatehouse, startNginx, startNodePeer, type ListenerName, type Peer, type PeerFiles } from './peers.js';
import { ensureDebianPackages, have, log, stopAll, stopProcess } from './proc.js';

const root = new URL('../../', import.meta.url).pathname;
const dist = join(root, 'dist');
const KEEP_ALIVE_REQUESTS = Number(process.env.BENCH_INSTRUCTIONS_REQUESTS ?? 3000);
const NEW_CONNECTIONS = Number(process.env.BENCH_INSTRUCTIONS_CONNECTIONS ?? 150);
const CONNECTIONS = 20;
/** One load (under valgrind, tens of times slower than natively) may take at most this long. */
const LOAD_TIMEOUT_MS = 300_000;

interface ClientFiles {
  cert: Buffer;
  key: Buffer;
}

interface Scenario {
  key: string;
  title: string;
  listener: ListenerName;
  unit: 'request' | 'connection';
  count: number;
  warmUp: number;
  /** `pointers`: the client certificate that names a CRL distribution point (for the online revocation pair). */
  client?: 'pointers';
  /** Measured on Gatehouse only. */
  gatehouseOnly?: boolean;
}

const ALL_SCENARIOS: Scenario[] = [
  { key: 'http', title: 'HTTP keep-alive, 1 KB responses', listener: 'http', unit: 'request', count: KEEP_ALIVE_REQUESTS, warmUp: KEEP_ALIVE_REQUESTS },
  { key: 'mtls', title: 'mTLS keep-alive, RSA-2048 server certificate', listener: 'mtls', unit: 'request', count: KEEP_ALIVE_REQUESTS, warmUp: KEEP_ALIVE_REQUESTS },
  { key: 'new-rsa', title: 'New mTLS connection per request, RSA-2048', listener: 'mtls', unit: 'connection', count: NEW_CONNECTIONS, warmUp: Math.ceil(NEW_CONNECTIONS / 3) },
  { key: 'new-ecdsa', title: 'New mTLS connection per request, ECDSA P-256', listener: 'mtls-ecdsa', unit: 'connection', count: NEW_CONNECTIONS, warmUp: Math.ceil(NEW_CONNECTIONS / 3) },
  // The handshake cost of online revocation, answers cached: one client certificate (it names a CRL
  // distribution point on 127.0.0.1), a site without revocation, then the same with revocation.online.
  { key: 'new-ecdsa-pointers', title: 'New mTLS connection per request, ECDSA P-256, client certificate with a CDP, no revocation', listener: 'mtls-ecdsa', unit: 'connection', count: NEW_CONNECTIONS, warmUp: Math.ceil(NEW_CONNECTIONS / 3), client: 'pointers', gatehouseOnly: true },
  { key: 'new-ecdsa-online', title: 'New mTLS connection per request, ECDSA P-256, revocation.online (CRL cached)', listener: 'mtls-ecdsa-online', unit: 'connection', count: NEW_CONNECTIONS, warmUp: Math.ceil(NEW_CONNECTIONS / 3), client: 'pointers', gatehouseOnly: true },
];
/** BENCH_INSTRUCTIONS_SCENARIOS=http (a comma list of keys) measures only those: a quick check of one path. */
const chosenScenarios = process.env.BENCH_INSTRUCTIONS_SCENARIOS?.split(',').map((key) => key.trim());
const SCENARIOS = chosenScenarios ? ALL_SCENARIOS.filter((s) => chosenScenarios.includes(s.key)) : ALL_SCENARIOS;

/** Reads whole responses off one socket; resolves each with its status code. */
class ResponseReader {
  #buffer = '';
  #waiting: ((status: number) => void) | undefined;
  constructor(socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      this.#drain();
    });
  }
  next(): Promise<number> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#drain();
    });
  }
  #drain(): void {
    if (!this.#waiting) return;
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.#buffer.slice(0, end);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.#buffer.length < end + 4 + length) return;
    this.#buffer = this.#buffer.slice(end + 4 + length);
    const resolve = this.#waiting;
    this.#waiting = undefined;
    resolve(Number(head.slice(9, 12)));
  }
}

function open(url: URL, client: ClientFiles | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const port = Number(url.port);
    const socket =
      url.protocol === 'https:'
        ? connectTls({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...(client ?? {}) }, () => resolve(socket))
        : connectTcp({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${LOAD_TIMEOUT_MS / 1000} s`)), LOAD_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** `total` GETs over CONNECTIONS keep-alive connections; every answer must be 200. */
async function keepAliveLoad(url: URL, total: number, client: ClientFiles | undefined): Promise<void> {
  const request = `GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench-instructions\r\n\r\n`;
  let sent = 0;
  const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => open(url, client)));
  try {
    await Promise.all(
      sockets.map(async (socket) => {
        const reader = new ResponseReader(socket);
        while (sent < total) {
          sent++;
          socket.write(request);
          const status = await reader.next();
          if (status !== 200) throw new Error(`${url.href} answered ${status}`);
        }
      }),
    );
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/** `total` new connections (full handshakes), one request each, 4 at a time; every answer must be 200. */
async function connectionLoad(url: URL, total: number, client: ClientFiles | undefined): Promise<void> {
  const request = `GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
  let started = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (started < total) {
        started++;
        const socket = await open(url, client);
        try {
          const reader = new ResponseReader(socket);
          socket.write(request);
          const status = await reader.next();
          if (status !== 200) throw new Error(`${url.href} answered ${status}`);
        } finally {
          socket.destroy();
        }
      }
    }),
  );
}

/** A CRL distribution point on 127.0.0.1 serving `ca`'s (empty) CRL, counting its fetches. */
async function startCdp(ca: Issued): Promise<{ url: string; server: Server; hits: () => number }> {
  const crl = (await createCrl({ ca, revoked: [] })).der;
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crl);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/root.crl`, server, hits: () => hits };
}

/** The total of the newest callgrind dump of `prefix` (files prefix.PID.N). */
function newestDumpTotal(dir: string, prefix: string): number {
  const dumps = readdirSync(dir)
    .filter((name) => name.startsWith(prefix) && /\.\d+\.\d+$/.test(name))
    .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  const newest = dumps[dumps.length - 1];
  if (!newest) throw new Error(`no callgrind dump named ${prefix}.* in ${dir}`);
  const text = readFileSync(join(dir, newest), 'utf8');
  const match = /^(?:totals|summary):\s*(\d+)/m.exec(text);
  if (!match) throw new Error(`callgrind dump ${newest} has no totals line`);
  return Number(match[1]);
}

function callgrindControl(flag: '-z' | '-d', pid: number): void {
  execFileSync('callgrind_control', [flag, String(pid)], { stdio: 'ignore', timeout: 60_000 });
}

async function measurePeer(peer: Peer, dir: string, prefix: string, client: ClientFiles, pointersClient: ClientFiles): Promise<Map<string, number>> {
  const pid = peer.child.pid as number;
  const counts = new Map<string, number>();
  for (const scenario of SCENARIOS) {
    const address = peer.urls[scenario.listener];
    if (!address || (scenario.gatehouseOnly && peer.name !== GATEHOUSE_NAME)) continue;
    const url = new URL(address);
    const mtls = url.protocol === 'https:' ? (scenario.client === 'pointers' ? pointersClient : client) : undefined;
    const load = (count: number) => (scenario.unit === 'request' ? keepAliveLoad(url, count, mtls) : connectionLoad(url, count, mtls));
    await withTimeout(load(scenario.warmUp), `${peer.name} ${scenario.key} warm-up`);
    callgrindControl('-z', pid);
    await withTimeout(load(scenario.count), `${peer.name} ${scenario.key}`);
    callgrindControl('-d', pid);
    const perUnit = newestDumpTotal(dir, prefix) / scenario.count;
    counts.set(scenario.key, perUnit);
    log(`${peer.name} ${scenario.key}: ${Math.round(perUnit).toLocaleString('en-US')} instructions per ${scenario.unit}`);
  }
  return counts;
}

function fmt(value: number | undefined): string {
  return value === undefined ? '—' : Math.round(value).toLocaleString('en-US');
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined ? '—' : (a / b).toFixed(2);
}

async function main(): Promise<void> {
  const started = Date.now();
  ensureDebianPackages([
    { pkg: 'valgrind', present: () => have('valgrind') && have('callgrind_control') },
    { pkg: 'nginx', present: () => have('nginx') || existsSync('/usr/sbin/nginx') },
    { pkg: 'libnginx-mod-http-js', present: njsAvailable },
  ]);
  if (!have('valgrind') || !have('callgrind_control')) throw new Error('bench:instructions: valgrind is not installed and could not be installed (apt-get install valgrind)');
  process.env.PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
  const valgrindVersion = execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim();
  const pki = await createTestPki();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-instructions-'));
  process.once('exit', stopAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  try {
    const certificates = await serverCertificates(pki, dir);
    const rsaType = new X509Certificate(readFileSync(pki.server.certFile)).publicKey.asymmetricKeyDetails;
    const client: ClientFiles = { cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile) };
    const backends = await startBackends(dist);
    const cdp = await startCdp(pki.root);
    const pointersIssued = await issueClient({ ca: pki.root, commonName: 'Bench Badge With CDP', crlUrls: [cdp.url] });
    const pointersClient: ClientFiles = { cert: Buffer.from(pointersIssued.certPem), key: Buffer.from(pointersIssued.keyPem) };
    const prefixOf = (name: string) => `cg-${name.split(':')[0]?.replace(/\W+/g, '-')}`;
    const files: PeerFiles = {
      dir,
      caFile: pki.caFile,
      ...certificates,
      backendPorts: backends,
      onlineRevocation: { cacheFolder: join(dir, 'revocation-cache') },
      under: (name) => ['valgrind', '--tool=callgrind', '--dump-instr=no', '--trace-children=no', `--callgrind-out-file=${join(dir, prefixOf(name))}.%p`],
    };
    const withNjs = njsAvailable();
    const starts: [string, () => Promise<Peer>][] = [
      [GATEHOUSE_NAME, () => startGatehouse(root, files)],
      [NGINX_NAME, () => startNginx(files, withNjs)],
      [NODE_FLOOR_NAME, () => startNodePeer(dist, files, true)],
    ];
    // BENCH_INSTRUCTIONS_PEERS=Gatehouse measures only Gatehouse (comparing two versions of the request path).
    const only = process.env.BENCH_INSTRUCTIONS_PEERS?.split(',').map((name) => name.trim().toLowerCase());
    const results = new Map<string, Map<string, number>>();
    for (const [name, start] of starts) {
      if (only && !only.some((wanted) => name.toLowerCase().startsWith(wanted))) continue;
      log(`starting ${name} under callgrind`);
      const peer = await start();
      try {
        results.set(name, await measurePeer(peer, dir, prefixOf(name), client, pointersClient));
      } finally {
        stopProcess(peer.child);
      }
    }

    cdp.server.close();
    log(`CRL distribution point: ${cdp.hits()} fetch(es) in all`);
    const gh = results.get(GATEHOUSE_NAME);
    const ng = results.get(NGINX_NAME);
    const floor = results.get(NODE_FLOOR_NAME);
    const rows = SCENARIOS.map((s) => {
      const g = gh?.get(s.key);
      const n = ng?.get(s.key);
      const f = floor?.get(s.key);
      return `| ${s.title} | ${s.unit} | ${fmt(g)} | ${fmt(n)} | ${fmt(f)} | ${ratio(g, n)} | ${ratio(g, f)} | ${ratio(f, n)} |`;
    });
    const table = [
      '| Scenario | per | Gatehouse | nginx | Node floor | Gatehouse ÷ nginx | Gatehouse ÷ floor | floor ÷ nginx |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
    ].join('\n');
    const withOnline = gh?.get('new-ecdsa-online');
    const withoutOnline = gh?.get('new-ecdsa-pointers');
    const onlineLine =
      withOnline !== undefined && withoutOnline !== undefined
        ? `Online revocation, answers cached: a new connection costs ${ratio(withOnline, withoutOnline)}× the same handshake without revocation (${fmt(withOnline)} against ${fmt(withoutOnline)} instructions).`
        : '';
    process.stdout.write(`\n${table}\n${onlineLine ? `\n${onlineLine}\n` : ''}`);
    const date = new Date().toISOString().slice(0, 10);
    const doc = `# Instructions per request

Generated by \`npm run bench:instructions\` (bench/instructions.ts); rerun it to refresh.

User-space instructions per request, or per new connection, counted by ${valgrindVersion}'s callgrind.
On this shared machine CPU time moves by up to 40% between runs; an instruction count repeats to within a
few percent, so it measures one change to the request path. It leaves out the kernel (socket reads and
writes, about a third of a keep-alive request's CPU time here), which \`npm run bench\` counts
([benchmarks.md](benchmarks.md)): read the two together.

## Method

- **Peers**, configured as in \`npm run bench\`:
  - Gatehouse: \`workers: 1\`, access log off;
  - nginx: \`master_process off\`, so that the one process under valgrind serves;${withNjs ? '' : ' without njs it forwards the escaped PEM, not base64 DER;'}
  - the Node floor: node:http (and node:https with \`requestCert\`, reading the client certificate)
    answering 1 KB itself, proxying nothing: what node's own HTTP and TLS stack costs.
- **Running.** Each peer runs alone, under callgrind, pinned to CPU 0. The two node:http backends (1 KB
  answers) and the load run on CPU 1.
- **Load.**
  - Keep-alive: ${KEEP_ALIVE_REQUESTS} GETs over ${CONNECTIONS} connections, after as many to warm up.
  - New connections: ${NEW_CONNECTIONS} full mTLS handshakes, each with one \`Connection: close\` GET, 4 at a time,
    after ${Math.ceil(NEW_CONNECTIONS / 3)} to warm up.
  - The client certificate is ECDSA P-256. The RSA server key is ${rsaType?.modulusLength ?? '?'} bits.
  - Online revocation: Gatehouse alone, one client certificate naming a CRL distribution point (a node:http
    server in this process, on 127.0.0.1, serving the root's CRL), first on a site without revocation, then
    on a site with \`revocation.online: true\`; after the warm-up the CRL is cached, so the pair shows what a
    cached online check adds to a handshake.
- **Counting.** \`callgrind_control -z\` zeroes the counters after the warm-up and \`-d\` dumps them after
  the load. The count is the dump's total (every thread of the process) divided by the requests or
  connections.
- **One change.** \`BENCH_INSTRUCTIONS_PEERS=gatehouse npm run bench:instructions\` measures Gatehouse alone and
  prints the table without rewriting this file; run it before and after the change.
  \`BENCH_INSTRUCTIONS_SCENARIOS=http\` (keys: ${ALL_SCENARIOS.map((s) => s.key).join(', ')}) measures only those scenarios.

## Results (${date}, Node ${process.version}, run took ${Math.round((Date.now() - started) / 1000)} s)

${table}
${onlineLine ? `\n${onlineLine}\n` : ''}`;
    if (only || chosenScenarios) {
      process.stdout.write('\nBENCH_INSTRUCTIONS_PEERS or BENCH_INSTRUCTIONS_SCENARIOS is set: docs/instructions.md left as it was (it keeps every peer).\n');
      return;
    }
    await writeAtomic(join(root, 'docs/instructions.md'), doc, 0o644, true);
    process.stdout.write(`\ndocs/instructions.md written (${Math.round((Date.now() - started) / 1000)} s)\n`);
  } finally {
    stopAll();
    await pki.cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:instructions: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
