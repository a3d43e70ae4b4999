/**
 * A reload that changes a farm keeps the servers that stay in it (identity: the address): their counters,
 * health, availability state, client affinity and connections carry on, and only the changed settings
 * (weights) apply. A server the reload removes finishes its requests in flight, then its connections close.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { echoHandler, startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import type { FarmServer } from '../../src/farm/farm-server.js';

let pki: TestPki;

before(async () => {
  pki = await createTestPki();
});

after(async () => {
  await pki?.cleanup();
});

interface ServerSpec {
  readonly backend: Backend;
  readonly weight?: number;
  readonly state?: 'available' | 'drain' | 'unavailable';
}

/** One http site on 127.0.0.2 (port 0) and its farm `web`; `farm` adds farm-level keys. */
function configOf(servers: readonly ServerSpec[], farm: Record<string, unknown> = {}): string {
  return JSON.stringify({
    accessLog: 'off',
    drainTimeout: 1,
    sites: [{ name: 'web', farm: 'web', bindings: [{ protocol: 'http', address: '127.0.0.2', port: 0 }] }],
    farms: [{ name: 'web', servers: servers.map((s) => ({ address: s.backend.address, ...(s.weight ? { weight: s.weight } : {}), ...(s.state ? { state: s.state } : {}) })), ...farm }],
  });
}

