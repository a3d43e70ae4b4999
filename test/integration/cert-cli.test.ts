/**
 * `gatehouse cert`: create-ca, create-server, create-self-signed, issue-client (and their --crl-url /
 * --ocsp-url), revoke, crl and inspect, run as real child processes in temp folders and checked with the
 * openssl command line, curl and node:tls; then the certificates they make used by a real Gatehouse
 * (`gatehouse start`).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { access, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createCa as createCaPki, issueOcspResponder } from '../../src/pki/index.js';
import { startBackend } from '../support/backends.js';
import { writeText } from './cli-helpers.js';
import {
  assertMode0600,
  certificatesIn,
  curlIn,
  gatehouse,
  gatehouseOk,
  leafOfPem,
  normalizeSerial,
  openssl,
  opensslFingerprint,
  opensslOk,
  opensslSans,
  opensslSerial,
  valueOf,
} from './e2e-helpers.js';
import { tempDir } from '../support/temp.js';
import { startCli } from '../support/gatehouse.js';
import { within } from '../support/within.js';

const DAY = 86_400_000;
const SHORT_HOST = hostname().split('.')[0] as string;
const T = { timeout: 120_000 };

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** A CA folder `name` made by `gatehouse cert create-ca` in `dir`. */
async function createCa(dir: string, name: string, out: string, ...extra: string[]): Promise<string> {
  await gatehouseOk(dir, 'cert', 'create-ca', '--name', name, '--out', out, ...extra);
  return join(dir, out);
}

describe('gatehouse cert create-ca', () => {
  test('writes ca.pem and ca.key (0600): an ECDSA P-256 CA by default', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    const result = await gatehouseOk(dir, 'cert', 'create-ca', '--name', 'Example Test Root', '--out', 'ca');
    const caPem = join(dir, 'ca', 'ca.pem');
    const caKey = join(dir, 'ca', 'ca.key');
    assert.match(result.stdout, new RegExp(`wrote ${caPem}`), result.stdout);
    assert.match(result.stdout, new RegExp(`wrote ${caKey}`), result.stdout);
    await assertMode0600(caKey);
    const text = await opensslOk(dir, 'x509', '-in', caPem, '-noout', '-text');
    assert.match(text, /Public Key Algorithm: id-ecPublicKey/, text);
    assert.match(text, /prime256v1|P-256/, text);
    assert.match(text, /CA:TRUE/, text);
    assert.match(text, /Subject: CN ?= ?Example Test Root/, text);
    // The key is the certificate's key.
    const keyPub = await opensslOk(dir, 'pkey', '-in', caKey, '-pubout');
    const certPub = await opensslOk(dir, 'x509', '-in', caPem, '-noout', '-pubkey');
    assert.equal(keyPub, certPub, 'ca.key holds the private key of ca.pem');
    // The printed thumbprints are the certificate's.
    assert.equal(valueOf(result.stdout, 'SHA-1'), await opensslFingerprint(dir, caPem, 'sha1'));
    assert.equal(valueOf(result.stdout, 'SHA-256'), await opensslFingerprint(dir, caPem, 'sha256'));
  });

  test('--rsa 2048 gives an RSA 2048-bit key', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    await createCa(dir, 'RSA Root', 'rsa-ca', '--rsa', '2048');
    const text = await opensslOk(dir, 'x509', '-in', join(dir, 'rsa-ca', 'ca.pem'), '-noout', '-text');
    assert.match(text, /Public Key Algorithm: rsaEncryption/, text);
    assert.match(text, /Public-Key: \(2048 bit\)/, text);
    await assertMode0600(join(dir, 'rsa-ca', 'ca.key'));
  });

  test('refuses to overwrite without --force, naming the file and --force; replaces it with --force', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    const caDir = await createCa(dir, 'First Root', 'ca');
    const before = await readFile(join(caDir, 'ca.pem'), 'utf8');
    const beforeKey = await readFile(join(caDir, 'ca.key'), 'utf8');

    const again = await gatehouse(dir, 'cert', 'create-ca', '--name', 'Second Root', '--out', 'ca');
    assert.equal(again.code, 1, `exit code\n${again.stdout}${again.stderr}`);
    assert.match(again.stderr, /ca\.(pem|key)/, `names the file: ${again.stderr}`);
    assert.ok(again.stderr.includes(join(caDir, 'ca.')), `names the file with its folder: ${again.stderr}`);
    assert.match(again.stderr, /--force/, `mentions --force: ${again.stderr}`);
    assert.equal(await readFile(join(caDir, 'ca.pem'), 'utf8'), before, 'ca.pem unchanged');
    assert.equal(await readFile(join(caDir, 'ca.key'), 'utf8'), beforeKey, 'ca.key unchanged');

    await gatehouseOk(dir, 'cert', 'create-ca', '--name', 'Second Root', '--out', 'ca', '--force');
    const after = await readFile(join(caDir, 'ca.pem'), 'utf8');
    assert.notEqual(after, before, 'ca.pem replaced');
    assert.match(new X509Certificate(after).subject, /CN=Second Root/);
    await assertMode0600(join(caDir, 'ca.key'));
  });
});

