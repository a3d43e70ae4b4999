/**
 * A CRL fetched from a certificate's distribution point, believed only when the certificate's issuer
 * signed it (same name, its key verifies the signature) and it has not passed its nextUpdate.
 */
import { verify } from 'node:crypto';
import 'reflect-metadata'; // @peculiar/x509 needs the Reflect metadata API
import * as x509 from '@peculiar/x509';
import { pendingCrlOf } from '../../config/crl.js';
import { crlsIn, normalizeSerial } from '../../config/tls-files.js';
import type { CertificateFacts } from './certificate-facts.js';

export interface CrlAnswer {
  readonly serials: ReadonlySet<string>;
  readonly thisUpdateMs: number;
  readonly nextUpdateMs: number | undefined;
}

/** Reads and checks a CRL (DER, or a PEM block) that `issuer` must have signed; or why it cannot be believed. */
export function readCrl(bytes: Uint8Array, issuer: CertificateFacts, nowMs = Date.now()): CrlAnswer | string {
  const first = crlsIn(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))[0];
  if (!first) return 'the answer is not a CRL';
  const der = new Uint8Array(first.buffer, first.byteOffset, first.byteLength);
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(der);
  } catch {
    return 'the answer is not a CRL';
  }
  const serials = new Set<string>();
  for (const entry of crl.entries) serials.add(normalizeSerial(entry.serialNumber));
  const signed = pendingCrlOf(der, '', crl.issuer, serials);
  if (typeof signed === 'string') return `the CRL cannot be checked: ${signed}`;
  if (signed.issuerName !== issuer.subjectDer.toString('hex')) return `the CRL is issued by "${crl.issuer}", not by ${issuer.subject}`;
  let isValid = false;
  try {
    isValid = verify(signed.digest, signed.signed, issuer.publicKey, signed.signature);
  } catch {
    isValid = false;
  }
  if (!isValid) return `the CRL's signature does not verify with the key of ${issuer.subject}`;
  const nextUpdateMs = crl.nextUpdate?.getTime();
  if (nextUpdateMs !== undefined && nextUpdateMs < nowMs) return `the CRL is stale (nextUpdate ${new Date(nextUpdateMs).toISOString()})`;
  return { serials, thisUpdateMs: crl.thisUpdate.getTime(), nextUpdateMs };
}
