/**
 * IIS's Server Certificates through the admin API, over real https with real tokens: the listing of every
 * certificate the config names and the store holds, with certificates made at test time (a complete
 * chain, one expiring in 10 days, a leaf whose issuer is missing, a store entry whose key does not match)
 * and the CRLs; Create Self-Signed into a store folder made 0700 (key 0600); Import of a PFX that the real
 * `openssl pkcs12 -export` made, and of a PEM pair (wrong password, garbage, mismatched key: 422 naming the
 * field; an id already there: 409); If-Match (428, 412); roles (403 for an operator); Remove (409 while a
 * binding uses it); no private key, password or PFX in any answer, the audit log or the event log.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { createSelfSignedServer, issueServer } from '../../src/pki/index.js';
import { startBackend, type Backend } from '../support/backends.js';
import { run } from '../support/clients.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { apiClient, makeToken, type ApiAnswer } from './admin-api-helpers.js';

const DAY = 86_400_000;
let pki: TestPki;
let backend: Backend;
let running: RunningGatehouse;
let api: ReturnType<typeof apiClient>;
const tokens = { viewer: '', operator: '', admin: '' };
let storeDir: string;
let yaml: (extraSite: string) => string;
let soonFile: string;
let lagFile: string;
const answers: ApiAnswer[] = [];
const PFX_PASSWORD = 's3cret-pfx-password';
let pfxBase64 = '';

const thumbprint = (pem: string) => new X509Certificate(pem).fingerprint.replace(/:/g, '');

/** A call whose answer is kept, to check at the end that none carried a key. */
async function call(method: string, path: string, options: Parameters<ReturnType<typeof apiClient>>[2] = {}): Promise<ApiAnswer> {
  const answer = await api(method, `/api/v1${path}`, options);
  answers.push(answer);
  return answer;
}

async function listing(): Promise<{ answer: ApiAnswer; etag: string; certificates: any[]; crls: any[] }> {
  const answer = await call('GET', '/certificates', { token: tokens.viewer });
  assert.equal(answer.status, 200, answer.text);
  return { answer, etag: answer.headers.etag as string, certificates: answer.json.certificates, crls: answer.json.crls };
}

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('one');
  for (const role of ['viewer', 'operator', 'admin'] as const) tokens[role] = (await makeToken(pki.dir, role)).token;
  const soon = await issueServer({ ca: pki.root, dnsNames: ['soon.example.test'], notAfter: new Date(Date.now() + 10 * DAY) });
  soonFile = join(pki.dir, 'soon-chain.pem');
  await writeFile(soonFile, soon.certPem + pki.root.certPem);
  await writeFile(join(pki.dir, 'soon.key'), soon.keyPem, { mode: 0o600 });
  const lag = await issueServer({ ca: pki.intermediate, dnsNames: ['lag.example.test'] });
  lagFile = join(pki.dir, 'lag.pem');
  await writeFile(lagFile, lag.certPem); // leaf only: its issuer (the intermediate) is nowhere
  await writeFile(join(pki.dir, 'lag.key'), lag.keyPem, { mode: 0o600 });
  storeDir = join(pki.dir, 'certificates');
  const https = (cert: string, key: string) => `{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${cert}, keyFile: ${key} } }`;
  yaml = (extraSite) => `accessLog: off
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  auditLog: audit.log
  users:
    - { name: viewer-bot, tokenFile: viewer.token, role: viewer }
    - { name: operator-bot, tokenFile: operator.token, role: operator }
    - { name: ci, tokenFile: admin.token, role: administrator }
sites:
  - name: web
    bindings: [${https(pki.server.chainFile, pki.server.keyFile)}, ${https('soon-chain.pem', 'soon.key')}]
    farm: web
  - name: lagging
    bindings: [${https('lag.pem', 'lag.key')}]
    ssl: { clientCertificates: accept, trustedCaFile: ${pki.caFile}, crlFile: ${pki.crlFile} }
    farm: web
${extraSite}farms:
  - name: web
    servers: [{ address: ${backend.address} }]
`;
  running = await startGatehouse(yaml(''), pki.dir);
  api = apiClient(() => (running.gatehouse.admin as { url: string }).url, pki.caFile);
});

after(async () => {
  await running?.stop();
  await backend?.close();
  await pki?.cleanup();
});

