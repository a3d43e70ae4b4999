/**
 * TLS 1.3 resumption keeps going: a resumed handshake gets a fresh session ticket, so a client that
 * always resumes from its latest ticket never falls back to a full handshake (Node's default sends no
 * ticket after a resumption: every other connection would be a full handshake).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { after, before, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

let pki: TestPki;
let backend: Backend;
let running: RunningGatehouse;

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('web');
  running = await startGatehouse(
    `accessLog: off
sites:
  - name: secure
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: web
farms: [{ name: web, servers: [{ address: ${backend.address} }] }]
`,
    pki.dir,
  );
});

after(async () => {
  await running?.stop();
  await backend?.close();
  await pki?.cleanup();
});

/** One connection with one request; resolves with whether it resumed and the last ticket it received. */
function connectOnce(session: Buffer | undefined): Promise<{ reused: boolean; ticket: Buffer | undefined; status: string }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    let response = '';
    const socket = connect({ host: '127.0.0.1', port: running.port('secure'), servername: 'localhost', minVersion: 'TLSv1.3', ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile), ...(session ? { session } : {}) });
    socket.on('session', (s: Buffer) => (ticket = s));
    socket.on('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
    socket.on('end', () => resolve({ reused: socket.isSessionReused(), ticket, status: response.split('\r\n')[0] ?? '' }));
    socket.on('error', reject);
  });
}

test('every connection after the first resumes from the ticket of the one before', async () => {
  let { ticket } = await connectOnce(undefined);
  const reused: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    assert.ok(ticket, `a ticket after connection ${i}`);
    const next = await connectOnce(ticket);
    assert.equal(next.status, 'HTTP/1.1 200 OK');
    reused.push(next.reused);
    ticket = next.ticket;
  }
  assert.deepEqual(reused, [true, true, true, true, true]);
});

test('resumption keeps going past the ticket IV block (256 IVs: two tickets per handshake, 150 connections)', async () => {
  let { ticket } = await connectOnce(undefined);
  const tickets = new Set<string>();
  let resumed = 0;
  for (let i = 0; i < 150; i++) {
    assert.ok(ticket, `a ticket after connection ${i}`);
    const next = await connectOnce(ticket);
    assert.equal(next.status, 'HTTP/1.1 200 OK');
    if (next.reused) resumed++;
    ticket = next.ticket;
    if (ticket) tickets.add(ticket.toString('hex'));
  }
  assert.equal(resumed, 150);
  assert.equal(tickets.size, 150, 'every connection got a ticket of its own');
});
