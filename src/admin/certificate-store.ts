/**
 * The certificate store folder (IIS's Server Certificates store): `<ID>.pem` (the chain, leaf first),
 * `<ID>.key` (the private key, 0600) and optionally `<ID>.json` (`{ friendlyName }`), ID being the leaf's
 * SHA-1 thumbprint (certificate-paths.ts). Writes are atomic (temporary file in the folder, fsync, link or
 * rename): key first, then certificate, then metadata; a certificate is never left without its key. The
 * folder is created 0700. Runs on the admin listener only.
 */
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from '../pki/index.js';
import { CERTIFICATE_ID, certificateFiles } from './certificate-paths.js';

/** A certificate of the store as its files say (read when asked). */
export interface StoredCertificate {
  readonly id: string;
  readonly certFile: string;
  /** Undefined when `<ID>.key` is absent. */
  readonly keyFile: string | undefined;
  readonly friendlyName: string | undefined;
}

/** What a write puts in the store: PEM text (the key never leaves this module's caller but to the file). */
export interface StoreWrite {
  readonly id: string;
  /** Leaf first, then its chain. */
  readonly chainPem: string;
  readonly keyPem: string;
  readonly friendlyName: string | undefined;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function metaFile(dir: string, id: string): string {
  return join(dir, `${id}.json`);
}

/** Every `<ID>.pem` of the folder with its key and friendly name; none when the folder does not exist. */
export async function readStore(dir: string): Promise<StoredCertificate[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const present = new Set(names);
  const out: StoredCertificate[] = [];
  for (const name of names.sort()) {
    const id = name.slice(0, -'.pem'.length);
    if (!name.endsWith('.pem') || !CERTIFICATE_ID.test(id)) continue;
    const { certFile, keyFile } = certificateFiles(dir, id);
    let friendlyName: string | undefined;
    if (present.has(`${id}.json`)) {
      try {
        const meta = JSON.parse(await readFile(metaFile(dir, id), 'utf8')) as { friendlyName?: unknown };
        if (typeof meta.friendlyName === 'string') friendlyName = meta.friendlyName;
      } catch {
        // Unreadable metadata: the certificate is listed without a friendly name.
      }
    }
    out.push({ id, certFile, keyFile: present.has(`${id}.key`) ? keyFile : undefined, friendlyName });
  }
  return out;
}

/** Whether the store holds `<ID>.pem`. */
export function isStored(dir: string, id: string): Promise<boolean> {
  return exists(certificateFiles(dir, id).certFile);
}

/** Writes a certificate into the store; throws with code EEXIST when its id is there already. */
export async function writeStored(dir: string, entry: StoreWrite): Promise<StoredCertificate> {
  if (!(await exists(dir))) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  const { certFile, keyFile } = certificateFiles(dir, entry.id);
  if (await exists(certFile)) throw Object.assign(new Error(`${certFile} exists`), { code: 'EEXIST' });
  // A key left by an earlier failed write (no certificate beside it) is replaced.
  await writeAtomic(keyFile, entry.keyPem, 0o600, true);
  try {
    await writeAtomic(certFile, entry.chainPem, 0o644, false);
  } catch (error) {
    await rm(keyFile, { force: true });
    throw error;
  }
  if (entry.friendlyName !== undefined) await writeAtomic(metaFile(dir, entry.id), `${JSON.stringify({ friendlyName: entry.friendlyName })}\n`, 0o644, true);
  return { id: entry.id, certFile, keyFile, friendlyName: entry.friendlyName };
}

/** Removes a certificate's files from the store (certificate first: a half-removed entry is no entry). */
export async function removeStored(dir: string, id: string): Promise<void> {
  const { certFile, keyFile } = certificateFiles(dir, id);
  await rm(certFile, { force: true });
  await rm(keyFile, { force: true });
  await rm(metaFile(dir, id), { force: true });
}
