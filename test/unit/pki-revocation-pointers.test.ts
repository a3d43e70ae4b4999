/**
 * Revocation pointers in certificates made by src/pki: cRLDistributionPoints and authorityInfoAccess (OCSP)
 * from `crlUrls` / `ocspUrls` on createCa (intermediates), issueServer, createSelfSignedServer and issueClient,
 * and issueOcspResponder's delegated OCSP signing certificate (RFC 6960 §4.2.2.2). Real certificates, read
 * back with node's X509Certificate and the openssl command line; the responder signs a real OCSP response.
 */
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import {
  createCa,
  createSelfSignedServer,
  DEFAULT_OCSP_RESPONDER_DAYS,
  issueClient,
  issueOcspResponder,
  issueServer,
  type Issued,
} from '../../src/pki/index.js';
import { tempDir } from '../support/temp.js';

const DAY = 86_400_000;
const CRL_A = 'http://pki.example.test/intermediate.crl';
const CRL_B = 'http://mirror.example.test:8080/crl/intermediate.crl?v=2';
const OCSP_A = 'http://ocsp.example.test';
const OCSP_B = 'http://ocsp2.example.test:8080/ocsp/';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function openssl(cwd: string, ...args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
    });
  });
}

async function opensslOk(cwd: string, ...args: string[]): Promise<string> {
  const r = await openssl(cwd, ...args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Writes `issued`'s certificate (and key) as NAME.pem (NAME.key) in dir; returns the certificate file. */
async function write(dir: string, name: string, issued: Issued): Promise<string> {
  await fs.writeFile(path.join(dir, `${name}.key`), issued.keyPem);
  const file = path.join(dir, `${name}.pem`);
  await fs.writeFile(file, issued.certPem);
  return file;
}

/** openssl's text for the two extensions, exactly as `openssl x509 -noout -ext …` prints it. */
function opensslPointersText(crlUrls: string[], ocspUrls: string[]): string {
  let text = '';
  if (crlUrls.length > 0) text += `X509v3 CRL Distribution Points: \n${crlUrls.map((u) => `    Full Name:\n      URI:${u}\n`).join('')}`;
  if (ocspUrls.length > 0) text += `Authority Information Access: \n${ocspUrls.map((u) => `    OCSP - URI:${u}\n`).join('')}`;
  return text;
}

async function opensslPointers(dir: string, file: string): Promise<string> {
  return opensslOk(dir, 'x509', '-noout', '-ext', 'crlDistributionPoints,authorityInfoAccess', '-in', file);
}

/** The extensions' criticality as @peculiar/x509 reads it (undefined when absent). */
function criticality(issued: Issued): { cdp: boolean | undefined; aia: boolean | undefined } {
  const cert = new x509.X509Certificate(issued.certPem);
  return { cdp: cert.getExtension(x509.CRLDistributionPointsExtension)?.critical, aia: cert.getExtension(x509.AuthorityInfoAccessExtension)?.critical };
}

describe('pki: crlUrls / ocspUrls', () => {
  test('issueServer under an intermediate that has its own pointers: both certificates carry exactly the URLs given, non-critical, and the chain verifies', async (t) => {
    const dir = await tempDir(t, 'gatehouse-pki-rev-');
    const root = await createCa({ commonName: 'Pointers Root' });
    const intermediate = await createCa({ commonName: 'Pointers Intermediate', issuer: root, crlUrls: ['http://pki.example.test/root.crl'], ocspUrls: ['http://ocsp.example.test/root'] });
    const server = await issueServer({ ca: intermediate, dnsNames: ['app.example.test'], crlUrls: [CRL_A, CRL_B], ocspUrls: [OCSP_A, OCSP_B] });

    assert.equal(server.cert.infoAccess, `OCSP - URI:${OCSP_A}\nOCSP - URI:${OCSP_B}`);
    assert.equal(intermediate.cert.infoAccess, 'OCSP - URI:http://ocsp.example.test/root');
    assert.equal(root.cert.infoAccess, undefined, 'the root was given no pointers');

    const files = { root: await write(dir, 'root', root), intermediate: await write(dir, 'intermediate', intermediate), server: await write(dir, 'server', server) };
    assert.equal(await opensslPointers(dir, files.server), opensslPointersText([CRL_A, CRL_B], [OCSP_A, OCSP_B]));
    assert.equal(await opensslPointers(dir, files.intermediate), opensslPointersText(['http://pki.example.test/root.crl'], ['http://ocsp.example.test/root']));
    const rootExt = await openssl(dir, 'x509', '-noout', '-ext', 'crlDistributionPoints,authorityInfoAccess', '-in', files.root);
    assert.equal(rootExt.stdout, '', rootExt.stdout + rootExt.stderr);

    assert.deepEqual(criticality(server), { cdp: false, aia: false });
    assert.deepEqual(criticality(intermediate), { cdp: false, aia: false });
    const text = await opensslOk(dir, 'x509', '-noout', '-text', '-in', files.server);
    assert.match(text, /X509v3 CRL Distribution Points: *\n/, text);
    assert.match(text, /Authority Information Access: *\n/, text);
    assert.doesNotMatch(text, /(CRL Distribution Points|Authority Information Access): critical/, text);
    // The rest of the server profile is unchanged.
    assert.match(text, /TLS Web Server Authentication/, text);
    assert.match(text, /DNS:app\.example\.test/, text);

    const verify = await openssl(dir, 'verify', '-CAfile', files.root, '-untrusted', files.intermediate, files.server);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  test('createSelfSignedServer with crlUrls only: a cRLDistributionPoints extension and no authorityInfoAccess', async (t) => {
    const dir = await tempDir(t, 'gatehouse-pki-rev-');
    const self = await createSelfSignedServer({ dnsNames: ['self.example.test'], crlUrls: [CRL_A] });
    assert.equal(self.cert.infoAccess, undefined);
    const file = await write(dir, 'self', self);
    assert.equal(await opensslPointers(dir, file), opensslPointersText([CRL_A], []));
    assert.deepEqual(criticality(self), { cdp: false, aia: undefined });
    const verify = await openssl(dir, 'verify', '-CAfile', file, file);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  test('issueClient with ocspUrls only (RSA): authorityInfoAccess OCSP and no cRLDistributionPoints; the client profile is unchanged', async (t) => {
    const dir = await tempDir(t, 'gatehouse-pki-rev-');
    const ca = await createCa({ commonName: 'Client Pointers CA' });
    const client = await issueClient({ ca, commonName: 'Carol', email: 'carol@example.test', keyType: 'rsa-2048', ocspUrls: [OCSP_B] });
    assert.equal(client.cert.infoAccess, `OCSP - URI:${OCSP_B}`);
    const file = await write(dir, 'client', client);
    assert.equal(await opensslPointers(dir, file), opensslPointersText([], [OCSP_B]));
    assert.deepEqual(criticality(client), { cdp: undefined, aia: false });
    const text = await opensslOk(dir, 'x509', '-noout', '-text', '-in', file);
    assert.match(text, /TLS Web Client Authentication/, text);
    assert.match(text, /email:carol@example\.test/, text);
    const verify = await openssl(dir, 'verify', '-CAfile', await write(dir, 'ca', ca), '-purpose', 'sslclient', file);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  test('absent or empty lists add no extension', async () => {
    const ca = await createCa({ commonName: 'Empty Pointers CA', crlUrls: [], ocspUrls: [] });
    const leaves = [
      ca,
      await issueServer({ ca, dnsNames: ['a.example.test'], crlUrls: [], ocspUrls: [] }),
      await issueClient({ ca, commonName: 'Dan' }),
      await createSelfSignedServer({ dnsNames: ['b.example.test'], crlUrls: [] }),
    ];
    for (const issued of leaves) {
      assert.equal(issued.cert.infoAccess, undefined, issued.cert.subject);
      assert.deepEqual(criticality(issued), { cdp: undefined, aia: undefined }, issued.cert.subject);
    }
  });

  test('a bad URL throws a TypeError naming the option and the value, for every function', async () => {
    const ca = await createCa({ commonName: 'Bad URL CA' });
    const cases: Array<[string, RegExp]> = [
      ['ftp://pki.example.test/ca.crl', /uses scheme ftp:, not http:/],
      ['https://pki.example.test/ca.crl', /uses scheme https:, not http:/],
      ['ldap://ldap.example.test/cn=CA?certificateRevocationList', /uses scheme ldap:, not http:/],
      ['not a url', /is not a URL/],
      ['', /is not a URL/],
      ['pki.example.test/ca.crl', /is not a URL/],
      ['http:pki.example.test/ca.crl', /is not absolute/],
      ['http:/pki.example.test/ca.crl', /is not absolute/],
      ['http://pki.example.test/my ca.crl', /characters a URI cannot/],
      ['http://pki.example.test/caf\u00e9.crl', /characters a URI cannot/],
      ['http://pki.example.test\\ca.crl', /characters a URI cannot/],
    ];
    const make: Record<string, (p: { crlUrls?: string[]; ocspUrls?: string[] }) => Promise<Issued>> = {
      createCa: (p) => createCa({ commonName: 'Intermediate', issuer: ca, ...p }),
      issueServer: (p) => issueServer({ ca, dnsNames: ['a.example.test'], ...p }),
      createSelfSignedServer: (p) => createSelfSignedServer({ dnsNames: ['a.example.test'], ...p }),
      issueClient: (p) => issueClient({ ca, commonName: 'Eve', ...p }),
    };
    for (const [fn, run] of Object.entries(make)) {
      for (const option of ['crlUrls', 'ocspUrls'] as const) {
        for (const [url, why] of cases) {
          await assert.rejects(
            run({ [option]: ['http://good.example.test/ok', url] }),
            (error: unknown) => {
              assert.ok(error instanceof TypeError, `${fn} ${option} ${url}: ${String(error)}`);
              assert.ok(error.message.startsWith(`${option}: ${JSON.stringify(url)} `), `${fn}: names the option and the value: ${error.message}`);
              assert.match(error.message, why, `${fn}: says what is wrong: ${error.message}`);
              assert.match(error.message, /expected an absolute http:\/\/ URL/, `${fn}: says what was expected: ${error.message}`);
              return true;
            },
            `${fn} ${option} ${JSON.stringify(url)}`,
          );
        }
      }
    }
    // A string where a list belongs (a JavaScript caller's slip) is refused too, not spread into characters.
    await assert.rejects(issueServer({ ca, dnsNames: ['a.example.test'], crlUrls: 'http://pki.example.test/ca.crl' as unknown as string[] }), /crlUrls: "http:\/\/pki\.example\.test\/ca\.crl" is not an array/);
  });
});

describe('pki: issueOcspResponder', () => {
  test('EKU OCSPSigning only, digitalSignature, CA:FALSE, id-pkix-ocsp-nocheck (NULL, non-critical), issued by the CA, 30 days by default', async (t) => {
    const dir = await tempDir(t, 'gatehouse-pki-rev-');
    const ca = await createCa({ commonName: 'OCSP Test CA' });
    const before = Date.now();
    const responder = await issueOcspResponder({ ca, commonName: 'OCSP Test CA Responder' });
    const caFile = await write(dir, 'ca', ca);
    const file = await write(dir, 'responder', responder);

    const text = await opensslOk(dir, 'x509', '-noout', '-text', '-in', file);
    assert.match(text, /Subject: CN ?= ?OCSP Test CA Responder/, text);
    assert.match(text, /Issuer: CN ?= ?OCSP Test CA\n/, text);
    assert.match(text, /X509v3 Extended Key Usage: *\n\s*OCSP Signing\n/, text);
    assert.match(text, /X509v3 Key Usage: critical\n\s*Digital Signature\n/, text);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s*CA:FALSE\n/, text);
    assert.match(text, /OCSP No Check: *\n/, text);
    assert.doesNotMatch(text, /OCSP No Check: critical/, text);
    assert.doesNotMatch(text, /TLS Web (Server|Client) Authentication/, text);

    const parsed = new x509.X509Certificate(responder.certPem);
    const nocheck = parsed.getExtension('1.3.6.1.5.5.7.48.1.5');
    assert.ok(nocheck, 'the nocheck extension');
    assert.equal(nocheck.critical, false);
    assert.deepEqual([...new Uint8Array(nocheck.value)], [0x05, 0x00], 'its value is an ASN.1 NULL');
    assert.deepEqual([...(parsed.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])], ['1.3.6.1.5.5.7.3.9']);
    assert.equal(responder.cert.ca, false);
    assert.deepEqual(responder.chainPem, [ca.certPem]);

    const lifetime = Date.parse(responder.cert.validTo) - before;
    assert.ok(Math.abs(lifetime - DEFAULT_OCSP_RESPONDER_DAYS * DAY) < 10 * 60_000, `about ${DEFAULT_OCSP_RESPONDER_DAYS} days: valid to ${responder.cert.validTo}`);
    assert.equal(DEFAULT_OCSP_RESPONDER_DAYS, 30);
    const longer = await issueOcspResponder({ ca, commonName: 'Longer', days: 90, keyType: 'rsa-2048' });
    assert.ok(Math.abs(Date.parse(longer.cert.validTo) - Date.now() - 90 * DAY) < 10 * 60_000, `days: 90 -> ${longer.cert.validTo}`);
    assert.equal(longer.cert.publicKey.asymmetricKeyType, 'rsa');

    const verify = await openssl(dir, 'verify', '-CAfile', caFile, '-purpose', 'ocsphelper', file);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  test('openssl ocsp accepts its responses as the CA\'s delegated responder; a certificate without OCSPSigning is refused', async (t) => {
    const dir = await tempDir(t, 'gatehouse-pki-rev-');
    const root = await createCa({ commonName: 'OCSP Root' });
    const ca = await createCa({ commonName: 'OCSP Intermediate', issuer: root });
    const revoked = await issueServer({ ca, dnsNames: ['revoked.example.test'], ocspUrls: [OCSP_A] });
    const good = await issueClient({ ca, commonName: 'Good Client', ocspUrls: [OCSP_A] });
    const responder = await issueOcspResponder({ ca, commonName: 'OCSP Intermediate Responder' });
    const impostor = await issueClient({ ca, commonName: 'Not A Responder' });
    await write(dir, 'ca', ca);
    await write(dir, 'responder', responder);
    await write(dir, 'impostor', impostor);
    await write(dir, 'revoked', revoked);
    await write(dir, 'good', good);
    await fs.writeFile(path.join(dir, 'trust.pem'), root.certPem + ca.certPem);
    // openssl's CA database: status, expiry, revocation date, serial, file, subject (tab-separated).
    await fs.writeFile(
      path.join(dir, 'index.txt'),
      `R\t301231000000Z\t240101000000Z\t${revoked.serialNumber}\tunknown\t/CN=revoked.example.test\nV\t301231000000Z\t\t${good.serialNumber}\tunknown\t/CN=Good Client\n`,
    );
    // The URL the client would use comes from the certificate itself.
    assert.equal((await opensslOk(dir, 'x509', '-noout', '-ocsp_uri', '-in', 'revoked.pem')).trim(), OCSP_A);

    const status = async (signer: string, cert: string) => {
      await opensslOk(dir, 'ocsp', '-issuer', 'ca.pem', '-cert', `${cert}.pem`, '-no_nonce', '-reqout', `${cert}-${signer}.req`);
      await opensslOk(dir, 'ocsp', '-index', 'index.txt', '-CA', 'ca.pem', '-rsigner', `${signer}.pem`, '-rkey', `${signer}.key`, '-reqin', `${cert}-${signer}.req`, '-respout', `${cert}-${signer}.resp`, '-ndays', '1');
      return openssl(dir, 'ocsp', '-respin', `${cert}-${signer}.resp`, '-issuer', 'ca.pem', '-cert', `${cert}.pem`, '-CAfile', 'trust.pem');
    };
    const onRevoked = await status('responder', 'revoked');
    assert.equal(onRevoked.code, 0, onRevoked.stdout + onRevoked.stderr);
    assert.match(onRevoked.stderr, /Response verify OK/, onRevoked.stderr);
    assert.match(onRevoked.stdout, /revoked\.pem: revoked/, onRevoked.stdout);
    const onGood = await status('responder', 'good');
    assert.equal(onGood.code, 0, onGood.stdout + onGood.stderr);
    assert.match(onGood.stdout, /good\.pem: good/, onGood.stdout);

    const forged = await status('impostor', 'revoked');
    assert.notEqual(forged.code, 0, forged.stdout + forged.stderr);
    assert.match(forged.stderr, /missing ocspsigning usage/i, forged.stderr);
  });

  test('refuses a non-CA issuer', async () => {
    const ca = await createCa({ commonName: 'Refusing CA' });
    const leaf = await issueClient({ ca, commonName: 'Leaf' });
    await assert.rejects(issueOcspResponder({ ca: leaf, commonName: 'Nope' }), /is not a CA/);
  });
});

test('node:crypto reads the same pointers as @peculiar/x509 wrote them', async () => {
  const ca = await createCa({ commonName: 'Cross-check CA' });
  const issued = await issueClient({ ca, commonName: 'Frank', crlUrls: [CRL_B], ocspUrls: [OCSP_A] });
  const node = new X509Certificate(issued.certPem);
  assert.equal(node.infoAccess, `OCSP - URI:${OCSP_A}`);
  const cdp = new x509.X509Certificate(issued.certPem).getExtension(x509.CRLDistributionPointsExtension);
  assert.deepEqual([...(cdp?.distributionPoints ?? [])].map((dp) => [...(dp.distributionPoint?.fullName ?? [])].map((n) => n.uniformResourceIdentifier)), [[CRL_B]]);
});
