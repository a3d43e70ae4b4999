/**
 * Health through the real proxy and real backends (node:http on 127.0.0.1): the live-traffic test, the
 * URL test (connection error, status, body, timeout), recovery by the URL test and by the retry after a
 * back-off, minServers, and the drain / unavailable states. Waits are for health-change events, bounded.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test, type TestContext } from 'node:test';
import { echoHandler, startBackend, type Backend } from '../support/backends.js';
import { answeredBy, get, startFarm, tally, waitForHealth } from './farm-health-support.js';
import { makeTempDir } from '../support/temp.js';

let tmp: { dir: string; remove: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir('gatehouse-farm-health-');
});
after(async () => {
  await tmp?.remove();
});

interface Control {
  /** What /health answers: a status, `slow` (after 3 s) or a body text with 200. */
  health: number | 'slow' | { body: string };
  /** What every other path answers: the echo (`ok`) or a status. */
  live: 'ok' | number;
}

interface Controlled {
  readonly backend: Backend;
  readonly control: Control;
  /** Live requests received (any answer). */
  liveHits: number;
  healthHits: number;
  /** Resolves when the first /health request has been answered. */
  readonly firstHealth: Promise<void>;
}

async function controlled(t: TestContext, name: string, control: Partial<Control> = {}): Promise<Controlled> {
  const timers = new Set<NodeJS.Timeout>();
  let answered: () => void = () => {};
  const state: Controlled = {
    control: { health: 200, live: 'ok', ...control },
    liveHits: 0,
    healthHits: 0,
    firstHealth: new Promise<void>((resolve) => (answered = resolve)),
    backend: undefined as unknown as Backend,
  };
  const handler = (req: IncomingMessage, res: ServerResponse, backend: Backend) => {
    if (req.url?.startsWith('/health')) {
      state.healthHits++;
      const health = state.control.health;
      req.resume();
      if (health === 'slow') {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) res.end('late');
        }, 3000);
        timers.add(timer);
        return;
      }
      res.writeHead(typeof health === 'number' ? health : 200, { 'content-type': 'text/plain' });
      res.end(typeof health === 'number' ? `health ${health}` : health.body, () => answered());
      return;
    }
    state.liveHits++;
    if (state.control.live === 'ok') return echoHandler(req, res, backend);
    req.resume();
    res.writeHead(state.control.live, { 'content-type': 'text/plain' });
    res.end(`live ${state.control.live}`);
  };
  (state as { backend: Backend }).backend = await startBackend(name, handler);
  t.after(async () => {
    for (const timer of timers) clearTimeout(timer);
    await state.backend.close();
  });
  return state;
}

/** `count` sequential GETs; who answered each. */
async function sequence(url: (path: string) => string, count: number, path = '/r'): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(answeredBy(await get(url(`${path}/${i}`))));
  return names;
}

describe('live-traffic test and URL test', () => {
  test('a server answering 500s is marked unhealthy after maxLiveTrafficFailures, traffic moves to the others, and the URL test brings it back', async (t) => {
    const a = await controlled(t, 'a');
    const b = await controlled(t, 'b');
    const c = await controlled(t, 'c');
    const run = await startFarm(t, tmp.dir, { servers: [a, b, c].map((s) => s.backend.address), healthCheck: { url: '/health', interval: '2s', maxLiveTrafficFailures: 3 } });
    const server = run.server(b.backend.address);
    // Right after the first URL test: the next one is 2 s away, so live traffic decides first.
    await b.firstHealth;
    b.control.live = 500;
    b.control.health = 500;
    const failing = await sequence(run.url, 9);
    assert.deepEqual(tally(failing), { a: 3, 'status 500': 3, c: 3 });
    const change = await waitForHealth(run, server, false);
    assert.equal(change.source, 'liveTraffic');
    assert.equal(change.reason, 'live traffic: 3 failures in a row (last: status 500)');
    const liveBefore = b.liveHits;
    const moved = await sequence(run.url, 20, '/after');
    assert.deepEqual(tally(moved), { a: 10, c: 10 });
    assert.equal(b.liveHits, liveBefore, 'no live request reached the unhealthy server');
    b.control.live = 'ok';
    b.control.health = 200;
    const back = await waitForHealth(run, server, true, 10_000);
    assert.equal(back.source, 'urlTest');
    assert.equal(back.reason, 'URL test passed (status 200)');
    const again = await sequence(run.url, 30, '/again');
    assert.deepEqual(tally(again), { a: 10, b: 10, c: 10 });
    const snapshot = run.farm.snapshot().servers.find((s) => s.address === b.backend.address);
    assert.equal(snapshot?.counters.failedRequests, 3);
    assert.equal(snapshot?.health, 'healthy');
  });

  test('a killed server is marked unhealthy by the URL test (connection error) and no client sees a failure after the mark', async (t) => {
    const a = await controlled(t, 'a');
    const b = await controlled(t, 'b');
    const c = await controlled(t, 'c');
    const run = await startFarm(t, tmp.dir, { servers: [a, b, c].map((s) => s.backend.address), healthCheck: { url: '/health', interval: '200ms' } });
    await b.firstHealth;
    await b.backend.close();
    const change = await waitForHealth(run, run.server(b.backend.address), false);
    assert.equal(change.source, 'urlTest');
    assert.match(change.reason, /^URL test: connection error: (ECONNREFUSED|UND_ERR_SOCKET|ECONNRESET)/);
    const names = await sequence(run.url, 30);
    assert.deepEqual(tally(names), { a: 15, c: 15 });
  });

  test('a body without responseMatch marks the server unhealthy; the right body brings it back', async (t) => {
    const a = await controlled(t, 'a', { health: { body: 'status: OK' } });
    const b = await controlled(t, 'b', { health: { body: 'status: degraded (ok-ish)' } });
    const run = await startFarm(t, tmp.dir, { servers: [a.backend.address, b.backend.address], healthCheck: { url: '/health', interval: '200ms', responseMatch: 'OK' } });
    const server = run.server(b.backend.address);
    const change = await waitForHealth(run, server, false);
    assert.equal(change.reason, 'URL test: response body does not contain "OK" (status 200)');
    assert.equal(run.server(a.backend.address).isHealthy, true);
    assert.deepEqual(tally(await sequence(run.url, 10)), { a: 10 });
    b.control.health = { body: 'status: OK' };
    await waitForHealth(run, server, true);
    assert.deepEqual(tally(await sequence(run.url, 10, '/back')), { a: 5, b: 5 });
  });

  test('a status outside statusCodeMatch marks the server unhealthy, with the status in the reason', async (t) => {
    const a = await controlled(t, 'a');
    const b = await controlled(t, 'b', { health: 503 });
    const run = await startFarm(t, tmp.dir, { servers: [a.backend.address, b.backend.address], healthCheck: { url: `http://app.example.test/health`, interval: '200ms', statusCodeMatch: '200,204' } });
    const change = await waitForHealth(run, run.server(b.backend.address), false);
    assert.equal(change.reason, 'URL test: status 503 not in 200,204');
  });

  test('a server answering the URL test after timeout is marked unhealthy for the timeout', async (t) => {
    const a = await controlled(t, 'a');
    const b = await controlled(t, 'b', { health: 'slow' });
    const run = await startFarm(t, tmp.dir, { servers: [a.backend.address, b.backend.address], healthCheck: { url: '/health', interval: '200ms', timeout: '300ms' } });
    const change = await waitForHealth(run, run.server(b.backend.address), false);
    assert.match(change.reason, /^URL test: timeout after 300 ms/);
    assert.equal(run.server(a.backend.address).isHealthy, true);
    assert.deepEqual(tally(await sequence(run.url, 6)), { a: 6 });
  });

  test('without a URL test, a server marked unhealthy by live traffic is tried again after liveTrafficRecoveryDelay', async (t) => {
    const a = await controlled(t, 'a');
    const b = await controlled(t, 'b', { live: 502 });
    const run = await startFarm(t, tmp.dir, { servers: [a.backend.address, b.backend.address], healthCheck: { maxLiveTrafficFailures: 2, liveTrafficRecoveryDelay: '300ms' } });
    const server = run.server(b.backend.address);
    assert.deepEqual(tally(await sequence(run.url, 4)), { a: 2, 'status 502': 2 });
    await waitForHealth(run, server, false);
    b.control.live = 'ok';
    const retry = await waitForHealth(run, server, true);
    assert.equal(retry.source, 'retry');
    assert.deepEqual(tally(await sequence(run.url, 10, '/back')), { a: 5, b: 5 });
  });
});

