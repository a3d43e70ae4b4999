/**
 * Certificates of the imported sites. IIS keeps an https binding's certificate in HTTP.sys and the Windows
 * certificate store, not in applicationHost.config: a binding gets `DIR/<THUMBPRINT>.pfx` from
 * `--certificates DIR` (checked to open with `--pfx-passphrase-file` and to hold that certificate), or the
 * file it should be exported to, with the PowerShell line that exports it. The client-certificate
 * revocation settings of its `netsh http show sslcert` entry become `ssl.revocation`. Passphrases are
 * read, never printed or written; keys are opened to check them, never copied.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { PfxError, readPfx } from '../../pki/pfx-read.js';
import type { Report } from './report.js';
import { describeKey, netshParameter, sourceOf, switchValue, type SslCertEntry } from './sslcert.js';

export interface CertificateOptions { readonly certificatesDir?: string; readonly pfxPassphraseFile?: string; readonly clientCaFile?: string; readonly outputDir: string; }
export interface Where { readonly file: string; readonly line: number; readonly element: string }

/** Where the output expects files the report asks for (relative to the output's folder). */
export const PLACEHOLDER_DIR = 'certificates';
export const PLACEHOLDER_PASSPHRASE = `${PLACEHOLDER_DIR}/pfx-passphrase.txt`;
export const PLACEHOLDER_CLIENT_CA = `${PLACEHOLDER_DIR}/client-ca.pem`;

/** A path as the generated config names it: relative to the output's folder, with `/`. */
function fromOutput(options: CertificateOptions, path: string): string {
  const rel = relative(resolve(options.outputDir), resolve(path));
  return (rel === '' ? '.' : rel).split(sep).join('/');
}

/** The PowerShell line that exports one certificate (with its key) from the machine's stores as IIS uses them. */
export function exportLine(thumbprint: string): string {
  return `Get-ChildItem Cert:\\LocalMachine\\My, Cert:\\LocalMachine\\WebHosting | Where-Object Thumbprint -eq '${thumbprint}' | Export-PfxCertificate -FilePath ${thumbprint}.pfx -Password (Read-Host -AsSecureString 'PFX password')`;
}

