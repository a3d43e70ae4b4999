/**
 * Health on a ManualClock with a fake probe: the URL test (status, timeout, body, connection error, Host,
 * schedule, close), the live-traffic test (in a row, within a period, off), the retry after a back-off
 * without a URL test, minServers, states, the event log lines and the snapshot.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FarmServer } from '../../src/farm/farm-server.js';
import type { HealthChange } from '../../src/farm/farm-state.js';
import type { HealthProbe, ProbeRequest, ProbeResponse } from '../../src/farm/health/url-test.js';
import { LiveTrafficCount } from '../../src/farm/health/live-traffic.js';
import { SlidingWindow } from '../../src/farm/sliding-window.js';
import { counts, exchange, report, requestOf, settle, testFarm, type FarmSpec } from './farm-fixtures.js';

type Answer = ProbeResponse | Error | 'hang';

/** A probe whose answer per server address can be changed; records every call. */
function fakeProbe(initial: Answer = { status: 200, body: 'OK' }) {
  const answers = new Map<string, Answer>();
  const calls: { address: string; request: ProbeRequest; signal: AbortSignal }[] = [];
  const probe: HealthProbe = (server, request, signal) => {
    calls.push({ address: server.address, request, signal });
    const answer = answers.get(server.address) ?? initial;
    if (answer === 'hang') return new Promise(() => {});
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  };
  return { probe, answers, calls };
}

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 10.0.0.2:80'), { code: 'ECONNREFUSED' });
}

/** A farm with a URL test and a fake probe, started. */
function urlTestFarm(spec: FarmSpec, initial?: Answer) {
  const fake = fakeProbe(initial);
  const t = testFarm(spec, { probe: fake.probe });
  const changes: HealthChange[] = [];
  t.farm.onHealthChange((change) => changes.push(change));
  t.farm.start();
  return { ...t, ...fake, changes };
}

async function tick(t: { clock: { advance(ms: number): void } }, ms: number): Promise<void> {
  t.clock.advance(ms);
  await settle();
}

