/** What each algorithm does beyond the conformance suite, and the consistent hashing they share. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeLoadBalancing } from '../../src/config/farm-model.js';
import { loadBalancingSchema } from '../../src/config/farm-schema.js';
import { Rendezvous } from '../../src/farm/algorithms/rendezvous.js';
import { queryStringReader } from '../../src/farm/algorithms/query-string-hash.js';
import { serverVariableReader } from '../../src/farm/algorithms/server-variable-hash.js';
import { FarmServer } from '../../src/farm/farm-server.js';
import { counts, exchange, report, requestOf, testFarm } from './farm-fixtures.js';

function serversOf(count: number, weight = 100): FarmServer[] {
  return Array.from({ length: count }, (_, i) => new FarmServer({ address: `10.0.1.${i + 1}:8080`, host: `10.0.1.${i + 1}`, port: 8080, weight, enabled: true, state: 'available' }));
}

describe('weightedRoundRobin', () => {
  test('is smooth: 200/100 never picks the heavy server three times in a row', () => {
    const t = testFarm({ servers: [200, 100] });
    const sequence = Array.from({ length: 60 }, () => exchange(t, requestOf())).join('');
    assert.ok(!sequence.includes('000'), sequence);
    assert.equal(sequence.slice(0, 6), '010010');
  });
});

describe('leastRequests', () => {
  test('prefers the idle server', () => {
    const t = testFarm({ servers: [100, 100, 100], loadBalancing: { algorithm: 'leastRequests' } });
    t.server(0).onRequestStart();
    t.server(1).onRequestStart();
    for (let i = 0; i < 5; i++) assert.equal(t.farm.pick(requestOf()), t.server(2));
    t.server(2).onRequestStart();
    t.server(2).onRequestStart();
    t.server(0).onRequestEnd(report());
    assert.equal(t.farm.pick(requestOf()), t.server(0), 'now the idle one is server 0');
  });

  test('counts in-flight requests relative to weight', () => {
    const t = testFarm({ servers: [100, 300], loadBalancing: { algorithm: 'leastRequests' } });
    // 2 in flight on the light server (2/100) and 5 on the heavy one (5/300): the heavy one is less loaded.
    for (let i = 0; i < 2; i++) t.server(0).onRequestStart();
    for (let i = 0; i < 5; i++) t.server(1).onRequestStart();
    assert.equal(t.farm.pick(requestOf()), t.server(1));
    for (let i = 0; i < 2; i++) t.server(1).onRequestStart(); // 7/300 > 2/100? no: 0.0233 > 0.02
    assert.equal(t.farm.pick(requestOf()), t.server(0));
  });

  test('spreads by weight under concurrency too (12 requests in flight, oldest ending first)', () => {
    const t = testFarm({ servers: [100, 200, 300], loadBalancing: { algorithm: 'leastRequests' } });
    const inFlight: FarmServer[] = [];
    const picked: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const server = t.farm.pick(requestOf()) as FarmServer;
      server.onRequestStart();
      picked.push(t.servers.indexOf(server));
      inFlight.push(server);
      if (inFlight.length >= 12) (inFlight.shift() as FarmServer).onRequestEnd(report());
      const loads = t.servers.map((s) => s.counters.currentRequests);
      assert.ok(loads.every((n, j) => n <= 2 * (j + 1) + 1), `request ${i}: in flight ${loads.join('/')}`);
    }
    const got = counts(picked, 3);
    [1000, 2000, 3000].forEach((expected, j) => assert.ok(Math.abs((got[j] as number) - expected) <= 100, got.join('/')));
  });
});

describe('leastResponseTime', () => {
  test('follows the response times recorded within its window, then forgets them', () => {
    const t = testFarm({ servers: [100, 100], loadBalancing: { algorithm: 'leastResponseTime', leastResponseTimePeriod: '5s' } });
    const [fast, slow] = [t.server(0), t.server(1)];
    for (let i = 0; i < 20; i++) {
      fast.onRequestStart();
      fast.onRequestEnd(report({ responseTimeMs: 10 }));
      slow.onRequestStart();
      slow.onRequestEnd(report({ responseTimeMs: 100 }));
    }
    const during = counts(Array.from({ length: 1000 }, () => t.servers.indexOf(t.farm.pick(requestOf()) as FarmServer)), 2);
    // Shares 1/(10+1) : 1/(100+1), about 90% : 10%.
    assert.ok((during[0] as number) > 850 && (during[0] as number) < 950, during.join('/'));
    t.clock.advance(6000);
    const after = counts(Array.from({ length: 1000 }, () => t.servers.indexOf(t.farm.pick(requestOf()) as FarmServer)), 2);
    assert.deepEqual(after, [500, 500], 'the window has passed: by weight again');
  });

  test('a server without a response in the window counts as the fastest one', () => {
    const t = testFarm({ servers: [100, 100, 100], loadBalancing: { algorithm: 'leastResponseTime' } });
    t.server(0).onRequestStart();
    t.server(0).onRequestEnd(report({ responseTimeMs: 50 }));
    t.server(1).onRequestStart();
    t.server(1).onRequestEnd(report({ responseTimeMs: 20 }));
    const got = counts(Array.from({ length: 900 }, () => t.servers.indexOf(t.farm.pick(requestOf()) as FarmServer)), 3);
    // Server 2 counts as 20 ms, like server 1; server 0 at 50 ms gets about 21/51 of their share.
    assert.ok(Math.abs((got[1] as number) - (got[2] as number)) <= 2, got.join('/'));
    assert.ok((got[0] as number) < (got[1] as number) / 2, got.join('/'));
  });
});

describe('weightedTotalTraffic', () => {
  test('sends requests to the server with the fewest bytes relative to its weight', () => {
    const t = testFarm({ servers: [100, 100], loadBalancing: { algorithm: 'weightedTotalTraffic' } });
    assert.equal(exchange(t, requestOf(), { bytesReceived: 0 }), 0);
    // A large response on server 0: the next requests go to server 1 until it has as much.
    exchange(t, requestOf(), { bytesReceived: 0 });
    t.server(0).onRequestStart();
    t.server(0).onRequestEnd(report({ bytesSent: 4000, bytesReceived: 6000 }));
    const next = Array.from({ length: 10 }, () => exchange(t, requestOf(), { bytesReceived: 1000 }));
    assert.deepEqual(next, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.equal(exchange(t, requestOf(), { bytesReceived: 1000 }), 0, 'level again: round robin');
  });

  test('weights the traffic: 300/100 gets three times the bytes', () => {
    const t = testFarm({ servers: [300, 100], loadBalancing: { algorithm: 'weightedTotalTraffic' } });
    for (let i = 0; i < 400; i++) exchange(t, requestOf(), { bytesSent: 100, bytesReceived: 900 });
    const [a, b] = t.servers.map((s) => s.counters.bytesSent + s.counters.bytesReceived);
    assert.equal(a, 300_000);
    assert.equal(b, 100_000);
  });

  test('a server coming back starts level with the least loaded rather than at its old total', () => {
    const t = testFarm({ servers: [100, 100, 100], loadBalancing: { algorithm: 'weightedTotalTraffic' } });
    for (let i = 0; i < 30; i++) exchange(t, requestOf(), { bytesReceived: 1000 });
    t.server(2).state = 'unavailable';
    for (let i = 0; i < 200; i++) exchange(t, requestOf(), { bytesReceived: 1000 });
    t.server(2).state = 'available';
    const after = counts(Array.from({ length: 30 }, () => exchange(t, requestOf(), { bytesReceived: 1000 })), 3);
    assert.deepEqual(after, [10, 10, 10]);
  });
});

describe('powerOfTwoChoices', () => {
  test('never picks the busier of its two draws: a loaded server gets nothing while the others are idle', () => {
    const t = testFarm({ servers: [100, 100, 100], loadBalancing: { algorithm: 'powerOfTwoChoices' } });
    for (let i = 0; i < 10; i++) t.server(0).onRequestStart();
    const got = counts(Array.from({ length: 1000 }, () => exchange(t, requestOf())), 3);
    assert.equal(got[0], 0);
    assert.ok((got[1] as number) > 400 && (got[2] as number) > 400, got.join('/'));
  });

  test('with one server eligible, picks it', () => {
    const t = testFarm({ servers: [100, { state: 'drain' }], loadBalancing: { algorithm: 'powerOfTwoChoices' } });
    for (let i = 0; i < 20; i++) assert.equal(t.farm.pick(requestOf()), t.server(0));
  });
});

describe('consistent hashing (weighted rendezvous)', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

  test('adding a 6th server to 5 moves between 10% and 25% of 10,000 keys (ideal 1/6), all of them to the new server', () => {
    const servers = serversOf(6);
    const five = new Rendezvous(servers.slice(0, 5));
    const six = new Rendezvous(servers);
    let moved = 0;
    for (const key of keys) {
      const before = five.pick(key, undefined);
      const after = six.pick(key, undefined);
      if (before !== after) {
        moved++;
        assert.equal(after, servers[5], `key ${key} moved between two old servers`);
      }
    }
    assert.ok(moved >= 1000 && moved <= 2500, `${moved} keys moved`);
  });

  test('removing one of 5 servers moves only its own keys (about 1/5)', () => {
    const servers = serversOf(5);
    const all = new Rendezvous(servers);
    const before = keys.map((key) => all.pick(key, undefined));
    servers[2]!.state = 'unavailable';
    let moved = 0;
    keys.forEach((key, i) => {
      const after = all.pick(key, undefined);
      if (after !== before[i]) {
        moved++;
        assert.equal(before[i], servers[2], `key ${key} moved although its server stayed`);
      }
    });
    assert.ok(moved >= 1500 && moved <= 2500, `${moved} keys moved`);
  });

  test('the same address gives the same mapping in another farm (another Gatehouse instance)', () => {
    const a = new Rendezvous(serversOf(4));
    const b = new Rendezvous(serversOf(4));
    for (const key of keys.slice(0, 500)) assert.equal(a.pick(key, undefined)?.address, b.pick(key, undefined)?.address);
  });
});

describe('hash algorithms', () => {
  test('requestHash: the same URL always goes to the same server, different URLs spread', () => {
    const t = testFarm({ servers: [100, 100, 100], loadBalancing: { algorithm: 'requestHash' } });
    const first = exchange(t, requestOf('/cart?id=3'));
    for (let i = 0; i < 50; i++) assert.equal(exchange(t, requestOf('/cart?id=3')), first);
    const spread = counts(Array.from({ length: 300 }, (_, i) => exchange(t, requestOf(`/cart?id=${i}`))), 3);
    assert.ok(spread.every((n) => n > 60), spread.join('/'));
  });

  test('serverVariableHash: HTTP_X_USER keeps a user on one server; a request without the header goes by round robin', () => {
    const t = testFarm({ servers: [100, 100, 100], loadBalancing: { algorithm: 'serverVariableHash', hashServerVariable: 'HTTP_X_USER' } });
    for (const user of ['alice', 'bob', 'carol', 'dave']) {
      const first = exchange(t, requestOf('/a', { 'X-User': user }));
      for (let i = 0; i < 20; i++) assert.equal(exchange(t, requestOf(`/page/${i}`, { 'X-User': user }, `192.0.2.${i}`)), first, user);
    }
    const anonymous = counts(Array.from({ length: 30 }, () => exchange(t, requestOf('/same'))), 3);
    assert.deepEqual(anonymous, [10, 10, 10]);
  });

  test('server variables: REMOTE_ADDR, HTTP_HOST, HTTP_<HEADER>, QUERY_STRING, URL', () => {
    const request = requestOf('/p/q?x=1&y=2', { Host: 'app.example.test', 'Accept-Language': 'fr' }, '198.51.100.7');
    assert.equal(serverVariableReader('REMOTE_ADDR')(request), '198.51.100.7');
    assert.equal(serverVariableReader('HTTP_HOST')(request), 'app.example.test');
    assert.equal(serverVariableReader('HTTP_ACCEPT_LANGUAGE')(request), 'fr');
    assert.equal(serverVariableReader('HTTP_X_MISSING')(request), undefined);
    assert.equal(serverVariableReader('QUERY_STRING')(request), 'x=1&y=2');
    assert.equal(serverVariableReader('URL')(request), '/p/q');
    assert.equal(normalizeLoadBalancing(loadBalancingSchema.parse({ algorithm: 'serverVariableHash', hashServerVariable: 'http_x_user' })).hashServerVariable, 'HTTP_X_USER');
  });

  test('queryStringHash: values of the named parameters, in order, any name case, first occurrence, decoded', () => {
    const read = queryStringReader(['q', 'Lang']);
    assert.equal(read(requestOf('/s?q=shoes&lang=fr')), 'shoes&fr');
    assert.equal(read(requestOf('/s?LANG=fr&Q=shoes&q=boots')), 'shoes&fr');
    assert.equal(read(requestOf('/s?q=red+shoes%21')), 'red shoes!&');
    assert.equal(read(requestOf('/s?qq=1&xq=2')), undefined);
    assert.equal(read(requestOf('/s')), undefined);
    assert.equal(read(requestOf('/s?q=')), '&');
    assert.equal(read(requestOf('/s?q=%E0%A4%A')), '%E0%A4%A&', 'a malformed escape is hashed as written');
    const t = testFarm({ servers: [100, 100, 100], loadBalancing: { algorithm: 'queryStringHash', queryStringNames: 'q, lang' } });
    const first = exchange(t, requestOf('/search?q=shoes'));
    for (let i = 0; i < 20; i++) assert.equal(exchange(t, requestOf(`/other/${i}?page=${i}&q=shoes`)), first);
  });
});

describe('slow start', () => {
  test('a server marked healthy again ramps from 10% to its full share over slowStart', () => {
    const t = testFarm({ servers: [100, 100], healthCheck: { slowStart: '10s' } });
    t.farm.markUnhealthy(t.server(1), 'test');
    t.farm.markHealthy(t.server(1), 'test');
    const share = () => counts(Array.from({ length: 1100 }, () => exchange(t, requestOf())), 2)[1] as number;
    assert.ok(Math.abs(share() - 100) <= 2, 'at first about 10/110');
    t.clock.advance(5000);
    assert.ok(Math.abs(t.server(1).weightAt(t.clock.now()) - 55) < 1e-9);
    t.clock.advance(5000);
    assert.equal(share(), 550, 'after slowStart: an equal share');
    assert.equal(t.server(1).slowStartEndMs, 0);
  });

  test('off by default; does not apply to the hash algorithms', () => {
    const plain = testFarm({ servers: [100, 100] });
    plain.farm.markUnhealthy(plain.server(1), 'test');
    plain.farm.markHealthy(plain.server(1), 'test');
    assert.equal(plain.server(1).weightAt(plain.clock.now()), 100);
    const hashed = testFarm({ servers: [100, 100], loadBalancing: { algorithm: 'requestHash' }, healthCheck: { slowStart: 60 } });
    const before = Array.from({ length: 200 }, (_, i) => hashed.farm.pick(requestOf(`/k/${i}`)));
    hashed.farm.markUnhealthy(hashed.server(1), 'test');
    hashed.farm.markHealthy(hashed.server(1), 'test');
    const after = Array.from({ length: 200 }, (_, i) => hashed.farm.pick(requestOf(`/k/${i}`)));
    assert.deepEqual(after, before);
  });

  test('a server made available again ramps too', () => {
    const t = testFarm({ servers: [100, { state: 'unavailable' }], healthCheck: { slowStart: 20 } });
    t.server(1).state = 'available';
    assert.equal(t.server(1).weightAt(t.clock.now()), 10);
    assert.equal(t.farm.snapshot().servers[1]?.effectiveWeight, 10);
  });
});

describe('leastResponseTime and failures', () => {
  test('a server failing fast does not pass for fast: failures count as the farm timeout', () => {
    const t = testFarm({ servers: [100, 100], loadBalancing: { algorithm: 'leastResponseTime' }, healthCheck: { maxLiveTrafficFailures: 0 } });
    for (let i = 0; i < 5; i++) {
      t.server(0).onRequestStart();
      t.server(0).onRequestEnd(report({ status: 0, isConnectionError: true, responseTimeMs: 1 }));
      t.server(1).onRequestStart();
      t.server(1).onRequestEnd(report({ status: 200, responseTimeMs: 80 }));
    }
    assert.equal(t.server(0).averageResponseTimeMs(), 1, 'the average shown is the real one');
    const got = counts(Array.from({ length: 1000 }, () => t.servers.indexOf(t.farm.pick(requestOf()) as FarmServer)), 2);
    assert.ok((got[0] as number) < 10, got.join('/'));
  });
});
