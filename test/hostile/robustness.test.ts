/**
 * Robustness (hardening spec, "Robustness"): a request line with a version other than HTTP/1.0 or 1.1 on an
 * HTTP/1 connection (http binding, or https without ALPN h2) gets a local 505 + close and the process
 * survives; CONNECT gets 405 + close over HTTP/1.1 and is refused over HTTP/2; garbage, aborted bodies and
 * an HTTP/2 rapid-reset burst leave Gatehouse serving. Checked in-process, and against a real
 * `gatehouse start` child process (a crash there is an exit, not a test failure in this process).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { assertHttp2Fallback } from '../support/http2.js';
import { assertLocal, assertRefusedAfter, describeExchange, describeStream, h2Request, hostileConfig, hostileSuite, http2Test, isRefusedStream, offersHttp2, rawExchange, RawConnection, RawH2, request, show, type RawTarget } from './support.js';
import { BIN, RunningCli } from '../support/gatehouse.js';
import { within } from '../support/within.js';

/** gh: both bindings, the default spec. */
const suite = hostileSuite({ gatehouse: {} });

/** A test over HTTP/2: on a node where Gatehouse turned HTTP/2 off, it asserts that fallback instead. */
const h2test = (name: string, fn: (t: TestContext) => Promise<void>): void => http2Test(name, () => suite.gh, fn);

const HOST = 'Host: localhost';

/** A normal request still gets 200 from the backend: the process (and the listener) is alive. */
async function assertServing(target: RawTarget, what: string): Promise<void> {
  const exchange = await rawExchange(target, request(`GET /alive HTTP/1.1`, [HOST]), { responses: 1 });
  assert.equal(exchange.responses[0]?.status, 200, `${what}: Gatehouse still answers: ${describeExchange(exchange)}`);
}

const VERSIONS = ['HTTP/2.0', 'HTTP/3.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/9.9'];

function transports(): [string, RawTarget][] {
  return [
    ['http', suite.gh.http],
    ['https without ALPN', suite.gh.https],
    ['https with ALPN http/1.1', suite.gh.httpsWith({ alpn: ['http/1.1'] })],
  ];
}

describe('request lines with another HTTP version on an HTTP/1 connection: local 505 + close, the process survives', () => {
  for (const version of VERSIONS) {
    for (const [name, target] of [['http', () => suite.gh.http], ['https without ALPN', () => suite.gh.https], ['https with ALPN http/1.1', () => suite.gh.httpsWith({ alpn: ['http/1.1'] })]] as const) {
      test(`GET / ${version} (${name})`, async () => {
        const mark = suite.backend.mark();
        const exchange = await rawExchange(target(), request(`GET /v ${version}`, [HOST]), { refusalAt: 1, timeoutMs: 1_500 });
        await suite.backend.settle();
        const refusal = assertRefusedAfter(exchange, [], 505, `${version} over ${name}`);
        assertLocal(refusal, '505', `${version} over ${name}`);
        assert.equal(suite.backend.since(mark).bytes, 0, `nothing reaches the backend: ${show(suite.backend.since(mark).text)}`);
        await assertServing(target(), `${version} over ${name}`);
      });
    }
  }

  test('GET / HTTP/2.0 pipelined after a valid request: 200, then 505 + close (https without ALPN)', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(suite.gh.https, request('GET /first HTTP/1.1', [HOST]) + request('GET /v HTTP/2.0', [HOST]), { refusalAt: 2, timeoutMs: 1_500 });
    await suite.backend.settle();
    assertRefusedAfter(exchange, [200], 505, 'pipelined HTTP/2.0');
    assert.deepEqual(suite.backend.since(mark).requests.map((r) => r.target), ['/first']);
    await assertServing(suite.gh.https, 'pipelined HTTP/2.0');
  });

  test('POST with a body and HTTP/2.0 (https without ALPN): 505, the process survives', async () => {
    const exchange = await rawExchange(suite.gh.https, request('POST /v HTTP/2.0', [HOST, 'Content-Length: 5'], 'hello'), { refusalAt: 1, timeoutMs: 1_500 });
    assert.equal(exchange.responses[0]?.status, 505, describeExchange(exchange));
    await assertServing(suite.gh.https, 'POST HTTP/2.0');
  });

  test('40 connections sending HTTP/2.0 at once: the process survives and serves', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => rawExchange(i % 2 === 0 ? suite.gh.https : suite.gh.http, request('GET / HTTP/2.0', [HOST]), { timeoutMs: 2_500 }).catch(() => undefined)));
    for (const [name, target] of transports()) await assertServing(target, `after the burst (${name})`);
  });

  test('the HTTP/2 preface on an HTTP/1 TLS connection (no ALPN): refused (400 or 505) + close, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(suite.gh.https, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00');
    await suite.backend.settle();
    assert.ok([400, 505].includes(exchange.responses[0]?.status ?? 0), describeExchange(exchange));
    assert.ok(exchange.closed, describeExchange(exchange));
    assert.equal(suite.backend.since(mark).bytes, 0, show(suite.backend.since(mark).text));
    await assertServing(suite.gh.https, 'preface');
  });
});

