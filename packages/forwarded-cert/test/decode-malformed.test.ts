import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { encodeClientCertificate, ForwardedCertificateError, parseForwardedCertificate, parseForwardedCertificateChain, type ForwardedCertificateFormat } from '../src/index.js';
import { fixtures } from './helpers/pki.js';

const f = fixtures();
const b64 = f.alice.der.toString('base64');

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ForwardedCertificateError, `expected a ForwardedCertificateError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('base64Der: malformed and forged values throw, never yield undefined', () => {
  test('characters outside base64', () => throwsCode(() => parseForwardedCertificate(`${b64.slice(0, 20)}*${b64.slice(21)}`), 'ERR_CERT_HEADER_MALFORMED', /unexpected character '\*'/));
  test('base64url alphabet is not base64', () => throwsCode(() => parseForwardedCertificate(f.alice.der.toString('base64url')), 'ERR_CERT_HEADER_MALFORMED'));
  test('bad padding / length', () => throwsCode(() => parseForwardedCertificate(`${b64}A`), 'ERR_CERT_HEADER_MALFORMED', /length or padding/));
  test('base64 of garbage bytes', () => throwsCode(() => parseForwardedCertificate(Buffer.from('this is not a certificate at all').toString('base64')), 'ERR_CERT_DER_INVALID'));
  test('base64 of random bytes that start like a SEQUENCE', () => throwsCode(() => parseForwardedCertificate(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]).toString('base64')), 'ERR_CERT_DER_INVALID'));
  test('truncated DER', () => throwsCode(() => parseForwardedCertificate(f.alice.der.subarray(0, f.alice.der.length - 10).toString('base64')), 'ERR_CERT_DER_INVALID', /truncated/));
  test('DER with trailing bytes (OpenSSL alone would accept it)', () => throwsCode(() => parseForwardedCertificate(Buffer.concat([f.alice.der, Buffer.from([0, 0])]).toString('base64')), 'ERR_CERT_DER_INVALID', /unexpected byte/));
  test('base64 of PEM text (node would parse it as PEM)', () => throwsCode(() => parseForwardedCertificate(Buffer.from(f.alice.pem).toString('base64')), 'ERR_CERT_DER_INVALID'));
  test('a flipped byte inside the signature still parses (signature checks catch it), a flipped length does not', () => {
    const der = Buffer.from(f.alice.der);
    der[2] = (der[2] as number) ^ 0x01; // outer length
    throwsCode(() => parseForwardedCertificate(der.toString('base64')), 'ERR_CERT_DER_INVALID');
  });
  test('two header lines (req.headersDistinct)', () => throwsCode(() => parseForwardedCertificate([b64, f.bob.der.toString('base64')]), 'ERR_CERT_HEADER_MULTIPLE'));
  test('two header lines joined by node with ", " (req.headers)', () => throwsCode(() => parseForwardedCertificate(`${b64}, ${f.bob.der.toString('base64')}`), 'ERR_CERT_HEADER_MULTIPLE'));
  test('a PEM bundle of two certificates', () => throwsCode(() => parseForwardedCertificate(f.alice.pem + f.bob.pem), 'ERR_CERT_HEADER_MALFORMED', /2 PEM certificates/));
  test('broken PEM armour', () => throwsCode(() => parseForwardedCertificate(f.alice.pem.replace('-----END CERTIFICATE-----', '')), 'ERR_CERT_HEADER_MALFORMED', /without/));
  test('a PEM private key is not a certificate', () => throwsCode(() => parseForwardedCertificate('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), 'ERR_CERT_HEADER_MALFORMED'));
  test('absurdly long', () => throwsCode(() => parseForwardedCertificate('A'.repeat(70_000)), 'ERR_CERT_HEADER_TOO_LARGE'));
  test('unknown format name', () => throwsCode(() => parseForwardedCertificate(b64, 'der' as ForwardedCertificateFormat), 'ERR_CERT_FORMAT_UNKNOWN'));
  test('the error names itself and keeps the cause', () => {
    try {
      parseForwardedCertificate(Buffer.from('garbage garbage').toString('base64'));
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof ForwardedCertificateError);
      assert.equal(e.name, 'ForwardedCertificateError');
      assert.ok(e.cause instanceof Error);
    }
  });
});

describe('pemUrlEncoded', () => {
  const value = encodeURIComponent(f.alice.pem);
  test('bad percent-encoding', () => throwsCode(() => parseForwardedCertificate(value.replace('%0A', '%ZZ'), 'pemUrlEncoded'), 'ERR_CERT_HEADER_MALFORMED', /percent/));
  test('no PEM armour', () => throwsCode(() => parseForwardedCertificate(encodeURIComponent(b64), 'pemUrlEncoded'), 'ERR_CERT_HEADER_MALFORMED', /not a PEM/));
  test('two certificates', () => throwsCode(() => parseForwardedCertificate(encodeURIComponent(f.alice.pem + f.bob.pem), 'pemUrlEncoded'), 'ERR_CERT_HEADER_MALFORMED'));
  test('sent twice', () => throwsCode(() => parseForwardedCertificate(`${value}, ${value}`, 'pemUrlEncoded'), 'ERR_CERT_HEADER_MULTIPLE'));
  test('garbage inside the armour', () => throwsCode(() => parseForwardedCertificate(encodeURIComponent('-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n'), 'pemUrlEncoded'), 'ERR_CERT_DER_INVALID'));
});

describe('rfc9440', () => {
  test('missing colons', () => throwsCode(() => parseForwardedCertificate(b64, 'rfc9440'), 'ERR_CERT_HEADER_MALFORMED', /byte sequence/));
  test('parameters are refused', () => throwsCode(() => parseForwardedCertificate(`:${b64}:;a=1`, 'rfc9440'), 'ERR_CERT_HEADER_MALFORMED'));
  test('a list in Client-Cert', () => throwsCode(() => parseForwardedCertificate(`:${b64}:, :${b64}:`, 'rfc9440'), 'ERR_CERT_HEADER_MULTIPLE'));
  test('empty byte sequence', () => throwsCode(() => parseForwardedCertificate('::', 'rfc9440'), 'ERR_CERT_HEADER_MALFORMED', /empty/));
  test('a bad chain member names its position', () => throwsCode(() => parseForwardedCertificateChain(`:${f.intermediate.der.toString('base64')}:, :Zm9v:`, 'rfc9440'), 'ERR_CERT_DER_INVALID', /member 2/));
  test('an empty chain member', () => throwsCode(() => parseForwardedCertificateChain(`:${f.intermediate.der.toString('base64')}:,,`, 'rfc9440'), 'ERR_CERT_HEADER_MALFORMED'));
  test('too many chain members', () => throwsCode(() => parseForwardedCertificateChain(new Array(11).fill(`:${f.intermediate.der.toString('base64')}:`).join(', '), 'rfc9440'), 'ERR_CERT_HEADER_MALFORMED', /at most 10/));
});

describe('xfcc', () => {
  const [, good] = encodeClientCertificate({ raw: f.alice.der, chain: [f.intermediate.der] }, 'xfcc') as [string, string];
  test('two elements (two hops, or a client-supplied element kept)', () => throwsCode(() => parseForwardedCertificate(`${good},${good}`, 'xfcc'), 'ERR_CERT_HEADER_MULTIPLE'));
  test('Hash that does not match Cert', () => throwsCode(() => parseForwardedCertificate(good.replace(/^Hash=[0-9a-f]+/, `Hash=${createHash('sha256').update(f.bob.der).digest('hex')}`), 'xfcc'), 'ERR_CERT_HEADER_MALFORMED', /Hash/));
  test('Chain that does not start with Cert', () => {
    const chain = `Chain="${encodeURIComponent(f.bob.pem + f.intermediate.pem)}"`;
    throwsCode(() => parseForwardedCertificateChain(good.replace(/Chain="[^"]*"/, chain), 'xfcc'), 'ERR_CERT_HEADER_MALFORMED', /does not start/);
  });
  test('no Cert field', () => throwsCode(() => parseForwardedCertificate('Hash=abc;Subject="CN=x"', 'xfcc'), 'ERR_CERT_HEADER_MALFORMED', /no Cert/));
  test('unterminated quote', () => throwsCode(() => parseForwardedCertificate(good.slice(0, good.indexOf('Chain=') + 12), 'xfcc'), 'ERR_CERT_HEADER_MALFORMED', /unterminated/));
  test('unknown key', () => throwsCode(() => parseForwardedCertificate(`${good};Evil=1`, 'xfcc'), 'ERR_CERT_HEADER_MALFORMED', /unknown key/));
  test('duplicate Cert', () => throwsCode(() => parseForwardedCertificate(`${good};Cert="${encodeURIComponent(f.bob.pem)}"`, 'xfcc'), 'ERR_CERT_HEADER_MALFORMED', /twice/));
  test('garbage after a quoted value', () => throwsCode(() => parseForwardedCertificate(good.replace('";Chain', '"x;Chain'), 'xfcc'), 'ERR_CERT_HEADER_MALFORMED'));
});