describe('URL test', () => {
  test('marks a server unhealthy on a status outside statusCodeMatch, and healthy again when it passes', async () => {
    const t = urlTestFarm({ servers: [100, 100], healthCheck: { url: '/health', interval: 10 } });
    t.answers.set(t.server(1).address, { status: 503 });
    await tick(t, 0);
    assert.equal(t.calls.length, 2, 'each server tested once at start');
    assert.equal(t.server(0).isHealthy, true);
    assert.equal(t.server(1).isHealthy, false);
    assert.deepEqual(t.events, [`warn farm web server 10.0.0.2:80 marked unhealthy: URL test: status 503 not in 200-399`]);
    assert.deepEqual(counts(Array.from({ length: 10 }, () => exchange(t, requestOf())), 2), [10, 0]);
    t.answers.set(t.server(1).address, { status: 200 });
    await tick(t, 9_999);
    assert.equal(t.server(1).isHealthy, false, 'not before the interval');
    await tick(t, 1);
    assert.equal(t.server(1).isHealthy, true);
    assert.equal(t.events[1], 'info farm web server 10.0.0.2:80 marked healthy: URL test passed (status 200)');
    assert.deepEqual(t.changes.map((c) => [c.server.address, c.isHealthy, c.source]), [['10.0.0.2:80', false, 'urlTest'], ['10.0.0.2:80', true, 'urlTest']]);
    assert.equal(t.events.length, 2, 'passing tests of a healthy server log nothing');
    t.farm.close();
  });

  test('statusCodeMatch lists and ranges', async () => {
    const t = urlTestFarm({ servers: [100, 100, 100], healthCheck: { url: '/health', statusCodeMatch: '200,301-302' } });
    t.answers.set(t.server(0).address, { status: 301 });
    t.answers.set(t.server(1).address, { status: 204 });
    t.answers.set(t.server(2).address, { status: 302 });
    await tick(t, 0);
    assert.deepEqual(t.servers.map((s) => s.isHealthy), [true, false, true]);
    assert.match(t.server(1).healthReason ?? '', /status 204 not in 200,301-302/);
    t.farm.close();
  });

  test('a response that does not come within timeout marks the server unhealthy and aborts the test', async () => {
    const t = urlTestFarm({ servers: [100, 100], healthCheck: { url: '/health', timeout: 2, interval: 30 } });
    t.answers.set(t.server(0).address, 'hang');
    await tick(t, 0);
    const hung = t.calls.find((c) => c.address === t.server(0).address);
    assert.ok(hung);
    await tick(t, 1999);
    assert.equal(t.server(0).isHealthy, true);
    assert.equal(hung.signal.aborted, false);
    await tick(t, 1);
    assert.equal(t.server(0).isHealthy, false);
    assert.equal(t.server(0).healthReason, 'URL test: timeout after 2000 ms');
    assert.equal(hung.signal.aborted, true);
    assert.equal(t.calls.length, 2, 'no second test of the slow server while its first one was running');
    t.farm.close();
  });

  test('responseMatch is a case-sensitive substring of the body; the body is asked for only then', async () => {
    const t = urlTestFarm({ servers: [100, 100], healthCheck: { url: '/health', responseMatch: 'All OK' } });
    t.answers.set(t.server(0).address, { status: 200, body: '<p>All OK</p>' });
    t.answers.set(t.server(1).address, { status: 200, body: '<p>all ok</p>' });
    await tick(t, 0);
    assert.deepEqual(t.servers.map((s) => s.isHealthy), [true, false]);
    assert.equal(t.server(1).healthReason, 'URL test: response body does not contain "All OK" (status 200)');
    assert.ok(t.calls.every((c) => c.request.readBody && c.request.maxBodyBytes === 64 * 1024));
    t.farm.close();
    const plain = urlTestFarm({ servers: [100], healthCheck: { url: '/health' } });
    await tick(plain, 0);
    assert.equal(plain.calls[0]?.request.readBody, false);
    plain.farm.close();
  });

  test('a connection error marks the server unhealthy with its code', async () => {
    const t = urlTestFarm({ servers: [100, 100], healthCheck: { url: '/health' } });
    t.answers.set(t.server(1).address, refused());
    await tick(t, 0);
    assert.equal(t.server(1).healthReason, 'URL test: connection error: ECONNREFUSED connect ECONNREFUSED 10.0.0.2:80');
    assert.match(t.events[0] ?? '', /^warn farm web server 10\.0\.0\.2:80 marked unhealthy: URL test: connection error: ECONNREFUSED/);
    t.farm.close();
  });

  test('Host: the server address for a path, the URL\'s host for an absolute URL', async () => {
    const path = urlTestFarm({ servers: [100, 100], healthCheck: { url: '/health?deep=1' } });
    await tick(path, 0);
    assert.deepEqual(path.calls.map((c) => [c.request.host, c.request.path]), [['10.0.0.1:80', '/health?deep=1'], ['10.0.0.2:80', '/health?deep=1']]);
    path.farm.close();
    const absolute = urlTestFarm({ servers: [100, 100], healthCheck: { url: 'http://app.example.test:8080/status/check' } });
    await tick(absolute, 0);
    assert.deepEqual(absolute.calls.map((c) => [c.address, c.request.host, c.request.path]), [['10.0.0.1:80', 'app.example.test:8080', '/status/check'], ['10.0.0.2:80', 'app.example.test:8080', '/status/check']]);
    absolute.farm.close();
  });

  test('runs every interval after the previous test ended, skips disabled servers, and close() clears every timer', async () => {
    const t = urlTestFarm({ servers: [100, { enabled: false }], healthCheck: { url: '/health', interval: '500ms' } });
    await tick(t, 0);
    for (let i = 0; i < 9; i++) await tick(t, 500);
    assert.equal(t.calls.length, 10);
    assert.ok(t.calls.every((c) => c.address === '10.0.0.1:80'));
    assert.equal(t.clock.pendingTimers, 1);
    t.farm.close();
    t.farm.close();
    assert.equal(t.clock.pendingTimers, 0);
    await tick(t, 5000);
    assert.equal(t.calls.length, 10);
    t.farm.start();
    await tick(t, 5000);
    assert.equal(t.calls.length, 10, 'start after close does nothing');
  });

  test('close() aborts a test in flight and its late answer changes nothing', async () => {
    let release: ((r: ProbeResponse) => void) | undefined;
    const signals: AbortSignal[] = [];
    const t = testFarm({ servers: [100], healthCheck: { url: '/health' } }, { probe: (_s, _r, signal) => (signals.push(signal), new Promise((resolve) => (release = resolve))) });
    t.farm.start();
    await tick(t, 0);
    t.farm.close();
    assert.equal(signals[0]?.aborted, true);
    release?.({ status: 500 });
    await settle();
    assert.equal(t.server(0).isHealthy, true);
    assert.equal(t.clock.pendingTimers, 0);
  });

  test('close() before start() and without a URL test is fine', () => {
    const t = testFarm({ servers: [100], healthCheck: { url: '/health' } }, { probe: fakeProbe().probe });
    t.farm.close();
    t.farm.start();
    assert.equal(t.clock.pendingTimers, 0);
    const none = testFarm({ servers: [100] });
    none.farm.start();
    none.farm.start();
    assert.equal(none.clock.pendingTimers, 0);
    none.farm.close();
  });
});

