import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import { X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CryptoKey, KeyMaterial } from './keys.js';
import { pkiCrypto, privateKeyToPem, toPem } from './keys.js';
import { normalizeSerial } from './names.js';
import type { Issued, KeyType } from './types.js';

/** Internal signing handle stored in Issued.signer. Not part of the public API. */
export class Signer {
  constructor(
    readonly privateKey: CryptoKey,
    readonly keyType: KeyType,
    readonly signingAlgorithm: { name: string; hash: string },
    readonly cert: x509.X509Certificate,
    readonly isCa: boolean,
  ) {}

  /** Subject key identifier (hex) of this certificate, used as the AKI of what it signs. */
  get keyId(): string | undefined {
    return this.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  }
}

/** Returns the Signer of an Issued value, or throws if it was not produced by this library. */
export function signerOf(issued: Issued): Signer {
  const s = issued.signer;
  if (!(s instanceof Signer)) throw new TypeError('Issued.signer is missing: use a value created by src/pki');
  return s;
}

/** Returns the Signer of a CA, or throws if the certificate is not a CA. */
export function caSignerOf(ca: Issued): Signer {
  const s = signerOf(ca);
  if (!s.isCa) throw new TypeError(`certificate "${ca.cert.subject}" is not a CA (basicConstraints CA:false)`);
  return s;
}

/** Assembles an Issued value from a freshly created certificate. */
export async function makeIssued(
  cert: x509.X509Certificate,
  keys: Pick<KeyMaterial, 'privateKey' | 'keyType' | 'signingAlgorithm'>,
  chainPem: string[],
  keyPem?: string,
): Promise<Issued> {
  const certPem = toPem('CERTIFICATE', new Uint8Array(cert.rawData));
  const nodeCert = new NodeX509(certPem);
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  return {
    certPem,
    keyPem: keyPem ?? (await privateKeyToPem(keys.privateKey)),
    chainPem: [...chainPem],
    cert: nodeCert,
    serialNumber: normalizeSerial(cert.serialNumber),
    signer: new Signer(keys.privateKey, keys.keyType, keys.signingAlgorithm, cert, basic?.ca === true),
  };
}

/** Common certificate-building parameters for issued (non self-signed) certificates. */
export interface SignParams {
  subject: x509.JsonName;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: CryptoKey;
  extensions: x509.Extension[];
}

/** Signs a certificate with the issuer's key (issuer = null means self-signed with `self`). */
export async function signCertificate(
  p: SignParams,
  issuer: Signer | null,
  self: Pick<KeyMaterial, 'privateKey' | 'signingAlgorithm'>,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: p.serialNumber,
      subject: p.subject,
      // Re-use the issuer's encoded subject so the issuer name matches byte for byte.
      issuer: issuer ? issuer.cert.subjectName : p.subject,
      notBefore: p.notBefore,
      notAfter: p.notAfter,
      publicKey: p.publicKey,
      signingKey: issuer ? issuer.privateKey : self.privateKey,
      signingAlgorithm: issuer ? issuer.signingAlgorithm : self.signingAlgorithm,
      extensions: p.extensions,
    },
    pkiCrypto,
  );
}

/** Subject + authority key identifier extensions for a new certificate. */
export async function keyIdExtensions(publicKey: CryptoKey, issuer: Signer | null): Promise<x509.Extension[]> {
  const ski = await x509.SubjectKeyIdentifierExtension.create(publicKey, false, pkiCrypto);
  const akiId = issuer ? issuer.keyId : ski.keyId;
  const exts: x509.Extension[] = [ski];
  if (akiId !== undefined) exts.push(new x509.AuthorityKeyIdentifierExtension(akiId, false));
  else if (issuer) exts.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey, false, pkiCrypto));
  return exts;
}

/**
 * Where relying parties look for a certificate's revocation status (RFC 5280 §4.2.1.13, §4.2.2.1).
 * Each URL must be an absolute `http://` URL: CRLs and OCSP responses are signed, so they are fetched over
 * plain http (RFC 5280 §4.2.1.13, RFC 6960 Appendix A.1); fetching them over https would need a revocation
 * check of its own. The URLs are written exactly as given.
 */
export interface RevocationPointers {
  /** cRLDistributionPoints (non-critical): one distribution point per URL, in order. */
  crlUrls?: string[];
  /** authorityInfoAccess id-ad-ocsp (non-critical): one access description per URL, in order. */
  ocspUrls?: string[];
}

// RFC 3986 characters (unreserved, reserved and '%'). Anything else (spaces, '\', non-ASCII) is refused, not
// rewritten the way the WHATWG parser would: the certificate carries the string as written (an IA5String).
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

/** What is wrong with a CRL or OCSP URL (an absolute http:// URL in RFC 3986 characters), or undefined. */
export function revocationUrlProblem(url: unknown): string | undefined {
  if (typeof url !== 'string') return 'is not a string';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (parsed.protocol !== 'http:') return `uses scheme ${parsed.protocol}, not http:`;
  // new URL also reads 'http:host' and 'http:/host' as http://host/; what reads the certificate may not.
  if (!/^http:\/\/[^/]/i.test(url)) return 'is not absolute: it must start with http:// and a host';
  if (!URI_CHARS.test(url)) return 'holds characters a URI cannot: spaces, backslashes and non-ASCII must be percent-encoded';
  return undefined;
}

/** What revocationUrlProblem expects, for error messages. */
export const REVOCATION_URL_EXPECTED = 'an absolute http:// URL, since CRLs and OCSP responses are fetched over plain http';

/** Returns `url` if it is a valid CRL/OCSP URL; else throws a TypeError naming `option` and the value. */
export function checkRevocationUrl(option: keyof RevocationPointers, url: unknown): string {
  const problem = revocationUrlProblem(url);
  if (problem !== undefined) throw new TypeError(`${option}: ${JSON.stringify(url)} ${problem} (expected ${REVOCATION_URL_EXPECTED})`);
  return url as string;
}

/** The cRLDistributionPoints and authorityInfoAccess (OCSP) extensions for `p`; none for absent or empty lists. */
export function revocationPointerExtensions(p: RevocationPointers): x509.Extension[] {
  const lists = (option: keyof RevocationPointers): string[] => {
    const urls = p[option];
    if (urls === undefined) return [];
    if (!Array.isArray(urls)) throw new TypeError(`${option}: ${JSON.stringify(urls)} is not an array (expected an array of http:// URLs)`);
    return urls.map((url) => checkRevocationUrl(option, url));
  };
  const crlUrls = lists('crlUrls');
  const ocspUrls = lists('ocspUrls');
  const extensions: x509.Extension[] = [];
  if (crlUrls.length > 0) extensions.push(new x509.CRLDistributionPointsExtension(crlUrls, false));
  if (ocspUrls.length > 0) extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: ocspUrls }, false));
  return extensions;
}
