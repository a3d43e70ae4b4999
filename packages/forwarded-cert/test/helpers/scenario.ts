/**
 * The three HTTP scenarios every middleware test runs against a real server: a valid certificate
 * with a valid signature, a forged certificate, and no certificate where one is required.
 */
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { encodeClientCertificate, signForwardedIdentity, subjectDn, type MiddlewareOptions } from '../../src/index.js';
import { fixtures } from './pki.js';
import { get, pairs } from './http.js';

export const SECRET = 'middleware-test-secret-0123456789abcdef';

/** Options shared by the middleware tests: trust 127.0.0.1, require a cert, check the signature. */
export function middlewareOptions(extra: Partial<MiddlewareOptions> = {}): MiddlewareOptions {
  return { trustedProxies: ['127.0.0.1'], validation: { trustedCas: [fixtures().root.pem] }, secret: SECRET, ...extra };
}

/** What the test handlers answer: the subject of the certificate the middleware accepted. */
export function describeSubject(cert: X509Certificate | null | undefined): string {
  return cert ? `subject: ${subjectDn(cert).rfc4514}` : 'anonymous';
}

let counter = 0;

/** Headers as Gatehouse sends them: the certificate and a fresh signature over it. */
export function gatehouseHeaders(der: Buffer | undefined, certHeaders: readonly string[] = der ? encodeClientCertificate({ raw: der }) : []): [string, string][] {
  const logId = `test-${process.pid}-${++counter}`;
  const signature = signForwardedIdentity({ secret: SECRET, timestampSeconds: Math.floor(Date.now() / 1000), logId, certificateDer: der });
  return [...pairs(certHeaders), ['X-Gatehouse-Signature', signature]];
}

/** Runs valid → 200 with the subject, forged → 403, missing → 403 against `url`. */
export async function assertScenarios(url: string): Promise<void> {
  const f = fixtures();
  const ok = await get(url, gatehouseHeaders(f.bob.der));
  assert.deepEqual(ok, { status: 200, body: 'subject: CN=bob,O=Example Corp' });

  const viaChain = await get(url, gatehouseHeaders(f.alice.der, encodeClientCertificate({ raw: f.alice.der, chain: [f.intermediate.der] }, 'base64Der')));
  assert.equal(viaChain.status, 403, 'base64Der carries no chain, alice needs her intermediate');

  // Forged: a certificate from the forger's CA, and a genuine signature over it is impossible without the secret.
  const forged = await get(url, [...pairs(encodeClientCertificate(f.mallory.x509)), ['X-Gatehouse-Signature', `t=${Math.floor(Date.now() / 1000)};id=forged;v1=${'A'.repeat(43)}`]]);
  assert.deepEqual(forged, { status: 403, body: 'Forbidden: ERR_SIGNATURE_MISMATCH\n' });

  // Forged: a real, trusted certificate (someone else's) pasted under a signature made for another one.
  const swapped = gatehouseHeaders(f.bob.der);
  swapped[0] = ['X-ARR-ClientCert', f.noEku.der.toString('base64')];
  assert.deepEqual(await get(url, swapped), { status: 403, body: 'Forbidden: ERR_SIGNATURE_MISMATCH\n' });

  const missing = await get(url, gatehouseHeaders(undefined));
  assert.deepEqual(missing, { status: 403, body: 'Forbidden: ERR_CERT_MISSING\n' });

  const unsigned = await get(url, pairs(encodeClientCertificate(f.bob.x509)));
  assert.deepEqual(unsigned, { status: 403, body: 'Forbidden: ERR_SIGNATURE_MISSING\n' });
}
