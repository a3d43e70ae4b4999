import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import {
  createClientCertificateVerifier,
  encodeClientCertificate,
  ReplayCache,
  signForwardedIdentity,
  type ClientCertificateVerification,
  type ClientCertificateVerifierOptions,
} from '../src/index.js';
import { fixtures, insideValidity } from './helpers/pki.js';

const f = fixtures();
const now = insideValidity();
const secret = 'a-shared-secret-of-at-least-32-bytes!!';
const base: ClientCertificateVerifierOptions = { trustedProxies: ['127.0.0.1', '10.0.0.0/8'], validation: { trustedCas: [f.root.pem] }, now: () => now };

/** A stand-in IncomingMessage: peer address and header lines, as node would expose them. */
function request(remoteAddress: string | undefined, flat: readonly string[]): IncomingMessage {
  const headersDistinct: Record<string, string[]> = {};
  for (let i = 0; i < flat.length; i += 2) (headersDistinct[(flat[i] as string).toLowerCase()] ??= []).push(flat[i + 1] as string);
  return { socket: { remoteAddress }, headersDistinct } as unknown as IncomingMessage;
}

function signed(der: Buffer | undefined, logId = `id-${Math.random().toString(36).slice(2)}`, seconds = Math.floor(now / 1000)): string[] {
  return ['X-Gatehouse-Signature', signForwardedIdentity({ secret, timestampSeconds: seconds, logId, certificateDer: der })];
}

function refused(result: ClientCertificateVerification, code: string): void {
  assert.equal(result.ok, false, 'expected a refusal');
  if (!result.ok) {
    assert.equal(result.status, 403);
    assert.equal(result.code, code, result.reason);
  }
}

describe('trusted proxies', () => {
  const verify = createClientCertificateVerifier(base);
  const header = encodeClientCertificate(f.bob.x509);
  test('a certificate from a trusted proxy is accepted', () => {
    const result = verify(request('127.0.0.1', header));
    assert.equal(result.ok, true);
    assert.deepEqual(result.ok && result.certificate?.raw, f.bob.der);
  });
  test('via CIDR and IPv4-mapped peer address', () => {
    assert.equal(verify(request('10.9.8.7', header)).ok, true);
    assert.equal(verify(request('::ffff:127.0.0.1', header)).ok, true);
    assert.equal(verify(request('::ffff:10.9.8.7', header)).ok, true);
  });
  test('the header from an untrusted peer is refused, never accepted', () => {
    refused(verify(request('192.0.2.10', header)), 'ERR_UNTRUSTED_PROXY');
    refused(verify(request('::1', header)), 'ERR_UNTRUSTED_PROXY');
    refused(verify(request(undefined, header)), 'ERR_UNTRUSTED_PROXY');
  });
  test('X-Forwarded-For is never used to decide who the peer is', () => {
    refused(verify(request('192.0.2.10', [...header, 'X-Forwarded-For', '127.0.0.1'])), 'ERR_UNTRUSTED_PROXY');
  });
  test('an untrusted peer sending only a signature is refused too', () => {
    const v = createClientCertificateVerifier({ ...base, required: false, secret });
    refused(v(request('192.0.2.10', signed(undefined))), 'ERR_UNTRUSTED_PROXY');
  });
});

describe('required policy', () => {
  test('required (default): no certificate → 403', () => {
    const verify = createClientCertificateVerifier(base);
    refused(verify(request('127.0.0.1', [])), 'ERR_CERT_MISSING');
    refused(verify(request('192.0.2.10', [])), 'ERR_CERT_MISSING');
  });
  test('optional: no certificate → ok, certificate undefined', () => {
    const verify = createClientCertificateVerifier({ ...base, required: false });
    assert.deepEqual(verify(request('127.0.0.1', [])), { ok: true, certificate: undefined, chain: [] });
    assert.deepEqual(verify(request('192.0.2.10', [])), { ok: true, certificate: undefined, chain: [] }, 'a direct request without the header is just anonymous');
  });
  test('optional does not relax validation of a certificate that is present', () => {
    const verify = createClientCertificateVerifier({ ...base, required: false });
    refused(verify(request('127.0.0.1', encodeClientCertificate(f.mallory.x509))), 'ERR_CERT_UNTRUSTED');
  });
});