describe('gatehouse cert create-server / create-self-signed', () => {
  test('create-server: the given name plus localhost, this machine\'s short name and 127.0.0.1; chains to the CA', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    await createCa(dir, 'Server Test Root', 'ca');
    const result = await gatehouseOk(dir, 'cert', 'create-server', '--ca', 'ca', '--dns', 'app.example.test');
    const serverPem = join(dir, 'server.pem');
    await assertMode0600(join(dir, 'server.key'));
    const sans = await opensslSans(dir, serverPem);
    for (const want of ['DNS:app.example.test', 'DNS:localhost', `DNS:${SHORT_HOST}`, 'IP Address:127.0.0.1']) {
      assert.ok(sans.includes(want), `SAN ${want} in ${JSON.stringify(sans)}`);
    }
    const answers = valueOf(result.stdout, 'answers for').split(',').map((s) => s.trim());
    for (const want of ['app.example.test', 'localhost', SHORT_HOST, '127.0.0.1']) {
      assert.ok(answers.includes(want), `"answers for" names ${want}: ${JSON.stringify(answers)}`);
    }
    const verify = await openssl(dir, 'verify', '-CAfile', join(dir, 'ca', 'ca.pem'), serverPem);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /server\.pem: OK/);
    const text = await opensslOk(dir, 'x509', '-in', serverPem, '-noout', '-text');
    assert.match(text, /TLS Web Server Authentication/, 'EKU serverAuth');
  });

  test('create-self-signed: verifies against itself with openssl and node:tls trusts it', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    await gatehouseOk(dir, 'cert', 'create-self-signed', '--out', 'self');
    const certFile = join(dir, 'self', 'server.pem');
    const keyFile = join(dir, 'self', 'server.key');
    await assertMode0600(keyFile);
    const verify = await openssl(dir, 'verify', '-CAfile', certFile, certFile);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /: OK/);

    const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    const server = tls.createServer({ cert, key }, (socket) => socket.end('hello\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const greeting = await within(
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: cert }, () => {
          if (!socket.authorized) reject(new Error(`not authorized: ${String(socket.authorizationError)}`));
        });
        let data = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (data += chunk));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      }),
      10_000,
      'a TLS connection trusting the self-signed certificate',
    );
    assert.equal(greeting, 'hello\n');
  });

  test('--no-default-names --dns only.test: exactly that name', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    await createCa(dir, 'Names Test Root', 'ca');
    const result = await gatehouseOk(dir, 'cert', 'create-server', '--ca', 'ca', '--no-default-names', '--dns', 'only.test', '--out', 'only');
    assert.deepEqual(await opensslSans(dir, join(dir, 'only', 'server.pem')), ['DNS:only.test']);
    assert.equal(valueOf(result.stdout, 'answers for'), 'only.test');
  });
});

