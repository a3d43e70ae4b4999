/**
 * Request limits (issue 12, IIS request filtering): each limit is tried with raw sockets, asserting what
 * the client got (status, IIS sub-status in the body, close) and what reached the backend (nothing of a
 * refused request; a body over the limit never complete). Slow clients: a head trickled (slowloris), a
 * body that stops, a TLS connection that never sends a request, an idle keep-alive connection.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problem.js';
import { describeExchange, describeStream, h2Request, hostileSuite, offersHttp2, RawConnection, rawExchange, rawReply, request, startRecordingBackend, type Hostile } from './support.js';
import { within } from '../support/within.js';

const suite = hostileSuite({
  gatehouse: {
    bindings: ['http', 'https'],
    http2: false,
    limits: { maxAllowedContentLength: 1000, maxUrl: 256, maxQueryString: 128, maxHeaderCount: 20, maxRequestHeadersBytes: 2048, requestBodyTimeout: '600ms' },
    topLimits: { headersTimeout: '1s', keepAliveTimeout: '1s' },
  },
});

const HOST = 'Host: 127.0.0.1';

/** The refused answer: status, `HTTP Error s.sub` in the body; the backend got nothing for the tag. */
async function assertRefused(gh: Hostile, bytes: string | string[], status: number, subStatus: number, tag: string, close: boolean): Promise<void> {
  const mark = gh.backend.mark();
  const exchange = await rawExchange(gh.http, bytes, close ? {} : { responses: 1 });
  const response = exchange.responses[0];
  assert.ok(response, describeExchange(exchange));
  assert.equal(response.status, status, describeExchange(exchange));
  assert.match(response.body.toString('latin1'), new RegExp(`^HTTP Error ${status}\\.${subStatus} `), describeExchange(exchange));
  if (close) assert.ok(exchange.closed && response.hasConnectionClose, `closed after the answer: ${describeExchange(exchange)}`);
  await gh.backend.settle(200, 2000);
  assert.ok(!gh.backend.since(mark).text.includes(tag), 'nothing of it reached the backend');
}