describe('live-traffic test', () => {
  test('period 0: maxLiveTrafficFailures failures in a row; a success resets the count', () => {
    const t = testFarm({ servers: [100] });
    const server = t.server(0);
    const send = (status: number) => {
      server.onRequestStart();
      server.onRequestEnd(report({ status }));
    };
    for (let i = 0; i < 9; i++) send(500);
    send(404);
    for (let i = 0; i < 9; i++) send(503);
    assert.equal(server.isHealthy, true);
    assert.equal(t.farm.snapshot().servers[0]?.liveTrafficFailures, 9);
    send(502);
    assert.equal(server.isHealthy, false);
    assert.deepEqual(t.events, ['warn farm web server 10.0.0.1:80 marked unhealthy: live traffic: 10 failures in a row (last: status 502)']);
    assert.equal(server.counters.failedRequests, 19, '500s are failed requests, 404 is not');
  });

  test('connection errors count, and so do the configured failure codes only', () => {
    const t = testFarm({ servers: [100, 100], healthCheck: { maxLiveTrafficFailures: 3, liveTrafficFailureCodes: '502-504' } });
    const [a, b] = [t.server(0), t.server(1)];
    for (const fields of [{ status: 500 }, { status: 501 }, { status: 0, isConnectionError: true }, { status: 200, isConnectionError: true }]) {
      a.onRequestStart();
      a.onRequestEnd(report(fields));
    }
    assert.equal(a.isHealthy, true, '500 and 501 are not failures here; two connection errors are');
    for (const status of [502, 503, 504]) {
      b.onRequestStart();
      b.onRequestEnd(report({ status }));
    }
    assert.equal(b.isHealthy, false);
    assert.match(b.healthReason ?? '', /3 failures in a row \(last: status 504\)/);
    a.onRequestStart();
    a.onRequestEnd(report({ status: 0, isConnectionError: true }));
    assert.equal(a.isHealthy, false);
    assert.match(a.healthReason ?? '', /\(last: connection error\)$/);
  });

  test('a period: maxLiveTrafficFailures within the sliding window, successes in between or not', () => {
    const t = testFarm({ servers: [100], healthCheck: { maxLiveTrafficFailures: 3, liveTrafficFailurePeriod: 10 } });
    const server = t.server(0);
    const fail = () => {
      server.onRequestStart();
      server.onRequestEnd(report({ status: 500 }));
    };
    fail();
    t.clock.advance(6000);
    fail();
    server.onRequestStart();
    server.onRequestEnd(report({ status: 200 }));
    t.clock.advance(6000);
    fail();
    assert.equal(server.isHealthy, true, 'the first failure fell out of the 10 s window');
    t.clock.advance(1000);
    fail();
    assert.equal(server.isHealthy, false);
    assert.match(server.healthReason ?? '', /live traffic: 3 failures within 10000 ms/);
  });

  test('maxLiveTrafficFailures 0 turns it off; a client that went away counts for nothing', () => {
    const t = testFarm({ servers: [100], healthCheck: { maxLiveTrafficFailures: 0 } });
    for (let i = 0; i < 50; i++) exchange(t, requestOf(), { status: 500 });
    assert.equal(t.server(0).isHealthy, true);
    const count = new LiveTrafficCount(2, 0);
    assert.equal(count.failure(0), false);
    assert.equal(count.failure(0), true);
  });

  test('live traffic never marks a server healthy; with a URL test it schedules no retry', async () => {
    const t = urlTestFarm({ servers: [100, 100], healthCheck: { url: '/health', interval: 60, maxLiveTrafficFailures: 2 } });
    await tick(t, 0);
    const pending = t.clock.pendingTimers;
    for (let i = 0; i < 2; i++) {
      t.server(0).onRequestStart();
      t.server(0).onRequestEnd(report({ status: 500 }));
    }
    assert.equal(t.server(0).isHealthy, false);
    for (let i = 0; i < 20; i++) {
      t.server(0).onRequestStart();
      t.server(0).onRequestEnd(report({ status: 200 }));
    }
    assert.equal(t.server(0).isHealthy, false);
    assert.equal(t.clock.pendingTimers, pending, 'the URL test brings it back, not a retry');
    await tick(t, 60_000);
    assert.equal(t.server(0).isHealthy, true);
    assert.equal(t.changes.at(-1)?.source, 'urlTest');
    t.farm.close();
  });
});