describe('gatehouse cert issue-client', () => {
  test('PEM + key (0600) + PFX (0600), the printed thumbprints, clientAuth, and the printed PFX password', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    await createCa(dir, 'Client Test Root', 'ca');
    const started = Date.now();
    const result = await gatehouseOk(dir, 'cert', 'issue-client', '--ca', 'ca', '--cn', 'Alice', '--email', 'alice@example.test', '--ou', 'Engineering', '--o', 'Example Corp', '--days', '30', '--out', 'clients');
    const pem = join(dir, 'clients', 'alice.pem');
    const key = join(dir, 'clients', 'alice.key');
    const pfx = join(dir, 'clients', 'alice.pfx');
    for (const file of [pem, key, pfx]) assert.match(result.stdout, new RegExp(`wrote ${file}`), result.stdout);
    await assertMode0600(key);
    await assertMode0600(pfx);

    assert.equal(valueOf(result.stdout, 'SHA-1'), await opensslFingerprint(dir, pem, 'sha1'), 'printed SHA-1 = openssl -fingerprint -sha1');
    assert.equal(valueOf(result.stdout, 'SHA-256'), await opensslFingerprint(dir, pem, 'sha256'), 'printed SHA-256 = openssl -fingerprint -sha256');

    const text = await opensslOk(dir, 'x509', '-in', pem, '-noout', '-text');
    assert.match(text, /X509v3 Extended Key Usage:\s*\n\s*TLS Web Client Authentication/, text);
    const subject = await opensslOk(dir, 'x509', '-in', pem, '-noout', '-subject', '-nameopt', 'RFC2253');
    for (const part of ['CN=Alice', 'OU=Engineering', 'O=Example Corp', 'alice@example.test']) assert.ok(subject.includes(part), `${part} in ${subject}`);
    assert.match(await opensslOk(dir, 'x509', '-in', pem, '-noout', '-ext', 'subjectAltName'), /email:alice@example\.test/);
    const leaf = leafOfPem(await readFile(pem, 'utf8'));
    const lifetime = Date.parse(leaf.validTo) - started;
    assert.ok(lifetime > 29 * DAY && lifetime <= 30 * DAY + 60_000, `--days 30: valid to ${leaf.validTo}`);
    const verify = await openssl(dir, 'verify', '-CAfile', join(dir, 'ca', 'ca.pem'), pem);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);

    const password = valueOf(result.stdout, 'PFX password');
    assert.ok(password.length >= 8, `a printed password: ${password}`);
    const opened = await openssl(dir, 'pkcs12', '-in', pfx, '-passin', `pass:${password}`, '-nokeys');
    assert.equal(opened.code, 0, opened.stdout + opened.stderr);
    assert.ok(certificatesIn(opened.stdout).some((c) => c.raw.equals(leaf.raw)), 'the PFX holds the certificate of alice.pem');
    const wrong = await openssl(dir, 'pkcs12', '-in', pfx, '-passin', 'pass:not-the-password', '-nokeys');
    assert.notEqual(wrong.code, 0, 'a wrong password fails');
    assert.doesNotMatch(wrong.stdout, /BEGIN CERTIFICATE/);
  });
});

