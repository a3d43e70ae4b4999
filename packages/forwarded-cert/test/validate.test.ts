import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { createCertificateValidator, normalizeThumbprint, validateClientCertificate, type ValidationOptions, type ValidationResult } from '../src/index.js';
import { DAY, fixtures, insideValidity, issueCa, issueClient } from './helpers/pki.js';

const f = fixtures();
const now = insideValidity();
const base: ValidationOptions = { trustedCas: [f.root.pem], now: () => now };

function refused(result: ValidationResult, code: string, reason?: RegExp): void {
  assert.equal(result.ok, false, 'expected a refusal');
  if (result.ok) return;
  assert.equal(result.code, code, result.reason);
  if (reason) assert.match(result.reason, reason);
}

describe('chain of trust', () => {
  test('leaf → forwarded intermediate → trusted root', () => {
    assert.deepEqual(validateClientCertificate(f.alice.x509, { ...base, chain: [f.intermediate.x509] }), { ok: true });
  });
  test('leaf issued by the trusted root directly', () => {
    assert.deepEqual(validateClientCertificate(f.bob.x509, base), { ok: true });
  });
  test('the intermediate missing from the forwarded chain → untrusted', () => {
    refused(validateClientCertificate(f.alice.x509, base), 'ERR_CERT_UNTRUSTED', /no trusted CA issued CN=alice/);
  });
  test('trusting the intermediate itself needs no chain', () => {
    assert.deepEqual(validateClientCertificate(f.alice.x509, { ...base, trustedCas: [f.intermediate.x509] }), { ok: true });
  });
  test('unrelated certificates in the forwarded chain are ignored', () => {
    assert.deepEqual(validateClientCertificate(f.alice.x509, { ...base, chain: [f.bob.x509, f.rogueRoot.x509, f.intermediate.x509] }), { ok: true });
  });
  test('a forger\'s CA with the same name as the trusted root → untrusted (signature does not verify)', () => {
    refused(validateClientCertificate(f.mallory.x509, base), 'ERR_CERT_UNTRUSTED');
  });
  test('a self-signed forged root forwarded as intermediate does not help', () => {
    refused(validateClientCertificate(f.mallory.x509, { ...base, chain: [f.rogueRoot.x509] }), 'ERR_CERT_UNTRUSTED');
  });
  test('a certificate from an entirely different CA → untrusted', () => {
    refused(validateClientCertificate(f.bob.x509, { ...base, trustedCas: [f.rogueRoot.pem] }), 'ERR_CERT_UNTRUSTED');
  });
  test('path length: the pathlen:0 intermediate cannot have a sub-CA below it', () => {
    const sub = issueCa('sub-ca', '/CN=Sub CA', f.intermediate);
    const leaf = issueClient('deep', '/CN=deep', sub);
    refused(validateClientCertificate(leaf.x509, { ...base, chain: [sub.x509, f.intermediate.x509] }), 'ERR_CERT_UNTRUSTED', /allows 0 intermediate/);
    assert.deepEqual(validateClientCertificate(leaf.x509, { ...base, trustedCas: [sub.pem] }), { ok: true }, 'trusting the sub-CA directly is fine');
  });
  test('a leaf certificate cannot act as an intermediate', () => {
    const child = issueClient('child-of-leaf', '/CN=child', f.bob);
    refused(validateClientCertificate(child.x509, { ...base, chain: [f.bob.x509] }), 'ERR_CERT_UNTRUSTED');
  });
  test('an expired intermediate breaks the path', () => {
    const shortCa = issueCa('short-ca', '/CN=Short CA', f.root, { days: 1 });
    const leaf = issueClient('leaf-of-short', '/CN=leaf', shortCa, { days: 30 });
    assert.deepEqual(validateClientCertificate(leaf.x509, { ...base, chain: [shortCa.x509] }), { ok: true });
    refused(validateClientCertificate(leaf.x509, { ...base, chain: [shortCa.x509], now: () => now + 2 * DAY }), 'ERR_CERT_UNTRUSTED', /CN=Short CA expired at/);
  });
  test('a pinned self-signed client certificate can be its own trust anchor', () => {
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, trustedCas: [f.bob.x509] }), { ok: true });
  });
});