describe('CONNECT', () => {
  for (const [name, target] of [['http', () => suite.gh.http], ['https without ALPN', () => suite.gh.https]] as const) {
    test(`CONNECT over HTTP/1.1 (${name}): local 405 + close, nothing forwarded`, async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(target(), request('CONNECT 127.0.0.1:22 HTTP/1.1', ['Host: 127.0.0.1:22']) + 'SSH-2.0-tunnel', { refusalAt: 1, timeoutMs: 1_500 });
      await suite.backend.settle();
      const refusal = assertRefusedAfter(exchange, [], 405, `CONNECT (${name})`);
      assertLocal(refusal, '405', 'CONNECT');
      assert.equal(suite.backend.since(mark).bytes, 0, show(suite.backend.since(mark).text));
      await assertServing(target(), 'CONNECT');
    });

    test(`CONNECT pipelined after a valid request (${name}): 200, then 405 + close`, async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(target(), request('GET /before-connect HTTP/1.1', [HOST]) + request(`CONNECT ${suite.backend.address} HTTP/1.1`, [`Host: ${suite.backend.address}`]) + request('GET /smuggled HTTP/1.1', [HOST]), { refusalAt: 2, timeoutMs: 1_500 });
      await suite.backend.settle();
      assertRefusedAfter(exchange, [200], 405, `pipelined CONNECT (${name})`);
      assert.deepEqual(suite.backend.since(mark).requests.map((r) => r.target), ['/before-connect'], show(suite.backend.since(mark).text));
    });
  }

  h2test('CONNECT over HTTP/2: refused (405 or a stream reset), nothing forwarded, the process survives', async (t) => {
    const client = await suite.gh.h2();
    t.after(() => client.close());
    const mark = suite.backend.mark();
    const result = await client.request([
      [':method', 'CONNECT'],
      [':authority', suite.backend.address],
    ]);
    await suite.backend.settle();
    assert.ok(result.status === 405 || (result.status === undefined && isRefusedStream(result)), describeStream(result));
    assert.equal(suite.backend.since(mark).bytes, 0, show(suite.backend.since(mark).text));
    const fresh = await suite.gh.h2();
    t.after(() => fresh.close());
    assert.equal((await fresh.request(h2Request('/after-connect', suite.gh.authority))).status, 200);
  });

  h2test('CONNECT over HTTP/2 with DATA after it: nothing forwarded, the process survives', async (t) => {
    const client = await suite.gh.h2();
    t.after(() => client.close());
    const mark = suite.backend.mark();
    const id = client.nextStreamId();
    client.headers(id, [[':method', 'CONNECT'], [':authority', suite.backend.address]], false);
    client.data(id, request('GET /through-connect HTTP/1.1', [HOST]), false);
    const result = await client.waitForStream(id, 1_500);
    await suite.backend.settle();
    assert.ok(result.status === undefined || result.status === 405, describeStream(result));
    assert.ok(!suite.backend.since(mark).text.includes('through-connect'), show(suite.backend.since(mark).text));
    await assertServing(suite.gh.https, 'h2 CONNECT with DATA');
  });
});

