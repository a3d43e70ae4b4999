/**
 * WebSocket upgrades take the same admission and the same bookkeeping as every other request: 421 on a
 * port shared by sites with different client-certificate policies, the proxy signature, the rules'
 * redirects, an access-log line with the tunnel's duration and bytes, metrics (open WebSocket
 * connections, rejections by outcome code), a trace; and a drain closes them at its timeout, logged as
 * forced (a real `gatehouse start` child process with workers: 1 and SIGTERM).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { connect as http2Connect, type ClientHttp2Session, type IncomingHttpHeaders as Http2Headers } from 'node:http2';
import { verifyForwardedIdentity } from '@gatehouse/forwarded-cert';
import { ensureHttp2Probed } from '../../src/platform/http2-probe.js';
import { type RunningGatehouse, startCli, startGatehouse } from '../support/gatehouse.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';
import { freePort, writeText } from './cli-helpers.js';
import { parseExposition } from './metrics-exposition.js';
import { within } from '../support/within.js';

const SECRET = 'a-shared-secret-of-at-least-32-bytes-for-signing';

let pki: TestPki;
let backend: Server;
let backendPort: number;
/** Upgrade requests the backend received, by path. */
const received = new Map<string, IncomingHttpHeaders>();
/** The backend's upgraded sockets (node's server no longer tracks them): closed at the end. */
const upgradedAtBackend = new Set<Socket>();