describe('Create Self-Signed Certificate', () => {
  test('into a store folder it creates 0700: key 0600, certificate named by its SHA-1 thumbprint, the listing entry in the answer', async () => {
    assert.equal(existsSync(storeDir), false);
    const { etag } = await listing();
    const answer = await call('POST', '/certificates/self-signed', { token: tokens.admin, ifMatch: etag, body: { friendlyName: 'Intranet test', hostNames: ['intranet.example.test', '127.0.0.1'], validityDays: 400 } });
    assert.equal(answer.status, 201, answer.text);
    const { id, certificate } = answer.json;
    assert.match(id, /^[0-9A-F]{40}$/);
    assert.equal(statSync(storeDir).mode & 0o777, 0o700);
    const certFile = join(storeDir, `${id}.pem`);
    const keyFile = join(storeDir, `${id}.key`);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const pem = readFileSync(certFile, 'utf8');
    assert.equal(thumbprint(pem), id);
    assert.ok(new X509Certificate(pem).checkPrivateKey(createPrivateKey(readFileSync(keyFile))));
    assert.deepEqual(certificate.files, { certFile, keyFile });
    assert.equal(certificate.friendlyName, 'Intranet test');
    assert.equal(certificate.subject, 'CN=intranet.example.test');
    assert.deepEqual(certificate.sans, ['DNS:intranet.example.test', 'IP Address:127.0.0.1']);
    assert.equal(certificate.keyType, 'EC');
    assert.equal(certificate.keySize, 256);
    assert.equal(certificate.kind, 'server');
    assert.equal(certificate.inStore, true);
    assert.deepEqual(certificate.usedBy, []);
    assert.deepEqual(certificate.problems, []);
    assert.ok(certificate.daysLeft >= 399 && certificate.daysLeft <= 400, String(certificate.daysLeft));
    const after = await listing();
    assert.notEqual(after.etag, etag);
    assert.equal(answer.headers.etag, after.etag, 'the answer carries the new listing ETag');
    assert.equal(after.certificates.filter((c) => c.id === id).length, 1);
  });

  test('RSA 2048 on request; 412 with a stale ETag, 428 without one; 422 naming a bad host name; 403 for an operator', async () => {
    const { etag } = await listing();
    const rsa = await call('POST', '/certificates/self-signed', { token: tokens.admin, ifMatch: etag, body: { friendlyName: 'RSA one', hostNames: ['rsa.example.test'], keyType: 'RSA' } });
    assert.equal(rsa.status, 201, rsa.text);
    assert.equal(rsa.json.certificate.keyType, 'RSA');
    assert.equal(rsa.json.certificate.keySize, 2048);
    assert.ok(rsa.json.certificate.daysLeft >= 364 && rsa.json.certificate.daysLeft <= 365, 'default validity 365 days');
    const stale = await call('POST', '/certificates/self-signed', { token: tokens.admin, ifMatch: etag, body: { friendlyName: 'late', hostNames: ['late.example.test'] } });
    assert.equal(stale.status, 412);
    assert.equal(stale.json.code, 'precondition_failed');
    const missing = await call('POST', '/certificates/self-signed', { token: tokens.admin, body: { friendlyName: 'late', hostNames: ['late.example.test'] } });
    assert.equal(missing.status, 428);
    const current = (await listing()).etag;
    const bad = await call('POST', '/certificates/self-signed', { token: tokens.admin, ifMatch: current, body: { friendlyName: 'bad', hostNames: ['ok.example.test', 'not a name!'] } });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.code, 'invalid_body');
    assert.deepEqual(bad.json.errors.map((e: { field: string }) => e.field), ['hostNames[1]']);
    const operator = await call('POST', '/certificates/self-signed', { token: tokens.operator, ifMatch: current, body: { friendlyName: 'op', hostNames: ['op.example.test'] } });
    assert.equal(operator.status, 403);
    assert.equal(operator.json.code, 'forbidden');
    assert.equal((await listing()).etag, current, 'nothing was written');
  });
});