describe('validity period (injected clock)', () => {
  const from = Date.parse(f.alice.x509.validFrom);
  const to = Date.parse(f.alice.x509.validTo);
  const at = (ms: number) => validateClientCertificate(f.alice.x509, { ...base, chain: [f.intermediate.x509], now: () => ms });
  test('expired', () => refused(at(to + 1000), 'ERR_CERT_EXPIRED', /expired at/));
  test('expired long ago', () => refused(at(now + 40 * DAY), 'ERR_CERT_EXPIRED'));
  test('not yet valid', () => refused(at(from - 1000), 'ERR_CERT_NOT_YET_VALID', /not valid before/));
  test('first and last instant are inside', () => {
    assert.deepEqual(at(from), { ok: true });
    assert.deepEqual(at(to), { ok: true });
  });
  test('defaults to the real clock', () => {
    assert.deepEqual(validateClientCertificate(f.bob.x509, { trustedCas: f.root.pem }), { ok: true });
  });
});

describe('key usage', () => {
  test('serverAuth only → refused', () => refused(validateClientCertificate(f.serverOnly.x509, base), 'ERR_CERT_EKU', /1\.3\.6\.1\.5\.5\.7\.3\.1/));
  test('no EKU → refused unless allowNoEku', () => {
    refused(validateClientCertificate(f.noEku.x509, base), 'ERR_CERT_EKU', /allowNoEku/);
    assert.deepEqual(validateClientCertificate(f.noEku.x509, { ...base, allowNoEku: true }), { ok: true });
  });
  test('anyExtendedKeyUsage counts as "any" only with allowNoEku', () => {
    refused(validateClientCertificate(f.anyEku.x509, base), 'ERR_CERT_EKU');
    assert.deepEqual(validateClientCertificate(f.anyEku.x509, { ...base, allowNoEku: true }), { ok: true });
  });
  test('allowNoEku does not let a serverAuth-only certificate through', () => {
    refused(validateClientCertificate(f.serverOnly.x509, { ...base, allowNoEku: true }), 'ERR_CERT_EKU');
  });
  test('keyUsage present without digitalSignature → refused', () => refused(validateClientCertificate(f.noDigitalSignature.x509, base), 'ERR_CERT_KEY_USAGE', /keyAgreement/));
  test('an unknown critical extension → refused', () => refused(validateClientCertificate(f.unknownCritical.x509, base), 'ERR_CERT_CRITICAL_EXTENSION', /1\.3\.6\.1\.4\.1\.99999\.1/));
});

describe('thumbprint allowlist', () => {
  const sha1 = createHash('sha1').update(f.bob.der).digest('hex');
  const sha256 = createHash('sha256').update(f.bob.der).digest('hex');
  test('SHA-1 in Windows form (upper case, colons / spaces)', () => {
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, thumbprints: [f.bob.x509.fingerprint] }), { ok: true });
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, thumbprints: [sha1.toUpperCase().replace(/(..)/g, '$1 ')] }), { ok: true });
  });
  test('SHA-256', () => {
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, thumbprints: [f.bob.x509.fingerprint256] }), { ok: true });
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, thumbprints: [sha256] }), { ok: true });
  });
  test('not listed → refused', () => {
    refused(validateClientCertificate(f.bob.x509, { ...base, thumbprints: [createHash('sha1').update(f.alice.der).digest('hex')] }), 'ERR_CERT_THUMBPRINT', new RegExp(sha1));
  });
  test('thumbprints alone pin certificates without a CA', () => {
    assert.deepEqual(validateClientCertificate(f.bob.x509, { thumbprints: [sha256], now: () => now }), { ok: true });
    refused(validateClientCertificate(f.alice.x509, { thumbprints: [sha256], now: () => now }), 'ERR_CERT_THUMBPRINT');
  });
  test('a pinned thumbprint does not bypass the CA check', () => {
    refused(validateClientCertificate(f.mallory.x509, { ...base, thumbprints: [f.mallory.x509.fingerprint256] }), 'ERR_CERT_UNTRUSTED');
  });
  test('malformed thumbprints are configuration errors', () => {
    assert.throws(() => normalizeThumbprint('abc'), TypeError);
    assert.throws(() => createCertificateValidator({ ...base, thumbprints: ['zz'.repeat(20)] }), TypeError);
    assert.equal(normalizeThumbprint('AB:cd'.padEnd(41, '0')), 'abcd'.padEnd(40, '0'));
  });
});

