/**
 * GET /client-certificates against a real Gatehouse: real mTLS clients (node:tls with keep-alive) with a
 * valid certificate, one that expires in 5 days, an untrusted one (403.16) and a revoked one (403.13), on two
 * sites; connections and requests counted per connection (3 requests on one connection: 1 connection,
 * 3 requests); refusals by 403.x; the filters site=, verdict=, expiringWithin=; 422 naming a bad filter; 401
 * without credentials.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as connectHttp2 } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { issueClient } from '../../src/pki/index.js';
import { startBackend, type Backend } from '../support/backends.js';
import { connectTls, requestOver, thumbprintOf } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { assertHttp2Fallback, offersHttp2 } from '../support/http2.js';
import { apiClient, makeToken } from './admin-api-helpers.js';

const DAY = 86_400_000;
let pki: TestPki;
let backend: Backend;
let running: RunningGatehouse;
let api: ReturnType<typeof apiClient>;
let viewer: string;
let soon: { certFile: string; keyFile: string };

/** One TLS connection with a client certificate to a site, `count` requests on it (keep-alive); the statuses. */
async function requestsOn(site: string, client: { certFile: string; keyFile: string }, count: number): Promise<number[]> {
  const connection = await connectTls({ host: '127.0.0.1', port: running.port(site), servername: 'localhost', ca: readFileSync(pki.caFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) });
  try {
    const statuses: number[] = [];
    for (let index = 0; index < count; index++) statuses.push((await requestOver(connection.socket, { path: `/seen/${index}` })).status);
    return statuses;
  } finally {
    connection.close();
  }
}

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('one');
  const issued = await issueClient({ ca: pki.root, commonName: 'Soon Sam', organization: 'Example', notAfter: new Date(Date.now() + 5 * DAY) });
  soon = { certFile: join(pki.dir, 'soon.pem'), keyFile: join(pki.dir, 'soon.key') };
  await writeFile(soon.certFile, issued.certPem);
  await writeFile(soon.keyFile, issued.keyPem, { mode: 0o600 });
  viewer = (await makeToken(pki.dir, 'viewer')).token;
  const https = `{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }`;
  running = await startGatehouse(
    `accessLog: off
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  users:
    - { name: viewer-bot, tokenFile: viewer.token, role: viewer }
sites:
  - name: secure
    bindings: [${https}]
    ssl: { clientCertificates: accept, trustedCaFile: ${pki.caFile}, crlFile: ${pki.crlFile} }
    farm: web
  - name: other
    bindings: [${https}]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: web
farms:
  - name: web
    servers: [{ address: ${backend.address} }]
`,
    pki.dir,
  );
  api = apiClient(() => (running.gatehouse.admin as { url: string }).url, pki.caFile);
});

after(async () => {
  await running?.stop();
  await backend?.close();
  await pki?.cleanup();
});

const seen = async (query = '') => {
  const answer = await api('GET', `/api/v1/client-certificates${query}`, { token: viewer });
  assert.equal(answer.status, 200, answer.text);
  return answer.json.clientCertificates as { subject: string; thumbprintSha1: string; thumbprintSha256: string; serialNumber: string; notAfter: string; firstSeen: string; lastSeen: string; connections: number; requests: number; lastVerdict: string; rejections: Record<string, number>; sites: string[] }[];
};

