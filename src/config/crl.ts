/**
 * CRLs signed by a CA that is not in trustedCaFile (an intermediate clients send in their chain): what
 * the door needs to verify one later against that CA's key, taken from its DER once at load.
 */
import { childrenOf, oidOf, readTlv } from './der.js';

export type RevocationCheck = 'off' | 'leaf' | 'chain';

/** A CRL whose issuer is not a trusted CA, ready to verify against the CA a client's chain shows. */
export interface PendingCrl {
  /** The file it came from, for logs. */
  readonly file: string;
  /** Its issuer as people read it. */
  readonly issuer: string;
  /** Its issuer Name, DER, hex: compared with a CA certificate's subject. */
  readonly issuerName: string;
  /** tbsCertList: the signed bytes. */
  readonly signed: Buffer;
  readonly signature: Buffer;
  /** The digest for crypto.verify (null for Ed25519 / Ed448). */
  readonly digest: string | null;
  readonly serials: ReadonlySet<string>;
}

/** Signature algorithm OID → the digest crypto.verify takes (null: EdDSA); absent: not checkable here. */
export const SIGNATURE_DIGESTS: Readonly<Record<string, string | null>> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};

/** A pending CRL from its DER, or why it cannot be one (a signature algorithm node cannot verify here). */
export function pendingCrlOf(der: Uint8Array, file: string, issuer: string, serials: ReadonlySet<string>): PendingCrl | string {
  const top = readTlv(der, 0);
  const [tbs, algorithm, signature] = childrenOf(der, top);
  if (!tbs || !algorithm || !signature || signature.tag !== 0x03) return 'it is not a CertificateList';
  const algorithmOid = childrenOf(der, algorithm)[0];
  const oid = algorithmOid ? oidOf(der, algorithmOid) : '';
  const digest = SIGNATURE_DIGESTS[oid];
  if (digest === undefined) return `its signature algorithm (${oid}) cannot be checked against a CA's key (RSA PKCS#1 v1.5, ECDSA, Ed25519 and Ed448 can)`;
  const fields = childrenOf(der, tbs);
  const name = fields[0]?.tag === 0x02 ? fields[2] : fields[1]; // version INTEGER is optional
  if (!name) return 'it has no issuer';
  return {
    file,
    issuer,
    issuerName: Buffer.from(der.subarray(name.start, name.end)).toString('hex'),
    signed: Buffer.from(der.subarray(tbs.start, tbs.end)),
    signature: Buffer.from(der.subarray(signature.contentStart + 1, signature.end)), // after the unused-bits byte
    digest,
    serials,
  };
}