describe('the OpenAPI document', () => {
  test('describes the certificate endpoints, and its Create Self-Signed body agrees with the handler', async () => {
    const doc = (await call('GET', '/openapi.json', { token: tokens.viewer })).json;
    assert.ok(doc.paths['/certificates'].get);
    assert.ok(doc.paths['/certificates/import'].post.requestBody);
    assert.ok(doc.paths['/certificates/{id}'].delete);
    assert.ok(doc.paths['/client-certificates'].get);
    const schema = z.fromJSONSchema(doc.paths['/certificates/self-signed'].post.requestBody.content['application/json'].schema);
    const samples = [{ friendlyName: 'a', hostNames: ['a.example.test'] }, { friendlyName: 'a', hostNames: ['::1'], keyType: 'RSA', validityDays: 1 }, { friendlyName: 'a', hostNames: [] }, { friendlyName: 'a', hostNames: ['a.example.test'], keyType: 'DSA' }, { friendlyName: 'a', hostNames: ['a.example.test'], validityDays: 0 }, { friendlyName: 'a', hostNames: ['a.example.test'], extra: 1 }, {}, null];
    for (const body of samples) {
      const accepted = schema.safeParse(body).success;
      // A stale If-Match: a body the handler accepts gets 412 (nothing written), one it refuses 422.
      const answer = await call('POST', '/certificates/self-signed', { token: tokens.admin, raw: JSON.stringify(body), ifMatch: '"stale"' });
      assert.equal(answer.status, accepted ? 412 : 422, `${JSON.stringify(body)}: ${answer.text}`);
    }
  });
});