describe('gatehouse cert revoke / crl', () => {
  test('revoke lists the serial in crl.pem; openssl verify -crl_check says revoked; crl rewrites; other CA refused', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    const caDir = await createCa(dir, 'Revocation Test Root', 'ca');
    const otherCa = await createCa(dir, 'Unrelated Root', 'other-ca');
    await gatehouseOk(dir, 'cert', 'issue-client', '--ca', 'ca', '--cn', 'Rita Revoked');
    await gatehouseOk(dir, 'cert', 'issue-client', '--ca', 'ca', '--cn', 'Kept Karl');
    const rita = join(dir, 'rita-revoked.pem');
    const karl = join(dir, 'kept-karl.pem');
    const ritaSerial = await opensslSerial(dir, rita);
    const karlSerial = await opensslSerial(dir, karl);

    const revoked = await gatehouseOk(dir, 'cert', 'revoke', '--ca', 'ca', rita);
    assert.match(revoked.stdout, new RegExp(`serial ${ritaSerial}`, 'i'), revoked.stdout);
    const crlPem = join(caDir, 'crl.pem');
    assert.match(revoked.stdout, new RegExp(`wrote ${crlPem}`), revoked.stdout);

    const listed = async () => {
      const text = await opensslOk(dir, 'crl', '-in', crlPem, '-noout', '-text');
      return { text, serials: [...text.matchAll(/Serial Number: ([0-9A-Fa-f:]+)/g)].map((m) => normalizeSerial(m[1] as string)) };
    };
    const first = await listed();
    assert.deepEqual(first.serials, [ritaSerial], first.text);
    assert.ok(!first.serials.includes(karlSerial));
    const signed = await openssl(dir, 'crl', '-in', crlPem, '-CAfile', join(caDir, 'ca.pem'), '-noout');
    assert.match(signed.stdout + signed.stderr, /verify OK/, 'the CRL is signed by the CA');

    const ritaCheck = await openssl(dir, 'verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', join(caDir, 'ca.pem'), rita);
    assert.notEqual(ritaCheck.code, 0, 'verify fails for the revoked certificate');
    assert.match(ritaCheck.stdout + ritaCheck.stderr, /revoked/, ritaCheck.stdout + ritaCheck.stderr);
    const karlCheck = await openssl(dir, 'verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', join(caDir, 'ca.pem'), karl);
    assert.equal(karlCheck.code, 0, karlCheck.stdout + karlCheck.stderr);

    // crl rewrites the CRL (crl.pem and crl.der) from revoked.json, with the validity asked for.
    await rm(crlPem);
    await rm(join(caDir, 'crl.der'));
    const rewritten = await gatehouseOk(dir, 'cert', 'crl', '--ca', 'ca', '--days', '30');
    assert.match(rewritten.stdout, /\(1 revoked\)/, rewritten.stdout);
    assert.ok(await exists(crlPem), 'crl.pem rewritten');
    assert.ok(await exists(join(caDir, 'crl.der')), 'crl.der rewritten');
    const second = await listed();
    assert.deepEqual(second.serials, [ritaSerial], second.text);
    const nextUpdate = /Next Update: (.+)/.exec(second.text)?.[1];
    assert.ok(nextUpdate, second.text);
    const nextMs = Date.parse(nextUpdate);
    assert.ok(Math.abs(nextMs - (Date.now() + 30 * DAY)) < 10 * 60_000, `--days 30: next update ${nextUpdate}`);
    const der = await opensslOk(dir, 'crl', '-inform', 'DER', '-in', join(caDir, 'crl.der'), '-noout', '-text');
    assert.match(der, new RegExp(`Serial Number: 0*${ritaSerial}`, 'i'), 'crl.der lists it too');

    // Revoking it again (here as DER) keeps one entry.
    await opensslOk(dir, 'x509', '-in', rita, '-outform', 'DER', '-out', 'rita.der');
    const twice = await gatehouseOk(dir, 'cert', 'revoke', '--ca', 'ca', 'rita.der');
    assert.match(twice.stdout, /\(1 revoked\)/, twice.stdout);
    assert.deepEqual((await listed()).serials, [ritaSerial]);

    // A certificate of another CA: refused with a clear message; that CA's folder gets no CRL.
    const foreign = await gatehouse(dir, 'cert', 'revoke', '--ca', 'other-ca', karl);
    assert.equal(foreign.code, 1, foreign.stdout + foreign.stderr);
    assert.match(foreign.stderr, /was not issued by the CA in/, foreign.stderr);
    assert.ok(foreign.stderr.includes(otherCa), `names the CA folder: ${foreign.stderr}`);
    assert.match(foreign.stderr, /CN=Revocation Test Root/, `names the certificate's issuer: ${foreign.stderr}`);
    assert.equal(await exists(join(otherCa, 'crl.pem')), false, 'no CRL written for the other CA');
    assert.deepEqual((await listed()).serials, [ritaSerial], 'the first CA\'s CRL is unchanged');
  });
});