describe('forged and malformed headers', () => {
  const verify = createClientCertificateVerifier(base);
  test('garbage', () => refused(verify(request('127.0.0.1', ['X-ARR-ClientCert', 'bm90IGEgY2VydA=='])), 'ERR_CERT_DER_INVALID'));
  test('sent twice', () => refused(verify(request('127.0.0.1', [...encodeClientCertificate(f.bob.x509), ...encodeClientCertificate(f.bob.x509)])), 'ERR_CERT_HEADER_MULTIPLE'));
  test('PEM of a certificate from another CA', () => refused(verify(request('127.0.0.1', ['X-ARR-ClientCert', f.mallory.pem.replace(/\n/g, ' ')])), 'ERR_CERT_UNTRUSTED'));
  test('validation failures keep their code', () => {
    refused(verify(request('127.0.0.1', encodeClientCertificate(f.serverOnly.x509))), 'ERR_CERT_EKU');
    const late = createClientCertificateVerifier({ ...base, now: () => now + 400 * 24 * 3600 * 1000 });
    refused(late(request('127.0.0.1', encodeClientCertificate(f.bob.x509))), 'ERR_CERT_EXPIRED');
  });
  test('a chain without a leaf', () => {
    const v = createClientCertificateVerifier({ ...base, format: 'rfc9440' });
    refused(v(request('127.0.0.1', ['Client-Cert-Chain', `:${f.intermediate.der.toString('base64')}:`])), 'ERR_CERT_HEADER_MALFORMED');
  });
});

describe('formats and header names', () => {
  test('custom header name for base64Der', () => {
    const verify = createClientCertificateVerifier({ ...base, headerName: 'X-Client-Cert' });
    assert.equal(verify(request('127.0.0.1', encodeClientCertificate(f.bob.x509, 'base64Der', 'X-Client-Cert'))).ok, true);
    refused(verify(request('127.0.0.1', encodeClientCertificate(f.bob.x509))), 'ERR_CERT_MISSING');
  });
  test('rfc9440 with Client-Cert-Chain supplies the intermediate', () => {
    const verify = createClientCertificateVerifier({ ...base, format: 'rfc9440' });
    const result = verify(request('127.0.0.1', encodeClientCertificate({ raw: f.alice.der, chain: [f.intermediate.der] }, 'rfc9440')));
    assert.equal(result.ok, true, result.ok ? '' : result.reason);
    assert.deepEqual(result.ok && result.chain.map((c) => c.raw), [f.intermediate.der]);
    refused(verify(request('127.0.0.1', encodeClientCertificate({ raw: f.alice.der }, 'rfc9440'))), 'ERR_CERT_UNTRUSTED');
  });
  test('xfcc Chain supplies the intermediate', () => {
    const verify = createClientCertificateVerifier({ ...base, format: 'xfcc' });
    assert.equal(verify(request('127.0.0.1', encodeClientCertificate({ raw: f.alice.der, chain: [f.intermediate.der] }, 'xfcc'))).ok, true);
  });
  test('pemUrlEncoded', () => {
    const verify = createClientCertificateVerifier({ ...base, format: 'pemUrlEncoded' });
    assert.equal(verify(request('127.0.0.1', encodeClientCertificate(f.bob.x509, 'pemUrlEncoded'))).ok, true);
  });
  test('invalid options throw at creation', () => {
    assert.throws(() => createClientCertificateVerifier({ ...base, format: 'der' as never }), TypeError);
    assert.throws(() => createClientCertificateVerifier({ ...base, trustedProxies: ['localhost'] }), TypeError);
    assert.throws(() => createClientCertificateVerifier({ ...base, secret: 'short' }), RangeError);
    assert.throws(() => createClientCertificateVerifier({ ...base, validation: {} }), TypeError);
  });
});

