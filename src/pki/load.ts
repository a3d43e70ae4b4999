import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import { X509Certificate as NodeX509, createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { importPrivateKey } from './keys.js';
import { makeIssued } from './signer.js';
import type { Issued } from './types.js';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into individual certificate PEMs (each ending with a newline). */
export function splitPemCertificates(bundle: string): string[] {
  return (bundle.match(PEM_CERT) ?? []).map((p) => `${p}\n`);
}

/**
 * Re-creates an Issued value (usable as a `ca`) from PEM text, e.g. files written by writeIssued.
 * `certPem` may be a bundle: its first certificate is the leaf, the rest become the chain unless
 * `chainPem` is given. Throws if the key does not belong to the certificate.
 */
export async function loadIssued(opts: { certPem: string; keyPem: string; chainPem?: string[] }): Promise<Issued> {
  const [leaf, ...rest] = splitPemCertificates(opts.certPem);
  if (leaf === undefined) throw new TypeError('no PEM certificate found');
  const nodeCert = new NodeX509(leaf);
  const certSpki = nodeCert.publicKey.export({ format: 'der', type: 'spki' });
  const keySpki = createPublicKey(opts.keyPem).export({ format: 'der', type: 'spki' });
  if (!certSpki.equals(keySpki)) throw new TypeError('private key does not match the certificate');
  const key = await importPrivateKey(opts.keyPem);
  const chain = (opts.chainPem ?? rest).flatMap(splitPemCertificates);
  return makeIssued(new x509.X509Certificate(leaf), key, chain, opts.keyPem.trim() + '\n');
}
