/**
 * OCSP (RFC 6960): the request for one certificate, and the checks an answer must pass before it is
 * believed: a successful basic response, a single response for exactly this certificate, a signature by
 * the issuing CA or by a responder the CA delegated (issued by it, with the OCSP-signing EKU), and a
 * validity window that covers now. Encoding by @peculiar/asn1-ocsp; signatures by node's crypto.verify.
 */
import { createHash, verify } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, OCSPResponseStatus, Request, TBSRequest, id_pkix_ocsp_basic } from '@peculiar/asn1-ocsp';
import { SIGNATURE_DIGESTS } from '../../config/crl.js';
import { factsOf, isIssuerOf, type CertificateFacts } from './certificate-facts.js';

const SHA1 = '1.3.14.3.2.26';
const SHA256 = '2.16.840.1.101.3.4.2.1';
const HASHES: Record<string, string> = { [SHA1]: 'sha1', [SHA256]: 'sha256' };
/** How far a responder's clock may run ahead of ours. */
const CLOCK_SKEW_MS = 5 * 60_000;

export type OcspStatus = 'good' | 'revoked' | 'unknown';

export interface OcspAnswer {
  readonly status: OcspStatus;
  readonly thisUpdateMs: number;
  /** Absent when the responder gives none (its answer is then good for `freshness`). */
  readonly nextUpdateMs: number | undefined;
  readonly revokedAtMs: number | undefined;
}

/** The DER OCSP request for `cert` issued by `issuer` (CertID hashed with SHA-1, as every responder reads). */
export function ocspRequestFor(cert: CertificateFacts, issuer: CertificateFacts): Buffer {
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA1, parameters: null }),
    issuerNameHash: new OctetString(createHash('sha1').update(issuer.subjectDer).digest()),
    issuerKeyHash: new OctetString(createHash('sha1').update(issuer.keyBits).digest()),
    serialNumber: cert.serialBytes,
  });
  const request = new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId })] }) });
  return Buffer.from(AsnConvert.serialize(request));
}

function sameBytes(a: ArrayBuffer | Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a instanceof Uint8Array ? a : new Uint8Array(a)).equals(b);
}

function matches(id: CertID, cert: CertificateFacts, issuer: CertificateFacts): boolean {
  const hash = HASHES[id.hashAlgorithm.algorithm];
  if (!hash) return false;
  return (
    sameBytes(id.serialNumber, new Uint8Array(cert.serialBytes)) &&
    sameBytes(id.issuerNameHash.buffer, createHash(hash).update(issuer.subjectDer).digest()) &&
    sameBytes(id.issuerKeyHash.buffer, createHash(hash).update(issuer.keyBits).digest())
  );
}

/** The certificate that signed a basic response: the issuer itself, or a delegated responder it issued. */
function signerOf(basic: BasicOCSPResponse, issuer: CertificateFacts): CertificateFacts | string {
  const id = basic.tbsResponseData.responderID;
  const isNamed = (facts: CertificateFacts) =>
    id.byName ? facts.subjectDer.equals(Buffer.from(AsnConvert.serialize(id.byName))) : id.byKey ? sameBytes(id.byKey.buffer, createHash('sha1').update(facts.keyBits).digest()) : false;
  if (isNamed(issuer)) return issuer;
  for (const cert of basic.certs ?? []) {
    let facts: CertificateFacts;
    try {
      facts = factsOf(Buffer.from(AsnConvert.serialize(cert)));
    } catch {
      continue;
    }
    if (!isNamed(facts)) continue;
    if (!isIssuerOf(issuer, facts)) return `the responder's certificate (${facts.subject}) is not issued by ${issuer.subject}`;
    if (!facts.isOcspSigner) return `the responder's certificate (${facts.subject}) lacks the OCSP-signing extended key usage`;
    const now = Date.now();
    if (Date.parse(facts.x509.validTo) < now || Date.parse(facts.x509.validFrom) > now + CLOCK_SKEW_MS) return `the responder's certificate (${facts.subject}) is outside its validity`;
    return facts;
  }
  return `the answer is signed neither by ${issuer.subject} nor by a responder certificate it carries`;
}

/**
 * Reads and checks a responder's answer about `cert`. Returns the answer, or why it cannot be believed.
 * A good or revoked answer past its nextUpdate is refused as stale.
 */
export function readOcspResponse(der: Uint8Array, cert: CertificateFacts, issuer: CertificateFacts, nowMs = Date.now()): OcspAnswer | string {
  let response: OCSPResponse;
  try {
    response = AsnConvert.parse(der, OCSPResponse);
  } catch {
    return 'the answer is not an OCSP response';
  }
  if (response.responseStatus !== OCSPResponseStatus.successful) return `the responder answered ${OCSPResponseStatus[response.responseStatus] ?? response.responseStatus}`;
  if (!response.responseBytes || response.responseBytes.responseType !== id_pkix_ocsp_basic) return 'the answer is not a basic OCSP response';
  let basic: BasicOCSPResponse;
  try {
    basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
  } catch {
    return 'the basic OCSP response cannot be parsed';
  }
  const single = basic.tbsResponseData.responses.find((r) => matches(r.certID, cert, issuer));
  if (!single) return `the answer is not about ${cert.subject} (serial ${cert.serial})`;
  const signer = signerOf(basic, issuer);
  if (typeof signer === 'string') return signer;
  const digest = SIGNATURE_DIGESTS[basic.signatureAlgorithm.algorithm];
  if (digest === undefined) return `its signature algorithm (${basic.signatureAlgorithm.algorithm}) cannot be checked`;
  const signed = basic.tbsResponseDataRaw ? new Uint8Array(basic.tbsResponseDataRaw) : new Uint8Array(AsnConvert.serialize(basic.tbsResponseData));
  let isValid = false;
  try {
    isValid = verify(digest, signed, signer.publicKey, new Uint8Array(basic.signature));
  } catch {
    isValid = false;
  }
  if (!isValid) return `its signature does not verify with the key of ${signer.subject}`;
  const thisUpdateMs = single.thisUpdate.getTime();
  const nextUpdateMs = single.nextUpdate?.getTime();
  if (thisUpdateMs > nowMs + CLOCK_SKEW_MS) return `it is not yet valid (thisUpdate ${single.thisUpdate.toISOString()})`;
  if (nextUpdateMs !== undefined && nextUpdateMs < nowMs) return `it is stale (nextUpdate ${new Date(nextUpdateMs).toISOString()})`;
  const status = single.certStatus;
  const revokedAtMs = status.revoked?.revocationTime.getTime();
  return { status: status.revoked ? 'revoked' : status.good !== undefined ? 'good' : 'unknown', thisUpdateMs, nextUpdateMs, revokedAtMs };
}