describe('sizes', () => {
  test('a path over maxUrl → 414.14; at the limit → 200', async () => {
    const tag = randomUUID().slice(0, 8);
    await assertRefused(suite.gh, request(`GET /${tag}/${'a'.repeat(300)} HTTP/1.1`, [HOST]), 414, 14, tag, false);
    const ok = await rawExchange(suite.gh.http, request(`GET /${'b'.repeat(255)} HTTP/1.1`, [HOST]), { responses: 1 });
    assert.equal(ok.responses[0]?.status, 200, describeExchange(ok));
  });

  test('a query string over maxQueryString → 414.15', async () => {
    const tag = randomUUID().slice(0, 8);
    await assertRefused(suite.gh, request(`GET /${tag}?q=${'x'.repeat(200)} HTTP/1.1`, [HOST]), 414, 15, tag, false);
  });

  test('more header fields than maxHeaderCount, or more bytes than maxRequestHeadersBytes → 431 and close', async () => {
    const tag = randomUUID().slice(0, 8);
    const many = Array.from({ length: 25 }, (_, i) => `X-H${i}: v`);
    await assertRefused(suite.gh, request(`GET /${tag} HTTP/1.1`, [HOST, ...many]), 431, 0, tag, true);
    const big = [`X-Big: ${'y'.repeat(2100)}`];
    await assertRefused(suite.gh, request(`GET /${tag}-b HTTP/1.1`, [HOST, ...big]), 431, 0, `${tag}-b`, true);
  });

  test('a declared Content-Length over maxAllowedContentLength → 413.13 at once, close, the body never read', async () => {
    const tag = randomUUID().slice(0, 8);
    await assertRefused(suite.gh, `POST /${tag} HTTP/1.1\r\n${HOST}\r\nContent-Length: 40000000\r\n\r\n${'z'.repeat(100)}`, 413, 13, tag, true);
  });

  test('a chunked body that grows over the limit: 413.13, and the backend never sees its end (its connection is closed)', async () => {
    const tag = randomUUID().slice(0, 8);
    const mark = suite.backend.mark();
    const connection = await RawConnection.open(suite.gh.http);
    try {
      connection.write(`POST /${tag} HTTP/1.1\r\n${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      connection.write(`258\r\n${'c'.repeat(600)}\r\n`);
      await suite.backend.waitFor(() => suite.backend.since(mark).text.includes(tag), 'the head and the first chunk reach the backend');
      connection.write(`258\r\n${'d'.repeat(600)}\r\n0\r\n\r\n`);
      const parsed = await connection.waitForResponses(1);
      assert.equal(parsed.responses[0]?.status, 413, show(connection));
      assert.match(parsed.responses[0]?.body.toString('latin1') ?? '', /^HTTP Error 413\.13 /);
      assert.ok(await connection.waitForClose(), 'the client connection is closed');
    } finally {
      connection.destroy();
    }
    await suite.backend.waitFor(() => suite.backend.connections.some((c) => c.closed && c.received().toString('latin1').includes(tag)), 'the backend connection is closed');
    const seen = suite.backend.since(mark).text;
    assert.ok(!seen.includes('d'.repeat(600)), 'the chunk over the limit never reached the backend');
    assert.ok(!/0\r\n\r\n$/.test(seen), 'the body never ended at the backend');
    assert.equal(suite.backend.since(mark).requests.filter((r) => r.target.includes(tag)).length, 0, 'no complete request at the backend');
  });
});

function show(connection: RawConnection): string {
  return connection.data.toString('latin1').slice(0, 400);
}

describe('slow clients', () => {
  test('a head trickled slower than headersTimeout (slowloris) → 408 and close, within a second of the limit', async () => {
    const connection = await RawConnection.open(suite.gh.http);
    const started = performance.now();
    try {
      connection.write(`GET /slow HTTP/1.1\r\n${HOST}\r\n`);
      const trickle = setInterval(() => {
        if (!connection.closed) connection.write('X-Slow: 1\r\n');
      }, 300);
      try {
        assert.ok(await connection.waitForClose(5000), 'closed');
      } finally {
        clearInterval(trickle);
      }
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 900 && elapsed < 2600, `closed after ${Math.round(elapsed)} ms (headersTimeout 1 s, checked every second at most)`);
      const parsed = connection.parsed();
      assert.equal(parsed.responses[0]?.status, 408, show(connection));
    } finally {
      connection.destroy();
    }
  });

  test('a TLS connection that never sends a request is closed after headersTimeout', async () => {
    const connection = await RawConnection.open(suite.gh.https);
    const started = performance.now();
    try {
      assert.ok(await connection.waitForClose(5000), 'closed');
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 2600, `closed after ${Math.round(elapsed)} ms`);
    } finally {
      connection.destroy();
    }
  });

  test('a body that stops for longer than requestBodyTimeout → 408; the backend never gets a complete request', async () => {
    const tag = randomUUID().slice(0, 8);
    const mark = suite.backend.mark();
    const connection = await RawConnection.open(suite.gh.http);
    try {
      connection.write(`POST /${tag} HTTP/1.1\r\n${HOST}\r\nContent-Length: 500\r\n\r\n${'s'.repeat(100)}`);
      const parsed = await connection.waitForResponses(1, 4000);
      assert.equal(parsed.responses[0]?.status, 408, show(connection));
      assert.match(parsed.responses[0]?.body.toString('latin1') ?? '', /^HTTP Error 408\.0 /);
      assert.ok(await connection.waitForClose(), 'the client connection is closed');
    } finally {
      connection.destroy();
    }
    assert.equal(suite.backend.since(mark).requests.filter((r) => r.target.includes(tag)).length, 0);
  });

  test('an idle keep-alive connection is closed after keepAliveTimeout', async () => {
    const connection = await RawConnection.open(suite.gh.http);
    try {
      connection.write(request('GET /keep HTTP/1.1', [HOST]));
      await connection.waitForResponses(1);
      const started = performance.now();
      assert.ok(await connection.waitForClose(5000), 'closed');
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 800 && elapsed < 2600, `closed after ${Math.round(elapsed)} ms idle`);
    } finally {
      connection.destroy();
    }
  });
});

describe('farm side', () => {
  test('a response head over maxResponseHeaderSize → 502.3 naming the limit; the next request is served', async () => {
    const backend = await startRecordingBackend({
      reply: (req) => (req.target.startsWith('/huge-head') ? rawReply(`HTTP/1.1 200 OK\r\nX-Big: ${'h'.repeat(5000)}\r\nContent-Length: 2\r\n\r\nok`) : undefined),
    });
    try {
      const gh = await suite.launch({ backend, bindings: ['http'], protocol: { maxResponseHeaderSize: 4096 } });
      const exchange = await rawExchange(gh.http, request('GET /huge-head HTTP/1.1', [HOST]), { responses: 1 });
      assert.equal(exchange.responses[0]?.status, 502, describeExchange(exchange));
      assert.match(exchange.responses[0]?.body.toString('latin1') ?? '', /^HTTP Error 502\.3 /);
      assert.ok(gh.running.events.some((e) => /502\.3 .*GET \/huge-head.*larger than maxResponseHeaderSize \(4096 bytes\)/.test(e)), gh.running.events.join('\n'));
      const next = await rawExchange(gh.http, request('GET /fine HTTP/1.1', [HOST]), { responses: 1 });
      assert.equal(next.responses[0]?.status, 200, describeExchange(next));
      await gh.stop();
    } finally {
      await backend.close();
    }
  });

  test('maxConnectionsPerServer: 1 → one connection to the server; a second request waits for it, and past the protocol timeout gets 502.3', async () => {
    const held: (() => void)[] = [];
    const backend = await startRecordingBackend({
      reply: (req, connection) => {
        if (!req.target.startsWith('/hold')) return undefined;
        held.push(() => connection.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nheld`));
        return { bytes: '' };
      },
    });
    try {
      const gh = await suite.launch({ backend, bindings: ['http'], farm: { maxConnectionsPerServer: 1 }, protocol: { timeout: '1s' } });
      const first = RawConnection.open(gh.http);
      const a = await first;
      a.write(request('GET /hold-a HTTP/1.1', [HOST]));
      await backend.waitFor(() => held.length === 1, 'the first request is at the server');
      const b = await RawConnection.open(gh.http);
      b.write(request('GET /queued HTTP/1.1', [HOST]));
      // The second request waits: the one connection is busy. Release the first: the second follows on it.
      await backend.settle(200, 1000);
      assert.equal(backend.connections.length, 1, 'one connection to the server');
      assert.ok(!backend.requests.some((r) => r.target === '/queued'), 'the second request waits');
      (held.shift() as () => void)();
      const [ra, rb] = await Promise.all([a.waitForResponses(1), b.waitForResponses(1)]);
      assert.equal(ra.responses[0]?.status, 200);
      assert.equal(rb.responses[0]?.status, 200);
      assert.equal(backend.connections.length, 1, 'still one connection: the second request used it after the first');
      // Held past the protocol timeout: the waiting request gets 502.3.
      const c = await RawConnection.open(gh.http);
      c.write(request('GET /hold-c HTTP/1.1', [HOST]));
      await backend.waitFor(() => held.length === 1, 'the third request is at the server');
      const d = await RawConnection.open(gh.http);
      d.write(request('GET /hold-d HTTP/1.1', [HOST])); // held too, if it ever gets a connection: 502.3 either way
      const rd = await d.waitForResponses(1, 4000);
      assert.equal(rd.responses[0]?.status, 502, show(d));
      for (const connection of [a, b, c, d]) connection.destroy();
      for (const release of held) release();
      await gh.stop();
    } finally {
      await backend.close();
    }
  });
});