describe('subject and issuer rules', () => {
  const alice = (extra: Partial<ValidationOptions>) => validateClientCertificate(f.alice.x509, { ...base, chain: [f.intermediate.x509], ...extra });
  test('exact RFC 4514 string', () => {
    assert.deepEqual(alice({ subject: 'CN=alice,O=Example Corp,C=US' }), { ok: true });
    assert.deepEqual(alice({ subject: 'cn=alice, o=Example Corp, c=US' }), { ok: true }, 'type case and spaces after commas are tolerated');
    refused(alice({ subject: 'CN=alice,O=Example Corp' }), 'ERR_CERT_SUBJECT', /is not/);
    refused(alice({ subject: 'C=US,O=Example Corp,CN=alice' }), 'ERR_CERT_SUBJECT', /is not/);
    refused(alice({ subject: 'CN=Alice,O=Example Corp,C=US' }), 'ERR_CERT_SUBJECT');
  });
  test('escaped characters in a rule', () => {
    const special = (subject: string) => validateClientCertificate(f.special.x509, { ...base, subject });
    assert.deepEqual(special('CN=José \\"Pepe\\" \\<admin\\>,O=Müller\\, Söhne & Co,C=DE'), { ok: true });
    assert.deepEqual(special('CN=Jos\\c3\\a9 \\"Pepe\\" \\<admin\\>,O=M\\c3\\bcller\\, S\\c3\\b6hne & Co,C=DE'), { ok: true }, 'hex escapes as in an xfcc Subject');
  });
  test('attribute object: CN equals', () => {
    assert.deepEqual(alice({ subject: { CN: 'alice' } }), { ok: true });
    assert.deepEqual(alice({ subject: { CN: ['bob', 'alice'], O: 'Example Corp' } }), { ok: true });
    refused(alice({ subject: { CN: 'bob' } }), 'ERR_CERT_SUBJECT', /has CN=alice, expected 'bob'/);
    refused(alice({ subject: { OU: 'Ops' } }), 'ERR_CERT_SUBJECT', /has no OU/);
  });
  test('predicate', () => {
    assert.deepEqual(alice({ subject: (dn) => dn.get('CN') === 'alice' }), { ok: true });
    refused(alice({ subject: (dn) => dn.get('CN') === 'bob' }), 'ERR_CERT_SUBJECT', /refused by the subject rule/);
    refused(
      alice({
        subject: () => {
          throw new Error('boom');
        },
      }),
      'ERR_CERT_SUBJECT',
      /threw boom/,
    );
  });
  test('issuer rule', () => {
    assert.deepEqual(alice({ issuer: 'CN=Gatehouse Test Issuing CA,O=Gatehouse Tests' }), { ok: true });
    assert.deepEqual(alice({ issuer: { CN: 'Gatehouse Test Issuing CA' } }), { ok: true });
    refused(alice({ issuer: { CN: 'Gatehouse Test Root CA' } }), 'ERR_CERT_ISSUER');
  });
  test('invalid rules are configuration errors', () => {
    assert.throws(() => createCertificateValidator({ ...base, subject: 'not a dn' }), TypeError);
    assert.throws(() => createCertificateValidator({ ...base, subject: { NOPE: 'x' } }), TypeError);
    assert.throws(() => createCertificateValidator({ ...base, subject: {} }), TypeError);
  });
});

describe('trustedCas input forms', () => {
  test('a PEM bundle string, DER buffers and X509Certificate objects', () => {
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, trustedCas: f.rogueRoot.pem + f.root.pem }), { ok: true });
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, trustedCas: [f.root.der] }), { ok: true });
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, trustedCas: [Buffer.from(f.root.pem)] }), { ok: true });
    assert.deepEqual(validateClientCertificate(f.bob.x509, { ...base, trustedCas: [new X509Certificate(f.root.pem)] }), { ok: true });
  });
  test('unreadable CAs and no trust at all are configuration errors', () => {
    assert.throws(() => createCertificateValidator({ trustedCas: ['not pem'] }), /trustedCas\[0\]/);
    assert.throws(() => createCertificateValidator({ trustedCas: [Buffer.from('garbage')] }), TypeError);
    assert.throws(() => createCertificateValidator({ trustedCas: [] }), /trustedCas .* or a thumbprints allowlist/);
    assert.throws(() => createCertificateValidator({}), TypeError);
  });
  test('a validator is reusable', () => {
    const validate = createCertificateValidator(base);
    assert.deepEqual(validate(f.bob.x509), { ok: true });
    refused(validate(f.mallory.x509), 'ERR_CERT_UNTRUSTED');
    assert.deepEqual(validate(f.alice.x509, [f.intermediate.x509]), { ok: true });
  });
});
