/**
 * Every algorithm through the real proxy, in front of node:http echo backends on 127.0.0.1: what the
 * client sends (URL, headers, query) decides the server the way the algorithm says.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { ALGORITHM_NAMES } from '../../src/farm/algorithms/index.js';
import { echoHandler, startBackend, type Backend, type Handler } from '../support/backends.js';
import { answeredBy, get, startFarm, tally, type FarmSpec } from './farm-health-support.js';
import { makeTempDir } from '../support/temp.js';

let tmp: { dir: string; remove: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir('gatehouse-farm-balancing-');
});
after(async () => {
  await tmp?.remove();
});

async function backends(t: TestContext, names: readonly string[], handlerOf: (name: string) => Handler = () => echoHandler): Promise<Backend[]> {
  const started: Backend[] = [];
  for (const name of names) {
    const backend = await startBackend(name, handlerOf(name));
    t.after(() => backend.close());
    started.push(backend);
  }
  return started;
}

async function farmOf(t: TestContext, list: readonly Backend[], loadBalancing: Record<string, unknown>, extra: Partial<FarmSpec> = {}) {
  return startFarm(t, tmp.dir, { servers: list.map((b) => b.address), loadBalancing, ...extra });
}

async function names(url: (path: string) => string, paths: readonly string[], headers: (i: number) => Record<string, string> = () => ({})): Promise<string[]> {
  const out: string[] = [];
  for (const [i, path] of paths.entries()) out.push(answeredBy(await get(url(path), headers(i))));
  return out;
}

const range = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));

describe('algorithms through the proxy', () => {
  test('weightedRoundRobin: 300/100/100 as 3:1:1', async (t) => {
    const [a, b, c] = await backends(t, ['a', 'b', 'c']);
    const run = await startFarm(t, tmp.dir, { servers: [{ address: a!.address, weight: 300 }, b!.address, c!.address] });
    assert.deepEqual(tally(await names(run.url, range(25, (i) => `/w/${i}`))), { a: 15, b: 5, c: 5 });
  });

  test('leastRequests: a server holding requests gets no new one while others are idle', async (t) => {
    const held: (() => void)[] = [];
    t.after(() => held.forEach((release) => release()));
    let onHeld: () => void = () => {};
    const isHeld = new Promise<void>((resolve) => (onHeld = resolve));
    const [slow, b, c] = await backends(t, ['slow', 'b', 'c'], (name) => (req, res, backend) => {
      if (name === 'slow' && req.url?.startsWith('/hold')) {
        req.resume();
        held.push(() => res.end());
        onHeld();
        return;
      }
      echoHandler(req, res, backend);
    });
    const run = await farmOf(t, [slow!, b!, c!], { algorithm: 'leastRequests' });
    const slowServer = run.server(slow!.address);
    // The first request of a fresh farm goes to the first server: it holds it.
    const holding = get(run.url('/hold/1'));
    await isHeld;
    assert.equal(slowServer.counters.currentRequests, 1);
    assert.deepEqual(tally(await names(run.url, range(20, (i) => `/l/${i}`))), { b: 10, c: 10 });
    held.forEach((release) => release());
    assert.equal((await holding).status, 200);
    assert.deepEqual(tally(await names(run.url, range(30, (i) => `/m/${i}`))), { slow: 10, b: 10, c: 10 });
  });

  test('leastResponseTime: a slow server gets a small share', async (t) => {
    const timers = new Set<NodeJS.Timeout>();
    t.after(() => timers.forEach((timer) => clearTimeout(timer)));
    const list = await backends(t, ['a', 'b', 'slow'], (name) => (req, res, backend) => {
      if (name !== 'slow') return echoHandler(req, res, backend);
      const timer = setTimeout(() => {
        timers.delete(timer);
        echoHandler(req, res, backend);
      }, 150);
      timers.add(timer);
    });
    const run = await farmOf(t, list, { algorithm: 'leastResponseTime', leastResponseTimePeriod: '30s' });
    const got = tally(await names(run.url, range(60, (i) => `/t/${i}`)));
    // Shares about weight / (average + 1 ms): a few ms for a and b, over 150 ms for slow.
    assert.ok((got['slow'] ?? 0) <= 6, JSON.stringify(got));
    assert.equal((got['a'] ?? 0) + (got['b'] ?? 0) + (got['slow'] ?? 0), 60, JSON.stringify(got));
    const slow = run.farm.snapshot().servers.find((s) => s.address === list[2]!.address);
    assert.ok((slow?.averageResponseTimeMs ?? 0) >= 150, JSON.stringify(slow));
  });

  test('weightedTotalTraffic: large responses from one server send the next requests elsewhere', async (t) => {
    const big = Buffer.alloc(200_000, 0x61);
    const list = await backends(t, ['a', 'b'], () => (req, res, backend) => {
      if (req.url?.startsWith('/big')) {
        req.resume();
        res.end(big);
        return;
      }
      echoHandler(req, res, backend);
    });
    const run = await farmOf(t, list, { algorithm: 'weightedTotalTraffic' });
    assert.equal((await get(run.url('/big'))).body.length, 200_000);
    const after = tally(await names(run.url, range(10, (i) => `/small/${i}`)));
    assert.equal(Object.keys(after).length, 1, JSON.stringify(after));
    const heavy = run.farm.snapshot().servers.find((s) => s.counters.bytesReceived >= 200_000);
    assert.ok(heavy && after[heavy.address === list[0]!.address ? 'b' : 'a'] === 10, JSON.stringify(after));
  });

  test('requestHash: the same URL always reaches the same server; different URLs spread', async (t) => {
    const list = await backends(t, ['a', 'b', 'c']);
    const run = await farmOf(t, list, { algorithm: 'requestHash' });
    const same = await names(run.url, range(10, () => '/product/42?color=red'));
    assert.equal(new Set(same).size, 1, same.join(','));
    const spread = tally(await names(run.url, range(60, (i) => `/product/${i}`)));
    assert.equal(Object.keys(spread).length, 3, JSON.stringify(spread));
  });

  test('serverVariableHash on HTTP_X_USER: the same user reaches the same server', async (t) => {
    const list = await backends(t, ['a', 'b', 'c']);
    const run = await farmOf(t, list, { algorithm: 'serverVariableHash', hashServerVariable: 'HTTP_X_USER' });
    const servers = new Set<string>();
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']) {
      const got = await names(run.url, range(6, (i) => `/u/${i}`), () => ({ 'X-User': user }));
      assert.equal(new Set(got).size, 1, `${user}: ${got.join(',')}`);
      servers.add(got[0] as string);
    }
    assert.ok(servers.size >= 2, [...servers].join(','));
    assert.deepEqual(tally(await names(run.url, range(9, (i) => `/anon/${i}`))), { a: 3, b: 3, c: 3 }, 'without X-User: round robin');
  });

  test('serverVariableHash on REMOTE_ADDR: one client address, one server', async (t) => {
    const list = await backends(t, ['a', 'b', 'c']);
    const run = await farmOf(t, list, { algorithm: 'serverVariableHash', hashServerVariable: 'REMOTE_ADDR' });
    assert.equal(new Set(await names(run.url, range(10, (i) => `/ip/${i}`))).size, 1);
  });

  test('queryStringHash on q: the same q reaches the same server whatever the path', async (t) => {
    const list = await backends(t, ['a', 'b', 'c']);
    const run = await farmOf(t, list, { algorithm: 'queryStringHash', queryStringNames: ['q'] });
    const servers = new Set<string>();
    for (const q of ['shoes', 'boots', 'hats', 'socks', 'gloves', 'scarves']) {
      const got = await names(run.url, range(5, (i) => `/search/${i}?page=${i}&q=${q}`));
      assert.equal(new Set(got).size, 1, `${q}: ${got.join(',')}`);
      servers.add(got[0] as string);
    }
    assert.ok(servers.size >= 2, [...servers].join(','));
  });

  test('powerOfTwoChoices: every server takes part, nothing fails', async (t) => {
    const list = await backends(t, ['a', 'b', 'c']);
    const run = await farmOf(t, list, { algorithm: 'powerOfTwoChoices' });
    const got = tally(await names(run.url, range(60, (i) => `/p/${i}`)));
    assert.deepEqual(Object.keys(got).sort(), ['a', 'b', 'c'], JSON.stringify(got));
  });

  test('every registered algorithm serves requests through the proxy and skips a drain server', async (t) => {
    for (const algorithm of ALGORITHM_NAMES) {
      const list = await backends(t, ['a', 'drained']);
      const keys = algorithm === 'serverVariableHash' ? { hashServerVariable: 'HTTP_X_USER' } : algorithm === 'queryStringHash' ? { queryStringNames: 'q' } : {};
      const run = await startFarm(t, tmp.dir, { servers: [list[0]!.address, { address: list[1]!.address, state: 'drain' }], loadBalancing: { algorithm, ...keys } });
      const got = tally(await names(run.url, range(8, (i) => `/x/${i}?q=${i}`), (i) => ({ 'X-User': `u${i}` })));
      assert.deepEqual(got, { a: 8 }, algorithm);
      assert.equal(run.farm.snapshot().algorithm, algorithm);
      await run.gatehouse.stop(1000);
    }
  });
});
