import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { tempDir } from '../support/temp.js';
import {
  createCa,
  createCrl,
  createSelfSignedServer,
  issueClient,
  issueServer,
  loadIssued,
  toPfx,
  writeIssued,
  type Issued,
} from '../../src/pki/index.js';

const OPENSSL = '/usr/bin/openssl';
const DAY = 86_400_000;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function openssl(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(OPENSSL, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, data] of Object.entries(files)) {
    const f = path.join(dir, name);
    await fs.writeFile(f, data);
    out[name] = f;
  }
  return out;
}

/** Runs `openssl verify` and returns its combined output and exit code. */
async function verify(
  dir: string,
  ca: string,
  leaf: string,
  opts: { untrusted?: string; purpose?: string; crl?: string } = {},
): Promise<RunResult & { out: string }> {
  const f = await writeFiles(dir, { 'v-ca.pem': ca, 'v-leaf.pem': leaf });
  const args = ['verify', '-CAfile', f['v-ca.pem']!];
  if (opts.untrusted !== undefined) {
    args.push('-untrusted', (await writeFiles(dir, { 'v-untrusted.pem': opts.untrusted }))['v-untrusted.pem']!);
  }
  if (opts.purpose !== undefined) args.push('-purpose', opts.purpose);
  if (opts.crl !== undefined) args.push('-crl_check', '-CRLfile', (await writeFiles(dir, { 'v-crl.pem': opts.crl }))['v-crl.pem']!);
  args.push(f['v-leaf.pem']!);
  const r = await openssl(args);
  return { ...r, out: r.stdout + r.stderr };
}

interface HandshakeResult {
  authorized: boolean;
  authorizationError: string | undefined;
  peerCn: string | undefined;
}

/** A real mTLS handshake on 127.0.0.1: returns what the server saw of the client certificate. */
async function mtls(
  t: { after: (fn: () => Promise<void>) => void },
  server: { cert: Issued; trust: string; crl?: string },
  client: { cert: string; key: string; trust: string },
): Promise<HandshakeResult> {
  let resolveResult!: (r: HandshakeResult) => void;
  const result = new Promise<HandshakeResult>((r) => (resolveResult = r));
  const srv = tls.createServer(
    {
      cert: server.cert.certPem + server.cert.chainPem.join(''),
      key: server.cert.keyPem,
      ca: server.trust,
      requestCert: true,
      rejectUnauthorized: false,
      ...(server.crl !== undefined ? { crl: server.crl } : {}),
    },
    (socket) => {
      const peer = socket.getPeerCertificate();
      const err: unknown = socket.authorizationError; // Node sets the OpenSSL code string here
      resolveResult({
        authorized: socket.authorized,
        authorizationError: err === null || err === undefined ? undefined : String(err),
        peerCn: peer.subject?.CN as string | undefined,
      });
      socket.end('ok');
    },
  );
  t.after(
    () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
      }),
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  const socket = tls.connect({ host: '127.0.0.1', port, ca: client.trust, cert: client.cert, key: client.key });
  const clientDone = new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', () => undefined);
    socket.on('end', () => resolve());
  });
  const r = await result;
  await clientDone;
  socket.destroy();
  return r;
}

