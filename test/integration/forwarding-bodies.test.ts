/**
 * Forwarding, the other half: what the client receives back (headers, status codes, HEAD, 204), bodies
 * streamed both ways (200 MB through https, checked by SHA-256, memory bounded), a backend dying
 * mid-response, and the access log.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { W3C_FIELDS } from '../../src/tracing/access-log-w3c.js';
import { echoHandler, startBackend, type Backend, type Handler } from '../support/backends.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { deterministicBytes, FARM, launch, MB, SITE, startRawBackend, type GatehouseSpec, type RawBackend } from './forwarding-helpers.js';
import { makeTempDir } from '../support/temp.js';
import { echoOf, rawValues, send, type SendOptions } from '../support/clients.js';

let pki: TestPki;
let tmp: { dir: string; remove: () => Promise<void> };

before(async () => {
  pki = await createTestPki();
  tmp = await makeTempDir('gatehouse-forwarding-bodies-');
});

after(async () => {
  await tmp?.remove();
  await pki?.cleanup();
});

async function site(t: TestContext, handler: Handler = echoHandler, spec: Omit<GatehouseSpec, 'servers'> = {}) {
  const backend = await startBackend('b', handler);
  t.after(() => backend.close());
  const running = await launch(t, pki, tmp.dir, { ...spec, servers: [backend.address] });
  const urlOf = (protocol: 'http' | 'https', path = '/') => running.url(SITE, protocol) + path;
  return { backend, running, urlOf };
}

async function rawSite(t: TestContext, answer: Parameters<typeof startRawBackend>[0]) {
  const backend: RawBackend = await startRawBackend(answer);
  t.after(() => backend.close());
  const running = await launch(t, pki, tmp.dir, { servers: [backend.address] });
  const urlOf = (protocol: 'http' | 'https', path = '/') => running.url(SITE, protocol) + path;
  return { backend, running, urlOf };
}

function request(url: string, options: SendOptions = {}) {
  return send(url, { ca: pki.root.certPem, timeoutMs: 60_000, ...options });
}

describe('responses', () => {
  test('backend headers pass through, multiple Set-Cookie preserved in order', async (t) => {
    const { urlOf } = await site(t, (req, res) => {
      req.resume();
      res.writeHead(200, [
        'Content-Type', 'text/plain; charset=utf-8',
        'Set-Cookie', 'a=1; Path=/',
        'Set-Cookie', 'b=2; HttpOnly; Secure',
        'Set-Cookie', 'c=3',
        'X-Backend', 'yes',
        'Cache-Control', 'private, max-age=5',
        'ETag', '"v1"',
        'Content-Length', '2',
      ]);
      res.end('ok');
    });
    for (const protocol of ['http', 'https'] as const) {
      const reply = await request(urlOf(protocol));
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), 'ok');
      assert.deepEqual(reply.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly; Secure', 'c=3']);
      assert.deepEqual(rawValues(reply.rawHeaders, 'Set-Cookie'), ['a=1; Path=/', 'b=2; HttpOnly; Secure', 'c=3']);
      assert.deepEqual(rawValues(reply.rawHeaders, 'X-Backend'), ['yes']);
      assert.deepEqual(rawValues(reply.rawHeaders, 'Cache-Control'), ['private, max-age=5']);
      assert.deepEqual(rawValues(reply.rawHeaders, 'ETag'), ['"v1"']);
      assert.deepEqual(rawValues(reply.rawHeaders, 'Content-Type'), ['text/plain; charset=utf-8']);
      assert.deepEqual(rawValues(reply.rawHeaders, 'Content-Length'), ['2']);
    }
  });

  test('hop-by-hop response headers are not passed', async (t) => {
    const { urlOf } = await rawSite(t, (socket) => {
      socket.write(
        'HTTP/1.1 200 OK\r\n' +
          'Content-Type: text/plain\r\n' +
          'Keep-Alive: timeout=99, max=7\r\n' +
          'Proxy-Connection: keep-alive\r\n' +
          'Upgrade: h2c\r\n' +
          'Trailer: X-Checksum\r\n' +
          'TE: trailers\r\n' +
          'X-End-To-End: kept\r\n' +
          'Content-Length: 5\r\n' +
          '\r\nhello',
      );
    });
    for (const protocol of ['http', 'https'] as const) {
      const reply = await request(urlOf(protocol));
      assert.equal(reply.status, 200, reply.error?.message);
      assert.equal(reply.body.toString(), 'hello');
      assert.deepEqual(rawValues(reply.rawHeaders, 'X-End-To-End'), ['kept']);
      assert.ok(!rawValues(reply.rawHeaders, 'Keep-Alive').some((v) => v.includes('99')), 'the backend Keep-Alive');
      for (const name of ['Proxy-Connection', 'Upgrade', 'Trailer', 'TE']) assert.deepEqual(rawValues(reply.rawHeaders, name), [], `${protocol} ${name}`);
    }
  });

  test('response headers named in the backend Connection header are not passed (RFC 9110 §7.6.1)', async (t) => {
    const { urlOf } = await rawSite(t, (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Resp-Hop\r\nX-Resp-Hop: secret\r\nX-End-To-End: kept\r\nContent-Length: 2\r\n\r\nok');
    });
    const reply = await request(urlOf('http'));
    assert.equal(reply.status, 200);
    assert.deepEqual(rawValues(reply.rawHeaders, 'X-End-To-End'), ['kept']);
    assert.deepEqual(rawValues(reply.rawHeaders, 'X-Resp-Hop'), []);
    for (const value of rawValues(reply.rawHeaders, 'Connection')) assert.doesNotMatch(value, /x-resp-hop/i);
  });

  test('status codes 201, 404 and 500 from the backend pass through untouched', async (t) => {
    const { urlOf, running } = await site(t, (req, res) => {
      req.resume();
      const status = Number(/^\/status\/(\d{3})$/.exec(req.url ?? '')?.[1] ?? 400);
      const body = `body of ${status}`;
      res.writeHead(status, { 'content-type': 'text/plain', 'x-status': String(status), 'content-length': Buffer.byteLength(body), ...(status === 201 ? { location: '/things/1' } : {}) });
      res.end(body);
    });
    for (const status of [201, 404, 500]) {
      for (const protocol of ['http', 'https'] as const) {
        const reply = await request(urlOf(protocol, `/status/${status}`), { method: status === 201 ? 'POST' : 'GET', ...(status === 201 ? { body: '{"a":1}', headers: ['Content-Type', 'application/json'] } : {}) });
        assert.equal(reply.status, status, `${protocol} ${status}`);
        assert.equal(reply.body.toString(), `body of ${status}`);
        assert.deepEqual(rawValues(reply.rawHeaders, 'X-Status'), [String(status)]);
        assert.deepEqual(rawValues(reply.rawHeaders, 'Location'), status === 201 ? ['/things/1'] : []);
        assert.ok(reply.complete);
      }
    }
    assert.deepEqual(running.events.filter((e) => e.includes('502')), []);
  });

  test('HEAD: headers of the GET, no body', async (t) => {
    const { urlOf, backend } = await site(t, (req, res) => {
      req.resume();
      const body = Buffer.alloc(1234, 'x');
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-method': req.method ?? '' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    for (const protocol of ['http', 'https'] as const) {
      const reply = await request(urlOf(protocol, '/head'), { method: 'HEAD' });
      assert.equal(reply.status, 200);
      assert.deepEqual(rawValues(reply.rawHeaders, 'Content-Length'), ['1234']);
      assert.deepEqual(rawValues(reply.rawHeaders, 'X-Method'), ['HEAD']);
      assert.equal(reply.bodyBytes, 0);
      assert.ok(reply.complete);
      // The connection stays usable: a GET right after on a fresh connection gets the full body.
      const get = await request(urlOf(protocol, '/head'));
      assert.equal(get.bodyBytes, 1234);
    }
    assert.ok(backend.server.listening);
  });

  test('204 No Content passes through with its headers and no body', async (t) => {
    const { urlOf } = await site(t, (req, res) => {
      req.resume();
      res.writeHead(204, { 'x-empty': 'yes' });
      res.end();
    });
    for (const protocol of ['http', 'https'] as const) {
      const reply = await request(urlOf(protocol, '/nothing'), { method: 'DELETE' });
      assert.equal(reply.status, 204);
      assert.deepEqual(rawValues(reply.rawHeaders, 'X-Empty'), ['yes']);
      assert.equal(reply.bodyBytes, 0);
      assert.ok(reply.complete);
      assert.deepEqual(rawValues(reply.rawHeaders, 'Transfer-Encoding'), []);
    }
  });
});

/**
 * Samples the memory the process holds alive: V8's used heap plus external memory (Buffers live there, so a
 * body held whole would show as its size). Not RSS: V8 keeps pages it freed, and how many depends on the
 * node version's heap sizing (Node 24 keeps tens of MB more after the same garbage), which is not what this
 * measures. `growth` is the largest sample minus the first. The bounds: a peak under 150 MB (Node 24's young
 * generation holds up to ~85 MB of not yet collected chunks here) and an end under 100 MB, both far below
 * the 200 MB a body held whole would take.
 */
