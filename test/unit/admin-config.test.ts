/**
 * The admin key's new parts: certificate, trustedCaFile, users, metrics, auditLog; the problems a user can
 * make, each naming its key; a non-loopback address without a certificate is a problem.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problem.js';
import { normalizeSubject, tokenDigest } from '../../src/config/admin-schema.js';
import { operationFromJson } from '../../src/admin/operations.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { makeTempDir, type TempDir } from '../support/temp.js';

let pki: TestPki;
let tmp: TempDir | undefined;
let dir: string;

before(async () => {
  pki = await createTestPki();
  tmp = await makeTempDir('gatehouse-admin-config-');
  dir = tmp.dir;
  await writeFile(join(dir, 'ci.token'), `${'a'.repeat(43)}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'short.token'), 'abc\n', { mode: 0o600 });
});

after(async () => {
  await pki?.cleanup();
  await tmp?.remove();
});

const base = `sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [{ address: 127.0.0.1:9 }]
`;

async function problemsOf(admin: string): Promise<string[]> {
  try {
    await loadConfigText(`${base}admin:\n${admin}`, 'gatehouse.yaml', dir);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.lines];
    throw error;
  }
}

describe('the admin key', () => {
  test('a full admin key loads: https certificate, badge CA, users of each kind, metrics, audit log beside the config', async () => {
    const { config } = await loadConfigText(
      `${base}admin:
  address: 0.0.0.0
  port: 9443
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  trustedCaFile: ${pki.caFile}
  metrics: authenticated
  users:
    - { subject: "CN=Alice Admin, O=Example", role: administrator }
    - { thumbprint: "3f:2a:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11", role: operator }
    - { name: ci, tokenFile: ci.token, role: viewer }
`,
      'gatehouse.yaml',
      dir,
    );
    const admin = config.admin!;
    assert.ok(admin.certificate);
    assert.ok(admin.trustedCa);
    assert.equal(admin.metrics, 'authenticated');
    assert.equal(admin.auditLogFile, join(dir, 'audit.log'));
    assert.deepEqual(admin.users?.map((u) => u.kind), ['subject', 'thumbprint', 'token']);
    assert.deepEqual(admin.users?.[1], { kind: 'thumbprint', thumbprint: '3F2A00112233445566778899AABBCCDDEEFF0011', role: 'operator' });
    const token = admin.users?.[2];
    assert.ok(token?.kind === 'token' && token.tokenSha256.equals(tokenDigest('a'.repeat(43))), 'only the digest is kept');
    assert.equal(JSON.stringify(config.admin).includes('a'.repeat(43)), false);
    assert.ok(config.files.includes(join(dir, 'ci.token')), 'a token file change reloads');
  });

  test('a non-loopback address without a certificate is a problem; mistakes name their key', async () => {
    const open = await problemsOf('  address: 0.0.0.0\n  port: 9443\n');
    assert.equal(open.length, 1);
    assert.match(open[0]!, /^gatehouse\.yaml:\d+ admin\.address: 0\.0\.0\.0 is reachable from other machines, and the admin listener has no certificate.*\(expected admin\.certificate/);
    const cases: [string, RegExp][] = [
      ['  port: 1\n  trustedCaFile: ' + pki.caFile + '\n', /admin\.trustedCaFile: admin badges need the admin listener to speak https/],
      ['  port: 1\n  users: [{ role: viewer }]\n', /admin\.users\[0\]: .*no way to sign in \(expected exactly one of subject, thumbprint or tokenFile\)/],
      ['  port: 1\n  users: [{ subject: "CN=x", thumbprint: "00", role: viewer }]\n', /admin\.users\[0\]\.thumbprint: .*40 hex digits/],
      ['  port: 1\n  users: [{ tokenFile: ci.token, role: viewer }]\n', /admin\.users\[0\]\.name: .*is missing/],
      ['  port: 1\n  users: [{ name: ci, tokenFile: ci.token, role: root }]\n', /admin\.users\[0\]\.role: 'root' is not allowed \(expected one of: viewer, operator, administrator\)/],
      ['  port: 1\n  users: [{ name: ci, tokenFile: nothing.token, role: viewer }]\n', /admin\.users\[0\]\.tokenFile: .*nothing\.token does not exist \(expected a token file written by `gatehouse admin token/],
      ['  port: 1\n  users: [{ name: ci, tokenFile: short.token, role: viewer }]\n', /admin\.users\[0\]\.tokenFile: .*a token of 3 characters/],
      ['  port: 1\n  users: [{ subject: "CN=x", role: viewer }]\n', /admin\.users\[0\]\.subject: a certificate user, but no CA is trusted/],
      ['  port: 1\n  metrics: closed\n', /admin\.metrics: 'closed' is not allowed \(expected one of: open, authenticated\)/],
      ['  port: 1\n  certificate: { certFile: nothing.pem, keyFile: nothing.key }\n', /admin\.certificate\.certFile: .*nothing\.pem does not exist/],
    ];
    for (const [admin, expected] of cases) {
      const lines = await problemsOf(admin);
      assert.ok(lines.some((line) => expected.test(line)), `${admin}\n${lines.join('\n')}`);
    }
  });

  test('subjects compare without regard to spaces and attribute-name case', () => {
    assert.equal(normalizeSubject('CN=Alice Admin, O=Example'), normalizeSubject('cn=Alice Admin,O=Example'));
    assert.notEqual(normalizeSubject('CN=Alice Admin, O=Example'), normalizeSubject('CN=Alice Admin, O=Other'));
  });

  test('operations are plain JSON, checked by one schema', () => {
    const operation = { type: 'server.setState', farm: 'web', address: '127.0.0.1:9', state: 'drain' };
    assert.deepEqual(operationFromJson(JSON.parse(JSON.stringify(operation))), operation);
    assert.throws(() => operationFromJson({ ...operation, state: 'asleep' }), /state/);
    assert.throws(() => operationFromJson({ type: 'farm.delete', farm: 'web' }), /type/);
  });
});
