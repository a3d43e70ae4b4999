/**
 * With several workers the primary merges each worker's farm views (counters summed, unhealthy in any
 * worker is unhealthy, an ETag from the merged decision fields) and keeps the operations it applied for
 * workers started later (compacted; a reload drops removed servers and config-restated states).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeFarm } from '../../src/cluster/farm-runtime.js';
import type { FarmView, ServerView } from '../../src/admin/farm-view.js';
import { RuntimeState } from '../../src/cluster/runtime-state.js';
import { loadConfigText } from '../../src/config/load.js';

function serverView(address: string, changes: Partial<ServerView> = {}): ServerView {
  return {
    address,
    state: 'available',
    health: 'healthy',
    healthReason: null,
    healthSince: null,
    currentRequests: 0,
    totalRequests: 0,
    failedRequests: 0,
    requestsPerSecond: 0,
    responseTimeMs: null,
    bytesSent: 0,
    bytesReceived: 0,
    affinityClients: 0,
    weight: 1,
    effectiveWeight: 1,
    enabled: true,
    selectable: true,
    requestDistributionPercent: 0,
    loadBalanceWeightPercent: 50,
    ...changes,
  };
}

function farmView(servers: ServerView[], etag: string): FarmView {
  return { name: 'web', enabled: true, etag, algorithm: 'weightedRoundRobin', loadBalancing: { algorithm: 'weightedRoundRobin' }, healthTest: {}, affinity: null, minServers: 0, healthyServers: 2, ignoringHealth: false, servers };
}

const a = farmView(
  [
    serverView('10.0.0.1:80', { totalRequests: 30, currentRequests: 1, failedRequests: 1, bytesReceived: 300, requestsPerSecond: 1.5, responseTimeMs: 10 }),
    serverView('10.0.0.2:80', { totalRequests: 10, responseTimeMs: 40, health: 'unhealthy', healthReason: 'URL test: 500', healthSince: '2026-01-01T00:00:05.000Z', selectable: false }),
  ],
  '"worker-a"',
);
const b = farmView(
  [
    serverView('10.0.0.1:80', { totalRequests: 10, currentRequests: 2, bytesReceived: 100, requestsPerSecond: 0.5, responseTimeMs: 30 }),
    serverView('10.0.0.2:80', { totalRequests: 0, healthReason: 'URL test: 200', healthSince: '2026-01-01T00:00:01.000Z' }),
  ],
  '"worker-b"',
);

test('counters are summed over workers; the response time is weighted by requests; distribution is recomputed', () => {
  const merged = mergeFarm([a, b], 0);
  const [one, two] = merged.servers as [ServerView, ServerView];
  assert.equal(one.totalRequests, 40);
  assert.equal(one.currentRequests, 3);
  assert.equal(one.failedRequests, 1);
  assert.equal(one.bytesReceived, 400);
  assert.equal(one.requestsPerSecond, 2);
  assert.equal(one.responseTimeMs, 15); // (10 × 30 + 30 × 10) / 40
  assert.equal(one.requestDistributionPercent, 80);
  assert.equal(two.responseTimeMs, 40);
});

test('a server unhealthy in one worker is unhealthy, its reason from that worker, saying in how many', () => {
  const [, two] = mergeFarm([b, a], 0).servers as [ServerView, ServerView];
  assert.equal(two.health, 'unhealthy');
  assert.equal(two.healthReason, 'URL test: 500 (1 of 2 workers)');
  assert.equal(two.healthSince, '2026-01-01T00:00:05.000Z');
  assert.equal(two.selectable, false);
  assert.equal(mergeFarm([a, b], 0).healthyServers, 1);
});

test('the ETag comes from the merged decision fields and the revision: not from a worker, nor from counters', () => {
  const merged = mergeFarm([a, b], 3);
  assert.equal(mergeFarm([b, a], 3).etag, merged.etag);
  const busier = farmView([serverView('10.0.0.1:80', { totalRequests: 999 }), (b.servers[1] as ServerView)], '"other"');
  assert.equal(mergeFarm([a, busier], 3).etag, merged.etag);
  assert.notEqual(mergeFarm([a, b], 4).etag, merged.etag);
  const drained = farmView([serverView('10.0.0.1:80', { state: 'drain' }), b.servers[1] as ServerView], '"b"');
  const drainedA = farmView([serverView('10.0.0.1:80', { state: 'drain' }), a.servers[1] as ServerView], '"a"');
  assert.notEqual(mergeFarm([drainedA, drained], 3).etag, merged.etag);
});

test('the applied operations are compacted to the last per server and kind, in order; a reset is not kept; an unapplied one is forgotten', () => {
  const state = new RuntimeState();
  state.record({ operation: { type: 'server.setState', farm: 'web', address: 'x:1', state: 'drain' }, actor: 'ops' });
  state.record({ operation: { type: 'server.markHealth', farm: 'web', address: 'x:1', healthy: false }, actor: 'ops' });
  state.record({ operation: { type: 'farm.resetCounters', farm: 'web' }, actor: 'ops' });
  state.record({ operation: { type: 'server.setState', farm: 'web', address: 'x:1', state: 'unavailable' }, actor: 'ops' });
  assert.deepEqual(
    state.operations.map(({ operation }) => operation),
    [
      { type: 'server.markHealth', farm: 'web', address: 'x:1', healthy: false },
      { type: 'server.setState', farm: 'web', address: 'x:1', state: 'unavailable' },
    ],
  );
  assert.equal(state.revision('web'), 4);
  const forget = state.record({ operation: { type: 'server.setState', farm: 'web', address: 'x:1', state: 'available' }, actor: 'ops' });
  forget();
  assert.deepEqual(state.operations.at(-1)?.operation, { type: 'server.setState', farm: 'web', address: 'x:1', state: 'unavailable' });
});

test('a reload drops the state of removed servers and the run-time state of servers whose configured state it changed', async () => {
  const config = (servers: string) => loadConfigText(`sites: [{ name: web, bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }], farm: web }]\nfarms: [{ name: web, servers: [${servers}] }]\n`, '/tmp/gatehouse.yaml', '/tmp').then((loaded) => loaded.config);
  const before = await config('{ address: "127.0.0.1:1" }, { address: "127.0.0.1:2" }, { address: "127.0.0.1:3" }');
  const after = await config('{ address: "127.0.0.1:1", weight: 5 }, { address: "127.0.0.1:2", state: unavailable }');
  const state = new RuntimeState();
  for (const address of ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']) state.record({ operation: { type: 'server.setState', farm: 'web', address, state: 'drain' }, actor: 'ops' });
  state.record({ operation: { type: 'server.markHealth', farm: 'web', address: '127.0.0.1:2', healthy: false }, actor: 'ops' });
  state.reloaded(before, after);
  assert.deepEqual(
    state.operations.map(({ operation }) => [operation.type, 'address' in operation ? operation.address : '']),
    [
      ['server.setState', '127.0.0.1:1'],
      ['server.markHealth', '127.0.0.1:2'],
    ],
  );
});
