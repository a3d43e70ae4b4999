/**
 * Client affinity through the real proxy: the ARRAffinity cookie (SHA-256 of the server address, set only
 * for a new affinity, suppressed by Arr-Disable-Session-Affinity), draining keeps pinned clients,
 * unavailable re-pins them, and affinity by client certificate keeps a badge on one server from any client.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

let pki: TestPki;
let backends: Backend[];
let running: RunningGatehouse;
/** Answer with the backend's name; `/no-affinity` also sends Arr-Disable-Session-Affinity: True. */
const nameOf = (req: { url?: string | undefined }, res: import('node:http').ServerResponse, backend: Backend) => {
  if (req.url === '/no-affinity') res.setHeader('Arr-Disable-Session-Affinity', 'True');
  res.end(backend.name);
};

interface Reply {
  server: string;
  headers: IncomingHttpHeaders;
}

function get(path: string, cookie?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${running.url('cookies', 'http')}${path}`, { agent: false, headers: cookie ? { cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ server: body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function getTls(site: string, client: { certFile: string; keyFile: string }, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${running.url(site)}${path}`, { agent: false, ca: readFileSync(pki.caFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ server: body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const affinityCookie = (headers: IncomingHttpHeaders) => headers['set-cookie']?.find((c) => c.startsWith('ARRAffinity='));

before(async () => {
  pki = await createTestPki();
  backends = await Promise.all(['one', 'two', 'three'].map((name) => startBackend(name, nameOf)));
  const servers = backends.map((b) => `{ address: ${b.address} }`).join(', ');
  running = await startGatehouse(
    `accessLog: off
sites:
  - name: cookies
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: sticky
  - name: secure
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    farm: sticky-tls
  - name: badges
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: by-badge
farms:
  - name: sticky
    servers: [${servers}]
    affinity: { useCookie: true }
  - name: sticky-tls
    servers: [${servers}]
    affinity: { useCookie: true, sameSite: None }
  - name: by-badge
    servers: [${servers}]
    affinity: { by: clientCertificate }
`,
    pki.dir,
  );
});

after(async () => {
  await running?.stop();
  for (const backend of backends ?? []) await backend.close();
  await pki?.cleanup();
});

describe('cookie affinity (ARRAffinity)', () => {
  test('a new client gets ARRAffinity = SHA-256 hex of its server, HttpOnly, and keeps that server', async () => {
    const first = await get('/');
    const cookie = affinityCookie(first.headers);
    assert.ok(cookie, JSON.stringify(first.headers));
    const backend = backends.find((b) => b.name === first.server) as Backend;
    assert.equal(cookie, `ARRAffinity=${sha256(backend.address)}; Path=/; HttpOnly`);
    for (let i = 0; i < 6; i++) {
      const next = await get('/', cookie.split(';')[0]);
      assert.equal(next.server, first.server);
      assert.equal(affinityCookie(next.headers), undefined, 'set only when a new affinity is created');
    }
  });

  test('Arr-Disable-Session-Affinity: True from the backend suppresses the cookie', async () => {
    const reply = await get('/no-affinity');
    assert.equal(affinityCookie(reply.headers), undefined);
  });

  test('a draining server keeps its clients but gets no new ones; an unavailable one loses them, re-pinned', async () => {
    const farm = running.gatehouse.farms.get('sticky');
    assert.ok(farm);
    const first = await get('/');
    const cookie = (affinityCookie(first.headers) as string).split(';')[0] as string;
    const pinned = farm.servers.find((s) => s.address === backends.find((b) => b.name === first.server)?.address);
    assert.ok(pinned);
    pinned.state = 'drain';
    try {
      for (let i = 0; i < 4; i++) assert.equal((await get('/', cookie)).server, first.server, 'the pinned client stays while draining');
      for (let i = 0; i < 6; i++) assert.notEqual((await get('/')).server, first.server, 'no new client goes to the draining server');
      pinned.state = 'unavailable';
      const moved = await get('/', cookie);
      assert.notEqual(moved.server, first.server);
      const repinned = affinityCookie(moved.headers);
      assert.equal(repinned, `ARRAffinity=${sha256(backends.find((b) => b.name === moved.server)?.address ?? '')}; Path=/; HttpOnly`);
      assert.equal((await get('/', (repinned as string).split(';')[0])).server, moved.server);
    } finally {
      pinned.state = 'available';
    }
  });

  test('on https the cookie is Secure, with the configured SameSite', async () => {
    const reply = await getTls('secure', pki.clients.valid);
    const cookie = affinityCookie(reply.headers);
    assert.match(cookie ?? '', /^ARRAffinity=[0-9a-f]{64}; Path=\/; HttpOnly; Secure; SameSite=None$/);
  });
});

describe('affinity by client certificate', () => {
  test('each badge lands on one server on every new connection, without cookies', async () => {
    const seen = new Map<string, Set<string>>();
    for (const [name, client] of [['alice', pki.clients.valid], ['rita', pki.clients.revoked]] as const) {
      for (let i = 0; i < 6; i++) {
        const reply = await getTls('badges', client);
        assert.equal(affinityCookie(reply.headers), undefined);
        seen.set(name, (seen.get(name) ?? new Set()).add(reply.server));
      }
    }
    assert.equal(seen.get('alice')?.size, 1, `alice went to ${[...(seen.get('alice') ?? [])].join(', ')}`);
    assert.equal(seen.get('rita')?.size, 1, `rita went to ${[...(seen.get('rita') ?? [])].join(', ')}`);
  });
});
