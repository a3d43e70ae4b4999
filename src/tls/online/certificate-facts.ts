/**
 * What online revocation needs from a certificate, read once from its DER: the serial, the subject and key
 * bits an OCSP CertID hashes, the CRL distribution points and OCSP responders it names, and whether it may
 * sign OCSP answers for its issuer. Parsed with @peculiar/asn1-x509 (node's X509Certificate hands over
 * neither the distribution points nor the raw subject), and kept per certificate, so a badge seen again
 * costs a map lookup.
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityInfoAccessSyntax,
  CRLDistributionPoints,
  Certificate,
  ExtendedKeyUsage,
  id_ad_ocsp,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_pe_authorityInfoAccess,
} from '@peculiar/asn1-x509';
import { normalizeSerial } from '../../config/tls-files.js';

const ID_KP_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';

export interface CertificateFacts {
  readonly der: Buffer;
  /** SHA-256 of the DER, lower-case hex: the key of every cache entry about this certificate. */
  readonly fingerprint: string;
  /** Upper-case hex without leading zeros, as CRL entries are compared. */
  readonly serial: string;
  /** The serial INTEGER's content bytes, as an OCSP CertID carries them. */
  readonly serialBytes: ArrayBuffer;
  /** `CN=alice, O=Example`, for log lines. */
  readonly subject: string;
  /** The subject Name, DER: an issuer's name hash, compared with a CRL's or responder's name. */
  readonly subjectDer: Buffer;
  /** The issuer Name, DER. */
  readonly issuerDer: Buffer;
  /** The subjectPublicKey BIT STRING's bits: an issuer's key hash. */
  readonly keyBits: Buffer;
  /** http CRL distribution points, in the certificate's order. */
  readonly crlUrls: readonly string[];
  /** OCSP responders of its Authority Information Access, in order. */
  readonly ocspUrls: readonly string[];
  /** Carries the id-kp-OCSPSigning extended key usage (a delegated OCSP responder). */
  readonly isOcspSigner: boolean;
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
}

const MAX_KNOWN = 2000;
const known = new Map<string, CertificateFacts>();

function uris(names: readonly { uniformResourceIdentifier?: string }[] | undefined, into: string[]): void {
  for (const name of names ?? []) {
    const uri = name.uniformResourceIdentifier;
    if (uri && /^http:\/\//i.test(uri)) into.push(uri);
  }
}

/** The facts of a certificate (DER); throws when it cannot be parsed. */
export function factsOf(der: Buffer, fingerprint256?: string): CertificateFacts {
  const fingerprint = fingerprint256 ? fingerprint256.replace(/:/g, '').toLowerCase() : createHash('sha256').update(der).digest('hex');
  const cached = known.get(fingerprint);
  if (cached) return cached;
  const parsed = AsnConvert.parse(der, Certificate);
  const tbs = parsed.tbsCertificate;
  const crlUrls: string[] = [];
  const ocspUrls: string[] = [];
  let isOcspSigner = false;
  for (const extension of tbs.extensions ?? []) {
    if (extension.extnID === id_ce_cRLDistributionPoints) {
      for (const point of AsnConvert.parse(extension.extnValue, CRLDistributionPoints)) uris(point.distributionPoint?.fullName, crlUrls);
    } else if (extension.extnID === id_pe_authorityInfoAccess) {
      for (const access of AsnConvert.parse(extension.extnValue, AuthorityInfoAccessSyntax)) {
        if (access.accessMethod === id_ad_ocsp) uris([access.accessLocation], ocspUrls);
      }
    } else if (extension.extnID === id_ce_extKeyUsage) {
      isOcspSigner = AsnConvert.parse(extension.extnValue, ExtendedKeyUsage).includes(ID_KP_OCSP_SIGNING);
    }
  }
  const x509 = new X509Certificate(der);
  const facts: CertificateFacts = {
    der,
    fingerprint,
    serial: normalizeSerial(x509.serialNumber),
    serialBytes: tbs.serialNumber,
    subject: x509.subject.split('\n').reverse().join(', '),
    subjectDer: Buffer.from(AsnConvert.serialize(tbs.subject)),
    issuerDer: Buffer.from(AsnConvert.serialize(tbs.issuer)),
    keyBits: Buffer.from(tbs.subjectPublicKeyInfo.subjectPublicKey),
    crlUrls,
    ocspUrls,
    isOcspSigner,
    x509,
    publicKey: x509.publicKey,
  };
  if (known.size >= MAX_KNOWN) known.delete(known.keys().next().value as string);
  known.set(fingerprint, facts);
  return facts;
}

/** Whether `issuer` issued `cert`: names match and its key verifies the signature. */
export function isIssuerOf(issuer: CertificateFacts, cert: CertificateFacts): boolean {
  return issuer.subjectDer.equals(cert.issuerDer) && cert.x509.verify(issuer.publicKey);
}