describe('the listing', () => {
  test('every certificate the config names and the store holds, with who uses it and its problems; the CRLs', async () => {
    // A store entry whose key is another certificate's.
    const mismatched = pki.otherServer.issued;
    const mismatchedId = thumbprint(mismatched.certPem);
    await writeFile(join(storeDir, `${mismatchedId}.pem`), mismatched.certPem);
    await writeFile(join(storeDir, `${mismatchedId}.key`), pki.clients.valid.issued.keyPem, { mode: 0o600 });
    const { answer, etag, certificates, crls } = await listing();
    assert.equal(answer.json.etag, etag, 'the ETag header is the listing\'s etag');
    assert.match(etag, /^"[\w-]+"$/);
    const byId = (pem: string) => certificates.find((c) => c.id === thumbprint(pem));

    const server = byId(pki.server.issued.certPem);
    assert.ok(server, JSON.stringify(certificates.map((c) => c.subject)));
    assert.equal(server.kind, 'server');
    assert.equal(server.keyType, 'RSA');
    assert.equal(server.keySize, 2048);
    assert.equal(server.thumbprintSha1, server.id);
    assert.equal(server.thumbprintSha256, new X509Certificate(pki.server.issued.certPem).fingerprint256.replace(/:/g, '').toLowerCase());
    assert.equal(server.subject, 'CN=localhost');
    assert.equal(server.issuer, 'CN=Gatehouse Test Root, O=Gatehouse Tests');
    assert.deepEqual(server.sans, ['DNS:localhost', 'DNS:app.example.test', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']);
    assert.deepEqual(server.files, { certFile: pki.server.chainFile, keyFile: pki.server.keyFile });
    assert.equal(server.inStore, false);
    assert.deepEqual(server.problems, []);
    assert.deepEqual(server.usedBy.map((u: { site: string | null; binding: string; as: string }) => `${u.site ?? '-'} ${u.binding} ${u.as}`).sort(), ['- admin https://127.0.0.1:0 certificate', 'web https://127.0.0.1:0 certificate']);

    const soon = certificates.find((c) => c.subject === 'CN=soon.example.test');
    assert.ok(soon);
    assert.ok(soon.daysLeft === 9 || soon.daysLeft === 10, String(soon.daysLeft));
    assert.deepEqual(soon.problems, [`expires in ${soon.daysLeft} days`]);
    assert.equal(soon.files.certFile, soonFile);
    assert.equal(Date.parse(soon.notAfter) - Date.now() < 10 * DAY + 60_000, true);

    const lag = certificates.find((c) => c.subject === 'CN=lag.example.test');
    assert.ok(lag);
    assert.deepEqual(lag.problems, ['chain incomplete: issuer CN=Gatehouse Test Issuing CA not in the file']);
    assert.deepEqual(lag.usedBy, [{ site: 'lagging', binding: 'https://127.0.0.1:0', as: 'certificate' }]);
    assert.equal(lag.files.certFile, lagFile);

    const root = byId(pki.root.certPem);
    assert.ok(root);
    assert.equal(root.kind, 'ca');
    assert.equal(root.files.keyFile, null);
    assert.deepEqual(root.problems, []);
    assert.deepEqual(root.usedBy.map((u: { site: string; as: string }) => `${u.site} ${u.as}`).sort(), ['lagging trustedCa', 'web chain']);

    const bad = certificates.find((c) => c.id === mismatchedId);
    assert.ok(bad);
    assert.equal(bad.inStore, true);
    assert.deepEqual(bad.problems, ['key does not match the certificate']);
    assert.equal(bad.friendlyName, null);

    const selfSigned = certificates.find((c) => c.friendlyName === 'Intranet test');
    assert.ok(selfSigned);
    assert.deepEqual(selfSigned.problems, [], 'a self-signed certificate is a complete chain');

    assert.equal(crls.length, 1);
    assert.equal(crls[0].file, pki.crlFile);
    assert.equal(crls[0].issuer, 'CN=Gatehouse Test Root, O=Gatehouse Tests');
    assert.equal(crls[0].revoked, 1);
    assert.deepEqual(crls[0].usedBy, [{ site: 'lagging', binding: null, as: 'crl' }]);
    assert.deepEqual(crls[0].problems, []);
    assert.ok(Date.parse(crls[0].thisUpdate) <= Date.now());
    assert.deepEqual(answer.json.problems, []);
  });
});

describe('Import', () => {
  test('a PFX made by openssl pkcs12 -export: leaf, chain and key into the store; friendly name from the PFX', async () => {
    const issued = await issueServer({ ca: pki.root, dnsNames: ['imported.example.test'] });
    await writeFile(join(pki.dir, 'imported.pem'), issued.certPem);
    await writeFile(join(pki.dir, 'imported.key'), issued.keyPem, { mode: 0o600 });
    const pfxFile = join(pki.dir, 'imported.pfx');
    const made = await run('openssl', ['pkcs12', '-export', '-in', join(pki.dir, 'imported.pem'), '-inkey', join(pki.dir, 'imported.key'), '-certfile', pki.caFile, '-name', 'From OpenSSL', '-passout', `pass:${PFX_PASSWORD}`, '-out', pfxFile]);
    assert.equal(made.code, 0, made.stderr);
    pfxBase64 = (await readFile(pfxFile)).toString('base64');
    const { etag } = await listing();
    const wrong = await call('POST', '/certificates/import', { token: tokens.admin, ifMatch: etag, body: { pfx: pfxBase64, password: 'not it' } });
    assert.equal(wrong.status, 422, wrong.text);
    assert.deepEqual(wrong.json.errors.map((e: { field: string }) => e.field), ['password']);
    for (const garbage of ['%%% not base64 %%%', Buffer.from('hello, not a PFX').toString('base64')]) {
      const answer = await call('POST', '/certificates/import', { token: tokens.admin, ifMatch: etag, body: { pfx: garbage, password: PFX_PASSWORD } });
      assert.equal(answer.status, 422, answer.text);
      assert.deepEqual(answer.json.errors.map((e: { field: string }) => e.field), ['pfx']);
    }
    const answer = await call('POST', '/certificates/import', { token: tokens.admin, ifMatch: etag, body: { pfx: pfxBase64, password: PFX_PASSWORD } });
    assert.equal(answer.status, 201, answer.text);
    const id = thumbprint(issued.certPem);
    assert.equal(answer.json.id, id);
    assert.equal(answer.json.certificate.friendlyName, 'From OpenSSL');
    assert.equal(answer.json.certificate.subject, 'CN=imported.example.test');
    assert.deepEqual(answer.json.certificate.problems, []);
    const stored = readFileSync(join(storeDir, `${id}.pem`), 'utf8');
    assert.equal((stored.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'leaf and its chain');
    assert.equal(thumbprint(stored), id, 'leaf first');
    assert.equal(statSync(join(storeDir, `${id}.key`)).mode & 0o777, 0o600);
    assert.ok(new X509Certificate(stored).checkPrivateKey(createPrivateKey(readFileSync(join(storeDir, `${id}.key`)))));
    const again = await call('POST', '/certificates/import', { token: tokens.admin, ifMatch: answer.headers.etag as string, body: { pfx: pfxBase64, password: PFX_PASSWORD, friendlyName: 'twice' } });
    assert.equal(again.status, 409);
    assert.equal(again.json.code, 'certificate_exists');
  });

  test('a PEM pair: a key of another certificate is 422 naming keyPem; one form only; the pair with a friendly name', async () => {
    const issued = await createSelfSignedServer({ dnsNames: ['pem.example.test'] });
    const { etag } = await listing();
    const mismatch = await call('POST', '/certificates/import', { token: tokens.admin, ifMatch: etag, body: { certificatePem: issued.certPem, keyPem: pki.clients.valid.issued.keyPem } });
    assert.equal(mismatch.status, 422);
    assert.deepEqual(mismatch.json.errors.map((e: { field: string }) => e.field), ['keyPem']);
    const half = await call('POST', '/certificates/import', { token: tokens.admin, ifMatch: etag, body: { certificatePem: issued.certPem } });
    assert.equal(half.status, 422);
    assert.deepEqual(half.json.errors.map((e: { field: string }) => e.field), ['keyPem']);
    const both = await call('POST', '/certificates/import', { token: tokens.admin, ifMatch: etag, body: { pfx: 'AAAA', password: 'x', certificatePem: issued.certPem, keyPem: issued.keyPem } });
    assert.equal(both.status, 422);
    const good = await call('POST', '/certificates/import', { token: tokens.admin, ifMatch: etag, body: { certificatePem: issued.certPem, keyPem: issued.keyPem, friendlyName: 'PEM pair' } });
    assert.equal(good.status, 201, good.text);
    assert.equal(good.json.id, thumbprint(issued.certPem));
    assert.equal(good.json.certificate.friendlyName, 'PEM pair');
    assert.equal(good.json.certificate.keyType, 'EC');
  });
});

describe('Remove, and what never leaves', () => {
  test('a store certificate a binding uses is 409; an unused one is removed with its files; an unknown id 404', async () => {
    const imported = (await listing()).certificates.find((c) => c.subject === 'CN=imported.example.test');
    assert.ok(imported);
    await writeFile(running.configFile, yaml(`  - name: store-user\n    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${imported.files.certFile}, keyFile: ${imported.files.keyFile} } }]\n    farm: web\n`));
    assert.equal(await running.gatehouse.reload(), true, JSON.stringify(running.gatehouse.lastReload));
    const { etag, certificates } = await listing();
    assert.deepEqual(certificates.find((c) => c.id === imported.id).usedBy, [{ site: 'store-user', binding: 'https://127.0.0.1:0', as: 'certificate' }]);
    const used = await call('DELETE', `/certificates/${imported.id}`, { token: tokens.admin, ifMatch: etag });
    assert.equal(used.status, 409, used.text);
    assert.equal(used.json.code, 'certificate_in_use');
    assert.match(used.json.detail, /store-user/);
    const unused = certificates.find((c) => c.friendlyName === 'RSA one');
    const removed = await call('DELETE', `/certificates/${unused.id}`, { token: tokens.admin, ifMatch: etag });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(existsSync(unused.files.certFile), false);
    assert.equal(existsSync(unused.files.keyFile), false);
    assert.equal(removed.json.certificates.some((c: { id: string }) => c.id === unused.id), false);
    const unknown = await call('DELETE', `/certificates/${'0'.repeat(40)}`, { token: tokens.admin, ifMatch: removed.headers.etag as string });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'certificate_not_found');
  });

  test('no private key, password or PFX in any answer, the audit log or the event log; the audit names subject and thumbprints', async () => {
    assert.ok(answers.length > 10);
    for (const answer of answers) {
      assert.doesNotMatch(answer.text, /PRIVATE KEY/);
      assert.ok(!answer.text.includes(PFX_PASSWORD));
      assert.ok(!answer.text.includes(pfxBase64.slice(0, 60)));
    }
    const audit = await readFile(join(pki.dir, 'audit.log'), 'utf8');
    assert.doesNotMatch(audit, /PRIVATE KEY/);
    assert.ok(!audit.includes(PFX_PASSWORD));
    assert.ok(!audit.includes(pfxBase64.slice(0, 60)));
    const lines = audit.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const imported = lines.find((line) => line.action === 'importCertificate' && line.phase === 'attempt');
    assert.ok(imported, audit);
    assert.equal(imported.target.operation.subject, 'CN=imported.example.test');
    assert.match(imported.target.operation.thumbprintSha1, /^[0-9A-F]{40}$/);
    assert.ok(lines.some((line) => line.action === 'importCertificate' && line.result === 'failed' && /password/.test(line.reason)), 'the refused import is audited');
    assert.ok(lines.some((line) => line.action === 'createSelfSignedCertificate' && line.result === 'applied' && line.after.id));
    for (const event of running.events) assert.doesNotMatch(event, /PRIVATE KEY/);
  });
});
