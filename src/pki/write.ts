import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Issued } from './types.js';

/**
 * Writes `data` to `target` atomically: the content goes to a temp file in the same directory
 * (opened with 'wx' and `mode`), is fsynced, then moved into place. Without `force` the move is a
 * hard link, which fails with EEXIST instead of replacing an existing file.
 */
export async function writeAtomic(target: string, data: string | Uint8Array, mode: number, force: boolean): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    try {
      await fh.chmod(mode); // independent of the process umask
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (force) {
      await fs.rename(tmp, target);
      return;
    }
    await fs.link(tmp, target);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `<dir>/<baseName>.pem` (certificate followed by its chain, mode 0644) and
 * `<dir>/<baseName>.key` (PKCS#8 key, mode 0600). Refuses to overwrite existing files unless
 * `force`; each file is written via temp file + rename/link so no file is ever half-written.
 * Creates `dir` if needed.
 */
export async function writeIssued(
  dir: string,
  baseName: string,
  issued: Issued,
  opts: { force?: boolean } = {},
): Promise<{ certFile: string; keyFile: string }> {
  if (baseName === '' || baseName !== path.basename(baseName) || baseName === '.' || baseName === '..') {
    throw new TypeError(`baseName must be a plain file name, got "${baseName}"`);
  }
  const force = opts.force === true;
  await fs.mkdir(dir, { recursive: true });
  const certFile = path.join(dir, `${baseName}.pem`);
  const keyFile = path.join(dir, `${baseName}.key`);
  if (!force) {
    for (const f of [certFile, keyFile]) {
      if (await exists(f)) throw Object.assign(new Error(`refusing to overwrite existing file ${f}`), { code: 'EEXIST', path: f });
    }
  }
  await writeAtomic(keyFile, issued.keyPem, 0o600, force);
  try {
    await writeAtomic(certFile, [issued.certPem, ...issued.chainPem].join(''), 0o644, force);
  } catch (err) {
    if (!force) await fs.rm(keyFile, { force: true }); // don't leave a key without its certificate
    throw err;
  }
  return { certFile, keyFile };
}