describe('gatehouse cert inspect', () => {
  test('prints subject, issuer, SANs, usages, validity with days left, serial and thumbprints; --ca says whether it chains', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    await createCa(dir, 'Inspect Test Root', 'ca');
    await createCa(dir, 'Some Other CA', 'other');
    await gatehouseOk(dir, 'cert', 'issue-client', '--ca', 'ca', '--cn', 'Ivy Inspect', '--email', 'ivy@example.test', '--o', 'Example Corp', '--days', '100');
    const pem = join(dir, 'ivy-inspect.pem');

    const result = await gatehouseOk(dir, 'cert', 'inspect', pem);
    const out = result.stdout;
    assert.match(valueOf(out, 'subject'), /CN=Ivy Inspect/);
    assert.match(valueOf(out, 'subject'), /O=Example Corp/);
    assert.equal(valueOf(out, 'issuer'), 'CN=Inspect Test Root');
    assert.match(valueOf(out, 'SANs'), /email:ivy@example\.test/);
    assert.match(valueOf(out, 'key usage'), /digitalSignature/);
    assert.match(valueOf(out, 'ext. usage'), /clientAuth/);
    assert.match(valueOf(out, 'valid from'), /^\d{4}-\d\d-\d\dT/);
    const validTo = valueOf(out, 'valid to');
    const days = /\((\d+) days left\)/.exec(validTo);
    assert.ok(days, `days left in: ${validTo}`);
    assert.ok(Number(days[1]) >= 99 && Number(days[1]) <= 100, `about 100 days left: ${validTo}`);
    assert.equal(normalizeSerial(valueOf(out, 'serial')), await opensslSerial(dir, pem));
    assert.equal(valueOf(out, 'SHA-1'), await opensslFingerprint(dir, pem, 'sha1'));
    assert.equal(valueOf(out, 'SHA-256'), await opensslFingerprint(dir, pem, 'sha256'));
    assert.doesNotMatch(out, /chains to CA/, 'no chain verdict without --ca');

    const good = await gatehouse(dir, 'cert', 'inspect', pem, '--ca', join('ca', 'ca.pem'));
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^chains to CA yes/m, good.stdout);

    const bad = await gatehouse(dir, 'cert', 'inspect', pem, '--ca', join('other', 'ca.pem'));
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    const verdict = bad.stdout.split('\n').find((l) => l.startsWith('chains to CA'));
    assert.ok(verdict, bad.stdout);
    assert.match(verdict, /^chains to CA NO: /, verdict);
    assert.match(verdict, /CN=Inspect Test Root/, `the reason names the issuer: ${verdict}`);

    // The leaf alone (no chain in the file) and DER: the same verdicts, the same thumbprint.
    await opensslOk(dir, 'x509', '-in', pem, '-out', 'leaf.pem');
    await opensslOk(dir, 'x509', '-in', pem, '-outform', 'DER', '-out', 'leaf.der');
    for (const file of ['leaf.pem', 'leaf.der']) {
      const plain = await gatehouseOk(dir, 'cert', 'inspect', file);
      assert.equal(valueOf(plain.stdout, 'SHA-256'), valueOf(out, 'SHA-256'), file);
      const yes = await gatehouse(dir, 'cert', 'inspect', file, '--ca', join('ca', 'ca.pem'));
      assert.equal(yes.code, 0, `${file}: ${yes.stdout}${yes.stderr}`);
      assert.match(yes.stdout, /^chains to CA yes/m, `${file}: ${yes.stdout}`);
      const no = await gatehouse(dir, 'cert', 'inspect', file, '--ca', join('other', 'ca.pem'));
      assert.equal(no.code, 1, `${file}: ${no.stdout}${no.stderr}`);
      assert.match(no.stdout, /^chains to CA NO: .*CN=Inspect Test Root/m, `${file}: ${no.stdout}`);
    }

    // A server certificate: DNS/IP SANs and serverAuth.
    await gatehouseOk(dir, 'cert', 'create-server', '--ca', 'ca', '--dns', 'app.example.test');
    const server = await gatehouseOk(dir, 'cert', 'inspect', 'server.pem');
    assert.match(valueOf(server.stdout, 'SANs'), /DNS:app\.example\.test/);
    assert.match(valueOf(server.stdout, 'SANs'), /IP Address:127\.0\.0\.1/);
    assert.match(valueOf(server.stdout, 'ext. usage'), /serverAuth/);
  });
});

