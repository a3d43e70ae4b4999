/**
 * Where the certificate store keeps a certificate: `<store>/<ID>.pem` (the chain, leaf first) and
 * `<store>/<ID>.key` (the private key, 0600), ID being the leaf's SHA-1 thumbprint in upper-case hex (as IIS
 * shows it). A binding made through the admin API names these files; the store folder is
 * admin.certificateStore (default `certificates/` beside the config file).
 */
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config/model.js';

export const CERTIFICATE_ID = /^[0-9A-F]{40}$/;

export function certificateStoreDir(config: Pick<Config, 'file' | 'admin'>): string {
  return config.admin?.certificateStoreDir ?? resolve(dirname(config.file), 'certificates');
}

export function certificateFiles(storeDir: string, id: string): { readonly certFile: string; readonly keyFile: string } {
  if (!CERTIFICATE_ID.test(id)) throw new TypeError(`a certificate id is a SHA-1 thumbprint: 40 upper-case hex digits, not ${JSON.stringify(id)}`);
  return { certFile: join(storeDir, `${id}.pem`), keyFile: join(storeDir, `${id}.key`) };
}
