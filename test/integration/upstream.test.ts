/**
 * The connections to farm servers (src/proxy/upstream/): what servers do on the wire that a proxy must get
 * right. Informational responses, close-delimited bodies, a server that answers twice, Keep-Alive hints,
 * idle connections the server closed, a body that stalls, and an answer before the upload ended.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { deterministicBytes, launch, MB, startRawBackend, type RawBackend } from './forwarding-helpers.js';
import { makeTempDir } from '../support/temp.js';
import { send } from '../support/clients.js';

let pki: TestPki;
let tmp: { dir: string; remove: () => Promise<void> };

before(async () => {
  pki = await createTestPki();
  tmp = await makeTempDir('gatehouse-upstream-');
});

after(async () => {
  await tmp?.remove();
  await pki?.cleanup();
});

/** A raw backend that also counts the TCP connections it accepted. */
async function countingRawBackend(t: { after(fn: () => unknown): void }, answer: (socket: Socket, head: string) => void): Promise<RawBackend & { connections: () => number }> {
  const raw = await startRawBackend(answer);
  let connections = 0;
  raw.server.on('connection', () => connections++);
  t.after(() => raw.close());
  return Object.assign(raw, { connections: () => connections });
}

function pathOf(head: string): string {
  return head.split(' ')[1] ?? '';
}

describe('responses as servers send them', () => {
  test('100 Continue and 103 Early Hints before the answer: the client gets the final 200 and its body', async (t) => {
    const raw = await countingRawBackend(t, (socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal');
    });
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'] });
    const reply = await send(`${running.url('app', 'http')}/hints`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'final');
  });

  test('a body delimited by the server closing the connection arrives whole, and the next request gets a new connection', async (t) => {
    const raw = await countingRawBackend(t, (socket, head) => {
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end of ${pathOf(head)}`);
    });
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'] });
    const first = await send(`${running.url('app', 'http')}/close-1`);
    assert.equal(first.status, 200);
    assert.equal(first.body.toString(), 'until the end of /close-1');
    assert.equal(first.complete, true);
    const second = await send(`${running.url('app', 'http')}/close-2`);
    assert.equal(second.body.toString(), 'until the end of /close-2');
    assert.equal(raw.connections(), 2);
  });

  test('a server that answers one request twice: the extra answer is never given to the next request', async (t) => {
    const raw = await countingRawBackend(t, (socket, head) => {
      const path = pathOf(head);
      const one = `answer to ${path}`;
      const stray = 'stray answer';
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${one.length}\r\n\r\n${one}HTTP/1.1 200 OK\r\nContent-Length: ${stray.length}\r\n\r\n${stray}`);
    });
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'] });
    const first = await send(`${running.url('app', 'http')}/twice-1`);
    assert.equal(first.body.toString(), 'answer to /twice-1');
    const second = await send(`${running.url('app', 'http')}/twice-2`);
    assert.equal(second.body.toString(), 'answer to /twice-2', 'the next request gets its own answer');
    assert.equal(raw.connections(), 2, 'the out-of-step connection was dropped');
  });

  test('a server that follows its answer with the start of another: the next request never reads the stray bytes', async (t) => {
    const raw = await countingRawBackend(t, (socket, head) => {
      const one = `answer to ${pathOf(head)}`;
      // The stray response's head is cut off: no header callback would ever see it, only its first byte.
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${one.length}\r\n\r\n${one}HTTP/1.1 200 OK\r\nX-Stray: `);
    });
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'] });
    const first = await send(`${running.url('app', 'http')}/partial-1`);
    assert.equal(first.body.toString(), 'answer to /partial-1');
    const second = await send(`${running.url('app', 'http')}/partial-2`);
    assert.equal(second.status, 200);
    assert.equal(second.body.toString(), 'answer to /partial-2', 'the next request gets its own answer');
    assert.equal(second.headers['x-stray'], undefined);
    assert.equal(raw.connections(), 2, 'the out-of-step connection was dropped');
  });

  test('Keep-Alive: timeout=1 from the server: its connection is not reused once that second is nearly over', async (t) => {
    const raw = await countingRawBackend(t, (socket) => socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok'));
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'] });
    for (let i = 0; i < 3; i++) assert.equal((await send(`${running.url('app', 'http')}/hint-${i}`)).status, 200);
    assert.equal(raw.connections(), 3, 'a 1 s hint less the 1 s margin leaves nothing to reuse');
  });

  test('without a hint, sequential requests share one connection', async (t) => {
    const raw = await countingRawBackend(t, (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'] });
    for (let i = 0; i < 5; i++) assert.equal((await send(`${running.url('app', 'http')}/reuse-${i}`)).status, 200);
    assert.equal(raw.connections(), 1);
  });

  test('a server that closes idle connections: the next GET still succeeds', async (t) => {
    const sockets = new Set<Socket>();
    const raw = await countingRawBackend(t, (socket) => {
      sockets.add(socket);
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'] });
    assert.equal((await send(`${running.url('app', 'http')}/idle-1`)).status, 200);
    const closed = [...sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    for (const socket of sockets) socket.end();
    await Promise.all(closed);
    const again = await send(`${running.url('app', 'http')}/idle-2`);
    assert.equal(again.status, 200, again.error?.message);
    assert.equal(raw.connections(), 2);
  });

  test('a response body that stalls longer than the timeout: the client connection is cut, never a short body passed off as whole', async (t) => {
    const raw = await countingRawBackend(t, (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b'));
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'], protocol: { timeout: 1 } });
    const reply = await send(`${running.url('app', 'http')}/stall`, { timeoutMs: 10_000 });
    assert.equal(reply.status, 200);
    assert.equal(reply.complete, false);
    assert.equal(reply.body.toString(), 'only ten b');
    assert.ok(running.events.some((line) => /response aborted: .*ERR_BODY_TIMEOUT the server did not send more of the response body within 1000 ms/.test(line)), running.events.join('\n'));
  });

  test('a server that never answers: 502.3 after the timeout, with the reason in the event log', async (t) => {
    const raw = await countingRawBackend(t, () => {});
    const running = await launch(t, pki, tmp.dir, { servers: [raw.address], bindings: ['http'], protocol: { timeout: 1 } });
    const reply = await send(`${running.url('app', 'http')}/silent`, { method: 'POST', body: 'x' });
    assert.equal(reply.status, 502);
    assert.ok(running.events.some((line) => /502\.3 .*ERR_HEADERS_TIMEOUT the server did not answer \(response headers\) within 1000 ms/.test(line)), running.events.join('\n'));
  });
});

describe('request bodies', () => {
  test('a server that answers 413 before the upload ends: the client gets the 413; the next request is served', async (t) => {
    let seen = 0;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen++;
      if (req.url === '/too-big') {
        res.writeHead(413, { 'content-type': 'text/plain' }); // node then reads and drops the rest of the body (a close would reset it)
        res.end('too big');
        return;
      }
      req.resume();
      req.on('end', () => res.end('fine'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const running = await launch(t, pki, tmp.dir, { servers: [address], bindings: ['http'] });
    const hash = createHash('sha256');
    const reply = await send(`${running.url('app', 'http')}/too-big`, { method: 'POST', body: deterministicBytes(32 * MB, hash), timeoutMs: 20_000 });
    assert.equal(reply.status, 413);
    assert.equal(reply.body.toString(), 'too big');
    const next = await send(`${running.url('app', 'http')}/after`, { method: 'POST', body: 'small' });
    assert.equal(next.status, 200, next.error?.message);
    assert.equal(next.body.toString(), 'fine');
    assert.equal(seen, 2);
  });
});