describe('gatehouse cert --crl-url / --ocsp-url', () => {
  const CRL = 'http://pki.example.test/ca.crl';
  const CRL_MIRROR = 'http://mirror.example.test:8080/ca.crl';
  const OCSP = 'http://ocsp.example.test/';
  /** `openssl x509 -noout -ext crlDistributionPoints,authorityInfoAccess` as it prints the given URLs. */
  const opensslText = (crls: string[], ocsps: string[]) =>
    (crls.length ? `X509v3 CRL Distribution Points: \n${crls.map((u) => `    Full Name:\n      URI:${u}\n`).join('')}` : '') +
    (ocsps.length ? `Authority Information Access: \n${ocsps.map((u) => `    OCSP - URI:${u}\n`).join('')}` : '');
  const pointers = (dir: string, file: string) => opensslOk(dir, 'x509', '-noout', '-ext', 'crlDistributionPoints,authorityInfoAccess', '-in', file);

  test('create-server, create-self-signed and issue-client write the pointers; inspect shows them; without the flags there are none', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    await createCa(dir, 'Pointer Test Root', 'ca');
    await gatehouseOk(dir, 'cert', 'create-server', '--ca', 'ca', '--no-default-names', '--dns', 'app.example.test', '--crl-url', CRL, CRL_MIRROR, '--ocsp-url', OCSP);
    await gatehouseOk(dir, 'cert', 'issue-client', '--ca', 'ca', '--cn', 'Paula Pointer', '--ocsp-url', OCSP, '--crl-url', CRL);
    await gatehouseOk(dir, 'cert', 'create-self-signed', '--out', 'self', '--crl-url', CRL);
    await gatehouseOk(dir, 'cert', 'issue-client', '--ca', 'ca', '--cn', 'No Pointers');

    assert.equal(await pointers(dir, 'server.pem'), opensslText([CRL, CRL_MIRROR], [OCSP]));
    assert.equal(await pointers(dir, 'paula-pointer.pem'), opensslText([CRL], [OCSP]));
    assert.equal(await pointers(dir, join('self', 'server.pem')), opensslText([CRL], []));
    assert.equal(await pointers(dir, 'no-pointers.pem'), '');
    assert.equal(leafOfPem(await readFile(join(dir, 'server.pem'), 'utf8')).infoAccess, `OCSP - URI:${OCSP}`);
    for (const file of ['server.pem', 'paula-pointer.pem']) {
      const verify = await openssl(dir, 'verify', '-CAfile', join('ca', 'ca.pem'), file);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    }

    const server = (await gatehouseOk(dir, 'cert', 'inspect', 'server.pem')).stdout;
    assert.equal(valueOf(server, 'CRL distribution points:'), `${CRL}, ${CRL_MIRROR}`);
    assert.equal(valueOf(server, 'OCSP responders:'), OCSP);
    const self = (await gatehouseOk(dir, 'cert', 'inspect', join('self', 'server.pem'))).stdout;
    assert.equal(valueOf(self, 'CRL distribution points:'), CRL);
    assert.doesNotMatch(self, /^OCSP responders:/m, self);
    const plain = (await gatehouseOk(dir, 'cert', 'inspect', 'no-pointers.pem')).stdout;
    assert.doesNotMatch(plain, /^(CRL distribution points|OCSP responders):/m, plain);
    // The verdict still comes last.
    const chained = await gatehouseOk(dir, 'cert', 'inspect', 'paula-pointer.pem', '--ca', join('ca', 'ca.pem'));
    assert.match(chained.stdout, /^OCSP responders: http:\/\/ocsp\.example\.test\/\nchains to CA yes/m, chained.stdout);
    // A delegated OCSP responder's certificate (src/pki's issueOcspResponder) names its usage.
    const responder = await issueOcspResponder({ ca: await createCaPki({ commonName: 'Responder Test CA' }), commonName: 'Responder' });
    await writeText(dir, 'responder.pem', responder.certPem);
    assert.equal(valueOf((await gatehouseOk(dir, 'cert', 'inspect', 'responder.pem')).stdout, 'ext. usage'), 'OCSPSigning');
  });

  test('a URL that is not http:// is refused naming the flag, the value and what was expected; nothing is written', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-');
    await createCa(dir, 'Bad Pointer Root', 'ca');
    const ftp = await gatehouse(dir, 'cert', 'issue-client', '--ca', 'ca', '--cn', 'Fred', '--crl-url', CRL, 'ftp://pki.example.test/ca.crl');
    assert.equal(ftp.code, 1, ftp.stdout + ftp.stderr);
    assert.match(ftp.stderr, /^gatehouse: --crl-url ftp:\/\/pki\.example\.test\/ca\.crl: uses scheme ftp:, not http: \(expected an absolute http:\/\/ URL, since CRLs and OCSP responses are fetched over plain http\)$/m, ftp.stderr);
    assert.equal(ftp.stdout, '');
    assert.equal(await exists(join(dir, 'fred.pem')), false, 'no certificate written');

    const notUrl = await gatehouse(dir, 'cert', 'create-server', '--ca', 'ca', '--ocsp-url', 'ocsp.example.test');
    assert.equal(notUrl.code, 1, notUrl.stdout + notUrl.stderr);
    assert.match(notUrl.stderr, /--ocsp-url ocsp\.example\.test: is not a URL \(expected an absolute http:\/\/ URL/, notUrl.stderr);
    assert.equal(await exists(join(dir, 'server.pem')), false, 'no certificate written');

    const https = await gatehouse(dir, 'cert', 'create-self-signed', '--ocsp-url', 'https://ocsp.example.test/');
    assert.equal(https.code, 1, https.stdout + https.stderr);
    assert.match(https.stderr, /--ocsp-url https:\/\/ocsp\.example\.test\/: uses scheme https:, not http:/, https.stderr);
  });
});