describe('other abuse leaves Gatehouse serving', () => {
  test('binary garbage: 400 + close, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const garbage = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) & 0xff));
    const exchange = await rawExchange(suite.gh.http, garbage, { timeoutMs: 2_500 });
    await suite.backend.settle();
    assert.equal(exchange.responses[0]?.status, 400, describeExchange(exchange));
    assert.ok(exchange.closed, describeExchange(exchange));
    assert.equal(suite.backend.since(mark).bytes, 0);
    await assertServing(suite.gh.http, 'garbage');
  });

  test('a client that drops mid-body: the backend connection carrying the half request is closed, the next request is its own', async () => {
    const mark = suite.backend.mark();
    const connection = await RawConnection.open(suite.gh.http);
    connection.write(request('POST /half HTTP/1.1', [HOST, 'Content-Length: 100'], 'only ten b'));
    await suite.backend.waitFor(() => suite.backend.since(mark).text.includes('only ten b'), 'the half body at the backend');
    const carrying = suite.backend.connections.find((c) => c.received().toString('latin1').includes('POST /half'));
    connection.destroy();
    assert.ok(carrying);
    await suite.backend.waitFor(() => carrying.closed, 'the backend connection of the half request to close', 2_000);
    await assertServing(suite.gh.http, 'after an aborted body');
    assert.ok(suite.backend.requests.some((r) => r.target === '/alive' && r.connection !== carrying.id));
  });

  h2test('an HTTP/2 rapid-reset burst (HEADERS + RST_STREAM x 300): the process survives and serves', async (t) => {
    const client = await suite.gh.h2();
    t.after(() => client.close());
    let last = 0;
    for (let i = 0; i < 300; i++) {
      last = client.nextStreamId();
      client.headers(last, h2Request(`/reset-${i}`, suite.gh.authority), true);
      client.rst(last);
    }
    await client.waitForStream(last, 500);
    const fresh = await RawH2.open(suite.gh.httpsPort, { ca: suite.gh.ca });
    t.after(() => fresh.close());
    const result = await fresh.request(h2Request('/after-reset', suite.gh.authority));
    assert.equal(result.status, 200, describeStream(result));
    await assertServing(suite.gh.http, 'after rapid reset');
  });
});

describe('an unexpected exception while handling a request', () => {
  /** Makes the farm's server choice throw for paths containing /explode (restored when the test ends). */
  function injectFailure(t: { after(fn: () => unknown): void }): void {
    const farm = suite.gh.running.gatehouse.farms.get('web');
    assert.ok(farm, 'the farm web');
    const original = farm.pick;
    farm.pick = function (this: typeof farm, request, exclude) {
      if (request.url.includes('/explode')) throw new Error('injected failure for the hostile suite');
      return original.call(this, request, exclude);
    };
    t.after(() => {
      farm.pick = original;
    });
  }

  for (const [name, target] of [['http', () => suite.gh.http], ['https without ALPN', () => suite.gh.https]] as const) {
    test(`HTTP/1.1 (${name}): 500, the stack in the event log, the process serves on`, async (t) => {
      injectFailure(t);
      const mark = suite.backend.mark();
      const exchange = await rawExchange(target(), request('GET /explode HTTP/1.1', [HOST]), { refusalAt: 1, timeoutMs: 1_500 });
      assert.equal(exchange.responses[0]?.status, 500, describeExchange(exchange));
      assert.ok(suite.gh.running.events.some((line) => line.includes('injected failure for the hostile suite') && /\n\s+at /.test(line)), `the event log has the stack:\n${suite.gh.running.events.slice(-5).join('\n')}`);
      assert.equal(suite.backend.since(mark).bytes, 0);
      await assertServing(target(), 'after an exception');
    });
  }

  h2test('HTTP/2: 500, the process serves on', async (t) => {
    injectFailure(t);
    const client = await suite.gh.h2();
    t.after(() => client.close());
    const result = await client.request(h2Request('/explode-h2', suite.gh.authority), undefined, 1_500);
    assert.equal(result.status, 500, describeStream(result));
    const again = await client.request(h2Request('/after-explode', suite.gh.authority));
    assert.equal(again.status, 200, describeStream(again));
  });
});