describe('client certificates seen', () => {
  test('nothing seen before any connection; 401 without credentials', async () => {
    assert.deepEqual(await seen(), []);
    const stranger = await api('GET', '/api/v1/client-certificates');
    assert.equal(stranger.status, 401);
  });

  test('counted per connection: 3 requests on one keep-alive connection are 1 connection and 3 requests; refusals by 403.x', async () => {
    assert.deepEqual(await requestsOn('secure', pki.clients.valid, 3), [200, 200, 200]);
    assert.deepEqual(await requestsOn('other', pki.clients.valid, 1), [200]);
    assert.deepEqual(await requestsOn('secure', pki.clients.untrusted, 2), [403, 403]);
    assert.deepEqual(await requestsOn('secure', pki.clients.revoked, 1), [403]);
    assert.deepEqual(await requestsOn('secure', soon, 1), [200]);
    const entries = await seen();
    assert.equal(entries.length, 4);
    assert.equal(entries[0]?.subject, 'CN=Soon Sam, O=Example', 'most recently seen first');
    const alice = entries.find((e) => e.subject.includes('CN=Alice Badge'));
    assert.ok(alice, JSON.stringify(entries));
    assert.equal(alice.connections, 2);
    assert.equal(alice.requests, 4);
    assert.equal(alice.lastVerdict, 'accepted');
    assert.deepEqual(alice.rejections, {});
    assert.deepEqual(alice.sites, ['other', 'secure']);
    assert.equal(alice.thumbprintSha1, thumbprintOf(pki.clients.valid.certFile));
    assert.match(alice.thumbprintSha256, /^[0-9a-f]{64}$/);
    assert.equal(alice.serialNumber, pki.clients.valid.issued.serialNumber);
    assert.ok(Date.parse(alice.firstSeen) <= Date.parse(alice.lastSeen));
    const mallory = entries.find((e) => e.subject === 'CN=Mallory');
    assert.ok(mallory, JSON.stringify(entries));
    assert.equal(mallory.connections, 1);
    assert.equal(mallory.requests, 2);
    assert.equal(mallory.lastVerdict, 'untrusted');
    assert.deepEqual(mallory.rejections, { '403.16': 1 });
    const revoked = entries.find((e) => e.lastVerdict === 'revoked');
    assert.ok(revoked, JSON.stringify(entries));
    assert.deepEqual(revoked.rejections, { '403.13': 1 });
    assert.equal(revoked.requests, 1);
  });

  test('a second connection of a refused certificate adds to its 403.x tally', async () => {
    assert.deepEqual(await requestsOn('secure', pki.clients.untrusted, 1), [403]);
    const mallory = (await seen('?verdict=untrusted'))[0];
    assert.equal(mallory?.connections, 2);
    assert.equal(mallory?.requests, 3);
    assert.deepEqual(mallory?.rejections, { '403.16': 2 });
  });

  test('HTTP/2: 3 streams on one connection are 1 connection and 3 requests (or, where this node has HTTP/2 off, the documented fallback)', async (t) => {
    const client = pki.clients.viaIntermediate;
    if (!offersHttp2) {
      await assertHttp2Fallback(t, { port: running.port('secure'), ca: readFileSync(pki.caFile), servername: 'localhost', clientCert: client, log: () => running.events });
      return;
    }
    const session = connectHttp2(`https://localhost:${running.port('secure')}`, { ca: readFileSync(pki.caFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) });
    try {
      const statuses = await Promise.all(
        [0, 1, 2].map(
          (index) =>
            new Promise<number>((resolve, reject) => {
              const stream = session.request({ ':path': `/h2/${index}` });
              let status = 0;
              stream.on('response', (headers) => (status = Number(headers[':status'])));
              stream.on('error', reject);
              stream.resume();
              stream.on('end', () => resolve(status));
            }),
        ),
      );
      assert.deepEqual(statuses, [200, 200, 200]);
    } finally {
      session.close();
    }
    const ivan = (await seen()).find((e) => e.subject.includes('CN=Ivan Intermediate'));
    assert.ok(ivan);
    assert.equal(ivan.connections, 1);
    assert.equal(ivan.requests, 3);
    assert.equal(ivan.lastVerdict, 'accepted');
  });

  test('filters: site=, verdict=, expiringWithin=, together; a bad filter is 422 naming it', async () => {
    const other = await seen('?site=other');
    assert.equal(other.length, 1);
    assert.ok(other[0]?.subject.includes('CN=Alice Badge'), other[0]?.subject);
    assert.deepEqual(await seen('?site=nowhere'), []);
    const accepted = await seen('?verdict=accepted');
    assert.deepEqual(accepted.map((e) => /CN=([^,]+)/.exec(e.subject)?.[1]).filter((name) => name !== 'Ivan Intermediate').sort(), ['Alice Badge', 'Soon Sam']);
    assert.deepEqual((await seen('?verdict=revoked')).map((e) => e.lastVerdict), ['revoked']);
    const expiring = await seen('?expiringWithin=10');
    assert.deepEqual(expiring.map((e) => e.subject), ['CN=Soon Sam, O=Example']);
    assert.ok(Date.parse(expiring[0]?.notAfter ?? '') - Date.now() < 6 * DAY);
    assert.equal((await seen('?expiringWithin=10&verdict=untrusted')).length, 0);
    assert.equal((await seen('?expiringWithin=10&site=secure&verdict=accepted')).length, 1);
    for (const [query, field] of [['?verdict=maybe', 'verdict'], ['?expiringWithin=soon', 'expiringWithin'], ['?colour=blue', 'colour']] as const) {
      const bad = await api('GET', `/api/v1/client-certificates${query}`, { token: viewer });
      assert.equal(bad.status, 422, query);
      assert.equal(bad.json.code, 'invalid_body');
      assert.ok(bad.json.errors.some((e: { field: string }) => e.field === field), bad.text);
    }
  });
});
