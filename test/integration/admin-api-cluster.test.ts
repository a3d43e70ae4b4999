/**
 * The admin API with workers: 2, against the real command line (a primary and two worker processes):
 * GET /farms sums each server's counters over both workers; a drain, a health mark and a counters reset
 * reach both workers before the answer (the very next requests, whichever worker takes their connection,
 * follow it); a worker that does not answer makes a read fail with 503 worker_unavailable naming it; a
 * worker killed with SIGKILL is replaced by one that starts with the run-time state (drained, marked
 * unhealthy) before it serves; the state survives a SIGHUP reload that changes weights, which resolves
 * once both workers reloaded (a reload the workers refuse names each in the last reload); and a drain
 * under load with both workers fails no request and sends no new request to the drained server once
 * answered.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { curl } from '../support/clients.js';
import type { RunningCli } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { startCluster, stopCluster } from './admin-api-cluster-helpers.js';
import { apiClient, makeToken } from './admin-api-helpers.js';

let pki: TestPki;
let backends: Backend[];
let gatehouse: RunningCli;
let configFile: string;
let siteUrl = '';
let adminUrl = '';
let workerPids: number[] = [];
let token: string;
let api: ReturnType<typeof apiClient>;

const NAMES = ['one', 'two', 'three'] as const;
const address = (name: (typeof NAMES)[number]) => (backends[NAMES.indexOf(name)] as Backend).address;
const serverPath = (name: (typeof NAMES)[number]) => `/api/v1/farms/web/servers/${encodeURIComponent(address(name))}`;

function configText(weights: readonly number[], extraBinding = '', admin: { readonly port?: number; readonly metrics?: 'authenticated' } = {}): string {
  return `accessLog: off
workers: 2
drainTimeout: 2s
admin:
  port: ${admin.port ?? 0}
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }${admin.metrics ? `\n  metrics: ${admin.metrics}` : ''}
  users: [{ name: ops, tokenFile: ${join(pki.dir, 'ops.token')}, role: operator }]
sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }${extraBinding}]
    farm: web
farms:
  - name: web
    servers: [${backends.map((b, i) => `{ address: ${b.address}, weight: ${weights[i]} }`).join(', ')}]
`;
}

/** One request; `agent` false: a new connection (the primary hands each to the next worker in turn). */
function get(agent: Agent | false = false): Promise<{ status: number; server: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${siteUrl}/`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, server: body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `count` requests one after the other, each on a new connection: which server answered each. */
async function servedBy(count: number): Promise<string[]> {
  const servers: string[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await get();
    assert.equal(answer.status, 200, `request ${i}: ${answer.server}`);
    servers.push(answer.server);
  }
  return servers;
}

/** The worker processes holding connections to a backend (the proxy keeps them alive after a request). */
function pidsConnectedTo(backend: Backend): number[] {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${backend.port} )`], { encoding: 'utf8' });
  return [...new Set([...out.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1])))].filter((pid) => workerPids.includes(pid)).sort();
}

async function farm(): Promise<any> {
  const answer = await api('GET', '/api/v1/farms/web', { token });
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.headers.etag, answer.json.etag);
  return answer.json;
}

const server = (view: any, name: (typeof NAMES)[number]) => view.servers.find((s: any) => s.address === address(name));

async function write(method: string, path: string, body: unknown): Promise<any> {
  const answer = await api(method, path, { token, body, ifMatch: (await farm()).etag });
  assert.equal(answer.status, 200, answer.text);
  return answer.json;
}

before(async () => {
  pki = await createTestPki();
  backends = await Promise.all(NAMES.map((name) => startBackend(name, (_req, res, backend) => res.end(backend.name))));
  token = (await makeToken(pki.dir, 'ops')).token;
  configFile = join(pki.dir, 'cluster.yaml');
  await writeFile(configFile, configText([1, 1, 1]));
  const cluster = await startCluster(configFile, pki.dir);
  gatehouse = cluster.cli;
  siteUrl = cluster.siteUrls.get('web') as string;
  adminUrl = cluster.adminUrl;
  workerPids = [...cluster.workerPids];
  api = apiClient(() => adminUrl, pki.caFile);
});

after(async () => {
  await stopCluster(gatehouse);
  await Promise.all((backends ?? []).map((backend) => backend.close()));
  await pki?.cleanup();
});

test('GET /farms sums each server\'s counters over both workers; the ETag is the same whichever worker answers first', async () => {
  const status = await api('GET', '/api/v1/status', { token });
  assert.equal(status.status, 200, status.text);
  assert.equal(status.json.workers, 2);
  assert.equal((await api('GET', '/api/v1/farms')).status, 401);
  const requests = 30;
  const servers = await servedBy(requests);
  // Both workers proxied some of them: each holds its own kept-alive connections to the servers.
  const serving = new Set(backends.flatMap((backend) => pidsConnectedTo(backend)));
  assert.deepEqual([...serving].sort(), [...workerPids].sort(), 'both workers served requests');
  const list = await api('GET', '/api/v1/farms', { token });
  assert.equal(list.status, 200, list.text);
  const view = list.json.farms.find((f: any) => f.name === 'web');
  for (const name of NAMES) {
    const count = servers.filter((s) => s === name).length;
    assert.equal(server(view, name).totalRequests, count, `${name}'s totalRequests`);
    assert.equal(server(view, name).bytesReceived, count * name.length, `${name}'s bytesReceived (its name, per response)`);
  }
  assert.equal(view.servers.reduce((total: number, s: any) => total + s.totalRequests, 0), requests);
  assert.equal(view.servers.reduce((total: number, s: any) => total + s.currentRequests, 0), 0);
  assert.ok(view.servers.every((s: any) => s.health === 'healthy' && s.state === 'available' && s.responseTimeMs !== null));
  const again = await farm();
  assert.equal(again.etag, view.etag, 'same state, same ETag');
});

