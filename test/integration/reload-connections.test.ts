/**
 * Open connections across a reload. A reload that changes nothing a connection depends on (its binding's
 * certificate, TLS policy, its site's client-certificate mode, trusted CAs, CRLs; the port's HTTP/2
 * setting cannot change) leaves HTTP/2 sessions and HTTP/1.1 keep-alive TLS connections open, and their
 * next requests take the new config. Where the binding's TLS material changed, an HTTP/2 session gets a
 * GOAWAY (its open streams finish) and an HTTP/1.1 connection closes after its next response.
 *
 * The last test measures what a GOAWAY costs a busy HTTP/2 client (node's, nghttp2 inside, as curl's):
 * the streams it ends REFUSED_STREAM, per reload. They never reach a farm server, so a client may send
 * them again on a new connection. Most are streams the client made after the GOAWAY arrived but before it
 * learned of it: nghttp2 refuses them itself, whatever the server does (RFC 9113 §6.8's two-step GOAWAY,
 * tried, changed nothing for these clients), so the figure is up to one stream per concurrent request.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect as connectHttp2, constants, type ClientHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { echoHandler, startBackend, type Backend } from '../support/backends.js';
import { connectTls, freePort, requestOver } from '../support/door.js';
import { issueServer } from '../../src/pki/index.js';
import { join } from 'node:path';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { assertHttp2Fallback, offersHttp2 } from '../support/http2.js';

let pki: TestPki;

before(async () => {
  pki = await createTestPki();
});

after(async () => {
  await pki?.cleanup();
});

type Certificate = { certFile: string; keyFile: string };

/** One https site (port 0, HTTP/2 on) with farm `web`; `weights` by backend. */
function configOf(certificate: Certificate, servers: readonly [Backend, number][]): string {
  return JSON.stringify({
    accessLog: 'off',
    drainTimeout: 1,
    sites: [{ name: 'tls', farm: 'web', bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile: certificate.certFile, keyFile: certificate.keyFile } }] }],
    farms: [{ name: 'web', servers: servers.map(([backend, weight]) => ({ address: backend.address, weight })) }],
  });
}

/** Where this node's HTTP/2 is off (test/support/http2.ts): the HTTP/2 tests assert the fallback instead. */
function http2Fallback(t: { diagnostic(message: string): void }, running: RunningGatehouse): Promise<void> {
  return assertHttp2Fallback(t, { port: running.port('tls'), ca: readFileSync(pki.caFile), log: () => running.events });
}

async function reload(running: RunningGatehouse, text: string): Promise<void> {
  await writeFile(running.configFile, text);
  assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
}

/** An HTTP/2 session (h2 by ALPN) to the site; destroyed when the test ends. */
async function h2Session(t: { after(fn: () => unknown): void }, running: RunningGatehouse): Promise<ClientHttp2Session> {
  const client = connectHttp2(running.url('tls'), { ca: readFileSync(pki.caFile), servername: 'localhost', rejectUnauthorized: false });
  t.after(() => client.destroy());
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  client.on('error', () => {}); // a session error shows in its streams
  return client;
}

interface StreamResult {
  readonly path: string;
  readonly status: number;
  readonly server: string;
  /** The stream's RST_STREAM code, or the error's code, when it did not end with a response. */
  readonly failure: string | undefined;
}

/** One request on a session; never rejects (a refused or failed stream is a result). */
function h2Get(client: ClientHttp2Session, path: string): Promise<StreamResult> {
  return new Promise((resolve) => {
    let stream;
    try {
      stream = client.request({ ':path': path });
    } catch (error) {
      resolve({ path, status: 0, server: '', failure: (error as NodeJS.ErrnoException).code ?? String(error) });
      return;
    }
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('error', () => {});
    stream.on('close', () => {
      if (status === 200 && stream.rstCode === constants.NGHTTP2_NO_ERROR) resolve({ path, status, server: (JSON.parse(body) as { server: string }).server, failure: undefined });
      else resolve({ path, status, server: '', failure: stream.rstCode === constants.NGHTTP2_REFUSED_STREAM ? 'REFUSED_STREAM' : `rst ${stream.rstCode}` });
    });
    stream.end();
  });
}

/**
 * `workers` loops of sequential requests on one session until `stop()` or the session closes; at most
 * `limit` requests each. `answered(n)` resolves once n streams ended (or every loop did).
 */
