import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import * as x509 from '@peculiar/x509';
import { generateKeys } from './keys.js';
import { buildName, randomSerial } from './names.js';
import type { RevocationPointers } from './signer.js';
import { caSignerOf, keyIdExtensions, makeIssued, revocationPointerExtensions, signCertificate } from './signer.js';
import type { Issued, KeyType, Validity } from './types.js';
import { DEFAULT_CA_DAYS, resolveValidity } from './validity.js';

/**
 * Options for createCa. `crlUrls` / `ocspUrls` say where the status of this CA certificate is published by
 * its issuer, so they belong on an intermediate; on a root (no `issuer`) they are written but relying
 * parties do not check a trust anchor's revocation.
 */
export type CaOptions = {
  commonName: string;
  organization?: string;
  keyType?: KeyType;
  /** Signing CA: when given, creates an intermediate CA instead of a self-signed root. */
  issuer?: Issued;
  /** basicConstraints pathLenConstraint; omitted = unlimited. */
  pathLength?: number;
} & RevocationPointers &
  Validity;

/**
 * Creates a root CA (self-signed) or, with `issuer`, an intermediate CA.
 * Extensions: basicConstraints CA:true (critical), keyUsage keyCertSign+cRLSign (critical),
 * subjectKeyIdentifier, authorityKeyIdentifier; with crlUrls / ocspUrls, cRLDistributionPoints and
 * authorityInfoAccess (OCSP), both non-critical. Default lifetime 3650 days, key ecdsa-p256.
 */
export async function createCa(opts: CaOptions): Promise<Issued> {
  const issuer = opts.issuer ? caSignerOf(opts.issuer) : null;
  if (opts.pathLength !== undefined && !(Number.isInteger(opts.pathLength) && opts.pathLength >= 0)) {
    throw new RangeError(`pathLength must be a non-negative integer, got ${opts.pathLength}`);
  }
  const { notBefore, notAfter } = resolveValidity(opts, DEFAULT_CA_DAYS);
  const pointers = revocationPointerExtensions(opts);
  const keys = await generateKeys(opts.keyType ?? 'ecdsa-p256');
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, opts.pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ...(await keyIdExtensions(keys.publicKey, issuer)),
    ...pointers,
  ];
  const cert = await signCertificate(
    {
      subject: buildName({ commonName: opts.commonName, organization: opts.organization }),
      serialNumber: randomSerial(),
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      extensions,
    },
    issuer,
    keys,
  );
  const chainPem = opts.issuer ? [opts.issuer.certPem, ...opts.issuer.chainPem] : [];
  return makeIssued(cert, keys, chainPem);
}
