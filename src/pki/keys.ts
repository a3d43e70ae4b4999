import { webcrypto, createPrivateKey } from 'node:crypto';
import type { KeyType } from './types.js';

/** WebCrypto implementation used for all PKI operations (passed explicitly to @peculiar/x509). */
export const pkiCrypto = webcrypto;
export type CryptoKey = webcrypto.CryptoKey;

/** A key pair plus the WebCrypto algorithm used to sign with it. */
export interface KeyMaterial {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  keyType: KeyType;
  /** Signature algorithm (always SHA-256 based). */
  signingAlgorithm: { name: string; hash: string };
}

const RSA_BITS: Record<Exclude<KeyType, 'ecdsa-p256'>, number> = {
  'rsa-2048': 2048,
  'rsa-3072': 3072,
  'rsa-4096': 4096,
};

/** True for the RSA key types. */
export function isRsa(keyType: KeyType): boolean {
  return keyType !== 'ecdsa-p256';
}

function importParams(keyType: KeyType): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  return keyType === 'ecdsa-p256'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

function signingAlgorithm(keyType: KeyType): { name: string; hash: string } {
  return { name: keyType === 'ecdsa-p256' ? 'ECDSA' : 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

/** Generates a new extractable key pair of the given type. */
export async function generateKeys(keyType: KeyType = 'ecdsa-p256'): Promise<KeyMaterial> {
  let pair: webcrypto.CryptoKeyPair;
  if (keyType === 'ecdsa-p256') {
    pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  } else {
    const modulusLength = RSA_BITS[keyType];
    if (modulusLength === undefined) throw new TypeError(`unsupported key type: ${String(keyType)}`);
    pair = await webcrypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
  }
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, keyType, signingAlgorithm: signingAlgorithm(keyType) };
}

/** Exports a private key as an unencrypted PKCS#8 PEM. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return toPem('PRIVATE KEY', der);
}

/** Wraps DER bytes in a PEM block (64-column base64, trailing newline). */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Determines the KeyType of a PEM/DER private key (only the supported types are accepted). */
export function detectKeyType(keyPem: string): KeyType {
  const key = createPrivateKey(keyPem);
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength;
    if (bits === 2048) return 'rsa-2048';
    if (bits === 3072) return 'rsa-3072';
    if (bits === 4096) return 'rsa-4096';
  }
  throw new TypeError(
    `unsupported private key: ${key.asymmetricKeyType ?? 'unknown'} ${details.namedCurve ?? details.modulusLength ?? ''}`.trim(),
  );
}

/** Imports an unencrypted PKCS#8 PEM private key for signing. */
export async function importPrivateKey(keyPem: string): Promise<{ privateKey: CryptoKey; keyType: KeyType; signingAlgorithm: { name: string; hash: string } }> {
  const keyType = detectKeyType(keyPem);
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, importParams(keyType), true, ['sign']);
  return { privateKey, keyType, signingAlgorithm: signingAlgorithm(keyType) };
}
