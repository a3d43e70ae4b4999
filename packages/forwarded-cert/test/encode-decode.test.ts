import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  encodeClientCertificate,
  FORWARDED_CERTIFICATE_FORMATS,
  ForwardedCertificateError,
  parseForwardedCertificate,
  parseForwardedCertificateChain,
  subjectDn,
} from '../src/index.js';
import { fixtures } from './helpers/pki.js';

const f = fixtures();

/** Reads back what encodeClientCertificate produced, the way a backend would get the headers. */
function headerMap(flat: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) map.set((flat[i] as string).toLowerCase(), flat[i + 1] as string);
  return map;
}

describe('encode → decode round trip', () => {
  for (const format of FORWARDED_CERTIFICATE_FORMATS) {
    test(`${format}: leaf and chain come back byte for byte`, () => {
      const flat = encodeClientCertificate({ raw: f.alice.der, chain: [f.intermediate.der] }, format);
      const headers = headerMap(flat);
      const certHeader = format === 'rfc9440' ? 'client-cert' : format === 'xfcc' ? 'x-forwarded-client-cert' : 'x-arr-clientcert';
      const leaf = parseForwardedCertificate(headers.get(certHeader), format);
      assert.ok(leaf);
      assert.deepEqual(leaf.raw, f.alice.der);
      const chainValue = format === 'rfc9440' ? headers.get('client-cert-chain') : headers.get(certHeader);
      const chain = parseForwardedCertificateChain(chainValue, format);
      if (format === 'rfc9440' || format === 'xfcc') assert.deepEqual(chain.map((c) => c.raw), [f.intermediate.der]);
      else assert.deepEqual(chain, []);
    });

    test(`${format}: a certificate without chain`, () => {
      const flat = encodeClientCertificate(f.bob.x509, format);
      const headers = headerMap(flat);
      const [name, value] = flat as [string, string];
      assert.deepEqual(parseForwardedCertificate(value, format)?.raw, f.bob.der);
      if (format === 'rfc9440') assert.equal(headers.has('client-cert-chain'), false, 'no Client-Cert-Chain without intermediates');
      assert.ok(name.length > 0);
    });
  }

  test('the special-character subject survives xfcc', () => {
    const [, value] = encodeClientCertificate({ raw: f.special.der }, 'xfcc') as [string, string];
    const cert = parseForwardedCertificate(value, 'xfcc');
    assert.ok(cert);
    assert.equal(subjectDn(cert).get('CN'), 'José "Pepe" <admin>');
    assert.equal(subjectDn(cert).get('O'), 'Müller, Söhne & Co');
  });
});

