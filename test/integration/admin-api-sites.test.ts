/**
 * Sites through the admin API over real https, the seed's steps as curl would do them: add an https binding
 * with a certificate made at test time (by files, and by certificate store id), set Require SSL and
 * client certificates: require (IIS SSL Settings + Apply), then a real client with a client certificate
 * gets 200 and the backend sees X-ARR-ClientCert, without one 403.7, over http 403.4. Also: bindings'
 * ids and removal, sites added and removed (the last one refused with the validate problem), tracing
 * rules (operator), 401/403 per role, 412 on a stale site ETag, 422 naming the field, the audit's
 * before → after.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueServer } from '../../src/pki/index.js';
import { send } from '../support/clients.js';
import { startAdminRig, type AdminRig } from './admin-config-support.js';

let rig: AdminRig;
let certFile: string;
let keyFile: string;

before(async () => {
  rig = await startAdminRig(1, (backends) => `sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [{ address: ${backends[0]!.address} }]
`);
  const issued = await issueServer({ ca: rig.pki.root, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], keyType: 'rsa-2048' });
  certFile = join(rig.pki.dir, 'web-made-now.pem');
  keyFile = join(rig.pki.dir, 'web-made-now.key');
  await writeFile(certFile, issued.certPem);
  await writeFile(keyFile, issued.keyPem, { mode: 0o600 });
});

after(async () => {
  await rig?.close();
});

const siteEtag = async (site = 'web') => (await rig.api('GET', `/api/v1/sites/${site}`, { token: rig.tokens.viewer })).headers.etag as string;
const httpsUrl = (site = 'web') => {
  const listener = rig.running().gatehouse.bound.find((l) => l.protocol === 'https' && l.sites.includes(site));
  assert.ok(listener, `an https listener for ${site}`);
  return listener.url;
};
const httpUrl = () => rig.running().gatehouse.bound.find((l) => l.protocol === 'http' && l.sites.includes('web'))!.url;

describe('reading sites', () => {
  test('GET /sites and /sites/{site}: bindings with stable ids, SSL settings, the site ETag', async () => {
    const list = await rig.api('GET', '/api/v1/sites', { token: rig.tokens.viewer });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.sites.map((s: { name: string }) => s.name), ['web']);
    const site = await rig.api('GET', '/api/v1/sites/web', { token: rig.tokens.viewer });
    assert.equal(site.status, 200);
    assert.equal(site.headers.etag, site.json.etag);
    assert.deepEqual(site.json.bindings, [{ id: 'http-127.0.0.1-0-*', protocol: 'http', address: '127.0.0.1', port: 0, hostName: null, http2: null, certificate: null }]);
    assert.deepEqual(site.json.ssl, { requireSsl: false, clientCertificates: 'ignore', trustedCaFile: null, crlFile: [], revocation: { check: 'chain', online: false, whenUnknown: 'deny' } });
    const missing = await rig.api('GET', '/api/v1/sites/nope', { token: rig.tokens.viewer });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'site_not_found');
  });
});

describe("the seed's steps through the API", () => {
  test('add an https binding with a certificate made now (by its files): 201, reloaded, served', async () => {
    const etag = await siteEtag();
    const body = { protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile, keyFile } };
    for (const token of [rig.tokens.viewer, rig.tokens.operator]) assert.equal((await rig.api('POST', '/api/v1/sites/web/bindings', { token, body, ifMatch: etag })).status, 403);
    const stale = await rig.api('POST', '/api/v1/sites/web/bindings', { token: rig.tokens.admin, body, ifMatch: '"old"' });
    assert.equal(stale.status, 412);
    const answer = await rig.api('POST', '/api/v1/sites/web/bindings', { badge: rig.badge, body, ifMatch: etag });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.json.config.reload.ok, true, JSON.stringify(answer.json.config.reload));
    assert.deepEqual(answer.json.before, ['http-127.0.0.1-0-*']);
    assert.deepEqual(answer.json.after, ['http-127.0.0.1-0-*', 'https-127.0.0.1-0-*']);
    assert.equal(answer.headers.etag, answer.json.site.etag);
    assert.notEqual(answer.json.site.etag, etag);
    assert.deepEqual(answer.json.site.bindings[1].certificate, { certFile, keyFile, ocspStapling: false });
    const reply = await send(`${httpsUrl()}/hello`, { ca: readFileSync(rig.pki.caFile, 'utf8') });
    assert.equal(reply.status, 200, reply.error?.message);
  });

  test('SSL Settings + Apply: requireSsl and clientCertificates: require; with a client certificate 200 (X-ARR-ClientCert), without 403.7, over http 403.4', async () => {
    const etag = await siteEtag();
    const body = { requireSsl: true, clientCertificates: 'require', trustedCaFile: rig.pki.caFile };
    assert.equal((await rig.api('PUT', '/api/v1/sites/web/ssl', { token: rig.tokens.operator, body, ifMatch: etag })).status, 403);
    const answer = await rig.api('PUT', '/api/v1/sites/web/ssl', { token: rig.tokens.admin, body, ifMatch: etag });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.config.reload.ok, true);
    assert.deepEqual(answer.json.before, {});
    assert.deepEqual(answer.json.after, body);
    assert.deepEqual(answer.json.site.ssl, { ...body, crlFile: [], revocation: { check: 'chain', online: false, whenUnknown: 'deny' } });
    const ca = readFileSync(rig.pki.caFile, 'utf8');
    const withCert = await send(`${httpsUrl()}/badge`, { ca, clientCert: rig.pki.clients.valid });
    assert.equal(withCert.status, 200, withCert.body.toString());
    const seen = rig.backends[0]!.received.at(-1)!;
    assert.equal(seen.url, '/badge');
    assert.equal(seen.headers['x-arr-clientcert'], rig.pki.clients.valid.issued.cert.raw.toString('base64'));
    const without = await send(`${httpsUrl()}/no-badge`, { ca });
    assert.equal(without.status, 403);
    assert.match(without.body.toString(), /403\.7/);
    const plain = await send(`${httpUrl()}/plain`);
    assert.equal(plain.status, 403);
    assert.match(plain.body.toString(), /403\.4/);
    const audit = (await rig.api('GET', '/api/v1/audit?limit=4', { token: rig.tokens.viewer })).json.entries.filter((e: { action: string }) => e.action === 'setSiteSsl');
    assert.deepEqual(audit.at(-1).before, {});
    assert.deepEqual(audit.at(-1).after, body);
    assert.equal(audit.at(-1).who.user, 'ci');
  });

  test('a binding naming a certificate store id (<store>/<ID>.pem and .key) is written by those files, and removed by its id', async () => {
    const issued = await issueServer({ ca: rig.pki.root, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], keyType: 'rsa-2048' });
    const id = issued.cert.fingerprint.replace(/:/g, '').toUpperCase();
    const store = join(rig.pki.dir, 'certificates');
    mkdirSync(store, { recursive: true });
    writeFileSync(join(store, `${id}.pem`), issued.certPem);
    writeFileSync(join(store, `${id}.key`), issued.keyPem, { mode: 0o600 });
    const answer = await rig.api('POST', '/api/v1/sites/web/bindings', { token: rig.tokens.admin, body: { protocol: 'https', address: '127.0.0.2', port: 0, hostName: 'localhost', certificate: { id } }, ifMatch: await siteEtag() });
    assert.equal(answer.status, 201, answer.text);
    const binding = answer.json.site.bindings.find((b: { id: string }) => b.id === 'https-127.0.0.2-0-localhost');
    assert.deepEqual(binding.certificate, { id, certFile: `certificates/${id}.pem`, keyFile: `certificates/${id}.key`, ocspStapling: false });
    assert.match(readFileSync(rig.configFile(), 'utf8'), new RegExp(`certFile: certificates/${id}\\.pem`));
    const bad = await rig.api('POST', '/api/v1/sites/web/bindings', { token: rig.tokens.admin, body: { protocol: 'https', port: 0, certificate: { id: 'abc' } }, ifMatch: await siteEtag() });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.code, 'invalid_body');
    assert.equal(bad.json.errors[0].field, 'certificate.id');
    const gone = await rig.api('DELETE', '/api/v1/sites/web/bindings/https-127.0.0.2-0-localhost', { token: rig.tokens.admin, ifMatch: await siteEtag() });
    assert.equal(gone.status, 200, gone.text);
    assert.deepEqual(gone.json.site.bindings.map((b: { id: string }) => b.id), ['http-127.0.0.1-0-*', 'https-127.0.0.1-0-*']);
    const unknown = await rig.api('DELETE', '/api/v1/sites/web/bindings/https-127.0.0.2-0-localhost', { token: rig.tokens.admin, ifMatch: await siteEtag() });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'binding_not_found');
  });
});

describe('validation as a whole config', () => {
  test('a missing trusted CA file: 422 invalid_config naming sites[0].ssl.trustedCaFile with its line; the file unchanged', async () => {
    const before = readFileSync(rig.configFile());
    const answer = await rig.api('PUT', '/api/v1/sites/web/ssl', { token: rig.tokens.admin, body: { trustedCaFile: 'no-such-ca.pem' }, ifMatch: await siteEtag() });
    assert.equal(answer.status, 422, answer.text);
    assert.equal(answer.json.code, 'invalid_config');
    const error = answer.json.errors.find((e: { field: string }) => e.field === 'sites[0].ssl.trustedCaFile');
    assert.ok(error, JSON.stringify(answer.json.errors));
    assert.equal(error.file, rig.configFile());
    assert.ok(error.line > 1);
    assert.ok(answer.json.detail.includes(`${rig.configFile()}:${error.line} sites[0].ssl.trustedCaFile: `), answer.json.detail);
    assert.deepEqual(readFileSync(rig.configFile()), before);
    const badBody = await rig.api('PUT', '/api/v1/sites/web/ssl', { token: rig.tokens.admin, body: { clientCertificates: 'maybe' }, ifMatch: await siteEtag() });
    assert.equal(badBody.status, 422);
    assert.equal(badBody.json.errors[0].field, 'clientCertificates');
  });

  test('sites are added (guarded by the config ETag) and removed; the last site is refused with the validate problem', async () => {
    const webEtag = await siteEtag();
    const configEtag = (await rig.api('GET', '/api/v1/config', { token: rig.tokens.viewer })).headers.etag as string;
    const added = await rig.api('POST', '/api/v1/sites', { token: rig.tokens.admin, body: { name: 'api', farm: 'web', bindings: [{ protocol: 'http', address: '127.0.0.1', port: 0, hostName: 'api.example.test' }] }, ifMatch: configEtag });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.json.config.reload.ok, true);
    assert.equal(added.json.site.name, 'api');
    assert.equal(await siteEtag(), webEtag, 'another site\'s edit leaves this site\'s ETag');
    const twice = await rig.api('POST', '/api/v1/sites', { token: rig.tokens.admin, body: { name: 'api', farm: 'web', bindings: [{ protocol: 'http', port: 0 }] }, ifMatch: added.json.config.etag });
    assert.equal(twice.status, 422);
    assert.ok(twice.json.errors.some((e: { field: string; message: string }) => e.field === 'sites[1].name' || /already/.test(e.message)), twice.text);
    const removed = await rig.api('DELETE', '/api/v1/sites/api', { token: rig.tokens.admin, ifMatch: await siteEtag('api') });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.json.site, null);
    assert.deepEqual((await rig.api('GET', '/api/v1/sites', { token: rig.tokens.viewer })).json.sites.map((s: { name: string }) => s.name), ['web']);
    const last = await rig.api('DELETE', '/api/v1/sites/web', { token: rig.tokens.admin, ifMatch: await siteEtag() });
    assert.equal(last.status, 422, last.text);
    assert.equal(last.json.code, 'invalid_config');
    assert.ok(last.json.errors.some((e: { field: string }) => e.field === 'sites'), last.text);
  });
});

describe('secrets', () => {
  test('an inline passphrase is never shown: not in the site view, the answer, or the audit log', async () => {
    const config = await rig.api('GET', '/api/v1/config', { token: rig.tokens.viewer });
    const password = rig.pki.server.pfxPassword;
    const yaml = config.json.yaml.replace('farms:', `  - name: vault
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, hostName: vault.example.test, certificate: { pfxFile: ${rig.pki.server.pfxFile}, passphrase: ${JSON.stringify(password)} } }]
    farm: web
farms:`);
    const put = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml }, ifMatch: config.headers.etag as string });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.reload.ok, true, JSON.stringify(put.json.reload));
    const site = await rig.api('GET', '/api/v1/sites/vault', { token: rig.tokens.viewer });
    assert.deepEqual(site.json.bindings[0].certificate, { pfxFile: rig.pki.server.pfxFile, ocspStapling: false });
    const removed = await rig.api('DELETE', '/api/v1/sites/vault', { token: rig.tokens.admin, ifMatch: site.headers.etag as string });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.json.before.bindings[0].certificate.passphrase, '(hidden)');
    assert.ok(!removed.text.includes(password), 'not in the answer');
    assert.ok(!readFileSync(join(rig.pki.dir, 'admin-audit.log'), 'utf8').includes(password), 'not in the audit log');
  });
});

describe('concurrency and refused reloads', () => {
  test('two SSL Settings writers with the same site ETag: one is applied, the other gets 412', async () => {
    const etag = await siteEtag();
    // Both differ from the settings now (requireSsl: true, clientCertificates: require): each would change the site.
    const answers = await Promise.all([{ requireSsl: false }, { clientCertificates: 'accept' }].map((body) => rig.api('PUT', '/api/v1/sites/web/ssl', { token: rig.tokens.admin, body, ifMatch: etag })));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 412], answers.map((a) => a.text).join('\n'));
    assert.equal(await siteEtag(), answers.find((a) => a.status === 200)!.json.site.etag);
  });

  test('a valid edit whose reload is refused (the port is taken): 409 reload_refused, the file put back byte for byte, audited as failed', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const file = rig.configFile();
    const before = await readFile(file);
    const history = (await rig.api('GET', '/api/v1/config/history', { token: rig.tokens.viewer })).json;
    try {
      const answer = await rig.api('POST', '/api/v1/sites/web/bindings', { token: rig.tokens.admin, body: { protocol: 'http', address: '127.0.0.1', port, hostName: 'taken.example.test' }, ifMatch: await siteEtag() });
      assert.equal(answer.status, 409, answer.text);
      assert.equal(answer.json.code, 'reload_refused');
      assert.ok(answer.json.detail.includes(String(port)), answer.json.detail);
      assert.deepEqual(await readFile(file), before, 'the file holds the config in force');
      assert.deepEqual((await rig.api('GET', '/api/v1/config/history', { token: rig.tokens.viewer })).json, history, 'no history version for a change that did not happen');
      const audit = (await rig.api('GET', '/api/v1/audit?limit=2', { token: rig.tokens.viewer })).json.entries.at(-1);
      assert.equal(audit.action, 'addSiteBinding');
      assert.equal(audit.result, 'failed');
      assert.match(audit.reason, /409 reload_refused/);
      assert.ok(!rig.running().gatehouse.bound.some((l) => l.port === port), 'the running config stays');
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});

describe('tracing rules', () => {
  test('GET/PUT /sites/{site}/tracing: an operator sets the rules; a viewer may not; null turns tracing off', async () => {
    const empty = await rig.api('GET', '/api/v1/sites/web/tracing', { token: rig.tokens.viewer });
    assert.equal(empty.status, 200);
    assert.equal(empty.json.tracing, null);
    const tracing = { maxFiles: 5, rules: [{ path: '/badge*', statusCodes: '403.7,500-599' }] };
    const viewer = await rig.api('PUT', '/api/v1/sites/web/tracing', { token: rig.tokens.viewer, body: { tracing }, ifMatch: empty.headers.etag as string });
    assert.equal(viewer.status, 403);
    const set = await rig.api('PUT', '/api/v1/sites/web/tracing', { token: rig.tokens.operator, body: { tracing }, ifMatch: empty.headers.etag as string });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.json.config.reload.ok, true);
    assert.deepEqual(set.json.after, tracing);
    assert.equal(set.json.site.tracing, true);
    assert.deepEqual((await rig.api('GET', '/api/v1/sites/web/tracing', { token: rig.tokens.viewer })).json.tracing, tracing);
    const bad = await rig.api('PUT', '/api/v1/sites/web/tracing', { token: rig.tokens.operator, body: { tracing: { rules: [{ statusCodes: 'often' }] } }, ifMatch: set.headers.etag as string });
    assert.equal(bad.status, 422);
    assert.ok(bad.json.errors.some((e: { field: string }) => e.field === 'sites[0].tracing.rules[0].statusCodes'), bad.text);
    const off = await rig.api('PUT', '/api/v1/sites/web/tracing', { token: rig.tokens.operator, body: { tracing: null }, ifMatch: set.headers.etag as string });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.json.site.tracing, false);
    assert.doesNotMatch(readFileSync(rig.configFile(), 'utf8'), /tracing:/);
  });
});

describe('editing a binding (PUT /sites/{site}/bindings/{id})', () => {
  test('edited in place: its position kept, its certificate kept when none is given, its new id answered, served; roles, 404, 412 (also for a binding gone since the ETag was read) and 422', async () => {
    const site = (await rig.api('GET', '/api/v1/sites/web', { token: rig.tokens.viewer })).json;
    const ids: string[] = site.bindings.map((b: { id: string }) => b.id);
    const at = ids.indexOf('https-127.0.0.1-0-*');
    assert.ok(at >= 0, ids.join(', '));
    const certificate = site.bindings[at].certificate;
    const body = { protocol: 'https', address: '127.0.0.1', port: 0, hostName: 'localhost' };
    const path = '/api/v1/sites/web/bindings/https-127.0.0.1-0-*';
    for (const token of [rig.tokens.viewer, rig.tokens.operator]) assert.equal((await rig.api('PUT', path, { token, body, ifMatch: site.etag })).status, 403);
    assert.equal((await rig.api('PUT', path, { token: rig.tokens.admin, body, ifMatch: '"old"' })).status, 412);
    const unknown = await rig.api('PUT', '/api/v1/sites/web/bindings/https-10.9.9.9-1-*', { token: rig.tokens.admin, body, ifMatch: site.etag });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'binding_not_found');
    // A binding another user changed (its id gone) with the ETag read before: the stale ETag answers first.
    for (const method of ['PUT', 'DELETE']) {
      const stale = await rig.api(method, '/api/v1/sites/web/bindings/https-10.9.9.9-1-*', { token: rig.tokens.admin, ...(method === 'PUT' ? { body } : {}), ifMatch: '"read-before"' });
      assert.equal(stale.status, 412, `${method}: ${stale.text}`);
    }
    const badBody = await rig.api('PUT', path, { token: rig.tokens.admin, body: { ...body, port: 70000 }, ifMatch: site.etag });
    assert.equal(badBody.status, 422);
    assert.equal(badBody.json.errors[0].field, 'port');

    const answer = await rig.api('PUT', path, { token: rig.tokens.admin, body, ifMatch: site.etag });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.config.reload.ok, true, JSON.stringify(answer.json.config.reload));
    const after: string[] = answer.json.site.bindings.map((b: { id: string }) => b.id);
    assert.deepEqual(after, ids.map((id, i) => (i === at ? 'https-127.0.0.1-0-localhost' : id)), 'the binding keeps its position');
    assert.deepEqual(answer.json.site.bindings[at].certificate, certificate, 'no certificate given: the binding keeps its own');
    assert.equal(answer.json.changed, true);
    assert.equal(answer.json.before[at].hostName, undefined);
    assert.equal(answer.json.after[at].hostName, 'localhost');
    assert.equal(answer.headers.etag, answer.json.site.etag);
    const reply = await send(`${httpsUrl()}/edited`, { ca: readFileSync(rig.pki.caFile, 'utf8'), headers: ['Host', 'localhost'], tls: { servername: 'localhost' }, clientCert: rig.pki.clients.valid });
    assert.equal(reply.status, 200, reply.error?.message ?? reply.body.toString());
    const audit = (await rig.api('GET', '/api/v1/audit?limit=2', { token: rig.tokens.viewer })).json.entries.at(-1);
    assert.equal(audit.action, 'setSiteBinding');
    assert.equal(audit.result, 'applied');
    assert.deepEqual(audit.target, { site: 'web', id: 'https-127.0.0.1-0-*' });
    assert.equal(audit.after[at].hostName, 'localhost');

    // Back as it was, the certificate named by its files.
    const back = await rig.api('PUT', '/api/v1/sites/web/bindings/https-127.0.0.1-0-localhost', { token: rig.tokens.admin, body: { protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile, keyFile } }, ifMatch: answer.json.site.etag });
    assert.equal(back.status, 200, back.text);
    assert.deepEqual(back.json.site.bindings.map((b: { id: string }) => b.id), ids);
  });

  test('an edit the whole config refuses (http → https with no certificate): 422 invalid_config naming the binding, the file unchanged', async () => {
    const site = (await rig.api('GET', '/api/v1/sites/web', { token: rig.tokens.viewer })).json;
    const at = site.bindings.findIndex((b: { id: string }) => b.id === 'http-127.0.0.1-0-*');
    const before = readFileSync(rig.configFile());
    const answer = await rig.api('PUT', '/api/v1/sites/web/bindings/http-127.0.0.1-0-*', { token: rig.tokens.admin, body: { protocol: 'https', address: '127.0.0.1', port: 0 }, ifMatch: site.etag });
    assert.equal(answer.status, 422, answer.text);
    assert.equal(answer.json.code, 'invalid_config');
    assert.ok(answer.json.errors.some((e: { field: string }) => e.field.startsWith(`sites[0].bindings[${at}]`)), answer.text);
    assert.deepEqual(readFileSync(rig.configFile()), before);
  });
});
