/**
 * The parts of an X.509 certificate that validation needs and node:crypto does not expose in a usable
 * form: names as structured RDNs, validity as instants, key usage bits, extended key usages, basic
 * constraints, subject alternative names and the critical extensions.
 */
import type { X509Certificate } from 'node:crypto';
import { children, decodeOid, decodeTime, DerError, expectUniversal, isContext, readSingle, TAG, type Tlv } from './der.js';
import { decodeName, type DistinguishedName } from './distinguished-name.js';

/** The KeyUsage bits (RFC 5280 §4.2.1.3). */
export type KeyUsage =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

const KEY_USAGE_BITS: readonly KeyUsage[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

/** One subject alternative name. `other` covers otherName, x400Address, ediPartyName and registeredID. */
export interface SubjectAltName {
  readonly type: 'dns' | 'uri' | 'email' | 'ip' | 'dirName' | 'other';
  /** The name; an IP address in its usual text form; a directory name in RFC 4514 form; '' for `other`. */
  readonly value: string;
}

/** What {@link certificateFields} reads from a certificate. */
export interface CertificateFields {
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  /** Start of the validity period, ms since the epoch. */
  readonly notBefore: number;
  /** End of the validity period (inclusive), ms since the epoch. */
  readonly notAfter: number;
  /** The KeyUsage bits set, or undefined when the certificate has no KeyUsage extension. */
  readonly keyUsage: ReadonlySet<KeyUsage> | undefined;
  /** The ExtendedKeyUsage OIDs, or undefined when the certificate has no EKU extension. */
  readonly extKeyUsage: readonly string[] | undefined;
  /** BasicConstraints: `ca` false when absent; `pathLength` undefined when unlimited. */
  readonly basicConstraints: { readonly ca: boolean; readonly pathLength: number | undefined };
  readonly subjectAltNames: readonly SubjectAltName[];
  /** OIDs of every extension marked critical. */
  readonly criticalExtensions: readonly string[];
}

/** Well-known OIDs. */
export const OID = {
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

const cache = new WeakMap<X509Certificate, CertificateFields>();

/** Reads (once per certificate object) the fields of `cert`. Throws a DerError for an undecodable certificate. */
export function certificateFields(cert: X509Certificate): CertificateFields {
  let fields = cache.get(cert);
  if (!fields) {
    fields = parseCertificateDer(cert.raw);
    cache.set(cert, fields);
  }
  return fields;
}

/** The RFC 4514 subject of a certificate, e.g. `CN=alice,O=Example,C=US`. */
export function subjectDn(cert: X509Certificate): DistinguishedName {
  return certificateFields(cert).subject;
}

/** The RFC 4514 issuer of a certificate. */
export function issuerDn(cert: X509Certificate): DistinguishedName {
  return certificateFields(cert).issuer;
}

/**
 * Parses the DER of a certificate. The input must be exactly one Certificate SEQUENCE with the
 * RFC 5280 shape; anything else throws a DerError.
 */
export function parseCertificateDer(der: Buffer): CertificateFields {
  const certificate = expectUniversal(readSingle(der), TAG.SEQUENCE, 'a Certificate (SEQUENCE)');
  const [tbs, sigAlg, sigValue, extra] = children(certificate);
  if (extra) throw new DerError('Certificate has more than three elements');
  expectUniversal(tbs, TAG.SEQUENCE, 'a TBSCertificate (SEQUENCE)');
  expectUniversal(sigAlg, TAG.SEQUENCE, 'a signature AlgorithmIdentifier');
  expectUniversal(sigValue, TAG.BIT_STRING, 'a signature BIT STRING');
  const parts = children(tbs as Tlv);
  let index = 0;
  if (isContext(parts[0], 0)) index++;
  expectUniversal(parts[index++], TAG.INTEGER, 'a serial number (INTEGER)');
  expectUniversal(parts[index++], TAG.SEQUENCE, 'a signature AlgorithmIdentifier');
  const issuer = decodeName(parts[index++] as Tlv);
  const validity = children(expectUniversal(parts[index++], TAG.SEQUENCE, 'a Validity (SEQUENCE)'));
  if (validity.length !== 2) throw new DerError('Validity must have two times');
  const notBefore = decodeTime(validity[0] as Tlv);
  const notAfter = decodeTime(validity[1] as Tlv);
  const subject = decodeName(parts[index++] as Tlv);
  expectUniversal(parts[index++], TAG.SEQUENCE, 'a SubjectPublicKeyInfo (SEQUENCE)');
  if (isContext(parts[index], 1)) index++;
  if (isContext(parts[index], 2)) index++;
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  if (isContext(parts[index], 3)) {
    const wrapper = children(parts[index++] as Tlv);
    if (wrapper.length !== 1) throw new DerError('[3] must hold one Extensions SEQUENCE');
    for (const ext of children(expectUniversal(wrapper[0], TAG.SEQUENCE, 'Extensions (SEQUENCE)'))) {
      const items = children(expectUniversal(ext, TAG.SEQUENCE, 'an Extension (SEQUENCE)'));
      const oid = decodeOid(expectUniversal(items[0], TAG.OID, 'an extension id').value);
      let critical = false;
      let at = 1;
      if (items[at]?.tagClass === 0 && items[at]?.tagNumber === TAG.BOOLEAN) {
        critical = (items[at] as Tlv).value[0] === 0xff;
        at++;
      }
      const value = expectUniversal(items[at], TAG.OCTET_STRING, 'an extension value (OCTET STRING)').value;
      if (items.length !== at + 1) throw new DerError(`extension ${oid} has unexpected elements`);
      if (extensions.has(oid)) throw new DerError(`extension ${oid} appears twice`);
      extensions.set(oid, { critical, value });
    }
  }
  if (index !== parts.length) throw new DerError('TBSCertificate has unexpected elements');

  const ku = extensions.get(OID.keyUsage);
  const eku = extensions.get(OID.extKeyUsage);
  const bc = extensions.get(OID.basicConstraints);
  const san = extensions.get(OID.subjectAltName);
  return {
    subject,
    issuer,
    notBefore,
    notAfter,
    keyUsage: ku ? decodeKeyUsage(ku.value) : undefined,
    extKeyUsage: eku ? children(expectUniversal(readSingle(eku.value), TAG.SEQUENCE, 'ExtKeyUsageSyntax')).map((t) => decodeOid(expectUniversal(t, TAG.OID, 'a KeyPurposeId').value)) : undefined,
    basicConstraints: bc ? decodeBasicConstraints(bc.value) : { ca: false, pathLength: undefined },
    subjectAltNames: san ? decodeSubjectAltNames(san.value) : [],
    criticalExtensions: [...extensions].filter(([, e]) => e.critical).map(([oid]) => oid),
  };
}

function decodeKeyUsage(value: Buffer): Set<KeyUsage> {
  const bits = expectUniversal(readSingle(value), TAG.BIT_STRING, 'KeyUsage (BIT STRING)').value;
  const set = new Set<KeyUsage>();
  KEY_USAGE_BITS.forEach((name, bit) => {
    const byte = bits[1 + Math.floor(bit / 8)];
    if (byte !== undefined && (byte & (0x80 >> bit % 8)) !== 0) set.add(name);
  });
  return set;
}

function decodeBasicConstraints(value: Buffer): { ca: boolean; pathLength: number | undefined } {
  const items = children(expectUniversal(readSingle(value), TAG.SEQUENCE, 'BasicConstraints (SEQUENCE)'));
  let ca = false;
  let pathLength: number | undefined;
  for (const item of items) {
    if (item.tagClass === 0 && item.tagNumber === TAG.BOOLEAN) ca = item.value[0] === 0xff;
    else if (item.tagClass === 0 && item.tagNumber === TAG.INTEGER && item.value.length <= 4) pathLength = item.value.readUIntBE(0, item.value.length);
    else throw new DerError('unexpected element in BasicConstraints');
  }
  return { ca, pathLength };
}

function decodeSubjectAltNames(value: Buffer): SubjectAltName[] {
  return children(expectUniversal(readSingle(value), TAG.SEQUENCE, 'GeneralNames (SEQUENCE)')).map((name): SubjectAltName => {
    if (name.tagClass !== 2) throw new DerError('GeneralName must be context-tagged');
    switch (name.tagNumber) {
      case 1:
        return { type: 'email', value: name.value.toString('latin1') };
      case 2:
        return { type: 'dns', value: name.value.toString('latin1') };
      case 6:
        return { type: 'uri', value: name.value.toString('latin1') };
      case 7:
        return { type: 'ip', value: formatIp(name.value) };
      case 4: {
        const [inner] = children(name);
        return { type: 'dirName', value: decodeName(inner as Tlv).rfc4514 };
      }
      default:
        return { type: 'other', value: '' };
    }
  });
}

function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
    return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
  }
  return `#${bytes.toString('hex')}`;
}