before(async () => {
  pki = await createTestPki();
  backend = createServer((req, res) => res.end(`plain ${req.url}`));
  backend.on('upgrade', (req, socket: Socket) => {
    received.set(req.url ?? '', req.headers);
    upgradedAtBackend.add(socket);
    socket.once('close', () => upgradedAtBackend.delete(socket));
    // A real WebSocket server's answer: Sec-WebSocket-Accept from the key (RFC 6455 §4.2.2).
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendPort = (backend.address() as AddressInfo).port;
});

after(async () => {
  for (const socket of upgradedAtBackend) socket.destroy();
  backend?.closeAllConnections();
  await new Promise<void>((resolve) => backend.close(() => resolve()));
  await pki?.cleanup();
});

interface Upgraded {
  readonly status: number;
  readonly head: string;
  readonly body: string;
  readonly socket: TLSSocket;
}

/** A WebSocket upgrade over TLS with a chosen SNI name and Host: the answer's head and the socket. */
function upgrade(port: number, options: { servername: string; host: string; path: string; client?: ClientFiles }): Promise<Upgraded> {
  return within(
    new Promise<Upgraded>((resolve, reject) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port,
        servername: options.servername,
        ca: readFileSync(pki.caFile),
        checkServerIdentity: () => undefined,
        ...(options.client ? { cert: readFileSync(options.client.certFile), key: readFileSync(options.client.keyFile) } : {}),
      });
      let text = '';
      socket.setEncoding('latin1');
      const onData = (chunk: string) => {
        text += chunk;
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = text.slice(0, end);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
        if (status === 101) {
          socket.off('data', onData);
          return resolve({ status, head, body: '', socket });
        }
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (text.length - end - 4 >= length) {
          socket.off('data', onData);
          resolve({ status, head, body: text.slice(end + 4, end + 4 + length), socket });
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.write(`GET ${options.path} HTTP/1.1\r\nHost: ${options.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      });
    }),
    10_000,
    `the answer to an upgrade of ${options.path}`,
  );
}

async function echo(socket: TLSSocket, text: string): Promise<string> {
  const answer = once(socket, 'data');
  socket.write(text);
  const [chunk] = (await within(answer, 5_000, 'the echo')) as [string | Buffer];
  return chunk.toString();
}

async function closeSocket(socket: TLSSocket): Promise<void> {
  const closed = once(socket, 'close');
  socket.end();
  await within(closed, 5_000, 'the tunnel to close');
}

describe('one admission and one bookkeeping for upgrades', () => {
  let running: RunningGatehouse;
  let port: number;
  let logDir: string;
  let traceDir: string;

  before(async () => {
    port = await freePort();
    logDir = join(pki.dir, 'ws-logs');
    traceDir = join(pki.dir, 'ws-traces');
    const secretFile = join(pki.dir, 'ws-secret.txt');
    await writeFile(secretFile, SECRET, { mode: 0o600 });
    running = await startGatehouse(
      `accessLog: { destination: ${logDir}, format: json }
admin: { address: 127.0.0.1, port: 0 }
sites:
  - name: strict
    bindings: [{ protocol: https, address: 127.0.0.1, port: ${port}, hostName: app.example.test, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: signed
    tracing: { directory: ${traceDir}, rules: [{ path: /traced/*, statusCodes: '101' }] }
    rules:
      - { name: moved, match: { path: /old/* }, action: { type: redirect, url: 'https://app.example.test/new/{R:1}', status: 301 } }
  - name: open
    bindings: [{ protocol: https, address: 127.0.0.1, port: ${port}, hostName: other.example.test, certificate: { certFile: ${pki.otherServer.certFile}, keyFile: ${pki.otherServer.keyFile} } }]
    ssl: { clientCertificates: ignore }
    farm: open
farms:
  - { name: signed, servers: [{ address: 127.0.0.1:${backendPort} }], protocol: { signatureSecretFile: ${secretFile} } }
  - { name: open, servers: [{ address: 127.0.0.1:${backendPort} }] }
`,
      pki.dir,
    );
  });

  after(async () => {
    await running?.stop();
  });

  async function scrape() {
    const admin = running.gatehouse.admin;
    assert.ok(admin, 'admin listener');
    const response = await fetch(`${admin.url}/metrics`);
    return parseExposition(await response.text());
  }

  test("an upgrade with the open site's SNI and the strict site's Host gets 421 and never reaches a server", async () => {
    const answer = await upgrade(port, { servername: 'other.example.test', host: 'app.example.test', path: '/misdirected' });
    assert.equal(answer.status, 421, answer.head);
    assert.match(answer.head, /connection: close/i);
    assert.equal(received.has('/misdirected'), false);
    answer.socket.destroy();
    assert.ok(running.events.some((e) => /^warn 421\.0 outcome=misdirected upgrade client .* site open GET \/misdirected/.test(e)), running.events.join('\n'));
  });

  test('an upgrade carries the proxy signature over the certificate it forwards; the backend verifier accepts it', async () => {
    const answer = await upgrade(port, { servername: 'app.example.test', host: 'app.example.test', path: '/signed', client: pki.clients.valid });
    assert.equal(answer.status, 101, answer.head);
    const headers = received.get('/signed');
    assert.ok(headers, 'reached the server');
    const der = new X509Certificate(readFileSync(pki.clients.valid.certFile)).raw;
    assert.equal(headers['x-arr-clientcert'], der.toString('base64'));
    const verified = verifyForwardedIdentity(headers['x-gatehouse-signature'], { secret: SECRET, certificateDer: der });
    assert.equal(verified.ok, true, JSON.stringify(verified));
    assert.equal(await echo(answer.socket, 'signed'), 'SIGNED');
    await closeSocket(answer.socket);
  });

  test("a rule's redirect answers the upgrade with the redirect (not a 403), and the connection closes", async () => {
    const answer = await upgrade(port, { servername: 'app.example.test', host: 'app.example.test', path: '/old/chat', client: pki.clients.valid });
    assert.equal(answer.status, 301, answer.head);
    assert.match(answer.head, /^location: https:\/\/app\.example\.test\/new\/chat$/im);
    assert.match(answer.body, /Object Moved/);
    assert.equal(received.has('/old/chat'), false);
    answer.socket.destroy();
  });

  test('a tunnel is counted open in the metrics, and is one access-log line with its duration and bytes once closed', async () => {
    const answer = await upgrade(port, { servername: 'app.example.test', host: 'app.example.test', path: '/traced/logged', client: pki.clients.valid });
    assert.equal(answer.status, 101, answer.head);
    assert.equal((await scrape()).value('gatehouse_websocket_connections'), 1);
    assert.equal(await echo(answer.socket, 'abc'), 'ABC');
    assert.equal(await echo(answer.socket, 'defgh'), 'DEFGH');
    await closeSocket(answer.socket);
    // The line is written when the tunnel's server side has closed too.
    const line = await within(
      (async () => {
        for (let i = 0; i < 200; i++) {
          const files = await readdir(logDir).catch(() => [] as string[]);
          for (const file of files) {
            const text = await readFile(join(logDir, file), 'utf8');
            const found = text.split('\n').find((l) => l.includes('/traced/logged'));
            if (found) return JSON.parse(found) as Record<string, unknown>;
          }
          await new Promise((resolve) => setTimeout(resolve, 25)); // the access log flushes on its own timer
        }
        throw new Error('no access-log line');
      })(),
      10_000,
      'the access-log line',
    );
    assert.equal(line['status'], 101);
    assert.equal(line['outcome'], 'switched');
    assert.equal(line['site'], 'strict');
    assert.equal(line['farm'], 'signed');
    assert.equal(line['server'], `127.0.0.1:${backendPort}`);
    assert.ok((line['bytesReceived'] as number) >= 8, 'the bytes the client sent through the tunnel');
    assert.ok((line['bytesSent'] as number) >= 8, 'the bytes the server sent through the tunnel');
    assert.ok((line['timeTakenMs'] as number) > 0);
    assert.match(String(line['logId']), /^[0-9a-f-]{36}$/);
    const after = await scrape();
    assert.equal(after.value('gatehouse_websocket_connections'), 0);
    // The trace rule on /traced/* keeps 101s: the tunnel has a trace with the routing and the end.
    const traces = await within(
      (async () => {
        for (let i = 0; i < 200; i++) {
          const files = (await readdir(join(traceDir, 'strict')).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
          if (files.length > 0) return files;
          await new Promise((resolve) => setTimeout(resolve, 25)); // the trace writer writes on its own
        }
        throw new Error('no trace');
      })(),
      10_000,
      'the trace file',
    );
    const trace = JSON.parse(await readFile(join(traceDir, 'strict', traces[0] as string), 'utf8')) as { statusCode: number; outcome: string; events: { name: string }[] };
    assert.equal(trace.statusCode, 101);
    assert.equal(trace.outcome, 'switched');
    assert.ok(trace.events.some((e) => e.name === 'ARR_REQUEST_ROUTED'), JSON.stringify(trace.events.map((e) => e.name)));
  });

  test('a refused upgrade is counted by its outcome code', async () => {
    const answer = await upgrade(port, { servername: 'app.example.test', host: 'app.example.test', path: '/nocert' });
    assert.equal(answer.status, 403, answer.head);
    assert.match(answer.body, /403\.7/);
    answer.socket.destroy();
    const text = await scrape();
    assert.ok((text.value('gatehouse_rejections_total', { site: 'strict', status: '403', substatus: '7', reason: 'certificate_required' }) ?? 0) >= 1);
  });
});

describe('WebSocket over HTTP/2 (RFC 8441 extended CONNECT)', () => {
  let running: RunningGatehouse;
  let port: number;

  before(async () => {
    port = await freePort();
    running = await startGatehouse(
      `accessLog: off
sites:
  - name: strict
    bindings: [{ protocol: https, address: 127.0.0.1, port: ${port}, hostName: app.example.test, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: web
  - name: open
    bindings: [{ protocol: https, address: 127.0.0.1, port: ${port}, hostName: other.example.test, certificate: { certFile: ${pki.otherServer.certFile}, keyFile: ${pki.otherServer.keyFile} } }]
    ssl: { clientCertificates: ignore }
    farm: web
farms: [{ name: web, servers: [{ address: 127.0.0.1:${backendPort} }] }]
`,
      pki.dir,
    );
  });

  after(async () => {
    await running?.stop();
  });

  /** An HTTP/2 session to the port with an SNI name (and a client certificate), once the server's SETTINGS arrived. */
  async function session(servername: string, client?: ClientFiles): Promise<{ session: ClientHttp2Session; enableConnectProtocol: boolean | undefined }> {
    const s = http2Connect(`https://127.0.0.1:${port}`, {
      servername,
      ca: readFileSync(pki.caFile),
      checkServerIdentity: () => undefined,
      ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
    });
    s.on('error', () => {});
    const [settings] = (await within(once(s, 'remoteSettings'), 10_000, 'the server SETTINGS')) as [{ enableConnectProtocol?: boolean }];
    return { session: s, enableConnectProtocol: settings.enableConnectProtocol };
  }

  function connectWebSocket(s: ClientHttp2Session, authority: string, path: string) {
    const stream = s.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': authority, ':path': path, 'sec-websocket-version': '13', 'x-arr-clientcert': 'spoofed' });
    return { stream, response: within(once(stream, 'response') as Promise<[Http2Headers]>, 10_000, `the answer to CONNECT ${path}`).then(([headers]) => headers) };
  }

  test('where node\'s HTTP/2 is safe, the SETTINGS offer extended CONNECT and a WebSocket stream is tunnelled with the ARR headers; elsewhere ALPN offers HTTP/1.1 only', async () => {
    const probe = await ensureHttp2Probed();
    if (!probe.isSafe) {
      // This Node's HTTP/2 can be crashed by a client (platform/http2-probe.ts): HTTP/2 is off, and
      // WebSockets go over HTTP/1.1 (tested above). What must hold: no h2 is negotiated at all.
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'other.example.test', ALPNProtocols: ['h2', 'http/1.1'], ca: readFileSync(pki.caFile), checkServerIdentity: () => undefined });
      await within(once(socket, 'secureConnect'), 10_000, 'the handshake');
      assert.equal(socket.alpnProtocol, 'http/1.1');
      socket.destroy();
      return;
    }
    const { session: s, enableConnectProtocol } = await session('app.example.test', pki.clients.valid);
    assert.equal(enableConnectProtocol, true, 'SETTINGS_ENABLE_CONNECT_PROTOCOL = 1');
    const { stream, response } = connectWebSocket(s, `app.example.test:${port}`, '/h2/chat');
    const headers = await response;
    assert.equal(headers[':status'], 200);
    assert.equal(headers['sec-websocket-accept'], undefined, 'the HTTP/1.1 handshake stays between Gatehouse and the server');
    const seen = received.get('/h2/chat');
    assert.ok(seen, 'reached the server as an HTTP/1.1 upgrade');
    assert.equal(seen.upgrade, 'websocket');
    assert.match(String(seen['sec-websocket-key']), /^[A-Za-z0-9+/]{22}==$/, 'Gatehouse made the key');
    assert.equal(seen['x-arr-clientcert'], new X509Certificate(readFileSync(pki.clients.valid.certFile)).raw.toString('base64'));
    const echoed = within(once(stream, 'data') as Promise<[Buffer]>, 5_000, 'the echo');
    stream.write('over h2');
    assert.equal((await echoed)[0].toString(), 'OVER H2');
    stream.close();
    s.close();
  });

  test('over HTTP/2, a WebSocket CONNECT with the open site\'s SNI and the strict site\'s authority gets 421; another :protocol gets 405', async (t) => {
    const probe = await ensureHttp2Probed();
    t.diagnostic(`http2 safe on node ${process.version}: ${probe.isSafe}`);
    if (!probe.isSafe) {
      assert.equal(running.gatehouse.listeners[0]?.isHttp2, false, 'HTTP/2 off on this Node');
      return;
    }
    const { session: s } = await session('other.example.test');
    const misdirected = connectWebSocket(s, `app.example.test:${port}`, '/h2/misdirected');
    assert.equal((await misdirected.response)[':status'], 421);
    assert.equal(received.has('/h2/misdirected'), false);
    const other = s.request({ ':method': 'CONNECT', ':protocol': 'not-websocket', ':scheme': 'https', ':authority': `other.example.test:${port}`, ':path': '/h2/other' });
    const [answer] = (await within(once(other, 'response'), 5_000, 'the 405')) as [Http2Headers];
    assert.equal(answer[':status'], 405);
    s.close();
  });
});

describe('drain closes WebSocket tunnels', () => {
  test('workers: 1, SIGTERM with a tunnel open: the process exits at drainTimeout, and says the stop was forced', async (t) => {
    const dir = pki.dir;
    const port = await freePort();
    const config = await writeText(
      dir,
      'ws-drain.yaml',
      `workers: 1
drainTimeout: 1s
accessLog: off
sites:
  - name: ws
    bindings: [{ protocol: https, address: 127.0.0.1, port: ${port}, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    farm: ws
farms: [{ name: ws, servers: [{ address: 127.0.0.1:${backendPort} }] }]
`,
    );
    const cli = startCli(t, dir, config);
    await cli.waitFor('stdout', /listening https:/);
    const answer = await upgrade(port, { servername: 'localhost', host: 'localhost', path: '/drained' });
    assert.equal(answer.status, 101, answer.head);
    assert.equal(await echo(answer.socket, 'before'), 'BEFORE');
    const closed = once(answer.socket, 'close');
    const signalledAt = performance.now();
    cli.child.kill('SIGTERM');
    const exit = await cli.waitExit(15_000);
    const took = performance.now() - signalledAt;
    await within(closed, 5_000, 'the tunnel to be closed by the drain');
    assert.equal(exit.code, 0, cli.stderr);
    assert.ok(took < 10_000, `exited ${Math.round(took)} ms after SIGTERM`);
    assert.match(cli.stderr, /drain timeout \(1000 ms\) reached on 127\.0\.0\.1:\d+: forcing the remaining connections closed \(1 WebSocket\)/);
    assert.match(cli.stderr, /stopped \(forced/);
  });
});