test('a drain reaches both workers before the answer: the very next new connections never reach the drained server', async () => {
  const answer = await write('PUT', `${serverPath('two')}/state`, { state: 'drain' });
  assert.equal(answer.changed, true);
  assert.deepEqual(answer.before, { state: 'available' });
  assert.deepEqual(answer.after, { state: 'drain' });
  assert.equal(server(answer.farm, 'two').state, 'drain');
  const servers = await servedBy(20);
  assert.ok(!servers.includes('two'), servers.join(' '));
  assert.ok(servers.includes('one') && servers.includes('three'), servers.join(' '));
  assert.equal(server(await farm(), 'two').state, 'drain');
});

test('a health mark reaches both workers; a stale ETag is 412', async () => {
  const stale = (await farm()).etag;
  const answer = await write('POST', `${serverPath('three')}/health`, { healthy: false });
  assert.equal(answer.changed, true);
  assert.equal(answer.after.health, 'unhealthy');
  const view = await farm();
  assert.equal(server(view, 'three').health, 'unhealthy');
  assert.match(server(view, 'three').healthReason, /^marked unhealthy by /);
  assert.notEqual(view.etag, stale);
  const refused = await api('PUT', `${serverPath('one')}/state`, { token, body: { state: 'drain' }, ifMatch: stale });
  assert.equal(refused.status, 412, refused.text);
  const servers = await servedBy(12);
  assert.deepEqual([...new Set(servers)], ['one']);
});

test('a worker that does not answer makes a read fail with 503 worker_unavailable naming it, and nothing waits forever', async () => {
  const [stopped] = workerPids as [number];
  process.kill(stopped, 'SIGSTOP');
  try {
    const started = Date.now();
    const answer = await api('GET', '/api/v1/farms', { token });
    assert.equal(answer.status, 503, answer.text);
    assert.equal(answer.json.code, 'worker_unavailable');
    assert.match(answer.json.detail, new RegExp(`worker ${stopped} did not answer within 5000 ms`));
    assert.ok(Date.now() - started < 10_000);
  } finally {
    process.kill(stopped, 'SIGCONT');
  }
  assert.equal(server(await farm(), 'two').state, 'drain');
});

test('a worker killed with SIGKILL is replaced by one that starts with the run-time state before it serves', async () => {
  const [killed, survivor] = workerPids as [number, number];
  const from = gatehouse.lines('stderr').length;
  process.kill(killed, 'SIGKILL');
  const line = await gatehouse.waitForLine('stderr', /^gatehouse: worker \d+ replaced a worker that stopped and is serving$/, from);
  const replacement = Number(/worker (\d+)/.exec(line)?.[1]);
  workerPids = [survivor, replacement];
  // The replacement takes every other new connection from its first one: none reaches a drained or unhealthy server.
  const servers = await servedBy(20);
  assert.deepEqual([...new Set(servers)], ['one']);
  assert.ok(pidsConnectedTo(backends[0] as Backend).includes(replacement), 'the replacement served requests');
  const view = await farm();
  assert.equal(server(view, 'two').state, 'drain');
  assert.equal(server(view, 'three').health, 'unhealthy');
  assert.match(server(view, 'three').healthReason, /^marked unhealthy by /);
  assert.doesNotMatch(server(view, 'three').healthReason, /of 2 workers/);
});

test('a health mark back and a counters reset reach both workers', async () => {
  await write('POST', `${serverPath('three')}/health`, { healthy: true });
  const servers = await servedBy(12);
  assert.ok(servers.includes('three') && !servers.includes('two'), servers.join(' '));
  const before = await farm();
  assert.ok(before.servers.reduce((total: number, s: any) => total + s.totalRequests, 0) > 0);
  const answer = await write('POST', '/api/v1/farms/web/counters/reset', {});
  assert.deepEqual(answer.after, { totalRequests: 0, failedRequests: 0 });
  const view = await farm();
  for (const s of view.servers) {
    assert.equal(s.totalRequests, 0, s.address);
    assert.equal(s.bytesReceived, 0, s.address);
  }
});

