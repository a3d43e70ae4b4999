/**
 * A CA folder as `gatehouse cert` keeps it: ca.pem (certificate), ca.key (0600), revoked.json (the
 * serials revoked so far) and crl.pem / crl.der (the current CRL, which `crlFile` accepts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCrl, loadIssued, writeAtomic, type Issued } from '../../../pki/index.js';

export interface RevokedEntry {
  serialNumber: string;
  revokedAt: string;
  subject: string;
}

import { CliError } from '../../cli-error.js';



export async function loadCaFolder(dir: string): Promise<Issued> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([readFile(join(dir, 'ca.pem'), 'utf8'), readFile(join(dir, 'ca.key'), 'utf8')]);
  } catch (error) {
    throw new CliError(`--ca ${dir}: not a CA folder: ${(error as Error).message} (expected ca.pem and ca.key, as written by gatehouse cert create-ca)`);
  }
  try {
    return await loadIssued({ certPem, keyPem });
  } catch (error) {
    throw new CliError(`--ca ${dir}: ${(error as Error).message}`);
  }
}

export async function readRevoked(dir: string): Promise<RevokedEntry[]> {
  try {
    return JSON.parse(await readFile(join(dir, 'revoked.json'), 'utf8')) as RevokedEntry[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CliError(`${join(dir, 'revoked.json')}: ${(error as Error).message} (expected the JSON list gatehouse cert revoke writes)`);
  }
}

/** Writes revoked.json and a fresh CRL (PEM and DER) from it; returns the CRL's PEM path. */
export async function writeRevocation(dir: string, ca: Issued, revoked: readonly RevokedEntry[], days: number): Promise<string> {
  const crl = await createCrl({ ca, revoked: revoked.map((r) => ({ serialNumber: r.serialNumber, revokedAt: new Date(r.revokedAt) })), nextUpdate: new Date(Date.now() + days * 86_400_000) });
  await writeAtomic(join(dir, 'revoked.json'), `${JSON.stringify(revoked, null, 2)}\n`, 0o644, true);
  await writeAtomic(join(dir, 'crl.der'), crl.der, 0o644, true);
  const pemFile = join(dir, 'crl.pem');
  await writeAtomic(pemFile, crl.pem, 0o644, true);
  return pemFile;
}