describe('gatehouse cert: the certificates in a real Gatehouse', () => {
  test('the issued client gets 200 with its certificate forwarded; after revoke + crl, a Gatehouse with the new CRL answers 403.13', T, async (t) => {
    const dir = await tempDir(t, 'gatehouse-cert-e2e-');
    await createCa(dir, 'E2E Root', 'ca');
    await gatehouseOk(dir, 'cert', 'create-server', '--ca', 'ca', '--dns', 'app.example.test', '--out', 'tls');
    const client = await gatehouseOk(dir, 'cert', 'issue-client', '--ca', 'ca', '--cn', 'Alice E2E', '--out', 'clients', '--name', 'alice');
    assert.match(client.stdout, /curl: curl --cert /, client.stdout);
    await gatehouseOk(dir, 'cert', 'crl', '--ca', 'ca'); // an empty CRL, so the config names crl.pem from the start

    const backend = await startBackend('cert-e2e');
    t.after(() => backend.close());
    await writeText(
      dir,
      'gatehouse.yaml',
      `sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 0
        certificate:
          certFile: tls/server.pem
          keyFile: tls/server.key
    ssl:
      requireSsl: true
      clientCertificates: require
      trustedCaFile: ca/ca.pem
      crlFile: ca/crl.pem
    farm: web
farms:
  - name: web
    servers:
      - address: ${backend.address}
accessLog: off
drainTimeout: 1
`,
    );
    const validated = await gatehouse(dir, 'validate', '-c', 'gatehouse.yaml');
    assert.equal(validated.stdout, 'ok\n', validated.stdout + validated.stderr);

    const alicePem = join(dir, 'clients', 'alice.pem');
    const expectedDer = leafOfPem(await readFile(alicePem, 'utf8')).raw.toString('base64');
    const curlArgs = (port: number, path: string, withCert = true) => [
      '--cacert',
      'ca/ca.pem',
      ...(withCert ? ['--cert', 'clients/alice.pem', '--key', 'clients/alice.key'] : []),
      '--resolve',
      `app.example.test:${port}:127.0.0.1`,
      `https://app.example.test:${port}${path}`,
    ];

    const first = startCli(t, dir, 'gatehouse.yaml');
    const port = Number((await first.waitFor('stdout', /^listening https:\/\/127\.0\.0\.1:(\d+) \(site secure\)$/m))[1]);
    const ok = await curlIn(dir, curlArgs(port, '/e2e/ok'));
    assert.equal(ok.status, 200, `${ok.body}\n${ok.stderr}`);
    const seen = backend.received.filter((r) => r.url === '/e2e/ok');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.headers['x-arr-clientcert'], expectedDer, 'X-ARR-ClientCert = base64 DER of the issued client certificate');
    const viaLocalhost = await curlIn(dir, ['--cacert', 'ca/ca.pem', '--cert', 'clients/alice.pem', '--key', 'clients/alice.key', `https://localhost:${port}/e2e/localhost`]);
    assert.equal(viaLocalhost.status, 200, `the server certificate answers for localhost too: ${viaLocalhost.stderr}`);
    const anonymous = await curlIn(dir, curlArgs(port, '/e2e/anonymous', false));
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.body, /403\.7/);
    first.child.kill('SIGTERM');
    assert.equal((await first.waitExit()).code, 0);

    const revoke = await gatehouseOk(dir, 'cert', 'revoke', '--ca', 'ca', alicePem);
    assert.match(revoke.stdout, /revoked .*CN=Alice E2E/, revoke.stdout);
    await gatehouseOk(dir, 'cert', 'crl', '--ca', 'ca');

    const second = startCli(t, dir, 'gatehouse.yaml');
    const port2 = Number((await second.waitFor('stdout', /^listening https:\/\/127\.0\.0\.1:(\d+) \(site secure\)$/m))[1]);
    const refused = await curlIn(dir, curlArgs(port2, '/e2e/revoked'));
    assert.equal(refused.status, 403, `${refused.body}\n${refused.stderr}`);
    assert.match(refused.body, /403\.13/, refused.body);
    assert.deepEqual(backend.received.filter((r) => r.url === '/e2e/revoked'), [], 'the backend never saw the revoked client');
    await second.waitFor('stderr', /403\.13 .*\/e2e\/revoked/);
    second.child.kill('SIGTERM');
    assert.equal((await second.waitExit()).code, 0);
  });
});