describe('the access log', () => {
  test('a head the parser refuses and a head too slow each get a line (status, client, reason), with no site', async () => {
    const file = join(suite.dir, `limits-access-${randomUUID().slice(0, 8)}.log`);
    const gh = await suite.launch({ bindings: ['http'], accessLog: { destination: file, format: 'json' }, topLimits: { headersTimeout: '1s' } });
    const bad = await rawExchange(gh.http, `GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`);
    assert.equal(bad.responses[0]?.status, 400, describeExchange(bad));
    const slow = await RawConnection.open(gh.http);
    slow.write('GET /slow HTTP/1.1\r\n');
    assert.ok(await slow.waitForClose(5000));
    slow.destroy();
    await gh.stop();
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { status: number; site: string; clientIp: string; reason: string; method: string });
    const refused = lines.find((l) => l.status === 400);
    assert.ok(refused, JSON.stringify(lines));
    assert.equal(refused.site, '');
    assert.equal(refused.clientIp, '127.0.0.1');
    assert.match(refused.reason, /not valid HTTP\/1\.1/);
    const timedOut = lines.find((l) => l.status === 408);
    assert.ok(timedOut, JSON.stringify(lines));
    assert.match(timedOut.reason, /headersTimeout/);
  });
});

describe('config', () => {
  test('sites sharing a port must agree on the connection limits; a bad value names its key', async () => {
    const farm = { name: 'f', servers: [{ address: '127.0.0.1:9' }] };
    const two = { sites: [{ name: 'a', bindings: [{ protocol: 'http', port: 8080, hostName: 'a.test' }], farm: 'f' }, { name: 'b', bindings: [{ protocol: 'http', port: 8080, hostName: 'b.test' }], farm: 'f', limits: { headersTimeout: '5s' } }], farms: [farm] };
    const error = await loadConfigText(JSON.stringify(two), '/tmp/limits.yaml', '/tmp').then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.lines.join('\n'), /sites\[1\]\.limits: headersTimeout, keepAliveTimeout or maxConnections differ/);
    const bad = { sites: [{ name: 'a', bindings: [{ protocol: 'http', port: 8080 }], farm: 'f', limits: { maxUrl: 0 } }], farms: [farm], limits: { headersTimeout: 'soon' } };
    const badError = await loadConfigText(JSON.stringify(bad), '/tmp/limits.yaml', '/tmp').then(() => undefined, (e: unknown) => e);
    assert.ok(badError instanceof ConfigError);
    const text = badError.lines.join('\n');
    assert.match(text, /sites\[0\]\.limits\.maxUrl/);
    assert.match(text, /limits\.headersTimeout: .*not a duration/);
  });
});