describe('gatehouse start as a child process', () => {
  const built = existsSync(join(BIN, '..', '..', 'dist', 'src', 'main.js'));

  test('HTTP/2.0 request lines and CONNECT do not kill the process; it keeps answering', { skip: built ? false : 'dist/src/main.js is missing: run npm run build' }, async (t) => {
    const file = join(suite.dir, 'robustness-child.json');
    const config = JSON.parse(hostileConfig(suite.pki, { backend: suite.backend })) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...config, workers: 1 }, null, 2));
    const child = new RunningCli(t, ['start', '-c', file], suite.dir);
    const http = Number((await child.waitFor('stdout', /^listening http:\/\/127\.0\.0\.1:(\d+) \(site app\)$/m))[1]);
    const https = Number((await child.waitFor('stdout', /^listening https:\/\/127\.0\.0\.1:(\d+) \(site app\)$/m))[1]);
    const targets: [string, RawTarget][] = [
      ['http', { port: http }],
      ['https without ALPN', { port: https, tls: { ca: suite.pki.root.certPem } }],
      ['https with ALPN http/1.1', { port: https, tls: { ca: suite.pki.root.certPem, alpn: ['http/1.1'] } }],
    ];
    for (const [name, target] of targets) {
      for (const bytes of [request('GET / HTTP/2.0', [HOST]), request('POST / HTTP/2.0', [HOST, 'Content-Length: 2'], 'hi'), request('GET / HTTP/1.1', [HOST]) + request('GET / HTTP/2.0', [HOST]), request('CONNECT 127.0.0.1:22 HTTP/1.1', ['Host: 127.0.0.1:22'])]) {
        const exchange = await rawExchange(target, bytes, { timeoutMs: 2_000 }).catch((error: Error) => error);
        // No answer: give an exit (the crash this guards against) a moment to be seen.
        if (exchange instanceof Error || exchange.responses.length === 0) await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 500))]);
        assert.ok(!child.hasExited, `gatehouse exited after ${JSON.stringify(bytes.slice(0, 30))} over ${name}\n${child.stderr}`);
        if (!(exchange instanceof Error)) assert.ok(exchange.responses.length > 0, `an answer to ${JSON.stringify(bytes.slice(0, 30))} over ${name}: ${describeExchange(exchange)}`);
      }
    }
    if (offersHttp2) {
      const h2 = await RawH2.open(https, { ca: suite.pki.root.certPem });
      t.after(() => h2.close());
      await h2.request([[':method', 'CONNECT'], [':authority', '127.0.0.1:22']], undefined, 1_500);
      assert.ok(!child.hasExited, `gatehouse exited after an HTTP/2 CONNECT\n${child.stderr}`);
    } else await assertHttp2Fallback(t, { port: https, ca: suite.pki.root.certPem, log: () => child.stderr });
    for (const [name, target] of targets) {
      const exchange = await within(rawExchange(target, request('GET /child-alive HTTP/1.1', [HOST]), { responses: 1 }), 5_000, 'a normal request');
      assert.equal(exchange.responses[0]?.status, 200, `${name}: the child still answers: ${describeExchange(exchange)}\n${child.stderr}`);
    }
    assert.ok(!child.hasExited, child.stderr);
    child.child.kill('SIGTERM');
    await child.waitExit(10_000);
  });
});
