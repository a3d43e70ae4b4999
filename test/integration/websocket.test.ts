/**
 * WebSocket (HTTP Upgrade) through Gatehouse: the upgrade passes the door (client certificate required),
 * reaches a server with the ARR headers (the certificate in X-ARR-ClientCert), and bytes flow both ways.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

let pki: TestPki;
let backend: Server;
let running: RunningGatehouse;
let received: IncomingHttpHeaders | undefined;

before(async () => {
  pki = await createTestPki();
  backend = createServer((_req, res) => res.end('plain'));
  backend.on('upgrade', (req, socket: Socket) => {
    received = req.headers;
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    // Echo upper-cased: proves the bytes went through the server.
    socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  running = await startGatehouse(
    `accessLog: off
sites:
  - name: ws
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: ws
farms: [{ name: ws, servers: [{ address: 127.0.0.1:${(backend.address() as AddressInfo).port} }] }]
`,
    pki.dir,
  );
});

after(async () => {
  await running?.stop();
  backend?.closeAllConnections();
  await new Promise<void>((resolve) => backend.close(() => resolve()));
  await pki?.cleanup();
});

function upgrade(client?: { certFile: string; keyFile: string }): Promise<{ socket?: Socket; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${running.url('ws')}/chat`, {
      ca: readFileSync(pki.caFile),
      ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'X-ARR-ClientCert': 'spoofed' },
    });
    req.on('upgrade', (_res, socket: Socket) => resolve({ socket }));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('an upgrade with a valid client certificate reaches the server with the ARR headers, and bytes flow both ways', async () => {
  const { socket } = await upgrade(pki.clients.valid);
  assert.ok(socket, 'upgraded');
  assert.equal(received?.['x-arr-clientcert'], new X509Certificate(readFileSync(pki.clients.valid.certFile)).raw.toString('base64'));
  assert.equal(received?.['x-forwarded-proto'], 'https');
  assert.equal(received?.upgrade, 'websocket');
  const echoed = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  socket.write('hello over the tunnel');
  assert.equal(await echoed, 'HELLO OVER THE TUNNEL');
  const server = running.gatehouse.farms.get('ws')?.servers[0];
  assert.equal(server?.counters.currentRequests, 1, 'counted on the server while open');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.end();
  await closed;
});

test('an upgrade without a certificate is refused with 403.7 and never reaches the server', async () => {
  received = undefined;
  const reply = await upgrade();
  assert.equal(reply.status, 403);
  assert.match(reply.body ?? '', /403\.7/);
  assert.equal(received, undefined);
});