describe('retry after a back-off (no URL test)', () => {
  test('30 s, doubling up to 5 min while the first request after each retry fails; a success resets it', () => {
    const t = testFarm({ servers: [100, 100], healthCheck: { maxLiveTrafficFailures: 2 } });
    const server = t.server(1);
    const end = (status: number) => {
      server.onRequestStart();
      server.onRequestEnd(report({ status }));
    };
    end(500);
    end(500);
    assert.equal(server.isHealthy, false);
    const delays: number[] = [];
    for (let round = 0; round < 6; round++) {
      let waited = 0;
      for (; waited < 600_000 && !server.isHealthy; waited += 1000) t.clock.advance(1000);
      delays.push(waited / 1000);
      assert.match(t.events.at(-1) ?? '', /marked healthy: retry after \d+ ms \(no URL test\): live traffic decides again$/);
      assert.ok(server.isSelectable);
      end(503); // the first failure after a retry is enough
      assert.equal(server.isHealthy, false);
      assert.match(server.healthReason ?? '', /failed again after the retry \(status 503\)/);
    }
    assert.deepEqual(delays, [30, 60, 120, 240, 300, 300]);
    for (let waited = 0; waited < 600_000 && !server.isHealthy; waited += 1000) t.clock.advance(1000);
    end(200);
    end(500);
    assert.equal(server.isHealthy, true, 'after a success, back to counting');
    end(500);
    assert.equal(server.isHealthy, false);
    let waited = 0;
    for (; waited < 600_000 && !server.isHealthy; waited += 1000) t.clock.advance(1000);
    assert.equal(waited, 30_000, 'the delay was reset');
    t.farm.close();
    assert.equal(t.clock.pendingTimers, 0);
  });

  test('liveTrafficRecoveryDelay sets the first delay; close() cancels a pending retry', () => {
    const t = testFarm({ servers: [100], healthCheck: { maxLiveTrafficFailures: 1, liveTrafficRecoveryDelay: '5s' } });
    exchange(t, requestOf(), { status: 500 });
    assert.equal(t.server(0).isHealthy, false);
    assert.equal(t.farm.pick(requestOf()), undefined, 'no healthy server: 502.4');
    t.clock.advance(5000);
    assert.equal(t.server(0).isHealthy, true);
    exchange(t, requestOf(), { status: 500 });
    t.farm.close();
    assert.equal(t.clock.pendingTimers, 0);
    t.clock.advance(60_000);
    assert.equal(t.server(0).isHealthy, false);
  });
});

