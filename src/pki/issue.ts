import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import * as x509 from '@peculiar/x509';
import { generateKeys, isRsa } from './keys.js';
import { buildName, checkDnsName, checkEmail, checkIp, randomSerial } from './names.js';
import type { Signer } from './signer.js';
import { caSignerOf, keyIdExtensions, makeIssued, signCertificate } from './signer.js';
import type { Issued, KeyType, Validity } from './types.js';
import { DEFAULT_LEAF_DAYS, resolveValidity } from './validity.js';

/** Options for a TLS server certificate (createSelfSignedServer takes the same without `ca`). */
export type ServerOptions = {
  dnsNames: string[];
  ipAddresses?: string[];
  /** Defaults to the first DNS name, else the first IP address. */
  commonName?: string;
  keyType?: KeyType;
} & Validity;

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
} & Validity;

async function issueServerWith(opts: ServerOptions, issuer: Signer | null, chainPem: string[]): Promise<Issued> {
  const dnsNames = opts.dnsNames.map(checkDnsName);
  const ips = (opts.ipAddresses ?? []).map(checkIp);
  const commonName = opts.commonName ?? dnsNames[0] ?? ips[0];
  if (commonName === undefined) throw new TypeError('a server certificate needs at least one DNS name or IP address');
  const keyType = opts.keyType ?? 'ecdsa-p256';
  const { notBefore, notAfter } = resolveValidity(opts, DEFAULT_LEAF_DAYS);
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
 * keyUsage digitalSignature (+keyEncipherment for RSA), basicConstraints CA:false.
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
 * basicConstraints CA:false. `email` goes into SAN rfc822Name and the subject emailAddress.
 */
export async function issueClient(opts: IssueClientOptions): Promise<Issued> {
  const issuer = caSignerOf(opts.ca);
  const email = opts.email === undefined ? undefined : checkEmail(opts.email);
  const { notBefore, notAfter } = resolveValidity(opts, DEFAULT_LEAF_DAYS);
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
  extensions.push(...(await keyIdExtensions(keys.publicKey, issuer)));
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
