import type { X509Certificate } from 'node:crypto';

/** Key algorithms supported for generated keys. */
export type KeyType = 'ecdsa-p256' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

/** A certificate together with its private key and issuing chain. */
export interface Issued {
  /** Leaf certificate PEM only (ends with a newline). */
  certPem: string;
  /** Unencrypted PKCS#8 PEM private key. */
  keyPem: string;
  /** Issuing CA chain PEMs, closest issuer first, excluding this cert; [] for a root/self-signed cert. */
  chainPem: string[];
  /** Node's parsed view of certPem. */
  cert: X509Certificate;
  /** Uppercase hex serial without leading zeros (Node's serialNumber with leading zeros stripped). */
  serialNumber: string;
  /** internal: what is needed to sign with it (opaque to callers) */
  readonly signer: unknown;
}

/**
 * Validity window. Defaults: notBefore = now - 5 minutes; notAfter = notBefore + days,
 * days = 825 for leaf certificates and 3650 for CAs. An explicit notAfter wins over days.
 */
export interface Validity {
  notBefore?: Date;
  notAfter?: Date;
  days?: number;
}