describe('minServers', () => {
  test('fewer healthy than minServers: new requests go to every available server, healthy or not', () => {
    const t = testFarm({ servers: [100, 100, 100, { state: 'drain' }], healthCheck: { minServers: 2 } });
    t.farm.markUnhealthy(t.server(0), 'test');
    assert.equal(t.farm.isIgnoringHealth, false);
    assert.deepEqual(counts(Array.from({ length: 20 }, () => exchange(t, requestOf())), 4), [0, 10, 10, 0]);
    t.farm.markUnhealthy(t.server(1), 'test');
    assert.equal(t.farm.isIgnoringHealth, true);
    assert.deepEqual(counts(Array.from({ length: 30 }, () => exchange(t, requestOf())), 4), [10, 10, 10, 0], 'drain still takes no new request');
    assert.ok(t.events.some((e) => e === 'warn farm web: 1 server(s) healthy and available, fewer than minServers 2: new requests go to every available server, healthy or not'), t.events.join('\n'));
    assert.match(t.events.find((e) => e.includes('10.0.0.2:80 marked unhealthy')) ?? '', /still takes requests: fewer than minServers 2/);
    assert.equal(t.farm.canKeepAffinity(t.server(1)), true);
    t.farm.markHealthy(t.server(1), 'test');
    assert.equal(t.farm.isIgnoringHealth, false);
    assert.ok(t.events.some((e) => e.startsWith('info farm web: 2 servers healthy and available (minServers 2)')));
    assert.deepEqual(counts(Array.from({ length: 20 }, () => exchange(t, requestOf())), 4), [0, 10, 10, 0]);
    const snapshot = t.farm.snapshot();
    assert.equal(snapshot.healthyServers, 2);
    assert.equal(snapshot.minServers, 2);
  });

  test('minServers 0 (default): with no healthy server there is no server (502.4)', () => {
    const t = testFarm({ servers: [100, 100] });
    t.farm.markUnhealthy(t.server(0), 'test');
    t.farm.markUnhealthy(t.server(1), 'test');
    assert.equal(t.farm.pick(requestOf()), undefined);
    assert.equal(t.farm.isIgnoringHealth, false);
  });
});

describe('states, affinity and the farm switch', () => {
  test('drain takes no new clients but keeps affinity; unavailable takes nothing', () => {
    const t = testFarm({ servers: [100, 100, 100] });
    t.server(1).state = 'drain';
    t.server(2).state = 'unavailable';
    assert.deepEqual(counts(Array.from({ length: 10 }, () => exchange(t, requestOf())), 3), [10, 0, 0]);
    assert.deepEqual(t.servers.map((s) => t.farm.canKeepAffinity(s)), [true, true, false]);
    t.farm.markUnhealthy(t.server(1), 'test');
    assert.equal(t.farm.canKeepAffinity(t.server(1)), false, 'an unhealthy draining server keeps no one');
    assert.deepEqual(t.events.slice(0, 2), ['info farm web server 10.0.0.2:80 state available → drain', 'info farm web server 10.0.0.3:80 state available → unavailable']);
    assert.throws(() => (t.server(0).state = 'paused' as never), /server state must be one of available, drain, unavailable/);
  });

  test('a disabled server takes nothing and keeps no one; a disabled farm neither', () => {
    const t = testFarm({ servers: [{ enabled: false }, 100] });
    assert.equal(t.farm.canKeepAffinity(t.server(0)), false);
    t.farm.isEnabled = false;
    assert.equal(t.farm.pick(requestOf()), undefined);
    assert.equal(t.farm.canKeepAffinity(t.server(1)), false);
    t.farm.isEnabled = true;
    assert.equal(t.farm.pick(requestOf()), t.server(1));
    const off = testFarm({ servers: [100], enabled: false });
    assert.equal(off.farm.pick(requestOf()), undefined);
    assert.equal(off.farm.snapshot().enabled, false);
  });

});