describe('with the proxy signature', () => {
  const withSecret = (extra: Partial<ClientCertificateVerifierOptions> = {}) => createClientCertificateVerifier({ ...base, secret, ...extra });
  test('valid certificate and signature → ok with the log id', () => {
    const result = withSecret()(request('127.0.0.1', [...encodeClientCertificate(f.bob.x509), ...signed(f.bob.der, 'log-1')]));
    assert.equal(result.ok, true);
    assert.equal(result.ok && result.logId, 'log-1');
  });
  test('no signature → refused', () => refused(withSecret()(request('127.0.0.1', encodeClientCertificate(f.bob.x509))), 'ERR_SIGNATURE_MISSING'));
  test('a trusted certificate swapped in under a genuine signature → refused', () => {
    refused(withSecret()(request('127.0.0.1', [...encodeClientCertificate(f.alice.x509), ...signed(f.bob.der)])), 'ERR_SIGNATURE_MISMATCH');
  });
  test('a certificate added to a request signed without one → refused', () => {
    refused(withSecret({ required: false })(request('127.0.0.1', [...encodeClientCertificate(f.bob.x509), ...signed(undefined)])), 'ERR_SIGNATURE_MISMATCH');
  });
  test('no certificate, signed as such, optional → ok', () => {
    const result = withSecret({ required: false })(request('127.0.0.1', signed(undefined, 'anon-1')));
    assert.deepEqual(result, { ok: true, certificate: undefined, chain: [], logId: 'anon-1' });
  });
  test('replays are refused by the default cache', () => {
    const verify = withSecret();
    const headers = [...encodeClientCertificate(f.bob.x509), ...signed(f.bob.der, 'once')];
    assert.equal(verify(request('127.0.0.1', headers)).ok, true);
    refused(verify(request('127.0.0.1', headers)), 'ERR_SIGNATURE_REPLAYED');
  });
  test('replayCache: false turns replay detection off; a shared cache spans verifiers', () => {
    const off = withSecret({ replayCache: false });
    const headers = [...encodeClientCertificate(f.bob.x509), ...signed(f.bob.der, 'twice')];
    assert.equal(off(request('127.0.0.1', headers)).ok, true);
    assert.equal(off(request('127.0.0.1', headers)).ok, true);
    const cache = new ReplayCache();
    assert.equal(withSecret({ replayCache: cache })(request('127.0.0.1', headers)).ok, true);
    refused(withSecret({ replayCache: cache })(request('127.0.0.1', headers)), 'ERR_SIGNATURE_REPLAYED');
  });
  test('old signature → refused', () => {
    refused(withSecret()(request('127.0.0.1', [...encodeClientCertificate(f.bob.x509), ...signed(f.bob.der, 'old', Math.floor(now / 1000) - 120)])), 'ERR_SIGNATURE_TOO_OLD');
  });
  test('custom signature header name', () => {
    const verify = withSecret({ signatureHeaderName: 'X-Proxy-Sig' });
    const [, value] = signed(f.bob.der) as [string, string];
    assert.equal(verify(request('127.0.0.1', [...encodeClientCertificate(f.bob.x509), 'X-Proxy-Sig', value])).ok, true);
  });
});

describe('robustness', () => {
  test('an unexpected failure is a 403 ERR_INTERNAL, not an exception', () => {
    const verify = createClientCertificateVerifier(base);
    const broken = {
      socket: { remoteAddress: '127.0.0.1' },
      get headersDistinct(): never {
        throw new Error('socket gone');
      },
    } as unknown as IncomingMessage;
    const result = verify(broken);
    refused(result, 'ERR_INTERNAL');
    assert.match(result.ok ? '' : result.reason, /socket gone/);
  });
});