/** `Default Web Site` + `*:443:www.example.com` in the report element → `default-web-site-443`. */
function bindingSlug(where: Where): string {
  const site = /site\[@name=(['"])(.*?)\1\]/i.exec(where.element)?.[2];
  const port = /bindingInformation=(['"])[^'"]*:(\d+):[^:'"]*\1/i.exec(where.element)?.[2];
  const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'site';
  if (site !== undefined) return `${slug(site)}-${port ?? `line${where.line}`}`;
  return `binding-line${where.line}`;
}

function normalThumbprint(thumbprint: string | undefined): string | undefined {
  if (thumbprint === undefined) return undefined;
  return thumbprint.replace(/[\s:\u200e\u200f]/g, '').toUpperCase();
}

/** The `certificate:` mapping of an https binding (paths relative to outputDir), and report lines. */
export async function bindingCertificate(thumbprint: string | undefined, options: CertificateOptions, where: Where, report: Report): Promise<{ readonly pfxFile: string; readonly passphraseFile?: string }> {
  const line = (text: string): void => report.add({ file: where.file, line: where.line, element: where.element, text });
  let hash = normalThumbprint(thumbprint);
  if (hash !== undefined && !/^[0-9A-F]{40}$/.test(hash)) {
    line(`certificate hash "${thumbprint}" is not a SHA-1 thumbprint (40 hex digits); treated as unknown`);
    hash = undefined;
  }
  const name = `${hash ?? bindingSlug(where)}.pfx`;
  const passphraseFile = options.pfxPassphraseFile !== undefined ? fromOutput(options, options.pfxPassphraseFile) : PLACEHOLDER_PASSPHRASE;

  if (options.certificatesDir === undefined) {
    const pfxFile = `${PLACEHOLDER_DIR}/${name}`;
    const passphraseHint = options.pfxPassphraseFile !== undefined ? '' : ` and write its password to ${PLACEHOLDER_PASSPHRASE} (one line)`;
    if (hash !== undefined) line(`the certificate (thumbprint ${hash}) is in the IIS server's certificate store, not in applicationHost.config; export it there with \`${exportLine(hash)}\`, copy ${hash}.pfx to ${PLACEHOLDER_DIR}/ beside the output${passphraseHint} (or rerun with --certificates DIR --pfx-passphrase-file F)`);
    else line(`no certificate thumbprint known for this https binding (give --sslcert with the output of \`netsh http show sslcert\`); Gatehouse expects its certificate in ${pfxFile}: export it from IIS Manager (Server Certificates → Export) or with Export-PfxCertificate${passphraseHint}`);
    return { pfxFile, passphraseFile };
  }

  const dir = options.certificatesDir;
  let path = join(dir, name);
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch (error) {
    line(`--certificates ${dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); the binding names ${path}, not checked`);
    return { pfxFile: fromOutput(options, path), passphraseFile };
  }
  if (!names.includes(name)) {
    const other = names.find((candidate) => candidate.toLowerCase() === name.toLowerCase());
    if (other !== undefined) {
      path = join(dir, other);
      line(`${path} is named in ${other === other.toLowerCase() ? 'lower case' : 'mixed case'} (an Export-PfxCertificate loop names it ${name}); used as it is`);
    } else {
      const source = hash !== undefined ? `export it with \`${exportLine(hash)}\`` : 'no thumbprint is known for this binding (give --sslcert); export its certificate';
      line(`${path} does not exist: ${source} into ${dir}; the binding names it`);
      return { pfxFile: fromOutput(options, path), passphraseFile };
    }
  }
  const result = { pfxFile: fromOutput(options, path), passphraseFile };
  if (options.pfxPassphraseFile === undefined) {
    line(`${path} is not checked: no --pfx-passphrase-file; write the PFX password to ${PLACEHOLDER_PASSPHRASE} (one line) beside the output`);
    return result;
  }
  await checkPfx(path, hash, options.pfxPassphraseFile, line);
  return result;
}

/** Opens the PFX with the passphrase and compares its certificate's SHA-1 thumbprint with the binding's. */
async function checkPfx(path: string, hash: string | undefined, passphraseFile: string, line: (text: string) => void): Promise<void> {
  let passphrase: string;
  try {
    passphrase = (await readFile(passphraseFile)).toString('utf8').replace(/\r?\n$/, '');
  } catch (error) {
    line(`${path} is not checked: --pfx-passphrase-file ${passphraseFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    return;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    line(`${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); the binding names it`);
    return;
  }
  let keys: readonly KeyObject[];
  let certificates: readonly X509Certificate[];
  try {
    ({ keys, certificates } = readPfx(bytes, passphrase));
  } catch (error) {
    if (error instanceof PfxError && error.reason === 'password') line(`the passphrase in ${passphraseFile} does not open ${path} (wrong passphrase); Gatehouse will refuse to start until they match`);
    else line(`${path} is not a PFX file Gatehouse can open (${(error as Error).message})`);
    return;
  }
  const leaf = certificates.find((cert) => keys.some((key) => safeCheck(cert, key)));
  if (!leaf) {
    line(`${path} holds ${keys.length === 0 ? 'no private key' : 'no certificate matching its private key'}: export it again with its private key (Export-PfxCertificate on a certificate whose key is exportable)`);
    return;
  }
  const actual = leaf.fingerprint.replace(/:/g, '').toUpperCase();
  if (hash !== undefined && actual !== hash) {
    line(`${path} holds the certificate ${actual} (${leaf.subject.replace(/\n/g, ', ')}), not ${hash} that HTTP.sys binds: the binding names the file as it is; export ${hash} to serve the same certificate as IIS`);
  }
}

function safeCheck(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** `1d`, `2h`, `90s`: the shortest exact unit for a number of seconds. */
function secondsText(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function msText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * `ssl.revocation` for a site from its binding's sslcert entry (undefined: Gatehouse's defaults), plus report
 * lines for what differs. It also reports the entry's other fields Gatehouse does not take as they are
 * (Usage Check, CTL, DS mapper, Negotiate Client Certificate, Reject Connections, Disable HTTP2/TLS, Central
 * Certificate Store), so the importer calls it once for each https binding's entry, and puts the result in
 * the site's `ssl.revocation` when the site asks for client certificates (accept / require; with `ignore`,
 * `online: true` would only earn a validation warning).
 */
export function revocationOf(entry: SslCertEntry, where: Where, report: Report): Record<string, unknown> | undefined {
  const source = sourceOf(entry);
  const element = `sslcert[${describeKey(entry.key)}]`;
  const field = (name: string): { label: string; value: string } | undefined => {
    const label = Object.keys(entry.fields).find((candidate) => candidate.toLowerCase() === name);
    return label === undefined ? undefined : { label, value: (entry.fields[label] as string).trim() };
  };
  const say = (label: string | undefined, text: string): void => {
    const full = `${text} (for ${where.element}, ${where.file}:${where.line})`;
    if (source) report.add({ file: source.file, line: (label !== undefined ? source.fieldLines.get(label) : undefined) ?? entry.line, element, ...(label !== undefined ? { attribute: netshParameter(label) } : {}), text: full });
    else report.add({ file: where.file, line: where.line, element: where.element, ...(label !== undefined ? { attribute: netshParameter(label) } : {}), text });
  };
  const labelOf = (name: string): string | undefined => field(name)?.label;
  const isSet = (name: string): boolean => switchValue(field(name)?.value) === true;

  if (entry.key.kind === 'ccs') say(undefined, 'HTTP.sys takes this port\'s certificates from the IIS Central Certificate Store (a share of <host name>.pfx files): copy each host\'s PFX beside the output and point the binding\'s certificate.pfxFile at it');
  if (switchValue(field('usage check')?.value) === false) say(labelOf('usage check'), 'HTTP.sys did not check the client certificate\'s usage; Gatehouse always does (OpenSSL\'s sslclient purpose: a certificate with an extended key usage must list clientAuth), so such certificates get 403.16');
  const ctl = field('ctl identifier');
  if (ctl && !/^(\(null\)|null|)$/i.test(ctl.value)) {
    const store = field('ctl store name');
    say(ctl.label, `HTTP.sys trusts only the issuers listed in the certificate trust list "${ctl.value}"${store && !/^\(null\)$/i.test(store.value) ? ` (store ${store.value})` : ''}: put exactly those CAs in the site's ssl.trustedCaFile`);
  }
  if (isSet('ds mapper usage')) say(labelOf('ds mapper usage'), 'HTTP.sys mapped client certificates to Active Directory accounts; Gatehouse maps none: the backend receives the certificate in X-ARR-ClientCert and decides');
  if (entry.negotiateClientCertificate === true) say(labelOf('negotiate client certificate'), 'HTTP.sys asked for the client certificate during the handshake; Gatehouse does so for every site whose ssl.clientCertificates is accept or require, and never renegotiates: nothing to set');
  if (isSet('reject connections')) say(labelOf('reject connections'), 'HTTP.sys refused every connection on this binding; Gatehouse has no such switch: leave the binding out of the output to do the same');
  if (isSet('disable http2')) say(labelOf('disable http2'), 'HTTP/2 was off on this binding: set http2: false on the binding');
  if (isSet('disable tls1.2')) say(labelOf('disable tls1.2'), 'TLS 1.2 was off on this binding: set tls: { minVersion: TLSv1.3 } on the binding');
  if (isSet('disable tls1.3')) say(labelOf('disable tls1.3'), 'TLS 1.3 was off on this binding: set tls: { maxVersion: TLSv1.2 } on the binding');
  if (isSet('enable token binding')) say(labelOf('enable token binding'), 'Gatehouse does not support token binding (browsers dropped it); connections go on without it');

  if (entry.verifyClientCertRevocation === undefined) return undefined;
  if (!entry.verifyClientCertRevocation) {
    say(labelOf('verify client certificate revocation'), 'HTTP.sys did not check whether client certificates are revoked: a revoked certificate was let in. Gatehouse does the same with ssl.revocation.check: off (CRLs in crlFile are read but not used); set check: chain to refuse revoked certificates (403.13)');
    return { check: 'off' };
  }
  const revocation: Record<string, unknown> = { check: 'chain', online: true };
  if (entry.verifyRevocationUsingCachedOnly === true) revocation['cachedOnly'] = true;
  const freshness = entry.revocationFreshnessTimeSeconds;
  if (freshness !== undefined && freshness > 0) revocation['freshness'] = secondsText(freshness);
  const timeout = entry.urlRetrievalTimeoutMs;
  if (timeout !== undefined && timeout > 0) {
    const clamped = Math.min(60_000, Math.max(100, timeout));
    if (clamped !== timeout) say(labelOf('url retrieval timeout'), `${timeout} ms is outside what Gatehouse allows for one fetch (100 ms to 60 s): fetchTimeout ${msText(clamped)}`);
    revocation['fetchTimeout'] = msText(clamped);
  }
  return revocation;
}

/** The trustedCaFile for client-certificate sites (relative to outputDir), with a report line when it is the placeholder. */
export function clientCaFile(options: CertificateOptions, where: Where, report: Report): string {
  const line = (text: string): void => report.add({ file: where.file, line: where.line, element: where.element, text });
  if (options.clientCaFile !== undefined) {
    const path = options.clientCaFile;
    let text: string | undefined;
    try {
      text = readFileSync(path, 'latin1');
    } catch (error) {
      line(`--client-ca ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ssl.trustedCaFile names it`);
    }
    if (text !== undefined && !text.includes('-----BEGIN CERTIFICATE-----')) {
      line(`--client-ca ${path} holds no PEM certificate: convert each DER .cer with \`openssl x509 -inform der -in CA.cer\` (or \`certutil -encode CA.cer CA.pem\`) and concatenate them`);
    }
    return fromOutput(options, path);
  }
  line(`IIS trusts the client-certificate CAs of the Windows store (Cert:\\LocalMachine\\Root and \\CA); Gatehouse trusts only ssl.trustedCaFile ${PLACEHOLDER_CLIENT_CA}: export the CAs that issue your client certificates with \`Get-ChildItem Cert:\\LocalMachine\\Root, Cert:\\LocalMachine\\CA | Where-Object Subject -like '*Your CA*' | ForEach-Object { Export-Certificate -Cert $_ -FilePath "$($_.Thumbprint).cer" -Type CERT }\`, convert each with \`openssl x509 -inform der -in THUMBPRINT.cer >> ${PLACEHOLDER_CLIENT_CA}\` (or certutil -encode), or rerun with --client-ca FILE`);
  return PLACEHOLDER_CLIENT_CA;
}