function load(client: ClientHttp2Session, workers: number, label: string, limit = 5000): { results: StreamResult[]; answered(count: number): Promise<void>; stop(): Promise<void> } {
  const results: StreamResult[] = [];
  let isStopped = false;
  let isDone = false;
  const waiters: { count: number; resolve: () => void }[] = [];
  const wake = () => {
    for (const waiter of waiters.filter((w) => isDone || results.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const loop = async (worker: number) => {
    for (let i = 0; i < limit && !isStopped && !client.closed; i++) {
      results.push(await h2Get(client, `/${label}/${worker}/${i}`));
      wake();
    }
  };
  const loops = Promise.all(Array.from({ length: workers }, (_, worker) => loop(worker))).then(() => {
    isDone = true;
    wake();
  });
  return {
    results,
    answered: (count) => new Promise<void>((resolve) => {
      waiters.push({ count, resolve });
      wake();
    }),
    stop: async () => {
      isStopped = true;
      await loops;
    },
  };
}

function countBy(results: readonly StreamResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of results) {
    const key = result.failure ?? result.server;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

test('HTTP/2: a weights-only reload under load refuses no stream, sends no GOAWAY, and the same session routes by the new weights', async (t) => {
  const a = await startBackend('a');
  const b = await startBackend('b');
  t.after(() => Promise.all([a.close(), b.close()]));
  const running = await startGatehouse(configOf(pki.server, [[a, 100], [b, 100]]), pki.dir);
  t.after(() => running.stop());
  if (!offersHttp2) return http2Fallback(t, running);
  let sessions = 0;
  running.gatehouse.listeners[0]?.server?.on('session', () => sessions++);
  const client = await h2Session(t, running);
  let goaways = 0;
  client.on('goaway', () => goaways++);

  const traffic = load(client, 8, 'weights');
  await traffic.answered(40);
  const atReload = traffic.results.length;
  await reload(running, configOf(pki.server, [[a, 300], [b, 100]]));
  await traffic.answered(atReload + 80);
  await traffic.stop();
  const failures = traffic.results.filter((result) => result.failure !== undefined);
  assert.deepEqual(failures, [], 'no stream refused or failed');
  assert.equal(goaways, 0, 'no GOAWAY');
  assert.equal(client.closed || client.destroyed, false, 'the session is open');
  assert.equal(sessions, 1, 'one session served everything');

  // The same session, sequential requests: the new weights (3:1), so the new config routes its streams.
  const after: StreamResult[] = [];
  for (let i = 0; i < 8; i++) after.push(await h2Get(client, `/after/${i}`));
  assert.deepEqual(countBy(after), { a: 6, b: 2 });
  assert.equal(sessions, 1);
});

test('HTTP/2: a reload that replaces the binding\'s certificate sends the session a GOAWAY; its stream in flight finishes', async (t) => {
  let release: (() => void) | undefined;
  let onArrival: () => void = () => {};
  const arrived = new Promise<void>((resolve) => (onArrival = resolve));
  const slow = await startBackend('slow', (req: IncomingMessage, res: ServerResponse, self: Backend) => {
    if (req.url !== '/hold') return echoHandler(req, res, self);
    release = () => echoHandler(req, res, self);
    onArrival();
  });
  t.after(() => slow.close());
  const running = await startGatehouse(configOf(pki.server, [[slow, 100]]), pki.dir);
  t.after(() => running.stop());
  if (!offersHttp2) return http2Fallback(t, running);
  const client = await h2Session(t, running);
  const goaway = once(client, 'goaway') as Promise<[number]>;
  const inFlight = h2Get(client, '/hold');
  await arrived;
  await reload(running, configOf(pki.otherServer, [[slow, 100]]));
  const [code] = await goaway;
  assert.equal(code, constants.NGHTTP2_NO_ERROR, 'a graceful GOAWAY');
  release?.();
  assert.deepEqual(await inFlight, { path: '/hold', status: 200, server: 'slow', failure: undefined });
});

test('HTTP/1.1 over TLS: a keep-alive connection survives a farm-only reload (its next request goes to the new farm); a certificate change closes it after its next response', async (t) => {
  const a = await startBackend('a');
  const b = await startBackend('b');
  t.after(() => Promise.all([a.close(), b.close()]));
  const running = await startGatehouse(configOf(pki.server, [[a, 100]]), pki.dir);
  t.after(() => running.stop());
  const connection = await connectTls({ host: '127.0.0.1', port: running.port('tls'), servername: 'localhost', ca: readFileSync(pki.caFile) });
  t.after(() => connection.close());
  const socket = connection.socket;
  const closed = once(socket, 'close');
  const server = async (path: string) => {
    const reply = await requestOver(socket, { path });
    assert.equal(reply.status, 200, reply.body);
    return { server: (JSON.parse(reply.body) as { server: string }).server, connection: reply.headers.connection };
  };
  assert.deepEqual(await server('/first'), { server: 'a', connection: 'keep-alive' });

  await reload(running, configOf(pki.server, [[b, 100]]));
  assert.deepEqual(await server('/after-farm-reload'), { server: 'b', connection: 'keep-alive' }, 'the same socket, the new farm');
  assert.deepEqual(await server('/again'), { server: 'b', connection: 'keep-alive' });
  assert.equal(socket.destroyed, false);

  await reload(running, configOf(pki.otherServer, [[b, 100]]));
  assert.deepEqual(await server('/after-certificate-reload'), { server: 'b', connection: 'close' }, 'served, then closed: the next handshake meets the new certificate');
  await closed;
});

test('a port shared by two sites: a reload that replaces one binding\'s certificate closes that binding\'s connections only', async (t) => {
  const backend = await startBackend('shared');
  t.after(() => backend.close());
  const port = await freePort();
  const renewed = await issueServer({ ca: pki.root, dnsNames: ['other.example.test'], keyType: 'rsa-2048' });
  const renewedFiles = { certFile: join(pki.dir, 'renewed-other.pem'), keyFile: join(pki.dir, 'renewed-other.key') };
  await writeFile(renewedFiles.certFile, renewed.certPem);
  await writeFile(renewedFiles.keyFile, renewed.keyPem, { mode: 0o600 });
  const configWith = (other: Certificate) =>
    JSON.stringify({
      accessLog: 'off',
      drainTimeout: 1,
      sites: [
        { name: 'main', farm: 'web', bindings: [{ protocol: 'https', address: '127.0.0.1', port, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }] },
        { name: 'other', farm: 'web', bindings: [{ protocol: 'https', address: '127.0.0.1', port, hostName: 'other.example.test', certificate: { certFile: other.certFile, keyFile: other.keyFile } }] },
      ],
      farms: [{ name: 'web', servers: [{ address: backend.address }] }],
    });
  const running = await startGatehouse(configWith(pki.otherServer), pki.dir);
  t.after(() => running.stop());
  const open = async (servername: string) => {
    const connection = await connectTls({ host: '127.0.0.1', port, servername, ca: readFileSync(pki.caFile) });
    t.after(() => connection.close());
    return { socket: connection.socket, closed: once(connection.socket, 'close') };
  };
  const main = await open('localhost');
  const other = await open('other.example.test');
  const connectionHeader = async (socket: typeof main.socket, host: string) => {
    const reply = await requestOver(socket, { path: '/shared', host });
    assert.equal(reply.status, 200, reply.body);
    return reply.headers.connection;
  };
  assert.equal(await connectionHeader(main.socket, 'localhost'), 'keep-alive');
  assert.equal(await connectionHeader(other.socket, 'other.example.test'), 'keep-alive');

  await reload(running, configWith(renewedFiles));
  assert.equal(await connectionHeader(main.socket, 'localhost'), 'keep-alive', 'the other binding\'s connection stays');
  assert.equal(await connectionHeader(other.socket, 'other.example.test'), 'close', 'the renewed binding\'s connection closes after its response');
  await other.closed;
  assert.equal(await connectionHeader(main.socket, 'localhost'), 'keep-alive');
  assert.equal(main.socket.destroyed, false);
});

test('HTTP/2: streams a busy client loses to the GOAWAY of a certificate reload (measured; each one refused, never processed)', async (t) => {
  const backend = await startBackend('fast');
  t.after(() => backend.close());
  const certificates = [pki.server, pki.otherServer];
  const running = await startGatehouse(configOf(certificates[0] as Certificate, [[backend, 100]]), pki.dir);
  t.after(() => running.stop());
  if (!offersHttp2) return http2Fallback(t, running);
  const reloads = 5;
  const workers = 32;
  const refusedPerReload: number[] = [];
  for (let round = 1; round <= reloads; round++) {
    const client = await h2Session(t, running);
    const traffic = load(client, workers, `round-${round}`);
    await traffic.answered(100);
    const goaway = once(client, 'goaway');
    await reload(running, configOf(certificates[round % 2] as Certificate, [[backend, 100]]));
    await goaway;
    await traffic.stop(); // each loop ends once the session is closed
    const counts = countBy(traffic.results);
    const refused = traffic.results.filter((result) => result.failure !== undefined);
    // A stream the server refused never reached the farm: a client may send it again on a new connection.
    const processed = new Set(backend.received.map((reply) => reply.url));
    for (const result of refused) {
      assert.equal(result.failure, 'REFUSED_STREAM', JSON.stringify(counts));
      assert.equal(processed.has(result.path), false, `${result.path} was refused after reaching the farm`);
    }
    for (const result of traffic.results) if (result.failure === undefined) assert.ok(processed.has(result.path));
    assert.ok(refused.length <= workers, `${refused.length} refused: at most one per concurrent request`);
    refusedPerReload.push(refused.length);
    client.destroy();
  }
  t.diagnostic(`HTTP/2 client with ${workers} concurrent streams: REFUSED_STREAM per certificate reload: ${refusedPerReload.join(', ')} (never processed; at most ${workers})`);
});