test('the run-time state survives a SIGHUP reload that changes weights; the reload ends once both workers reloaded', async () => {
  await writeFile(configFile, configText([3, 1, 2]));
  const from = gatehouse.lines('stderr').length;
  gatehouse.child.kill('SIGHUP');
  await gatehouse.waitForLine('stderr', /^gatehouse: 2 workers reloaded from /, from);
  const view = await farm();
  assert.deepEqual(view.servers.map((s: any) => s.weight), [3, 1, 2]);
  assert.equal(server(view, 'two').state, 'drain');
  const status = await api('GET', '/api/v1/status', { token });
  assert.equal(status.json.lastReload.ok, true);
  const servers = await servedBy(12);
  assert.ok(!servers.includes('two'), servers.join(' '));
});

test('a reload the workers refuse (a new binding on a port in use) shows in the last reload, each worker named', async (t) => {
  const held = createNetServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  t.after(() => held.close());
  const heldPort = (held.address() as AddressInfo).port;
  await writeFile(configFile, configText([3, 1, 2], `, { protocol: http, address: 127.0.0.1, port: ${heldPort} }`));
  let from = gatehouse.lines('stderr').length;
  gatehouse.child.kill('SIGHUP');
  await gatehouse.waitForLine('stderr', /^gatehouse: reload refused by every worker, the running config stays$/, from);
  const status = await api('GET', '/api/v1/status', { token });
  assert.equal(status.json.lastReload.ok, false);
  for (const pid of workerPids) assert.ok(status.json.lastReload.problems.some((problem: string) => problem.startsWith(`worker ${pid}: `) && problem.includes(`${heldPort}`)), JSON.stringify(status.json.lastReload));
  assert.equal(server(await farm(), 'two').state, 'drain');
  await writeFile(configFile, configText([3, 1, 2]));
  from = gatehouse.lines('stderr').length;
  gatehouse.child.kill('SIGHUP');
  await gatehouse.waitForLine('stderr', /^gatehouse: 2 workers reloaded from /, from);
  assert.equal((await api('GET', '/api/v1/status', { token })).json.lastReload.ok, true);
});

test('a reload reaches the primary\'s admin listener: metrics: authenticated closes /metrics at once, a port change waits for a restart (said on stderr)', async () => {
  const metrics = () => curl(`${adminUrl}/metrics`, { cacert: pki.caFile });
  assert.equal((await metrics()).status, 200);
  await writeFile(configFile, configText([3, 1, 2], '', { port: 1, metrics: 'authenticated' }));
  let from = gatehouse.lines('stderr').length;
  gatehouse.child.kill('SIGHUP');
  await gatehouse.waitForLine('stderr', /^gatehouse: 2 workers reloaded from /, from);
  await gatehouse.waitForLine('stderr', new RegExp(`^gatehouse: admin\\.address/port changed to 127\\.0\\.0\\.1:1: the admin listener stays on ${adminUrl.replace(/[.]/g, '\\.')} until Gatehouse restarts$`), from);
  assert.equal((await metrics()).status, 401);
  const withToken = await curl(`${adminUrl}/metrics`, { cacert: pki.caFile, headers: [`Authorization: Bearer ${token}`] });
  assert.equal(withToken.status, 200);
  assert.match(withToken.body, /gatehouse_/);
  await writeFile(configFile, configText([3, 1, 2]));
  from = gatehouse.lines('stderr').length;
  gatehouse.child.kill('SIGHUP');
  await gatehouse.waitForLine('stderr', /^gatehouse: 2 workers reloaded from /, from);
  assert.equal((await metrics()).status, 200);
});

test('drain under load with both workers: no request fails, and once answered no new request reaches the drained server', async () => {
  await write('PUT', `${serverPath('two')}/state`, { state: 'available' });
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 });
  const results: { startedAfterDrain: boolean; status: number; server: string }[] = [];
  let drainedAt: number | undefined;
  let done = 0;
  let reachedHalf: () => void = () => {};
  const half = new Promise<void>((resolve) => (reachedHalf = resolve));
  const lane = async (agent: Agent | false, count: number) => {
    for (let i = 0; i < count; i++) {
      const startedAfterDrain = drainedAt !== undefined;
      const answer = await get(agent).catch((error: Error) => ({ status: 0, server: error.message }));
      results.push({ startedAfterDrain, ...answer });
      if (++done === 100) reachedHalf();
    }
  };
  const lanes = [lane(keepAlive, 150), lane(keepAlive, 150), lane(false, 150), lane(false, 150)];
  await half;
  await write('PUT', `${serverPath('one')}/state`, { state: 'drain' });
  drainedAt = Date.now();
  await Promise.all(lanes);
  keepAlive.destroy();
  const failed = results.filter((r) => r.status !== 200);
  assert.deepEqual(failed, [], 'no request failed');
  const afterDrain = results.filter((r) => r.startedAfterDrain);
  assert.ok(afterDrain.length >= 50, `${afterDrain.length} requests after the drain`);
  assert.equal(afterDrain.filter((r) => r.server === 'one').length, 0, 'no request sent after the drain answer reached the drained server');
  assert.ok(results.some((r) => !r.startedAfterDrain && r.server === 'one'), 'the server took requests before');
  assert.equal(server(await farm(), 'one').state, 'drain');
  const exit = new Promise((resolve) => gatehouse.child.once('exit', (code) => resolve(code)));
  gatehouse.child.kill('SIGTERM');
  assert.equal(await exit, 0);
});