function get(running: RunningGatehouse, path = '/', headers: Record<string, string> = {}): Promise<{ status: number; server: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${running.url('web', 'http')}${path}`, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, server: res.statusCode === 200 ? (JSON.parse(body) as { server: string }).server : body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sequential requests; how many each backend answered. */
async function spread(running: RunningGatehouse, count: number): Promise<Record<string, number>> {
  const answered: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const reply = await get(running);
    assert.equal(reply.status, 200, reply.server);
    answered[reply.server] = (answered[reply.server] ?? 0) + 1;
  }
  return answered;
}

function serverOf(running: RunningGatehouse, backend: Backend): FarmServer {
  const server = running.gatehouse.farms.get('web')?.servers.find((s) => s.address === backend.address);
  assert.ok(server, `${backend.address} is in farm web`);
  return server;
}

/** Counters as the farm's snapshot (metrics, admin API) reports them, by backend name. */
function countersOf(running: RunningGatehouse, backends: readonly Backend[]): Record<string, { totalRequests: number; bytesReceived: number; failedRequests: number }> {
  const snapshot = running.gatehouse.farms.get('web')?.snapshot();
  return Object.fromEntries(
    backends.map((backend) => {
      const counters = snapshot?.servers.find((s) => s.address === backend.address)?.counters;
      assert.ok(counters, backend.name);
      return [backend.name, { totalRequests: counters.totalRequests, bytesReceived: counters.bytesReceived, failedRequests: counters.failedRequests }];
    }),
  );
}

test('a weights-only reload keeps each server, its counters and its connections; the new weights apply', async (t) => {
  const a = await startBackend('a');
  const b = await startBackend('b');
  t.after(() => Promise.all([a.close(), b.close()]));
  const running = await startGatehouse(configOf([{ backend: a }, { backend: b }]), pki.dir);
  t.after(() => running.stop());
  assert.deepEqual(await spread(running, 10), { a: 5, b: 5 });
  const farm = running.gatehouse.farms.get('web');
  const servers = { a: serverOf(running, a), b: serverOf(running, b) };
  const pools = { a: servers.a.pool, b: servers.b.pool };
  const counters = countersOf(running, [a, b]);
  assert.ok((counters.a?.bytesReceived ?? 0) > 0);

  await writeFile(running.configFile, configOf([{ backend: a, weight: 300 }, { backend: b, weight: 100 }]));
  assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
  assert.notEqual(running.gatehouse.farms.get('web'), farm, 'the farm changed');
  assert.equal(serverOf(running, a), servers.a, 'the same server');
  assert.equal(serverOf(running, b), servers.b);
  assert.equal(servers.a.pool, pools.a, 'the same connections (their settings did not change)');
  assert.equal(servers.a.weight, 300);
  assert.deepEqual(countersOf(running, [a, b]), counters, 'counters carry on');

  assert.deepEqual(await spread(running, 8), { a: 6, b: 2 }, 'the new weights (3:1)');
  const now = countersOf(running, [a, b]);
  assert.equal(now.a?.totalRequests, 11);
  assert.equal(now.b?.totalRequests, 7);
});

test('adding a server keeps the staying one\'s counters; a removed server finishes its request in flight, then its connections close', async (t) => {
  // Two backends that hold /hold until released, so the test knows which server has the request in flight.
  let held: { backend: Backend; release: () => void } | undefined;
  let onHeld: () => void = () => {};
  const holding = (req: IncomingMessage, res: ServerResponse, backend: Backend) => {
    if (req.url !== '/hold') return echoHandler(req, res, backend);
    held = { backend, release: () => echoHandler(req, res, backend) };
    onHeld();
  };
  const first = await startBackend('first', holding);
  const second = await startBackend('second', holding);
  const added = await startBackend('added');
  t.after(() => Promise.all([first.close(), second.close(), added.close()]));
  const sockets = new Map<Backend, Socket[]>([first, second].map((backend) => [backend, []]));
  for (const backend of [first, second]) backend.server.on('connection', (socket: Socket) => sockets.get(backend)?.push(socket));
  const running = await startGatehouse(configOf([{ backend: first }, { backend: second }]), pki.dir);
  t.after(() => running.stop());
  assert.deepEqual(await spread(running, 4), { first: 2, second: 2 });

  const arrived = new Promise<void>((resolve) => (onHeld = resolve));
  const inFlight = get(running, '/hold');
  await arrived;
  assert.ok(held);
  const removed = held.backend;
  const staying = removed === first ? second : first;
  const removedServer = serverOf(running, removed);
  const stayingServer = serverOf(running, staying);
  const before = countersOf(running, [staying]);

  await writeFile(running.configFile, configOf([{ backend: staying }, { backend: added }]));
  assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
  assert.equal(serverOf(running, staying), stayingServer);
  assert.deepEqual(countersOf(running, [staying]), before, 'the staying server\'s counters carry on');
  assert.deepEqual(countersOf(running, [added]), { added: { totalRequests: 0, bytesReceived: 0, failedRequests: 0 } });
  const open = sockets.get(removed)?.filter((socket) => !socket.destroyed) ?? [];
  assert.ok(open.length > 0, 'the removed server\'s connection with the request in flight is still open');

  held.release();
  assert.deepEqual(await inFlight, { status: 200, server: removed.name }, 'the request in flight finishes');
  await Promise.all(open.map((socket) => (socket.destroyed ? undefined : once(socket, 'close'))));
  assert.equal(removedServer.pool?.size, 0, 'its connections closed after the request');
  assert.equal(removedServer.counters.currentRequests, 0);
  assert.deepEqual(await spread(running, 4), { [staying.name]: 2, added: 2 });
  assert.equal(countersOf(running, [staying])[staying.name]?.totalRequests, (before[staying.name]?.totalRequests ?? 0) + 2);
});

test('health, an administrator\'s drain and remembered affinity survive a reload; a state the config changes applies', async (t) => {
  const a = await startBackend('a');
  const b = await startBackend('b');
  const c = await startBackend('c');
  t.after(() => Promise.all([a.close(), b.close(), c.close()]));
  const backends = [a, b, c];
  const affinity = { affinity: { by: 'serverVariable', hashServerVariable: 'HTTP_X_USER' } };
  const running = await startGatehouse(configOf(backends.map((backend) => ({ backend })), affinity), pki.dir);
  t.after(() => running.stop());
  const pinned = (await get(running, '/', { 'x-user': 'alice' })).server;
  const home = backends.find((backend) => backend.name === pinned) as Backend;
  const [other, third] = backends.filter((backend) => backend !== home) as [Backend, Backend];
  const farm = running.gatehouse.farms.get('web');
  assert.ok(farm);
  // At run time: alice's server drains (it keeps its clients), another is marked unhealthy.
  serverOf(running, home).state = 'drain';
  assert.ok(farm.markUnhealthy(serverOf(running, other)));
  assert.equal((await get(running, '/', { 'x-user': 'alice' })).server, home.name, 'a draining server keeps its clients');

  await writeFile(running.configFile, configOf([{ backend: home, weight: 50 }, { backend: other, weight: 50 }, { backend: third, weight: 200 }], affinity));
  assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
  assert.notEqual(running.gatehouse.farms.get('web'), farm);
  assert.equal(serverOf(running, home).state, 'drain', 'the drain set at run time stays');
  assert.equal(serverOf(running, other).isHealthy, false, 'health stays');
  const snapshot = running.gatehouse.farms.get('web')?.snapshot();
  assert.equal(snapshot?.servers.find((s) => s.address === other.address)?.health, 'unhealthy');
  assert.equal((await get(running, '/', { 'x-user': 'alice' })).server, home.name, 'alice stays on her (draining) server');
  assert.equal((await get(running, '/')).server, third.name, 'new clients go to the one available, healthy server');

  // A state the config itself changes applies (and an unchanged farm-level setting leaves health alone).
  await writeFile(running.configFile, configOf([{ backend: home, weight: 50, state: 'unavailable' }, { backend: other, weight: 50 }, { backend: third, weight: 200 }], affinity));
  assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
  assert.equal(serverOf(running, home).state, 'unavailable');
  assert.equal(serverOf(running, other).isHealthy, false);
  assert.equal((await get(running, '/', { 'x-user': 'alice' })).server, third.name, 'an unavailable server keeps no client');
});

test('a changed connection setting (protocol.timeout) gives staying servers new connections; the old ones close', async (t) => {
  const a = await startBackend('a');
  t.after(() => a.close());
  const closed: Promise<unknown>[] = [];
  a.server.on('connection', (socket: Socket) => closed.push(once(socket, 'close')));
  const running = await startGatehouse(configOf([{ backend: a }]), pki.dir);
  t.after(() => running.stop());
  assert.deepEqual(await spread(running, 2), { a: 2 });
  const server = serverOf(running, a);
  const pool = server.pool;
  assert.equal(pool?.size, 1, 'one keep-alive connection');
  const counters = countersOf(running, [a]);

  await writeFile(running.configFile, configOf([{ backend: a }], { protocol: { timeout: 20 } }));
  assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
  assert.equal(serverOf(running, a), server);
  assert.notEqual(server.pool, pool, 'new connections');
  await Promise.all(closed);
  assert.equal(pool?.size, 0, 'the old idle connection closed');
  assert.deepEqual(countersOf(running, [a]), counters);
  assert.deepEqual(await spread(running, 2), { a: 2 });
});
