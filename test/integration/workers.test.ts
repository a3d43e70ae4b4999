/**
 * `workers`: several processes share the listening sockets. One set of listening lines; a worker that
 * dies is replaced while the other's connections go on; TLS sessions resume whichever worker a client
 * reaches (one ticket key); SIGTERM drains them all.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { RunningCli } from '../support/gatehouse.js';
import { within } from '../support/within.js';

let pki: TestPki;
let backend: Backend;
let gatehouse: RunningCli;
let port = 0;
let adminUrl = '';
let workerPids: number[] = [];
/** Requests the backend holds until released. */
const held: (() => void)[] = [];
let heldArrived: (() => void) | undefined;


function get(path: string, agentOptions: { session?: Buffer } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, servername: 'localhost', ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile), agent: false, ...agentOptions },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('web', (req, res) => {
    if (req.url === '/slow') {
      held.push(() => res.end('slow done'));
      heldArrived?.();
      return;
    }
    req.resume();
    res.end(`ok ${req.url}`);
  });
  const config = join(pki.dir, 'workers.yaml');
  await writeFile(
    config,
    `workers: 2
accessLog: off
drainTimeout: 5s
admin: { port: 0 }
sites:
  - name: secure
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: web
farms: [{ name: web, servers: [{ address: ${backend.address} }] }]
`,
  );
  gatehouse = new RunningCli(undefined, ['start', '-c', config]);
  const listening = await gatehouse.waitForLine('stdout', /^listening https:\/\/127\.0\.0\.1:\d+ \(site secure\)$/);
  adminUrl = (await gatehouse.waitForLine('stdout', /^listening http:\/\/127\.0\.0\.1:\d+\/metrics \(admin\)$/)).split(' ')[1] as string;
  port = Number(/:(\d+) /.exec(listening)?.[1]);
  const pids = await gatehouse.waitForLine('stderr', /^gatehouse: 2 workers \(pids \d+, \d+\)$/);
  workerPids = (pids.match(/\d+/g) ?? []).slice(1).map(Number);
});

after(async () => {
  for (const release of held) release();
  await gatehouse?.kill();
  await backend?.close();
  await pki?.cleanup();
});

/** A sample's value in a Prometheus exposition (`+Inf` included), by its exact name and labels text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1).replace('+Inf', 'Infinity'));
}

test('across workers a gauge with nothing to report stays +Inf: the soonest client-certificate expiry before any is seen is not 0', async () => {
  const text = await (await fetch(adminUrl)).text();
  assert.equal(sample(text, 'gatehouse_client_certificate_soonest_expiry_seconds'), Infinity, text.split('\n').filter((l) => l.includes('soonest')).join('\n'));
});

test('two workers: the listening line is printed once and requests are served', async () => {
  assert.equal(workerPids.length, 2);
  assert.equal(gatehouse.lines('stdout').filter((l) => l.startsWith('listening https://')).length, 1);
  for (let i = 0; i < 6; i++) assert.deepEqual(await get(`/r${i}`), { status: 200, body: `ok /r${i}` });
});

test('/metrics on the primary sums the workers: the requests counter equals the requests sent', async () => {
  const text = await (await fetch(adminUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`gatehouse_farm_server_requests_total{farm="web",server="${backend.address}"}`));
  assert.ok(line, text.slice(0, 2000));
  assert.equal(Number(line.split(' ').pop()), 6, line);
  const histogram = text.split('\n').find((l) => l.startsWith('gatehouse_farm_server_response_time_seconds_count{'));
  assert.equal(Number(histogram?.split(' ').pop()), 6, histogram);
  // Now a certificate was seen (by one worker or both): the soonest expiry is its days left, not +Inf or 0.
  const soonest = sample(text, 'gatehouse_client_certificate_soonest_expiry_seconds') ?? 0;
  const left = (Date.parse(new X509Certificate(readFileSync(pki.clients.valid.certFile)).validTo) - Date.now()) / 1000;
  assert.ok(Math.abs(soonest - left) < 120, `soonest ${soonest} s, the certificate has ${left} s left`);
});

test('TLS sessions resume whichever worker the connection reaches (one ticket key)', async () => {
  const first = await new Promise<Buffer>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile) });
    socket.once('session', (session: Buffer) => {
      resolve(session);
      socket.end();
    });
    socket.on('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    socket.on('data', () => {});
    socket.on('error', reject);
  });
  const reused: boolean[] = [];
  for (let i = 0; i < 8; i++) {
    reused.push(
      await new Promise<boolean>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', session: first, ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile) });
        socket.on('secureConnect', () => {
          resolve(socket.isSessionReused());
          socket.end();
        });
        socket.on('error', reject);
      }),
    );
  }
  // With a key per worker about half of these would be full handshakes.
  assert.deepEqual(reused, Array(8).fill(true));
});

test('a worker that dies is replaced, and a request in flight on the other worker completes', async () => {
  const arrived = new Promise<void>((resolve) => (heldArrived = resolve));
  const slow = get('/slow');
  await within(arrived, 10_000, 'the slow request reaching the backend');
  // Which worker holds the client's connection? The one whose socket is on the proxy port with an established peer.
  const ss = execFileSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  const owner = Number(/pid=(\d+)/.exec(ss)?.[1]);
  assert.ok(workerPids.includes(owner), `connection owner ${owner} among workers ${workerPids.join(', ')}: ${ss}`);
  const victim = workerPids.find((pid) => pid !== owner) as number;
  process.kill(victim, 'SIGKILL');
  await gatehouse.waitForLine('stderr', new RegExp(`^gatehouse: worker ${victim} stopped \\(SIGKILL\\); starting a new one$`));
  const replaced = await gatehouse.waitForLine('stderr', /^gatehouse: worker \d+ replaced a worker that stopped and is serving$/);
  workerPids = [...workerPids.filter((pid) => pid !== victim), Number(/worker (\d+)/.exec(replaced)?.[1])];
  for (const release of held.splice(0)) release();
  assert.deepEqual(await slow, { status: 200, body: 'slow done' });
  for (let i = 0; i < 4; i++) assert.equal((await get(`/after${i}`)).status, 200);
});

test('SIGTERM drains every worker and the primary exits 0', async () => {
  gatehouse.child.kill('SIGTERM');
  assert.equal((await gatehouse.waitExit(15_000)).code, 0);
  for (const pid of workerPids) {
    assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
  }
});