describe('encodeClientCertificate output', () => {
  test('base64Der: ARR X-ARR-ClientCert, one line of base64, no armour', () => {
    assert.deepEqual(encodeClientCertificate({ raw: f.alice.der, chain: [] }, 'base64Der'), ['X-ARR-ClientCert', f.alice.der.toString('base64')]);
    assert.deepEqual(encodeClientCertificate({ raw: f.alice.der }), ['X-ARR-ClientCert', f.alice.der.toString('base64')], 'base64Der is the default');
  });

  test('base64Der / pemUrlEncoded honour headerName', () => {
    assert.equal(encodeClientCertificate({ raw: f.alice.der }, 'base64Der', 'X-Client-Cert')[0], 'X-Client-Cert');
    assert.equal(encodeClientCertificate({ raw: f.alice.der }, 'pemUrlEncoded', 'ssl-client-cert')[0], 'ssl-client-cert');
  });

  test('pemUrlEncoded: percent-encoded PEM with 64-character lines and a trailing newline', () => {
    const [name, value] = encodeClientCertificate({ raw: f.alice.der }, 'pemUrlEncoded') as [string, string];
    assert.equal(name, 'X-ARR-ClientCert');
    assert.doesNotMatch(value, /[\n +/=]/, 'newlines, spaces, + / = are escaped');
    const pem = decodeURIComponent(value);
    const lines = pem.split('\n');
    assert.equal(lines[0], '-----BEGIN CERTIFICATE-----');
    assert.equal(lines.at(-2), '-----END CERTIFICATE-----');
    assert.equal(lines.at(-1), '', 'trailing newline');
    const body = lines.slice(1, -2);
    assert.ok(body.slice(0, -1).every((l) => l.length === 64));
    assert.ok((body.at(-1) as string).length <= 64);
    assert.equal(body.join(''), f.alice.der.toString('base64'));
    assert.equal(pem, f.alice.pem, 'same as OpenSSL writes it');
  });

  test('rfc9440: Client-Cert and Client-Cert-Chain byte sequences', () => {
    const flat = encodeClientCertificate({ raw: f.alice.der, chain: [f.intermediate.der, f.root.der] }, 'rfc9440');
    assert.deepEqual(flat, [
      'Client-Cert',
      `:${f.alice.der.toString('base64')}:`,
      'Client-Cert-Chain',
      `:${f.intermediate.der.toString('base64')}:, :${f.root.der.toString('base64')}:`,
    ]);
    assert.deepEqual(encodeClientCertificate({ raw: f.bob.der, chain: [] }, 'rfc9440'), ['Client-Cert', `:${f.bob.der.toString('base64')}:`]);
  });

  test('xfcc: Hash, Cert, Chain, Subject, URI, DNS in Envoy order', () => {
    const [name, value] = encodeClientCertificate({ raw: f.alice.der, chain: [f.intermediate.der] }, 'xfcc') as [string, string];
    assert.equal(name, 'x-forwarded-client-cert');
    const hash = createHash('sha256').update(f.alice.der).digest('hex');
    const cert = encodeURIComponent(f.alice.pem);
    const chain = encodeURIComponent(f.alice.pem + f.intermediate.pem);
    assert.equal(value, `Hash=${hash};Cert="${cert}";Chain="${chain}";Subject="CN=alice,O=Example Corp,C=US";URI=spiffe://example.org/alice;DNS=alice.example.org;DNS=alice.internal`);
  });

  test('xfcc: quotes escaped in Subject, non-ASCII as \\XX, separators in a URI quoted', () => {
    const [, value] = encodeClientCertificate({ raw: f.special.der }, 'xfcc') as [string, string];
    assert.match(value, /;Subject="CN=Jos\\\\c3\\\\a9 \\\\\\"Pepe\\\\\\" \\\\<admin\\\\>,O=M\\\\c3\\\\bcller\\\\, S\\\\c3\\\\b6hne & Co,C=DE";/);
    assert.match(value, /;URI="https:\/\/example.org\/a;b=c"$/);
    assert.match(value, /^[\x20-\x7e]+$/, 'header value is plain ASCII');
  });

  test('an unknown format throws ERR_CERT_FORMAT_UNKNOWN', () => {
    assert.throws(
      () => encodeClientCertificate({ raw: f.alice.der }, 'pem' as never),
      (e: unknown) => e instanceof ForwardedCertificateError && e.code === 'ERR_CERT_FORMAT_UNKNOWN',
    );
  });
});

describe('base64Der tolerance (what ASP.NET does not accept, we do)', () => {
  test('PEM armour', () => {
    assert.deepEqual(parseForwardedCertificate(f.alice.pem)?.raw, f.alice.der);
  });
  test('whitespace and line breaks inside the base64', () => {
    const b64 = f.alice.der.toString('base64');
    const wrapped = ` ${b64.replace(/.{1,50}/g, '$&\r\n\t')} `;
    assert.deepEqual(parseForwardedCertificate(wrapped)?.raw, f.alice.der);
  });
  test('a one-element array (req.headersDistinct) is the same as a string', () => {
    assert.deepEqual(parseForwardedCertificate([f.alice.der.toString('base64')])?.raw, f.alice.der);
  });
  test('absent or blank → undefined', () => {
    assert.equal(parseForwardedCertificate(undefined), undefined);
    assert.equal(parseForwardedCertificate(''), undefined);
    assert.equal(parseForwardedCertificate('   '), undefined);
    assert.equal(parseForwardedCertificate([]), undefined);
    assert.deepEqual(parseForwardedCertificateChain(undefined, 'rfc9440'), []);
    assert.deepEqual(parseForwardedCertificateChain(undefined, 'xfcc'), []);
  });
  test('rfc9440 chain split over several header lines is one list', () => {
    const chain = parseForwardedCertificateChain([`:${f.intermediate.der.toString('base64')}:`, `:${f.root.der.toString('base64')}:`], 'rfc9440');
    assert.deepEqual(chain.map((c) => c.raw), [f.intermediate.der, f.root.der]);
  });
  test('xfcc keys are case-insensitive and spaces around separators tolerated', () => {
    const value = `hash=${createHash('sha256').update(f.bob.der).digest('hex')} ; cert="${encodeURIComponent(f.bob.pem)}" ;subject="CN=bob,O=Example Corp"`;
    assert.deepEqual(parseForwardedCertificate(value, 'xfcc')?.raw, f.bob.der);
  });
});