// Shared fixtures (created once: key generation is the slow part).
const fixtures = (async () => {
  const root = await createCa({ commonName: 'Gatehouse Test Root', organization: 'Gatehouse' });
  const server = await issueServer({ ca: root, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
  const client = await issueClient({ ca: root, commonName: 'alice', email: 'alice@example.test', organization: 'Gatehouse', organizationalUnit: 'QA' });
  return { root, server, client };
})();

test('root CA: extensions, serial format, key and chain', async (t) => {
  const { root } = await fixtures;
  assert.deepEqual(root.chainPem, []);
  assert.match(root.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.ok(root.cert.checkPrivateKey(createPrivateKey(root.keyPem)));
  assert.equal(root.cert.ca, true);
  assert.equal(root.cert.subject, root.cert.issuer);
  assert.match(root.cert.subject, /CN=Gatehouse Test Root/);
  assert.match(root.cert.subject, /O=Gatehouse/);

  // serial: matches Node's view with leading zeros stripped; 16 bytes, positive
  const nodeSerial = new X509Certificate(root.certPem).serialNumber;
  assert.equal(root.serialNumber, nodeSerial.replace(/^0+/, ''));
  assert.match(root.serialNumber, /^[1-9A-F][0-9A-F]*$/);
  assert.equal(nodeSerial.length, 32, 'Node prints all 16 serial bytes');
  assert.ok(Number.parseInt(nodeSerial.slice(0, 2), 16) < 0x80, 'positive, no 0x00 padding byte');

  const dir = await tempDir(t, 'gatehouse-pki-');
  const f = await writeFiles(dir, { 'ca.pem': root.certPem });
  const text = (await openssl(['x509', '-in', f['ca.pem']!, '-noout', '-text'])).stdout;
  assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
  assert.match(text, /X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
  assert.match(text, /X509v3 Subject Key Identifier/);
  assert.match(text, /X509v3 Authority Key Identifier/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  const self = await verify(dir, root.certPem, root.certPem);
  assert.equal(self.code, 0, self.out);
});

test('server and client certificates verify with openssl and carry the right extensions', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const { root, server, client } = await fixtures;
  assert.deepEqual(server.chainPem, [root.certPem]);

  const sv = await verify(dir, root.certPem, server.certPem, { purpose: 'sslserver' });
  assert.equal(sv.code, 0, sv.out);
  const cv = await verify(dir, root.certPem, client.certPem, { purpose: 'sslclient' });
  assert.equal(cv.code, 0, cv.out);

  assert.equal(server.cert.subject, 'CN=localhost');
  assert.equal(server.cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(server.cert.checkHost('localhost'), 'localhost');
  assert.equal(server.cert.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(server.cert.ca, false);
  assert.deepEqual(server.cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.ok(server.cert.checkIssued(root.cert));

  const f = await writeFiles(dir, { 'client.pem': client.certPem, 'server.pem': server.certPem });
  const ctext = (await openssl(['x509', '-in', f['client.pem']!, '-noout', '-text', '-nameopt', 'RFC2253'])).stdout;
  assert.match(ctext, /Subject: emailAddress=alice@example\.test,CN=alice,OU=QA,O=Gatehouse/);
  assert.match(ctext, /X509v3 Subject Alternative Name: \n\s+email:alice@example\.test/);
  assert.match(ctext, /X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
  assert.match(ctext, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
  assert.match(ctext, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
  assert.equal(client.cert.checkEmail('alice@example.test'), 'alice@example.test');

  const stext = (await openssl(['x509', '-in', f['server.pem']!, '-noout', '-text'])).stdout;
  assert.match(stext, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
  // AKI of the leaf is the SKI of the root
  const rootSki = /Subject Key Identifier: \n\s+([0-9A-F:]+)/.exec(
    (await openssl(['x509', '-in', (await writeFiles(dir, { 'root.pem': root.certPem }))['root.pem']!, '-noout', '-text'])).stdout,
  )?.[1];
  assert.ok(rootSki);
  assert.ok(stext.includes(rootSki), 'leaf AKI should equal root SKI');
});

test('RSA keys: RSA CA issues an RSA server cert (keyEncipherment) that openssl accepts', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const ca = await createCa({ commonName: 'RSA Root', keyType: 'rsa-3072' });
  const server = await issueServer({ ca, dnsNames: ['rsa.test'], keyType: 'rsa-2048', days: 30 });
  assert.equal(createPrivateKey(server.keyPem).asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(createPrivateKey(ca.keyPem).asymmetricKeyDetails?.modulusLength, 3072);
  const v = await verify(dir, ca.certPem, server.certPem, { purpose: 'sslserver' });
  assert.equal(v.code, 0, v.out);
  const f = await writeFiles(dir, { 's.pem': server.certPem });
  const text = (await openssl(['x509', '-in', f['s.pem']!, '-noout', '-text'])).stdout;
  assert.match(text, /Digital Signature, Key Encipherment/);
  assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
  const days = (Date.parse(server.cert.validTo) - Date.parse(server.cert.validFrom)) / DAY;
  assert.equal(Math.round(days), 30);
});

test('mTLS handshake: client cert from the trusted CA is authorized', async (t) => {
  const { root, server, client } = await fixtures;
  const r = await mtls(t, { cert: server, trust: root.certPem }, { cert: client.certPem, key: client.keyPem, trust: root.certPem });
  assert.deepEqual(r, { authorized: true, authorizationError: undefined, peerCn: 'alice' });
});

test('mTLS handshake: expired client cert gives CERT_HAS_EXPIRED', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const { root, server } = await fixtures;
  const now = Date.now();
  const expired = await issueClient({ ca: root, commonName: 'old', notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
  const r = await mtls(t, { cert: server, trust: root.certPem }, { cert: expired.certPem, key: expired.keyPem, trust: root.certPem });
  assert.equal(r.authorized, false);
  assert.equal(r.authorizationError, 'CERT_HAS_EXPIRED');
  const v = await verify(dir, root.certPem, expired.certPem);
  assert.notEqual(v.code, 0);
  assert.match(v.out, /error 10 at 0 depth lookup: certificate has expired/);
});

test('mTLS handshake: client cert from another CA is untrusted', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const { root, server } = await fixtures;
  const other = await createCa({ commonName: 'Gatehouse Test Root', organization: 'Gatehouse' }); // same name, different key
  const stranger = await issueClient({ ca: other, commonName: 'mallory' });
  const r = await mtls(t, { cert: server, trust: root.certPem }, { cert: stranger.certPem, key: stranger.keyPem, trust: root.certPem });
  assert.equal(r.authorized, false);
  assert.equal(r.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  // the client also sending its (untrusted) root:
  const r2 = await mtls(
    t,
    { cert: server, trust: root.certPem },
    { cert: stranger.certPem + other.certPem, key: stranger.keyPem, trust: root.certPem },
  );
  assert.equal(r2.authorizationError, 'SELF_SIGNED_CERT_IN_CHAIN');
  const v = await verify(dir, root.certPem, stranger.certPem);
  assert.notEqual(v.code, 0);
  assert.match(v.out, /error 20 at 0 depth lookup: unable to get local issuer certificate/);
});

test('mTLS handshake: client cert with EKU serverAuth only gives INVALID_PURPOSE', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const { root, server } = await fixtures;
  const wrong = await issueClient({ ca: root, commonName: 'wrong-eku', extendedKeyUsage: 'serverAuth' });
  const r = await mtls(t, { cert: server, trust: root.certPem }, { cert: wrong.certPem, key: wrong.keyPem, trust: root.certPem });
  assert.equal(r.authorized, false);
  assert.equal(r.authorizationError, 'INVALID_PURPOSE');
  const v = await verify(dir, root.certPem, wrong.certPem, { purpose: 'sslclient' });
  assert.notEqual(v.code, 0);
  assert.match(v.out, /error 26 at 0 depth lookup: (unsuitable|unsupported) certificate purpose/);

  // keyUsage keyCertSign only (no digitalSignature) is also rejected for client auth
  const badKu = await issueClient({ ca: root, commonName: 'bad-ku', keyUsage: 'keyCertSignOnly', extendedKeyUsage: 'none' });
  const v2 = await verify(dir, root.certPem, badKu.certPem, { purpose: 'sslclient' });
  assert.match(v2.out, /error 26 at 0 depth lookup: (unsuitable|unsupported) certificate purpose/);
  const noEku = await issueClient({ ca: root, commonName: 'no-eku', extendedKeyUsage: 'none' });
  assert.equal(noEku.cert.keyUsage, undefined);
  const v3 = await verify(dir, root.certPem, noEku.certPem, { purpose: 'sslclient' });
  assert.equal(v3.code, 0, v3.out);
});

test('chain root → intermediate → client: authorized when the client sends the intermediate', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const { root, server } = await fixtures;
  const inter = await createCa({ commonName: 'Gatehouse Issuing CA', issuer: root, pathLength: 0, keyType: 'rsa-2048' });
  assert.deepEqual(inter.chainPem, [root.certPem]);
  assert.equal(inter.cert.issuer, root.cert.subject);
  const leaf = await issueClient({ ca: inter, commonName: 'bob' });
  assert.deepEqual(leaf.chainPem, [inter.certPem, root.certPem]);

  const v = await verify(dir, root.certPem, leaf.certPem, { untrusted: inter.certPem, purpose: 'sslclient' });
  assert.equal(v.code, 0, v.out);
  const noInter = await verify(dir, root.certPem, leaf.certPem);
  assert.notEqual(noInter.code, 0);

  const f = await writeFiles(dir, { 'inter.pem': inter.certPem });
  const text = (await openssl(['x509', '-in', f['inter.pem']!, '-noout', '-text'])).stdout;
  assert.match(text, /CA:TRUE, pathlen:0/);

  const r = await mtls(
    t,
    { cert: server, trust: root.certPem },
    { cert: leaf.certPem + inter.certPem, key: leaf.keyPem, trust: root.certPem },
  );
  assert.deepEqual(r, { authorized: true, authorizationError: undefined, peerCn: 'bob' });
  const r2 = await mtls(t, { cert: server, trust: root.certPem }, { cert: leaf.certPem, key: leaf.keyPem, trust: root.certPem });
  assert.equal(r2.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');

  // a server cert from the intermediate, served with its chain, is accepted by a client trusting the root
  const srv2 = await issueServer({ ca: inter, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const client = (await fixtures).client;
  const r3 = await mtls(t, { cert: srv2, trust: root.certPem }, { cert: client.certPem, key: client.keyPem, trust: root.certPem });
  assert.equal(r3.authorized, true);
});

test('CRL: openssl lists the revoked serial; verify and Node TLS report revocation', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const { root, server, client } = await fixtures;
  const revoked = await issueClient({ ca: root, commonName: 'revoked' });
  const thisUpdate = new Date(Date.now() - 60_000);
  const crl = await createCrl({ ca: root, revoked: [{ serialNumber: revoked.serialNumber.toLowerCase(), revokedAt: new Date(Date.now() - DAY) }], thisUpdate });
  assert.match(crl.pem, /^-----BEGIN X509 CRL-----\n/);
  assert.ok(crl.der.length > 100);
  const f = await writeFiles(dir, { 'crl.pem': crl.pem, 'crl.der': crl.der });
  const text = await openssl(['crl', '-in', f['crl.pem']!, '-noout', '-text']);
  assert.equal(text.code, 0, text.stderr);
  const serials = [...text.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.replace(/^0+/, ''));
  assert.deepEqual(serials, [revoked.serialNumber]);
  assert.match(text.stdout, /Issuer: O = Gatehouse, CN = Gatehouse Test Root/);
  assert.match(text.stdout, /X509v3 CRL Number/);
  assert.match(text.stdout, /X509v3 Authority Key Identifier/);
  const der = await openssl(['crl', '-inform', 'DER', '-in', f['crl.der']!, '-noout', '-CAfile', (await writeFiles(dir, { 'ca.pem': root.certPem }))['ca.pem']!]);
  assert.equal(der.code, 0, der.stderr);
  assert.match(der.stderr + der.stdout, /verify OK/);

  const v = await verify(dir, root.certPem, revoked.certPem, { crl: crl.pem });
  assert.match(v.out, /error 23 at 0 depth lookup: certificate revoked/);
  const ok = await verify(dir, root.certPem, client.certPem, { crl: crl.pem });
  assert.equal(ok.code, 0, ok.out);

  const r = await mtls(t, { cert: server, trust: root.certPem, crl: crl.pem }, { cert: revoked.certPem, key: revoked.keyPem, trust: root.certPem });
  assert.equal(r.authorizationError, 'CERT_REVOKED');
  const r2 = await mtls(t, { cert: server, trust: root.certPem, crl: crl.pem }, { cert: client.certPem, key: client.keyPem, trust: root.certPem });
  assert.equal(r2.authorized, true);

  const empty = await createCrl({ ca: root, revoked: [] });
  const et = await openssl(['crl', '-in', (await writeFiles(dir, { 'e.pem': empty.pem }))['e.pem']!, '-noout', '-text']);
  assert.match(et.stdout, /No Revoked Certificates/);
  await assert.rejects(createCrl({ ca: client, revoked: [] }), /not a CA/);
});

test('PFX: Node TLS and openssl pkcs12 read it (EC and RSA keys, with chain)', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const { root } = await fixtures;
  const inter = await createCa({ commonName: 'PFX Issuing CA', issuer: root });
  const ecLeaf = await issueServer({ ca: inter, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const rsaLeaf = await issueClient({ ca: root, commonName: 'carol', keyType: 'rsa-2048' });
  const password = 'p@ss wörd';

  for (const [name, issued] of [['ec', ecLeaf], ['rsa', rsaLeaf]] as const) {
    const pfx = toPfx({ issued, password, friendlyName: `gatehouse ${name}` });
    assert.doesNotThrow(() => tls.createSecureContext({ pfx, passphrase: password }));
    assert.throws(() => tls.createSecureContext({ pfx, passphrase: 'wrong' }));
    const f = await writeFiles(dir, { [`${name}.pfx`]: pfx });
    const certs = await openssl(['pkcs12', '-in', f[`${name}.pfx`]!, '-passin', `pass:${password}`, '-nokeys']);
    assert.equal(certs.code, 0, certs.stderr);
    assert.equal(certs.stdout.match(/-----BEGIN CERTIFICATE-----/g)?.length, 1 + issued.chainPem.length);
    assert.match(certs.stdout, new RegExp(`friendlyName: gatehouse ${name}`));
    const keys = await openssl(['pkcs12', '-in', f[`${name}.pfx`]!, '-passin', `pass:${password}`, '-nocerts', '-nodes']);
    assert.equal(keys.code, 0, keys.stderr);
    const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(keys.stdout)?.[0];
    assert.ok(keyPem);
    assert.ok(issued.cert.checkPrivateKey(createPrivateKey(keyPem)));
    const bad = await openssl(['pkcs12', '-in', f[`${name}.pfx`]!, '-passin', 'pass:wrong', '-nokeys']);
    assert.notEqual(bad.code, 0);
  }

  // a server loaded from the PFX serves its chain: a client trusting only the root accepts it
  const pfx = toPfx({ issued: ecLeaf, password });
  const srv = tls.createServer({ pfx, passphrase: password }, (s) => s.end('hi'));
  t.after(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  const data = await new Promise<string>((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port, ca: root.certPem }, () => undefined);
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (buf += d));
    c.on('end', () => resolve(buf));
    c.on('error', reject);
  });
  assert.equal(data, 'hi');
});

test('self-signed server certificate works as its own trust anchor', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const self = await createSelfSignedServer({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], keyType: 'rsa-2048' });
  assert.deepEqual(self.chainPem, []);
  assert.equal(self.cert.subject, self.cert.issuer);
  assert.equal(self.cert.ca, false);
  const v = await verify(dir, self.certPem, self.certPem, { purpose: 'sslserver' });
  assert.equal(v.code, 0, v.out);
  const { root, client } = await fixtures;
  const r = await mtls(t, { cert: self, trust: root.certPem }, { cert: client.certPem, key: client.keyPem, trust: self.certPem });
  assert.equal(r.authorized, true);
  await assert.rejects(issueClient({ ca: self, commonName: 'x' }), /not a CA/);
});

test('writeIssued: modes, contents, no overwrite without force, no temp files left', async (t) => {
  const dir = await tempDir(t, 'gatehouse-pki-');
  const { root, client } = await fixtures;
  const inter = await createCa({ commonName: 'Write CA', issuer: root });
  const leaf = await issueClient({ ca: inter, commonName: 'dave' });
  const out = path.join(dir, 'nested', 'certs');
  const { certFile, keyFile } = await writeIssued(out, 'dave', leaf);
  assert.equal(certFile, path.join(out, 'dave.pem'));
  assert.equal(keyFile, path.join(out, 'dave.key'));
  assert.equal(await fs.readFile(certFile, 'utf8'), leaf.certPem + inter.certPem + root.certPem);
  assert.equal(await fs.readFile(keyFile, 'utf8'), leaf.keyPem);
  assert.equal((await fs.stat(keyFile)).mode & 0o777, 0o600);
  assert.equal((await fs.stat(certFile)).mode & 0o777, 0o644);

  await assert.rejects(writeIssued(out, 'dave', client), { code: 'EEXIST' });
  assert.equal(await fs.readFile(keyFile, 'utf8'), leaf.keyPem, 'unchanged after refused write');
  // only the cert existing must still block, and must not leave a key behind
  await fs.writeFile(path.join(out, 'eve.pem'), 'x');
  await assert.rejects(writeIssued(out, 'eve', client), { code: 'EEXIST' });
  await assert.rejects(fs.access(path.join(out, 'eve.key')));

  await writeIssued(out, 'dave', client, { force: true });
  assert.equal(await fs.readFile(keyFile, 'utf8'), client.keyPem);
  assert.equal((await fs.stat(keyFile)).mode & 0o777, 0o600);
  assert.deepEqual((await fs.readdir(out)).sort(), ['dave.key', 'dave.pem', 'eve.pem']);
  await assert.rejects(writeIssued(out, '../escape', client), /plain file name/);

  // files written by writeIssued load back into a usable CA
  const caFiles = await writeIssued(dir, 'inter', inter);
  const loaded = await loadIssued({
    certPem: await fs.readFile(caFiles.certFile, 'utf8'),
    keyPem: await fs.readFile(caFiles.keyFile, 'utf8'),
  });
  assert.equal(loaded.serialNumber, inter.serialNumber);
  assert.deepEqual(loaded.chainPem, [root.certPem]);
  const fromLoaded = await issueClient({ ca: loaded, commonName: 'frank' });
  const v = await verify(dir, root.certPem, fromLoaded.certPem, { untrusted: inter.certPem });
  assert.equal(v.code, 0, v.out);
  await assert.rejects(loadIssued({ certPem: inter.certPem, keyPem: root.keyPem }), /does not match/);
});

test('input validation', async () => {
  const { root, client } = await fixtures;
  await assert.rejects(issueServer({ ca: root, dnsNames: [] }), /at least one DNS name or IP/);
  await assert.rejects(issueServer({ ca: root, dnsNames: ['ok.test'], ipAddresses: ['300.1.1.1'] }), /invalid IP/);
  await assert.rejects(issueServer({ ca: root, dnsNames: ['bad name'] }), /invalid DNS name/);
  await assert.rejects(issueClient({ ca: root, commonName: 'x', email: 'not-an-email' }), /invalid email/);
  await assert.rejects(issueClient({ ca: client, commonName: 'x' }), /not a CA/);
  await assert.rejects(createCa({ commonName: 'x', pathLength: -1 }), /pathLength/);
  await assert.rejects(createCa({ commonName: 'x', days: 0 }), /positive/);
  await assert.rejects(createCa({ commonName: '' }), /commonName/);
  const now = Date.now();
  await assert.rejects(issueClient({ ca: root, commonName: 'x', notBefore: new Date(now), notAfter: new Date(now - 1) }), /later than/);
  const fake = { ...client, signer: {} } as Issued;
  await assert.rejects(issueClient({ ca: fake, commonName: 'x' }), /signer/);

  // default validity: notBefore backdated 5 minutes, 825 days for leaves, 3650 for CAs
  const from = Date.parse(client.cert.validFrom);
  assert.ok(from <= now - 4 * 60_000 && from >= now - 60 * 60_000);
  assert.equal(Math.round((Date.parse(client.cert.validTo) - from) / DAY), 825);
  assert.equal(Math.round((Date.parse(root.cert.validTo) - Date.parse(root.cert.validFrom)) / DAY), 3650);
});
