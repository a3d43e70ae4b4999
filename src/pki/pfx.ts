import { X509Certificate as NodeX509, createHash, createPrivateKey } from 'node:crypto';
import forge from 'node-forge';
import type { Issued } from './types.js';

const { asn1 } = forge;
const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;
const ITERATIONS = 2048;

/** Options for toPfx. */
export interface PfxOptions {
  issued: Issued;
  password: string;
  /** Stored as the friendlyName bag attribute of the key and leaf certificate. */
  friendlyName?: string;
}

type Asn1 = forge.asn1.Asn1;
const seq = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
const oid = (id: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
const octets = (bytes: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
const explicit0 = (inner: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);
const der = (obj: Asn1): string => asn1.toDer(obj).getBytes();
const bin = (buf: Uint8Array): string => Buffer.from(buf).toString('binary');

/** PKCS#7 ContentInfo of type data wrapping a DER payload. */
const dataContent = (payload: Asn1): Asn1 => seq([oid(OID.data), explicit0(octets(der(payload)))]);

function bagAttributes(localKeyId: string, friendlyName: string | undefined): Asn1 {
  const attrs = [seq([oid(OID.localKeyId), set([octets(localKeyId)])])];
  if (friendlyName !== undefined) {
    attrs.push(seq([oid(OID.friendlyName), set([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, friendlyName)])]));
  }
  return set(attrs);
}

function certBag(certDer: Buffer, attrs: Asn1 | undefined): Asn1 {
  const value = explicit0(seq([oid(OID.x509Certificate), explicit0(octets(bin(certDer)))]));
  return seq(attrs ? [oid(OID.certBag), value, attrs] : [oid(OID.certBag), value]);
}

/**
 * Builds a password-protected PKCS#12 (PFX) holding the key, the leaf certificate and its chain.
 * The profile matches OpenSSL 3 defaults (no legacy provider needed): key in a PBES2 shrouded bag
 * (PBKDF2-HMAC-SHA256, AES-256-CBC), certificates unencrypted, HMAC-SHA256 integrity MAC.
 * Works for both EC and RSA keys (forge's toPkcs12Asn1 only handles RSA, so the bags are assembled here).
 */
export function toPfx(opts: PfxOptions): Buffer {
  const { issued, password, friendlyName } = opts;
  const leafDer = new NodeX509(issued.certPem).raw;
  const chainDer = issued.chainPem.map((pem) => new NodeX509(pem).raw);
  const keyDer = createPrivateKey(issued.keyPem).export({ format: 'der', type: 'pkcs8' });
  const localKeyId = bin(createHash('sha1').update(leafDer).digest());
  const attrs = bagAttributes(localKeyId, friendlyName);

  // PBKDF2 in OpenSSL uses the password bytes as UTF-8; forge expects a binary string.
  const encryptedKey = forge.pki.encryptPrivateKeyInfo(asn1.fromDer(bin(keyDer)), forge.util.encodeUtf8(password), {
    algorithm: 'aes256',
    prfAlgorithm: 'sha256',
    count: ITERATIONS,
    saltSize: 16,
  });
  const keyBag = seq([oid(OID.pkcs8ShroudedKeyBag), explicit0(encryptedKey), attrs]);
  const certBags = [certBag(leafDer, attrs), ...chainDer.map((d) => certBag(d, undefined))];
  const authSafe = seq([dataContent(seq(certBags)), dataContent(seq([keyBag]))]);
  const authSafeDer = der(authSafe);

  // MacData: HMAC-SHA256 keyed with the PKCS#12 KDF (ID 3), as OpenSSL 3 does by default.
  const salt = forge.random.getBytesSync(16);
  const macKey = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt), 3, ITERATIONS, 32, forge.md.sha256.create());
  const hmac = forge.hmac.create();
  hmac.start('sha256', macKey);
  hmac.update(authSafeDer);
  const macData = seq([
    seq([seq([oid(OID.sha256), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]), octets(hmac.digest().getBytes())]),
    octets(salt),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(ITERATIONS).getBytes()),
  ]);
  const pfx = seq([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(3).getBytes()),
    seq([oid(OID.data), explicit0(octets(authSafeDer))]),
    macData,
  ]);
  return Buffer.from(der(pfx), 'binary');
}
