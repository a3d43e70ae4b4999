/**
 * HTTP/2 on https bindings: ALPN offers h2 and http/1.1; HTTP/2 clients (curl, node:http2) present client
 * certificates and their requests reach HTTP/1.1 farm servers with ARR's headers; bodies stream both ways
 * without a length; streams of one connection spread over the farm; a host that belongs to another site
 * on a shared port gets 421; a graceful stop lets open streams finish. On a node whose HTTP/2 a client can
 * crash, Gatehouse offers http/1.1 only (support/http2.ts): there each test asserts that fallback instead,
 * and curl --http2 gets HTTP/1.1 with the same answers.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect as connectHttp2, constants, type ClientHttp2Session, type IncomingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problem.js';
import { echoHandler, startBackend, type Backend, type EchoReply } from '../support/backends.js';
import { curl } from '../support/clients.js';
import { configText, freePort, httpBinding, httpsBinding } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { assertHttp2Fallback, offersHttp2, type Http2Door } from '../support/http2.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';
import { deterministicBytes, gatehouseConfig, launch, MB, startRawBackend } from './forwarding-helpers.js';
import { makeTempDir } from '../support/temp.js';

let pki: TestPki;
let tmp: { dir: string; remove: () => Promise<void> };

before(async () => {
  pki = await createTestPki();
  tmp = await makeTempDir('gatehouse-http2-');
});

after(async () => {
  await tmp?.remove();
  await pki?.cleanup();
});

/** An echo backend that also records the HTTP version each request arrived with. */
async function versionedBackend(name: string): Promise<Backend & { versions: string[] }> {
  const versions: string[] = [];
  const backend = await startBackend(name, (req: IncomingMessage, res: ServerResponse, self: Backend) => {
    versions.push(req.httpVersion);
    echoHandler(req, res, self);
  });
  return Object.assign(backend, { versions });
}

function clientTls(client?: ClientFiles): SecureClientSessionOptions {
  return { ca: readFileSync(pki.caFile), ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}) };
}

/** The https binding of `site` in `running`, for assertHttp2Fallback (a node that does not offer HTTP/2). */
function doorOf(running: RunningGatehouse, site: string, servername?: string): Http2Door {
  return { port: running.port(site), ca: readFileSync(pki.caFile), ...(servername ? { servername } : {}), log: () => running.events };
}

