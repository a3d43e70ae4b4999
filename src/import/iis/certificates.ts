// TEMPORARY: replaced by iis-certs
/** Minimal certificate paths so the importer runs until iis-certs' module lands (no PFX checks). */
import { join } from 'node:path';
import type { Report } from './report.js';
import type { SslCertEntry } from './sslcert.js';

export interface CertificateOptions { readonly certificatesDir?: string; readonly pfxPassphraseFile?: string; readonly clientCaFile?: string; readonly outputDir: string; }
export interface Where { readonly file: string; readonly line: number; readonly element: string }

export async function bindingCertificate(thumbprint: string | undefined, options: CertificateOptions, where: Where, report: Report): Promise<{ readonly pfxFile: string; readonly passphraseFile?: string }> {
  const name = thumbprint ? `${thumbprint}.pfx` : 'placeholder.pfx';
  if (options.certificatesDir) {
    return { pfxFile: join(options.certificatesDir, name), ...(options.pfxPassphraseFile ? { passphraseFile: options.pfxPassphraseFile } : {}) };
  }
  report.add({ ...where, text: `certificate: export it to certificates/${name} (Export-PfxCertificate -Cert Cert:\\LocalMachine\\My\\${thumbprint ?? '<THUMBPRINT>'} -FilePath ${name} -Password $pw)` });
  return { pfxFile: `certificates/${name}`, passphraseFile: 'certificates/pfx-passphrase.txt' };
}

export function revocationOf(_entry: SslCertEntry, _where: Where, _report: Report): Record<string, unknown> | undefined {
  return undefined;
}

export function clientCaFile(options: CertificateOptions, where: Where, report: Report): string {
  if (options.clientCaFile) return options.clientCaFile;
  report.add({ ...where, text: 'trustedCaFile: certificates/client-ca.pem (export the CAs IIS trusts for client certificates to it)' });
  return 'certificates/client-ca.pem';
}