describe('many idle connections', () => {
  test('1,000 TLS connections that never send a request are all closed after headersTimeout; a real client is served meanwhile', async () => {
    const { connect } = await import('node:tls');
    const sockets: import('node:tls').TLSSocket[] = [];
    const closed: Promise<void>[] = [];
    try {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, () =>
            new Promise<void>((resolve, reject) => {
              const socket = connect({ host: '127.0.0.1', port: suite.gh.httpsPort, ca: suite.gh.ca, servername: 'localhost' }, () => resolve());
              socket.on('error', () => undefined);
              socket.resume(); // flowing, so the server's close arrives as 'end' and 'close'
              socket.once('error', reject);
              closed.push(new Promise<void>((done) => socket.once('close', () => done())));
              sockets.push(socket);
            }),
          ),
        );
      }
      const started = performance.now();
      const served = await rawExchange(suite.gh.http, request('GET /while-idle HTTP/1.1', [HOST]), { responses: 1 });
      assert.equal(served.responses[0]?.status, 200, describeExchange(served));
      await within(Promise.all(closed), 10_000, 'every idle connection to be closed');
      assert.ok(performance.now() - started < 5000, 'closed by headersTimeout (1 s), checked every second');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

describe('maxConnections', () => {
  test('past it a new connection waits (accepted, unread) and is served once another closes; stopping closes the waiting ones', async () => {
    const gh = await suite.launch({ bindings: ['http'], topLimits: { maxConnections: 2 } });
    const first = await RawConnection.open(gh.http);
    const second = await RawConnection.open(gh.http);
    first.write(request('GET /first HTTP/1.1', [HOST]));
    second.write(request('GET /second HTTP/1.1', [HOST]));
    await Promise.all([first.waitForResponses(1), second.waitForResponses(1)]);
    const third = await RawConnection.open(gh.http);
    const mark = suite.backend.mark();
    third.write(request('GET /third HTTP/1.1', [HOST]));
    await suite.backend.settle(200, 1000);
    assert.equal(suite.backend.since(mark).requests.length, 0, 'the third connection waits: its request is not read');
    assert.equal(third.parsed().responses.length, 0);
    first.destroy();
    const parsed = await third.waitForResponses(1);
    assert.equal(parsed.responses[0]?.status, 200, 'served once the first closed');
    const fourth = await RawConnection.open(gh.http);
    fourth.write(request('GET /fourth HTTP/1.1', [HOST]));
    await gh.stop();
    assert.ok(await fourth.waitForClose(), 'a connection still waiting is closed when Gatehouse stops');
    for (const connection of [second, third, fourth]) connection.destroy();
  });
});

describe('maxConnections on https', () => {
  test('past it a new TLS connection finishes its handshake and waits, its request unread, until the open one closes', async () => {
    const gh = await suite.launch({ bindings: ['https'], http2: false, topLimits: { maxConnections: 1 } });
    const first = await RawConnection.open(gh.https);
    first.write(request('GET /first-tls HTTP/1.1', [HOST]));
    assert.equal((await first.waitForResponses(1)).responses[0]?.status, 200);
    const second = await RawConnection.open(gh.https);
    const mark = suite.backend.mark();
    second.write(request('GET /second-tls HTTP/1.1', [HOST]));
    await suite.backend.settle(200, 1000);
    assert.equal(suite.backend.since(mark).requests.length, 0, 'the second request waits, unread');
    first.destroy();
    assert.equal((await second.waitForResponses(1)).responses[0]?.status, 200, 'served once the first closed');
    second.destroy();
    await gh.stop();
  });
});

describe('HTTP/2 gets the same limits', () => {
  test('a declared content-length over maxAllowedContentLength → 413.13; a streamed body over it is cut (413 or a reset), never complete at the backend; the connection serves on', async (t) => {
    const gh = await suite.launch({ bindings: ['https'], limits: { maxAllowedContentLength: 1000 } });
    if (!offersHttp2) return gh.http2Fallback(t);
    const h2 = await gh.h2();
    const declared = await h2.request([...h2Request('/h2-declared', gh.authority, 'POST'), ['content-length', '5000']], ['x'.repeat(5000)]);
    assert.equal(declared.status, 413, describeStream(declared));
    const mark = suite.backend.mark();
    const streamed = await h2.request(h2Request('/h2-streamed', gh.authority, 'POST'), ['y'.repeat(600), 'z'.repeat(600)]);
    assert.ok(streamed.status === 413 || streamed.rstCode !== undefined, describeStream(streamed));
    assert.equal(suite.backend.since(mark).requests.filter((r) => r.target === '/h2-streamed').length, 0, 'never complete at the backend');
    const after = await h2.request(h2Request('/h2-after', gh.authority));
    assert.equal(after.status, 200);
    h2.close();
    await gh.stop();
  });
});
