import { X509Certificate as NodeX509, createPrivateKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** What a PKCS#12 (PFX) file holds, read with its password. */
export interface PfxContents {
  /** The private keys of its key bags (usually one). */
  readonly keys: readonly KeyObject[];
  /** Every certificate of its certificate bags, in the file's order. */
  readonly certificates: readonly NodeX509[];
  /** The friendlyName bag attribute of the first bag that has one. */
  readonly friendlyName: string | undefined;
}

/** Why a PFX could not be read: `format` (not a PKCS#12 file, or a part of it cannot be read) or `password`. */
export class PfxError extends Error {
  constructor(
    readonly reason: 'format' | 'password',
    message: string,
  ) {
    super(message);
    this.name = 'PfxError';
  }
}

const bin = (bytes: string): Buffer => Buffer.from(bytes, 'binary');

/**
 * Opens a PFX with its password (node-forge: node has no public PKCS#12 reader that gives the key). Keys
 * forge cannot model (EC, Ed25519) come back from their PKCS#8 bytes, certificates from their DER, so
 * every key type node knows is read. Throws PfxError: `password` for a wrong password, `format` otherwise.
 */
export function readPfx(pfx: Uint8Array, password: string): PfxContents {
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(pfx).toString('binary')));
  } catch (error) {
    throw new PfxError('format', `not a PKCS#12 (PFX) file: ${(error as Error).message}`);
  }
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  } catch (error) {
    const message = (error as Error).message;
    if (/MAC could not be verified|wrong password|Invalid password|decrypt/i.test(message)) throw new PfxError('password', 'the password does not open the PFX (its integrity check or key decryption failed)');
    throw new PfxError('format', `the PFX cannot be read: ${message}`);
  }
  const keys: KeyObject[] = [];
  const certificates: NodeX509[] = [];
  let friendlyName: string | undefined;
  for (const contents of p12.safeContents) {
    for (const bag of contents.safeBags) {
      friendlyName ??= bag.attributes?.friendlyName?.[0];
      const raw = bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 };
      try {
        if (bag.type === forge.pki.oids.certBag) {
          const der = bag.cert ? forge.asn1.toDer(forge.pki.certificateToAsn1(bag.cert)).getBytes() : raw.asn1 ? forge.asn1.toDer(raw.asn1).getBytes() : undefined;
          if (der !== undefined) certificates.push(new NodeX509(bin(der)));
        } else if (bag.type === forge.pki.oids.keyBag || bag.type === forge.pki.oids.pkcs8ShroudedKeyBag) {
          if (bag.key) keys.push(createPrivateKey(forge.pki.privateKeyToPem(bag.key)));
          else if (raw.asn1) keys.push(createPrivateKey({ key: bin(forge.asn1.toDer(raw.asn1).getBytes()), format: 'der', type: 'pkcs8' }));
        }
      } catch (error) {
        throw new PfxError('format', `a ${bag.type === forge.pki.oids.certBag ? 'certificate' : 'key'} in the PFX cannot be read: ${(error as Error).message}`);
      }
    }
  }
  return { keys, certificates, friendlyName };
}