/** An HTTP/2 session to `url`, closed when the test ends; rejects when the handshake or ALPN fails. */
async function session(t: { after(fn: () => unknown): void }, url: string, options: SecureClientSessionOptions): Promise<ClientHttp2Session> {
  const client = connectHttp2(url, options);
  t.after(() => client.destroy());
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

interface StreamReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on an HTTP/2 session; `body` is streamed without a content-length when given as chunks. */
function exchange(client: ClientHttp2Session, headers: Record<string, string | number>, body?: Buffer | AsyncIterable<Buffer>): Promise<StreamReply> {
  return new Promise((resolve, reject) => {
    const stream = client.request(headers, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (Buffer.isBuffer(body)) stream.end(body);
    else if (body) {
      void (async () => {
        for await (const chunk of body) if (!stream.write(chunk)) await new Promise((r) => stream.once('drain', r));
        stream.end();
      })().catch(reject);
    }
  });
}

function echoOf(reply: StreamReply): EchoReply {
  assert.equal(reply.status, 200, reply.body.toString());
  return JSON.parse(reply.body.toString('utf8')) as EchoReply;
}

describe('HTTP/2 with client certificates in front of HTTP/1.1 servers', () => {
  let backends: (Backend & { versions: string[] })[];
  let running: RunningGatehouse;
  let url: string;

  before(async () => {
    backends = [await versionedBackend('a'), await versionedBackend('b')];
    running = await startGatehouse(gatehouseConfig(pki, { servers: backends.map((b) => b.address), bindings: ['https'], clientCertificates: 'require' }), tmp.dir);
    url = running.url('app');
  });

  after(async () => {
    await running?.stop();
    for (const backend of backends ?? []) await backend.close();
  });

  test('curl --http2 with a badge: HTTP/2 200; the server gets HTTP/1.1 with X-ARR-ClientCert and no pseudo-headers', async (t) => {
    if (!offersHttp2) await assertHttp2Fallback(t, doorOf(running, 'app'));
    const path = `/h2/curl-${Date.now()}`;
    const result = await curl(`${url}${path}?q=1`, { cacert: pki.caFile, cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile, extra: ['--http2', '-w', '\n%{http_version}'] });
    assert.equal(result.exitCode, 0, result.stderr);
    // Where HTTP/2 is off, curl --http2 falls back to HTTP/1.1 and everything else holds the same.
    assert.match(result.stderr, offersHttp2 ? /^HTTP\/2 200/m : /^HTTP\/1\.1 200/m, result.stderr);
    const [json, version] = [result.body.slice(0, result.body.lastIndexOf('\n')), result.body.slice(result.body.lastIndexOf('\n') + 1)];
    assert.equal(version, offersHttp2 ? '2' : '1.1');
    const echo = JSON.parse(json) as EchoReply;
    assert.equal(echo.url, `${path}?q=1`);
    assert.equal(echo.method, 'GET');
    const der = new X509Certificate(readFileSync(pki.clients.valid.certFile)).raw.toString('base64');
    assert.equal(echo.headers['x-arr-clientcert'], der);
    assert.equal(echo.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.headers.host, new URL(url).host, 'Host is the :authority the client used');
    assert.ok(echo.rawHeaders.every((name, i) => i % 2 === 1 || !name.startsWith(':')), `no pseudo-header reaches the server: ${echo.rawHeaders.join(' | ')}`);
    const backend = backends.find((b) => b.received.some((r) => r.url === `${path}?q=1`));
    assert.ok(backend);
    assert.equal(backend.versions[backend.received.findIndex((r) => r.url === `${path}?q=1`)], '1.1');
  });

  test('curl --http2 without a badge: HTTP/2 403.7 and nothing reaches the farm', async (t) => {
    if (!offersHttp2) await assertHttp2Fallback(t, doorOf(running, 'app'));
    const path = `/h2/none-${Date.now()}`;
    const result = await curl(`${url}${path}`, { cacert: pki.caFile, extra: ['--http2'] });
    assert.match(result.stderr, offersHttp2 ? /^HTTP\/2 403/m : /^HTTP\/1\.1 403/m, result.stderr);
    assert.match(result.body, /HTTP Error 403\.7/);
    assert.ok(backends.every((b) => b.received.every((r) => r.url !== path)));
  });

  test('curl --http1.1 on the same binding still gets HTTP/1.1', async () => {
    const result = await curl(`${url}/h2/h1-${Date.now()}`, { cacert: pki.caFile, cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile, extra: ['--http1.1'] });
    assert.match(result.stderr, /^HTTP\/1\.1 200/m, result.stderr);
  });

  test('60 concurrent streams on one connection: every one answered, spread over both servers', async (t) => {
    if (!offersHttp2) return assertHttp2Fallback(t, doorOf(running, 'app'));
    const client = await session(t, url, clientTls(pki.clients.valid));
    const tag = `streams-${Date.now()}`;
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => exchange(client, { ':path': `/h2/${tag}/${i}` })));
    const echoes = replies.map(echoOf);
    assert.deepEqual(
      echoes.map((e) => e.url),
      Array.from({ length: 60 }, (_, i) => `/h2/${tag}/${i}`),
    );
    const perServer = backends.map((b) => b.received.filter((r) => r.url.startsWith(`/h2/${tag}/`)).length);
    assert.deepEqual(perServer, [30, 30], 'weighted round robin over two equal servers');
  });

  test('uploads stream through: 8 MB without a length (HTTP/2 DATA frames) and 1 MB with content-length, byte for byte', async (t) => {
    if (!offersHttp2) return assertHttp2Fallback(t, doorOf(running, 'app'));
    const client = await session(t, url, clientTls(pki.clients.valid));
    const sent = createHash('sha256');
    const chunked = echoOf(await exchange(client, { ':method': 'POST', ':path': '/h2/upload-stream', 'content-type': 'application/octet-stream' }, deterministicBytes(8 * MB, sent)));
    assert.equal(chunked.bodyBytes, 8 * MB);
    assert.equal(chunked.bodySha256, sent.digest('hex'));
    assert.equal(chunked.headers['transfer-encoding'], 'chunked', 'no length known: the server gets a chunked body');

    const body = Buffer.alloc(MB, 7);
    const sized = echoOf(await exchange(client, { ':method': 'PUT', ':path': '/h2/upload-sized', 'content-length': body.length }, body));
    assert.equal(sized.bodyBytes, MB);
    assert.equal(sized.bodySha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(sized.headers['content-length'], String(MB));
  });

  test('a GET without a body reaches the server without a body (no chunked framing invented)', async (t) => {
    if (!offersHttp2) return assertHttp2Fallback(t, doorOf(running, 'app'));
    const client = await session(t, url, clientTls(pki.clients.valid));
    const echo = echoOf(await exchange(client, { ':path': '/h2/no-body' }));
    assert.equal(echo.headers['transfer-encoding'], undefined);
    assert.equal(echo.headers['content-length'], undefined);
    assert.equal(echo.bodyBytes, 0);
  });
});

describe('HTTP/2 responses from HTTP/1.1 servers', () => {
  test('connection-specific headers are dropped, repeated Set-Cookie kept, a 10 MB chunked body arrives whole', async (t) => {
    const big = Buffer.alloc(10 * MB, 'x');
    const raw = await startRawBackend((socket, head) => {
      if (head.startsWith('GET /cookies')) {
        socket.write('HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
      } else {
        socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n`);
        socket.write(big);
        socket.write('\r\n0\r\n\r\n');
      }
    });
    t.after(() => raw.close());
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['https'] });
    if (!offersHttp2) return assertHttp2Fallback(t, doorOf(running, 'app'));
    const client = await session(t, running.url('app'), clientTls());
    const cookies = await exchange(client, { ':path': '/cookies' });
    assert.equal(cookies.status, 200);
    assert.equal(cookies.body.toString(), 'hello');
    assert.deepEqual(cookies.headers['set-cookie'], ['a=1', 'b=2']);
    for (const name of ['connection', 'keep-alive', 'x-hop', 'transfer-encoding']) assert.equal(cookies.headers[name], undefined, name);
    const download = await exchange(client, { ':path': '/big' });
    assert.equal(download.status, 200);
    assert.equal(download.body.length, big.length);
    assert.ok(download.body.equals(big));
  });
});

describe('HTTP/2 on a port shared by two sites', () => {
  let backends: Record<'app' | 'other', Backend>;
  let running: RunningGatehouse;
  let port: number;

  before(async () => {
    backends = { app: await startBackend('app'), other: await startBackend('other') };
    port = await freePort();
    running = await startGatehouse(
      configText(
        [
          { name: 'app', farm: 'appFarm', bindings: [httpsBinding(pki.server, { hostName: 'app.example.test', port })] },
          { name: 'other', farm: 'otherFarm', bindings: [httpsBinding(pki.otherServer, { hostName: 'other.example.test', port })], ssl: { clientCertificates: 'require', trustedCaFile: pki.caFile } },
        ],
        { appFarm: [backends.app], otherFarm: [backends.other] },
      ),
      tmp.dir,
    );
  });

  after(async () => {
    await running?.stop();
    for (const backend of Object.values(backends ?? {})) await backend.close();
  });

  test('a request for the other site on this connection (coalescing) gets 421 and never reaches either farm; its own host gets 200', async (t) => {
    if (!offersHttp2) return assertHttp2Fallback(t, doorOf(running, 'app', 'app.example.test'));
    const client = await session(t, `https://127.0.0.1:${port}`, { ...clientTls(), servername: 'app.example.test' });
    const own = await exchange(client, { ':path': '/coalesce/own', ':authority': `app.example.test:${port}` });
    assert.equal(echoOf(own).server, 'app');
    const other = await exchange(client, { ':path': '/coalesce/other', ':authority': `other.example.test:${port}` });
    assert.equal(other.status, 421, other.body.toString());
    assert.match(other.body.toString(), /HTTP Error 421\.0 - Misdirected Request/);
    assert.equal([...backends.app.received, ...backends.other.received].filter((r) => r.url === '/coalesce/other').length, 0);
    const unnamed = await exchange(client, { ':path': '/coalesce/ip', ':authority': `127.0.0.1:${port}` });
    assert.equal(echoOf(unnamed).server, 'app', 'a host that names no binding is served by the handshake\'s site');
  });

  test('the other site on a connection of its own asks for and checks its badge', async (t) => {
    if (!offersHttp2) return assertHttp2Fallback(t, { ...doorOf(running, 'other', 'other.example.test'), clientCert: pki.clients.valid });
    const client = await session(t, `https://127.0.0.1:${port}`, { ...clientTls(pki.clients.valid), servername: 'other.example.test' });
    const reply = echoOf(await exchange(client, { ':path': '/coalesce/badge', ':authority': `other.example.test:${port}` }));
    assert.equal(reply.server, 'other');
    assert.ok(reply.headers['x-arr-clientcert']);
  });
});

describe('http2: false, and what the config refuses', () => {
  test('http2: false offers only http/1.1: curl --http2 falls back to HTTP/1.1', async (t) => {
    const backend = await startBackend('h1');
    t.after(() => backend.close());
    const binding = { ...httpsBinding(pki.server), http2: false };
    const running = await startGatehouse(configText([{ name: 'h1only', farm: 'web', bindings: [binding] }], { web: [backend] }), tmp.dir);
    t.after(() => running.stop());
    const result = await curl(`${running.url('h1only')}/h1only`, { cacert: pki.caFile, extra: ['--http2'] });
    assert.match(result.stderr, /^HTTP\/1\.1 200/m, result.stderr);
  });

  async function problemsOf(sites: unknown[]): Promise<string[]> {
    const text = JSON.stringify({ sites, farms: [{ name: 'web', servers: [{ address: '127.0.0.1:9' }] }] }, null, 2);
    try {
      await loadConfigText(text, 'http2.yaml', pki.dir);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return [...error.lines];
    }
    return [];
  }

  test('http2 on an http binding, and bindings of one port that disagree, are config errors naming the key', async () => {
    const h2c = await problemsOf([{ name: 's', farm: 'web', bindings: [{ ...httpBinding({ port: 8080 }), http2: true }] }]);
    assert.ok(h2c.some((line) => /sites\[0\]\.bindings\[0\]\.http2: HTTP\/2 without TLS \(h2c\) is not offered/.test(line)), h2c.join('\n'));
    const mixed = await problemsOf([
      { name: 'a', farm: 'web', bindings: [httpsBinding(pki.server, { hostName: 'app.example.test', port: 8443 })] },
      { name: 'b', farm: 'web', bindings: [{ ...httpsBinding(pki.otherServer, { hostName: 'other.example.test', port: 8443 }), http2: false }] },
    ]);
    assert.ok(mixed.some((line) => /sites\[1\]\.bindings\[0\]\.http2: HTTP\/2 is on for this address and port in sites\[0\]\.bindings\[0\] \(site a\) \(expected http2: true on every binding/.test(line)), mixed.join('\n'));
  });

  test('a reload that turns HTTP/2 off on a bound socket is refused, and the running config keeps serving', async (t) => {
    const backend = await startBackend('reload');
    t.after(() => backend.close());
    const sites = (http2: boolean) => [{ name: 'r', farm: 'web', bindings: [{ ...httpsBinding(pki.server, { port: 0 }), http2 }] }];
    const running = await startGatehouse(configText(sites(true), { web: [backend] }), tmp.dir);
    t.after(() => running.stop());
    if (!offersHttp2) {
      // HTTP/2 was never offered on this socket: its ALPN (http/1.1) stays as it is, so the reload applies.
      await assertHttp2Fallback(t, doorOf(running, 'r'));
      await writeFile(running.configFile, configText(sites(false), { web: [backend] }));
      assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
      return;
    }
    await writeFile(running.configFile, configText(sites(false), { web: [backend] }));
    assert.equal(await running.gatehouse.reload(), false);
    const port = running.port('r');
    assert.ok(running.events.some((line) => line.includes(`reload refused, the running config stays: turning HTTP/2 off for 127.0.0.1:${port} needs a restart`)), running.events.join('\n'));
    const client = await session(t, running.url('r'), clientTls());
    assert.equal(echoOf(await exchange(client, { ':path': '/after-refused-reload' })).server, 'reload');
  });
});

describe('graceful stop with HTTP/2 streams open', () => {
  test('a stream in flight finishes with 200; the session then gets GOAWAY and the stop completes', async (t) => {
    let release: (() => void) | undefined;
    let onArrival: () => void = () => {};
    const arrived = new Promise<void>((resolve) => (onArrival = resolve));
    const slowBackend = await startBackend('slow', (req, res, self) => {
      if (req.url !== '/slow') return echoHandler(req, res, self);
      release = () => echoHandler(req, res, self);
      onArrival();
    });
    t.after(() => slowBackend.close());
    const running = await startGatehouse(configText([{ name: 'slow', farm: 'web', bindings: [httpsBinding(pki.server)] }], { web: [slowBackend] }), tmp.dir);
    // Stopped by the test; if it fails before that, when it ends (a running Gatehouse would keep the file from ending).
    let stopped: Promise<void> | undefined;
    t.after(() => stopped ?? running.stop());
    if (!offersHttp2) return assertHttp2Fallback(t, doorOf(running, 'slow'));
    const client = await session(t, running.url('slow'), clientTls());
    const goaway = new Promise<number>((resolve) => client.once('goaway', (code: number) => resolve(code)));
    const inFlight = exchange(client, { ':path': '/slow' });
    await arrived;
    stopped = running.gatehouse.stop(10_000);
    assert.equal(await goaway, constants.NGHTTP2_NO_ERROR, 'a graceful GOAWAY');
    release?.();
    const reply = await inFlight;
    assert.equal(echoOf(reply).url, '/slow');
    await stopped;
  });
});
