import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import * as x509 from '@peculiar/x509';
import { generateKeys, isRsa } from './keys.js';
import { buildName, checkDnsName, checkEmail, checkIp, randomSerial } from './names.js';
import type { RevocationPointers, Signer } from './signer.js';
import { caSignerOf, keyIdExtensions, makeIssued, revocationPointerExtensions, signCertificate } from './signer.js';
import type { Issued, KeyType, Validity } from './types.js';
import { DEFAULT_LEAF_DAYS, resolveValidity } from './validity.js';

/** Options for a TLS server certificate (createSelfSignedServer takes the same without `ca`). */
export type ServerOptions = {
  dnsNames: string[];
  ipAddresses?: string[];
  /** Defaults to the first DNS name, else the first IP address. */
  commonName?: string;
  keyType?: KeyType;
} & RevocationPointers &
  Validity;

/** Options for issueServer. */
export type IssueServerOptions = { ca: Issued } & ServerOptions;

/** Options for issueClient. */
export type IssueClientOptions = {
  ca: Issued;
  commonName: string;
  /** Added as SAN rfc822Name and as subject emailAddress (E=). */
  email?: string;
  organizationalUnit?: string;
  organization?: string;
  keyType?: KeyType;
  /** Default 'clientAuth'; 'none' omits the extendedKeyUsage extension. */
  extendedKeyUsage?: 'clientAuth' | 'serverAuth' | 'none';
  /** Default 'digitalSignature'; 'keyCertSignOnly' exists to produce deliberately unusable certs for tests. */
  keyUsage?: 'digitalSignature' | 'keyCertSignOnly';
} & RevocationPointers &
  Validity;

/** Options for issueOcspResponder. */
export type IssueOcspResponderOptions = {
  /** The CA whose certificates the responder answers for (it signs the responder's certificate). */
  ca: Issued;
  commonName: string;
  keyType?: KeyType;
} & Validity;

const OID_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
const OID_OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
/**
 * Default lifetime of an OCSP responder certificate. It carries id-pkix-ocsp-nocheck, so nothing can revoke
 * it: RFC 6960 §4.2.2.2.1 suggests a very short lifetime, renewed often.
 */
export const DEFAULT_OCSP_RESPONDER_DAYS = 30;

async function issueServerWith(opts: ServerOptions, issuer: Signer | null, chainPem: string[]): Promise<Issued> {
  const dnsNames = opts.dnsNames.map(checkDnsName);
  const ips = (opts.ipAddresses ?? []).map(checkIp);
  const commonName = opts.commonName ?? dnsNames[0] ?? ips[0];
  if (commonName === undefined) throw new TypeError('a server certificate needs at least one DNS name or IP address');
  const keyType = opts.keyType ?? 'ecdsa-p256';
  const { notBefore, notAfter } = resolveValidity(opts, DEFAULT_LEAF_DAYS);
  const pointers = revocationPointerExtensions(opts);
  const keys = await generateKeys(keyType);
  const usage = x509.KeyUsageFlags.digitalSignature | (isRsa(keyType) ? x509.KeyUsageFlags.keyEncipherment : 0);
  const san: x509.JsonGeneralNames = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    new x509.SubjectAlternativeNameExtension(san, false),
    ...(await keyIdExtensions(keys.publicKey, issuer)),
    ...pointers,
  ];
  const cert = await signCertificate(
    { subject: buildName({ commonName }), serialNumber: randomSerial(), notBefore, notAfter, publicKey: keys.publicKey, extensions },
    issuer,
    keys,
  );
  return makeIssued(cert, keys, chainPem);
}

/**
 * Issues a TLS server certificate signed by `ca`: SAN dNSName + iPAddress, EKU serverAuth,
 * keyUsage digitalSignature (+keyEncipherment for RSA), basicConstraints CA:false; with crlUrls / ocspUrls,
 * cRLDistributionPoints and authorityInfoAccess (OCSP), both non-critical.
 */
export async function issueServer(opts: IssueServerOptions): Promise<Issued> {
  const { ca, ...rest } = opts;
  return issueServerWith(rest, caSignerOf(ca), [ca.certPem, ...ca.chainPem]);
}

/** Creates a self-signed TLS server certificate with the same profile as issueServer. */
export async function createSelfSignedServer(opts: ServerOptions): Promise<Issued> {
  return issueServerWith(opts, null, []);
}

/**
 * Issues a TLS client certificate signed by `ca`. Defaults: EKU clientAuth, keyUsage digitalSignature,
 * basicConstraints CA:false. `email` goes into SAN rfc822Name and the subject emailAddress; crlUrls / ocspUrls
 * as for issueServer.
 */
export async function issueClient(opts: IssueClientOptions): Promise<Issued> {
  const issuer = caSignerOf(opts.ca);
  const email = opts.email === undefined ? undefined : checkEmail(opts.email);
  const { notBefore, notAfter } = resolveValidity(opts, DEFAULT_LEAF_DAYS);
  const pointers = revocationPointerExtensions(opts);
  const keys = await generateKeys(opts.keyType ?? 'ecdsa-p256');
  const usage =
    (opts.keyUsage ?? 'digitalSignature') === 'keyCertSignOnly'
      ? x509.KeyUsageFlags.keyCertSign
      : x509.KeyUsageFlags.digitalSignature;
  const eku = opts.extendedKeyUsage ?? 'clientAuth';
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
  ];
  if (eku !== 'none') extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage[eku]], false));
  if (email !== undefined) extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'email', value: email }], false));
  extensions.push(...(await keyIdExtensions(keys.publicKey, issuer)), ...pointers);
  const subject = buildName({
    commonName: opts.commonName,
    organization: opts.organization,
    organizationalUnit: opts.organizationalUnit,
    email,
  });
  const cert = await signCertificate(
    { subject, serialNumber: randomSerial(), notBefore, notAfter, publicKey: keys.publicKey, extensions },
    issuer,
    keys,
  );
  return makeIssued(cert, keys, [opts.ca.certPem, ...opts.ca.chainPem]);
}

/**
 * Issues a delegated OCSP signing certificate for `ca` (RFC 6960 §4.2.2.2): EKU id-kp-OCSPSigning only,
 * keyUsage digitalSignature (critical), basicConstraints CA:false (critical), and id-pkix-ocsp-nocheck
 * (non-critical, RFC 6960 §4.2.2.2.1: clients do not check this certificate's own revocation). Default
 * lifetime DEFAULT_OCSP_RESPONDER_DAYS (30 days), key ecdsa-p256.
 */
export async function issueOcspResponder(opts: IssueOcspResponderOptions): Promise<Issued> {
  const issuer = caSignerOf(opts.ca);
  const { notBefore, notAfter } = resolveValidity(opts, DEFAULT_OCSP_RESPONDER_DAYS);
  const keys = await generateKeys(opts.keyType ?? 'ecdsa-p256');
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([OID_OCSP_SIGNING], false),
    new x509.Extension(OID_OCSP_NOCHECK, false, new Uint8Array([0x05, 0x00])),
    ...(await keyIdExtensions(keys.publicKey, issuer)),
  ];
  const cert = await signCertificate(
    { subject: buildName({ commonName: opts.commonName }), serialNumber: randomSerial(), notBefore, notAfter, publicKey: keys.publicKey, extensions },
    issuer,
    keys,
  );
  return makeIssued(cert, keys, [opts.ca.certPem, ...opts.ca.chainPem]);
}
