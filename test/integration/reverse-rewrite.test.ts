/** reverseRewriteHostInResponseHeaders: a server's redirect to itself becomes a redirect to the proxy. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

let pki: TestPki;
let backend: Backend;
let running: RunningGatehouse;

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('app', (_req, res, self) => {
    res.writeHead(302, { Location: `http://${self.address}/login?next=%2F`, 'Content-Location': `http://${self.address}/home` });
    res.end();
  });
  running = await startGatehouse(
    `accessLog: off
sites:
  - name: rewritten
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: rewriting
  - name: plain
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: passing
farms:
  - name: rewriting
    servers: [{ address: ${backend.address} }]
    protocol: { reverseRewriteHostInResponseHeaders: true }
  - name: passing
    servers: [{ address: ${backend.address} }]
`,
    pki.dir,
  );
});

after(async () => {
  await running?.stop();
  await backend?.close();
  await pki?.cleanup();
});

function headersOf(url: string): Promise<Record<string, string | string[] | undefined>> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { host: 'app.example.test:8080' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers));
    });
    req.on('error', reject);
    req.end();
  });
}

test('Location and Content-Location naming the server are rewritten to the client-facing host', async () => {
  const headers = await headersOf(`${running.url('rewritten', 'http')}/`);
  assert.equal(headers.location, 'http://app.example.test:8080/login?next=%2F');
  assert.equal(headers['content-location'], 'http://app.example.test:8080/home');
});

test("without the setting (ARR's default) they pass unchanged", async () => {
  const headers = await headersOf(`${running.url('plain', 'http')}/`);
  assert.equal(headers.location, `http://${backend.address}/login?next=%2F`);
});