describe('minServers', () => {
  test('fewer healthy servers than minServers: requests go to every server, healthy or not', async (t) => {
    const a = await controlled(t, 'a', { health: 503 });
    const b = await controlled(t, 'b', { health: 503 });
    const c = await controlled(t, 'c');
    const run = await startFarm(t, tmp.dir, { servers: [a, b, c].map((s) => s.backend.address), healthCheck: { url: '/health', interval: '200ms', minServers: 2 } });
    await waitForHealth(run, run.server(a.backend.address), false);
    await waitForHealth(run, run.server(b.backend.address), false);
    assert.equal(run.farm.isIgnoringHealth, true);
    assert.deepEqual(tally(await sequence(run.url, 30)), { a: 10, b: 10, c: 10 });
    b.control.health = 200;
    await waitForHealth(run, run.server(b.backend.address), true);
    assert.equal(run.farm.isIgnoringHealth, false);
    assert.deepEqual(tally(await sequence(run.url, 20, '/two')), { b: 10, c: 10 });
  });

  test('minServers 0 (default): only the healthy server gets requests', async (t) => {
    const a = await controlled(t, 'a', { health: 503 });
    const b = await controlled(t, 'b', { health: 503 });
    const c = await controlled(t, 'c');
    const run = await startFarm(t, tmp.dir, { servers: [a, b, c].map((s) => s.backend.address), healthCheck: { url: '/health', interval: '200ms' } });
    await waitForHealth(run, run.server(a.backend.address), false);
    await waitForHealth(run, run.server(b.backend.address), false);
    assert.deepEqual(tally(await sequence(run.url, 12)), { c: 12 });
  });
});

describe('server states', () => {
  test('drain and unavailable servers receive no new requests; a state set at run time applies at once', async (t) => {
    const a = await controlled(t, 'a');
    const drained = await controlled(t, 'drained');
    const off = await controlled(t, 'off');
    const c = await controlled(t, 'c');
    const run = await startFarm(t, tmp.dir, {
      servers: [a.backend.address, { address: drained.backend.address, state: 'drain' }, { address: off.backend.address, state: 'unavailable' }, c.backend.address],
    });
    assert.deepEqual(tally(await sequence(run.url, 20)), { a: 10, c: 10 });
    assert.equal(drained.liveHits + off.liveHits, 0);
    assert.equal(run.farm.canKeepAffinity(run.server(drained.backend.address)), true);
    assert.equal(run.farm.canKeepAffinity(run.server(off.backend.address)), false);
    run.server(a.backend.address).state = 'drain';
    run.server(off.backend.address).state = 'available';
    assert.deepEqual(tally(await sequence(run.url, 20, '/later')), { off: 10, c: 10 });
    const states = run.farm.snapshot().servers.map((s) => s.state);
    assert.deepEqual(states, ['drain', 'drain', 'available', 'available']);
  });
});
