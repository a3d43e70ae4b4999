/**
 * 103 Early Hints (RFC 8297; RFC 9110 §15.2: a proxy forwards 1xx): a server's Link hints reach the
 * client before the final response, over HTTP/1.1 and HTTP/2; an HTTP/1.0 client gets none.
 */
import assert from 'node:assert/strict';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { after, before, test } from 'node:test';
import { assertHttp2Fallback, offersHttp2 } from '../support/http2.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { launch, startRawBackend, type RawBackend, type RunningGatehouse } from './forwarding-helpers.js';
import { makeTempDir } from '../support/temp.js';

let pki: TestPki;
let backend: RawBackend;
let running: RunningGatehouse;
let removeDir: () => Promise<void>;

const HINT = '</style.css>; rel=preload; as=style';

before(async () => {
  pki = await createTestPki();
  backend = await startRawBackend((socket) => {
    socket.write(`HTTP/1.1 103 Early Hints\r\nLink: ${HINT}\r\nLink: </app.js>; rel=preload; as=script\r\n\r\n`);
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
  });
  const temp = await makeTempDir('gatehouse-hints-');
  removeDir = temp.remove;
  running = await launch({ after: () => undefined }, pki, temp.dir, { servers: [backend.address], bindings: ['http', 'https'] });
});

after(async () => {
  await running?.stop();
  await backend?.close();
  await removeDir?.();
  await pki?.cleanup();
});

/** Everything the proxy answers to one raw request, until the final response's 5-byte body. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(running.port('app', 'http'), '127.0.0.1', () => socket.write(request));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no whole answer within 5 s: ${JSON.stringify(text)}`));
    }, 5000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.endsWith('hello')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
}

test('HTTP/1.1: the 103 with both Link fields comes before the 200', async () => {
  const text = await raw('GET /page HTTP/1.1\r\nHost: app\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 103 Early Hints\r\n/);
  const hints = text.slice(0, text.indexOf('\r\n\r\n'));
  assert.ok(hints.includes(HINT) && hints.includes('</app.js>; rel=preload; as=script'), hints);
  assert.match(text.slice(text.indexOf('\r\n\r\n') + 4), /^HTTP\/1\.1 200 OK\r\n/);
});

test('HTTP/1.0: no 1xx, only the final response', async () => {
  const text = await raw('GET /page HTTP/1.0\r\nHost: app\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(text, /103/);
});

test('HTTP/2: a 103 HEADERS frame with the links, then :status 200', async (t) => {
  if (!offersHttp2) return assertHttp2Fallback(t, { port: running.port('app', 'https'), ca: pki.root.certPem, log: () => running.events });
  const session = http2Connect(running.url('app', 'https'), { ca: pki.root.certPem });
  try {
    const stream = session.request({ ':path': '/page' });
    const informational: Record<string, unknown>[] = [];
    stream.on('headers', (headers) => informational.push(headers));
    const status = await new Promise<number>((resolve, reject) => {
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
    });
    stream.resume();
    assert.equal(status, 200);
    assert.equal(informational.length, 1, JSON.stringify(informational));
    assert.equal(informational[0]?.[':status'], 103);
    assert.match(String(informational[0]?.link), /style\.css/);
  } finally {
    session.close();
  }
});