describe('counters and snapshot', () => {
  test('ARR Monitoring counters: total, current, failed, bytes, requests/s, response time, health, state', () => {
    const t = testFarm({ servers: [100, 300], loadBalancing: { leastResponseTimePeriod: 5 } });
    const [a] = t.servers as [FarmServer, FarmServer];
    for (let i = 0; i < 10; i++) {
      a.onRequestStart();
      t.clock.advance(100);
      a.onRequestEnd(report({ status: i < 2 ? 500 : 200, responseTimeMs: 20 + i, bytesSent: 10, bytesReceived: 1000 }));
    }
    a.onRequestStart();
    const snapshot = t.farm.snapshot();
    const json = JSON.parse(JSON.stringify(snapshot)) as typeof snapshot;
    assert.deepEqual(json, snapshot, 'plain JSON');
    const s = json.servers[0];
    assert.ok(s);
    assert.deepEqual(s.counters, { totalRequests: 11, currentRequests: 1, failedRequests: 2, bytesSent: 100, bytesReceived: 10_000, responseTimeTotalMs: 245 });
    assert.equal(s.averageResponseTimeMs, 24.5);
    assert.equal(s.requestsPerSecond, 11, '11 requests within the first second count as 11/s');
    assert.equal(s.requestDistributionPercent, 100);
    assert.equal(s.loadBalanceWeightPercent, 25);
    assert.equal(s.state, 'available');
    assert.equal(s.health, 'healthy');
    assert.equal(s.healthReason, null);
    assert.equal(json.algorithm, 'weightedRoundRobin');
    t.clock.advance(10_000);
    const later = t.farm.snapshot().servers[0];
    assert.equal(later?.requestsPerSecond, 0);
    assert.equal(later?.averageResponseTimeMs, null, 'nothing ended within the last 5 s');
    t.farm.markUnhealthy(a, 'checked by hand');
    const marked = t.farm.snapshot().servers[0];
    assert.equal(marked?.health, 'unhealthy');
    assert.equal(marked?.healthReason, 'checked by hand');
    assert.equal(marked?.healthChangedAt, new Date(t.clock.now()).toISOString());
    t.farm.resetCounters();
    assert.deepEqual(a.counters, { totalRequests: 1, currentRequests: 1, failedRequests: 0, bytesSent: 0, bytesReceived: 0, responseTimeTotalMs: 0 });
  });

  test('sliding window: count, sum and rate expire slot by slot', () => {
    const window = new SlidingWindow(1000, 10);
    window.add(0, 5);
    window.add(450, 7);
    assert.equal(window.count(900), 2);
    assert.equal(window.sum(900), 12);
    assert.equal(window.count(1050), 1, 'the slot of t=0 expired');
    assert.equal(window.average(1050), 7);
    assert.equal(window.count(5000), 0);
    assert.equal(window.average(5000), undefined);
    for (let t = 0; t < 10_000; t += 10) window.add(10_000 + t);
    assert.equal(window.ratePerSecond(19_999, 0), 100);
  });
});
