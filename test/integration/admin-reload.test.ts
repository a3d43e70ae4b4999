/**
 * A config reload and the admin listener, with curl and real TLS: a renewed admin certificate (its files
 * replaced) is served to new handshakes, a changed badge CA bundle decides who signs in from then on, and
 * `metrics: authenticated` closes /metrics at once; an address or port change waits for a restart, which
 * the event log says while the listener stays where it is.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { issueClient, issueServer } from '../../src/pki/index.js';
import { curl } from '../support/clients.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { makeToken, type Badge } from './admin-api-helpers.js';

let pki: TestPki;
let running: RunningGatehouse;
let alice: Badge;
let token: string;
let tokenFile: string;
let certFile: string;
let keyFile: string;

interface AdminYaml {
  readonly port?: number;
  readonly trustedCaFile?: string;
  readonly metrics?: 'open' | 'authenticated';
}

function yaml(admin: AdminYaml = {}): string {
  return `accessLog: off
admin:
  port: ${admin.port ?? 0}
  certificate: { certFile: ${certFile}, keyFile: ${keyFile} }
  trustedCaFile: ${admin.trustedCaFile ?? pki.caFile}
  metrics: ${admin.metrics ?? 'open'}
  users:
    - { subject: "CN=Alice Admin, O=Example", role: administrator }
    - { name: ci, tokenFile: ${tokenFile}, role: viewer }
sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [{ address: 127.0.0.1:9 }]
`;
}

async function reloadWith(admin: AdminYaml): Promise<void> {
  await writeFile(running.configFile, yaml(admin));
  assert.equal(await running.gatehouse.reload(running.configFile), true, running.events.join('\n'));
}

const adminUrl = () => (running.gatehouse.admin as { url: string }).url;

/** The SHA-256 fingerprint of the certificate a new TLS handshake with the admin listener gets. */
function servedFingerprint(): Promise<string> {
  const { port } = new URL(adminUrl());
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port), servername: 'localhost', rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.once('error', reject);
  });
}

before(async () => {
  pki = await createTestPki();
  certFile = join(pki.dir, 'admin-listener.pem');
  keyFile = join(pki.dir, 'admin-listener.key');
  await copyFile(pki.server.certFile, certFile);
  await copyFile(pki.server.keyFile, keyFile);
  const issued = await issueClient({ ca: pki.root, commonName: 'Alice Admin', organization: 'Example' });
  alice = { certFile: join(pki.dir, 'alice-badge.pem'), keyFile: join(pki.dir, 'alice-badge.key') };
  await writeFile(alice.certFile, issued.certPem);
  await writeFile(alice.keyFile, issued.keyPem, { mode: 0o600 });
  ({ token, file: tokenFile } = await makeToken(pki.dir, 'ci'));
  running = await startGatehouse(yaml(), pki.dir);
});

after(async () => {
  await running?.stop();
  await pki?.cleanup();
});

describe('a reload and the admin listener', () => {
  test('a renewed certificate (its files replaced) is served to new handshakes at the reload, on the same port', async () => {
    const url = adminUrl();
    assert.equal(await servedFingerprint(), new X509Certificate(await readFile(pki.server.certFile)).fingerprint256);
    const renewed = await issueServer({ ca: pki.root, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    await writeFile(certFile, renewed.certPem);
    await writeFile(keyFile, renewed.keyPem, { mode: 0o600 });
    await reloadWith({});
    assert.equal(await servedFingerprint(), renewed.cert.fingerprint256);
    assert.equal(adminUrl(), url);
    const whoami = await curl(`${url}/api/v1/whoami`, { cacert: pki.caFile, headers: [`Authorization: Bearer ${token}`] });
    assert.equal(whoami.status, 200, whoami.stderr);
  });

  test('a changed badge CA bundle decides who signs in from the reload on', async () => {
    const asAlice = () => curl(`${adminUrl()}/api/v1/whoami`, { cacert: pki.caFile, cert: alice.certFile, key: alice.keyFile });
    assert.equal((await asAlice()).status, 200);
    await reloadWith({ trustedCaFile: pki.otherCaFile });
    const refused = await asAlice();
    assert.equal(refused.status, 401, refused.body);
    assert.match(refused.body, /certificate_not_trusted/);
    await reloadWith({});
    assert.equal((await asAlice()).status, 200);
  });

  test('metrics: authenticated closes /metrics at the reload; a token still reads it', async () => {
    assert.equal((await curl(`${adminUrl()}/metrics`, { cacert: pki.caFile })).status, 200);
    await reloadWith({ metrics: 'authenticated' });
    assert.equal((await curl(`${adminUrl()}/metrics`, { cacert: pki.caFile })).status, 401);
    const withToken = await curl(`${adminUrl()}/metrics`, { cacert: pki.caFile, headers: [`Authorization: Bearer ${token}`] });
    assert.equal(withToken.status, 200);
    assert.match(withToken.body, /^# HELP /m);
    await reloadWith({});
    assert.equal((await curl(`${adminUrl()}/metrics`, { cacert: pki.caFile })).status, 200);
  });

  test('a port change waits for a restart: the event log says so and the listener stays where it is', async () => {
    const url = adminUrl();
    await reloadWith({ port: 1 });
    const said = running.events.filter((line) => line.startsWith('warn admin.address/port changed'));
    assert.deepEqual(said, [`warn admin.address/port changed to 127.0.0.1:1: the admin listener stays on ${url} until Gatehouse restarts`]);
    const status = await curl(`${url}/api/v1/whoami`, { cacert: pki.caFile, headers: [`Authorization: Bearer ${token}`] });
    assert.equal(status.status, 200);
    await reloadWith({});
  });
});