class MemoryMeter {
  readonly start = MemoryMeter.live();
  max = this.start;
  #count = 0;
  static live(): number {
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.external;
  }
  sample(): void {
    if (++this.#count % 16 !== 0) return;
    const live = MemoryMeter.live();
    if (live > this.max) this.max = live;
  }
  get peakGrowthMb(): number {
    return (this.max - this.start) / MB;
  }
  get endGrowthMb(): number {
    return (MemoryMeter.live() - this.start) / MB;
  }
}

describe('bodies streamed through https', () => {
  const SIZE = 200 * MB;

  for (const framing of ['chunked', 'content-length'] as const) {
    test(`a 200 MB upload (${framing}) arrives intact, memory bounded`, async (t) => {
      // Over the default maxAllowedContentLength (30 MB, IIS's): the site allows it.
      const { urlOf } = await site(t, echoHandler, { bindings: ['https'], limits: { maxAllowedContentLength: 300 * MB } });
      const meter = new MemoryMeter();
      const hash = createHash('sha256');
      const reply = await request(urlOf('https', '/upload'), {
        method: 'POST',
        headers: framing === 'chunked' ? ['Transfer-Encoding', 'chunked', 'Content-Type', 'application/octet-stream'] : ['Content-Length', String(SIZE), 'Content-Type', 'application/octet-stream'],
        body: deterministicBytes(SIZE, hash, 256 * 1024, () => meter.sample()),
        timeoutMs: 120_000,
      });
      const received = echoOf(reply);
      const expected = hash.digest('hex');
      assert.equal(received.bodyBytes, SIZE);
      assert.equal(received.bodySha256, expected);
      if (framing === 'content-length') assert.deepEqual(rawValues(received.rawHeaders, 'Content-Length'), [String(SIZE)]);
      else assert.deepEqual(rawValues(received.rawHeaders, 'Content-Length'), []);
      t.diagnostic(`live memory growth (heap used + external): peak ${meter.peakGrowthMb.toFixed(1)} MB, end ${meter.endGrowthMb.toFixed(1)} MB`);
      assert.ok(meter.peakGrowthMb < 150, `peak live memory growth ${meter.peakGrowthMb.toFixed(1)} MB`);
      assert.ok(meter.endGrowthMb < 100, `live memory growth ${meter.endGrowthMb.toFixed(1)} MB`);
    });
  }

  test('a 200 MB download arrives intact, memory bounded', async (t) => {
    let backendDigest: Promise<string> | undefined;
    const { urlOf } = await site(
      t,
      (req: IncomingMessage, res: ServerResponse, _backend: Backend) => {
        req.resume();
        const hash = createHash('sha256');
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': SIZE });
        backendDigest = pipeline(Readable.from(deterministicBytes(SIZE, hash)), res).then(() => hash.digest('hex'));
      },
      { bindings: ['https'] },
    );
    const meter = new MemoryMeter();
    const clientHash = createHash('sha256');
    const reply = await request(urlOf('https', '/download'), {
      timeoutMs: 120_000,
      onData: (chunk) => {
        clientHash.update(chunk);
        meter.sample();
      },
    });
    assert.equal(reply.status, 200, reply.error?.message);
    assert.ok(reply.complete, reply.error?.message);
    assert.equal(reply.bodyBytes, SIZE);
    assert.deepEqual(rawValues(reply.rawHeaders, 'Content-Length'), [String(SIZE)]);
    assert.ok(backendDigest);
    assert.equal(clientHash.digest('hex'), await backendDigest);
    t.diagnostic(`live memory growth (heap used + external): peak ${meter.peakGrowthMb.toFixed(1)} MB, end ${meter.endGrowthMb.toFixed(1)} MB`);
    assert.ok(meter.peakGrowthMb < 150, `peak live memory growth ${meter.peakGrowthMb.toFixed(1)} MB`);
    assert.ok(meter.endGrowthMb < 100, `live memory growth ${meter.endGrowthMb.toFixed(1)} MB`);
  });
});

describe('a backend that dies mid-response', () => {
  const LENGTH = 100_000;

  test('content-length body cut in half: the client sees an error and a short body, never a complete response', async (t) => {
    const { urlOf, running } = await rawSite(t, (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${LENGTH}\r\n\r\n`);
      socket.write(Buffer.alloc(LENGTH / 2, 0x61), () => socket.destroy());
    });
    for (const protocol of ['http', 'https'] as const) {
      const reply = await request(urlOf(protocol, '/half'));
      t.diagnostic(`${protocol}: status ${reply.status}, ${reply.bodyBytes} of ${LENGTH} bytes, error: ${reply.error?.message}`);
      assert.equal(reply.complete, false, `${protocol}: complete`);
      assert.ok(reply.error, `${protocol}: no error`);
      assert.ok(reply.bodyBytes < LENGTH, `${protocol}: ${reply.bodyBytes} bytes`);
      if (reply.status !== 0) {
        assert.equal(reply.status, 200);
        assert.deepEqual(rawValues(reply.rawHeaders, 'Content-Length'), [String(LENGTH)]);
      }
    }
    assert.ok(running.events.some((e) => e.includes('response aborted') && e.includes(`farm ${FARM}`)), running.events.join('\n'));
  });

  test('chunked body without its last chunk: the client sees an error, never a complete response', async (t) => {
    const { urlOf } = await rawSite(t, (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n', () => socket.destroy());
    });
    for (const protocol of ['http', 'https'] as const) {
      const reply = await request(urlOf(protocol, '/chunked'));
      t.diagnostic(`${protocol}: status ${reply.status}, ${reply.bodyBytes} bytes, error: ${reply.error?.message}`);
      assert.equal(reply.complete, false, `${protocol}: complete`);
      assert.ok(reply.error, `${protocol}: no error`);
      assert.ok(reply.bodyBytes <= 11);
    }
  });
});

describe('access log', () => {
  test('W3C extended format: the IIS header, then one line per request with IIS\'s fields and Gatehouse\'s (site, client port, X-ARR-LOG-ID, farm, server, thumbprint)', async (t) => {
    const logFile = join(tmp.dir, `access-${process.pid}-${Date.now()}.log`);
    const { urlOf, backend, running } = await site(t, echoHandler, { accessLog: logFile, clientCertificates: 'accept' });
    const startedMs = Date.now();
    const withCert = await request(urlOf('https', '/first?q=1&r=two'), { clientCert: pki.clients.valid, headers: ['User-Agent', 'Test Client/1.0 (access log)', 'Referer', 'https://example.test/from'] });
    const plain = await request(urlOf('http', '/second'), { method: 'POST', body: 'abc', headers: ['Content-Type', 'text/plain'] });
    const noCert = await request(urlOf('https', '/third'));
    const endedMs = Date.now();
    const replies = [withCert, plain, noCert];
    for (const reply of replies) assert.equal(reply.status, 200);
    await running.stop();
    const lines = (await readFile(logFile, 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 4 + 3, lines.join('\n'));
    assert.deepEqual(lines.slice(0, 2), ['#Software: Gatehouse', '#Version: 1.0']);
    assert.match(lines[2] as string, /^#Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(lines[3], `#Fields: ${W3C_FIELDS.join(' ')}`);
    const thumbprint = createHash('sha1').update(pki.clients.valid.issued.cert.raw).digest('hex').toUpperCase();
    const expected = [
      { protocol: 'https', method: 'GET', stem: '/first', query: 'q=1&r=two', userAgent: 'Test+Client/1.0+(access+log)', referer: 'https://example.test/from', thumbprint },
      { protocol: 'http', method: 'POST', stem: '/second', query: '-', userAgent: '-', referer: '-', thumbprint: '-' },
      { protocol: 'https', method: 'GET', stem: '/third', query: '-', userAgent: '-', referer: '-', thumbprint: '-' },
    ] as const;
    for (const [i, line] of lines.slice(4).entries()) {
      const fields = line.split(' ');
      assert.equal(fields.length, W3C_FIELDS.length, line);
      const [date, time, sIp, method, stem, query, sPort, username, cIp, userAgent, referer, status, subStatus, win32, ms, siteName, cPort, logId, farm, server, thumb] = fields as [string, ...string[]];
      const reply = replies[i]!;
      const want = expected[i]!;
      const loggedMs = Date.parse(`${date}T${time}Z`);
      assert.ok(loggedMs >= Math.floor(startedMs / 1000) * 1000 && loggedMs <= endedMs, `date time ${date} ${time}`);
      assert.equal(sIp, '127.0.0.1');
      assert.equal(method, want.method);
      assert.equal(stem, want.stem);
      assert.equal(query, want.query);
      assert.equal(sPort, String(running.port(SITE, want.protocol)));
      assert.equal(username, '-');
      assert.equal(cIp, '127.0.0.1');
      assert.equal(userAgent, want.userAgent);
      assert.equal(referer, want.referer);
      assert.equal(status, '200');
      assert.equal(subStatus, '0');
      assert.equal(win32, '0');
      assert.match(ms as string, /^\d+$/);
      assert.equal(siteName, SITE);
      assert.equal(cPort, String(reply.localPort));
      assert.deepEqual([logId], rawValues(echoOf(reply).rawHeaders, 'X-ARR-LOG-ID'));
      assert.equal(farm, FARM);
      assert.equal(server, backend.address);
      assert.equal(thumb, want.thumbprint);
    }
    assert.equal(backend.received.length, 3);
  });
});
