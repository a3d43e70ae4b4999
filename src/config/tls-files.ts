/**
 * The config's TLS files, read and checked before anything listens: server certificates against their
 * keys, trusted CA bundles, CRLs against the CAs that signed them. Each failure is a Problem at the key
 * that names the file.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import 'reflect-metadata'; // @peculiar/x509 needs the Reflect metadata API (tsyringe)
import * as x509 from '@peculiar/x509';
import type { Problem } from './problem.js';
import { pendingCrlOf, type PendingCrl, type RevocationCheck } from './crl.js';
import { pfxLeafCertificate } from '../platform/certificates.js';

x509.cryptoProvider.set(globalThis.crypto);

type Path = readonly (string | number)[];
export type Result<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

/** A server certificate, read and checked against its key. */
export interface ServerCertificate {
  /** What tls.createSecureContext takes: cert+key or pfx (+passphrase). */
  readonly options: { readonly cert?: Buffer; readonly key?: Buffer; readonly pfx?: Buffer; readonly passphrase?: string };
  /** The leaf certificate (for X-ARR-SSL and logs). */
  readonly leaf: X509Certificate;
  /** Its issuer, when the certificate file holds the chain (OCSP stapling asks about leaf + issuer). */
  readonly issuer: X509Certificate | undefined;
  /** `ocspStapling`: staple the responder's answer about the leaf to handshakes that ask. */
  readonly ocspStapling: boolean;
}

export interface TrustedCa {
  readonly pem: Buffer;
  readonly certs: readonly X509Certificate[];
}

/** Revoked serial numbers per issuing CA, from the configured CRLs, and which certificates are checked. */
export interface RevocationList {
  /** `chain` (the leaf and every CA above it), `leaf`, or `off`. */
  readonly check: RevocationCheck;
  /** CRLs signed by a CA that is not a trust anchor: verified against that CA when a client's chain shows it. */
  readonly pending: readonly PendingCrl[];
  /** CA fingerprint256 → revoked serials (upper-case hex, no leading zeros). */
  readonly byIssuerFingerprint: ReadonlyMap<string, ReadonlySet<string>>;
  /** CA subject (Node's X509Certificate.subject) → revoked serials; used when the chain is not available. */
  readonly byIssuerSubject: ReadonlyMap<string, ReadonlySet<string>>;
  /** CA fingerprint256 or subject → the CRL files it signed (for log lines: which file revoked). */
  readonly filesByIssuer: ReadonlyMap<string, readonly string[]>;
  /** Each CRL read from the files, with its nextUpdate (for the staleness metric). */
  readonly crls: readonly { readonly file: string; readonly issuer: string; readonly nextUpdateMs: number | undefined }[];
  /** No CRL, or `check: off`: the door reads no chain for revocation. */
  readonly isEmpty: boolean;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

async function readConfigFile(dir: string, file: string, path: Path, what: string): Promise<Result<Buffer>> {
  const full = resolve(dir, file);
  try {
    return { ok: true, value: await readFile(full) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${code})`;
    return { ok: false, problems: [{ path, message: `${full} ${why}`, expected: what }] };
  }
}

/** PEM certificate blocks of a file, parsed; problems name the file. */
function parsePemCertificates(pem: Buffer, full: string, path: Path, what: string): Result<X509Certificate[]> {
  const blocks = pem.toString('latin1').match(PEM_CERT) ?? [];
  if (blocks.length === 0) return { ok: false, problems: [{ path, message: `${full} holds no PEM certificate`, expected: what }] };
  const certs: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch (error) {
      return { ok: false, problems: [{ path, message: `${full}: certificate #${index + 1} cannot be parsed (${(error as Error).message})`, expected: what }] };
    }
  }
  return { ok: true, value: certs };
}

async function passphraseOf(dir: string, declared: { passphrase?: string | undefined; passphraseFile?: string | undefined }, path: Path): Promise<Result<string | undefined>> {
  if (declared.passphraseFile === undefined) return { ok: true, value: declared.passphrase };
  const read = await readConfigFile(dir, declared.passphraseFile, [...path, 'passphraseFile'], 'a readable file holding the passphrase');
  return read.ok ? { ok: true, value: read.value.toString('utf8').replace(/\r?\n$/, '') } : read;
}

export interface DeclaredCertificate {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  pfxFile?: string | undefined;
  passphrase?: string | undefined;
  passphraseFile?: string | undefined;
  ocspStapling?: boolean | undefined;
}

/** Reads an https binding's certificate and checks that it matches its key. */
export async function loadServerCertificate(dir: string, declared: DeclaredCertificate, path: Path): Promise<Result<ServerCertificate>> {
  const passphrase = await passphraseOf(dir, declared, path);
  if (!passphrase.ok) return passphrase;
  if (declared.pfxFile !== undefined) {
    const pfxPath = [...path, 'pfxFile'];
    const pfx = await readConfigFile(dir, declared.pfxFile, pfxPath, 'a readable PKCS#12 (.pfx) file');
    if (!pfx.ok) return pfx;
    const options = passphrase.value === undefined ? { pfx: pfx.value } : { pfx: pfx.value, passphrase: passphrase.value };
    try {
      const context = createSecureContext(options);
      const der = await pfxLeafCertificate(context, options);
      if (!der) return { ok: false, problems: [{ path: pfxPath, message: `${resolve(dir, declared.pfxFile)} holds no certificate`, expected: 'a PKCS#12 file with a certificate and its private key' }] };
      const leaf = new X509Certificate(der);
      return { ok: true, value: { options, leaf, issuer: undefined, ocspStapling: declared.ocspStapling === true } };
    } catch (error) {
      const message = (error as Error).message;
      const hint = /mac verify|password|decrypt/i.test(message) ? 'wrong passphrase' : message;
      return { ok: false, problems: [{ path: pfxPath, message: `${resolve(dir, declared.pfxFile)} cannot be opened: ${hint}`, expected: 'a PKCS#12 file and its passphrase, from passphrase or passphraseFile' }] };
    }
  }
  if (declared.certFile === undefined || declared.keyFile === undefined) {
    return { ok: false, problems: [{ path, message: 'no certificate given', expected: 'certFile and keyFile, or pfxFile' }] };
  }
  const certPath = [...path, 'certFile'];
  const keyPath = [...path, 'keyFile'];
  const [certRead, keyRead] = await Promise.all([
    readConfigFile(dir, declared.certFile, certPath, 'a readable PEM certificate file'),
    readConfigFile(dir, declared.keyFile, keyPath, 'a readable PEM private key file'),
  ]);
  const problems = [...(certRead.ok ? [] : certRead.problems), ...(keyRead.ok ? [] : keyRead.problems)];
  if (!certRead.ok || !keyRead.ok) return { ok: false, problems };
  const certs = parsePemCertificates(certRead.value, resolve(dir, declared.certFile), certPath, 'a PEM file with the server certificate first, then its chain');
  if (!certs.ok) return certs;
  const leaf = certs.value[0] as X509Certificate;
  let key;
  try {
    key = createPrivateKey(passphrase.value === undefined ? { key: keyRead.value } : { key: keyRead.value, passphrase: passphrase.value });
  } catch (error) {
    const message = (error as Error).message;
    const encrypted = /passphrase|decrypt|bad decrypt/i.test(message);
    return {
      ok: false,
      problems: [{ path: keyPath, message: `${resolve(dir, declared.keyFile)} ${encrypted ? 'is encrypted and the passphrase is missing or wrong' : `is not a private key (${message})`}`, expected: encrypted ? 'passphrase or passphraseFile' : 'a PEM private key' }],
    };
  }
  if (!leaf.checkPrivateKey(key)) {
    return { ok: false, problems: [{ path: keyPath, message: `${resolve(dir, declared.keyFile)} does not match the certificate in ${resolve(dir, declared.certFile)} (subject ${leaf.subject.replace(/\n/g, ', ')})`, expected: 'the private key of certFile' }] };
  }
  const options = passphrase.value === undefined ? { cert: certRead.value, key: keyRead.value } : { cert: certRead.value, key: keyRead.value, passphrase: passphrase.value };
  const issuer = certs.value.find((cert) => cert !== leaf && leaf.checkIssued(cert));
  return { ok: true, value: { options, leaf, issuer, ocspStapling: declared.ocspStapling === true } };
}

/** Reads a trusted CA bundle; every certificate in it must be a CA. */
export async function loadTrustedCa(dir: string, file: string, path: Path): Promise<Result<TrustedCa>> {
  const read = await readConfigFile(dir, file, path, 'a readable PEM bundle of CA certificates');
  if (!read.ok) return read;
  const full = resolve(dir, file);
  const certs = parsePemCertificates(read.value, full, path, 'a PEM bundle of CA certificates');
  if (!certs.ok) return certs;
  const problems: Problem[] = [];
  for (const cert of certs.value) {
    if (!cert.ca) problems.push({ path, message: `${full}: ${cert.subject.replace(/\n/g, ', ')} is not a CA certificate`, expected: 'CA certificates only (basicConstraints CA:TRUE)' });
  }
  return problems.length ? { ok: false, problems } : { ok: true, value: { pem: read.value, certs: certs.value } };
}

/** Serial numbers as Node prints them, without leading zeros, so CRL entries and peers compare equal. */
export function normalizeSerial(serial: string): string {
  return serial.toUpperCase().replace(/^0+(?=.)/, '');
}

const PEM_CRL = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]*?)-----END X509 CRL-----/g;

/** Every CRL a file (or a fetched answer) holds: each PEM block of a bundle, or the one DER CRL. Empty when it holds none. */
export function crlsIn(bytes: Buffer): Buffer[] {
  const text = bytes.toString('latin1');
  if (!text.includes('-----BEGIN X509 CRL-----')) return [bytes];
  return [...text.matchAll(PEM_CRL)].map((match) => Buffer.from((match[1] as string).replace(/\s+/g, ''), 'base64'));
}

/**
 * Reads CRLs (PEM bundles of any number, or DER) and checks each one's signature against the trusted CAs.
 * A CRL no trusted CA signed is kept pending, to be verified against the CA a client's chain shows under
 * its issuer's name (the issuing intermediate of a corporate PKI); `warnings` name that CA. A CRL whose
 * issuer has a trusted CA's name but not its signature is refused. Stale CRLs are used, with a warning.
 */
export async function loadRevocationList(dir: string, files: readonly string[], trusted: TrustedCa | undefined, path: Path, warnings: Problem[], check: RevocationCheck = 'chain'): Promise<Result<RevocationList>> {
  const byIssuerFingerprint = new Map<string, Set<string>>();
  const byIssuerSubject = new Map<string, Set<string>>();
  const filesByIssuer = new Map<string, string[]>();
  const crls: { file: string; issuer: string; nextUpdateMs: number | undefined }[] = [];
  const pending: PendingCrl[] = [];
  const problems: Problem[] = [];
  const anchors = (trusted?.certs ?? []).map((ca) => ({ ca, peculiar: new x509.X509Certificate(new Uint8Array(ca.raw)) }));
  for (const [index, file] of files.entries()) {
    const at = files.length === 1 && path[path.length - 1] === 'crlFile' ? path : [...path, index];
    const read = await readConfigFile(dir, file, at, 'a readable CRL file (PEM or DER)');
    if (!read.ok) {
      problems.push(...read.problems);
      continue;
    }
    const full = resolve(dir, file);
    const ders = crlsIn(read.value);
    if (ders.length === 0) problems.push({ path: at, message: `${full} holds no CRL`, expected: 'PEM blocks -----BEGIN X509 CRL----- (any number) or one DER CRL' });
    for (const [n, der] of ders.entries()) {
      const which = ders.length > 1 ? `${full} (CRL ${n + 1} of ${ders.length})` : full;
      let crl: x509.X509Crl;
      try {
        crl = new x509.X509Crl(new Uint8Array(der));
      } catch {
        problems.push({ path: at, message: `${which} is not a CRL: it parses neither as PEM nor as DER`, expected: 'a PEM (-----BEGIN X509 CRL-----) or DER CRL' });
        continue;
      }
      const serials = new Set<string>();
      for (const entry of crl.entries) serials.add(normalizeSerial(entry.serialNumber));
      crls.push({ file: which, issuer: crl.issuer, nextUpdateMs: crl.nextUpdate?.getTime() });
      if (crl.nextUpdate && crl.nextUpdate.getTime() < Date.now()) {
        warnings.push({ path: at, message: `${which}: CRL is stale (nextUpdate ${crl.nextUpdate.toISOString()}); it is used anyway`, expected: 'a fresh CRL from the CA' });
      }
      let issuer: X509Certificate | undefined;
      let isNameOfAnchor = false;
      for (const { ca, peculiar } of anchors) {
        if (await crl.verify({ publicKey: peculiar }).catch(() => false)) {
          issuer = ca;
          break;
        }
        if (peculiar.subjectName.toString() === crl.issuerName.toString()) isNameOfAnchor = true;
      }
      if (issuer) {
        const known = byIssuerFingerprint.get(issuer.fingerprint256) ?? new Set<string>();
        for (const serial of serials) known.add(serial);
        byIssuerFingerprint.set(issuer.fingerprint256, known);
        byIssuerSubject.set(issuer.subject, known);
        for (const key of [issuer.fingerprint256, issuer.subject]) filesByIssuer.set(key, [...new Set([...(filesByIssuer.get(key) ?? []), full])]);
        continue;
      }
      if (isNameOfAnchor) {
        problems.push({ path: at, message: `${which}: CRL issued by "${crl.issuer}" names a CA in trustedCaFile but is not signed with its key`, expected: 'the CRL the CA itself signed' });
        continue;
      }
      const kept = pendingCrlOf(new Uint8Array(der), which, crl.issuer, serials);
      if (typeof kept === 'string') {
        problems.push({ path: at, message: `${which}: CRL issued by "${crl.issuer}" is not signed by any CA in trustedCaFile, and ${kept}`, expected: 'a CRL signed by a trusted CA, or by a CA that clients send in their chain' });
        continue;
      }
      pending.push(kept);
      warnings.push({
        path: at,
        message: `${which}: CRL issued by "${crl.issuer}" is not signed by a CA in trustedCaFile; it is checked against the CA "${crl.issuer}" that clients send in their chain (its signature is verified with that CA's key the first time a client shows it)`,
        expected: 'clients whose chain includes that CA, or the CA in trustedCaFile',
      });
    }
  }
  if (problems.length) return { ok: false, problems };
  const isEmpty = check === 'off' || (byIssuerFingerprint.size === 0 && pending.length === 0);
  return { ok: true, value: { check, pending, byIssuerFingerprint, byIssuerSubject, filesByIssuer, crls, isEmpty } };
}

/** Reads a shared secret (trailing newline removed); at least 32 bytes. Warns when others can read it. */
export async function loadSecret(dir: string, file: string, path: Path, warnings: Problem[]): Promise<Result<Buffer>> {
  const read = await readConfigFile(dir, file, path, 'a readable file holding the shared secret');
  if (!read.ok) return read;
  const full = resolve(dir, file);
  const text = read.value.toString('utf8').replace(/\r?\n$/, '');
  const secret = Buffer.from(text, 'utf8');
  if (secret.length < 32) return { ok: false, problems: [{ path, message: `${full} holds ${secret.length} bytes`, expected: 'a secret of at least 32 bytes, e.g. `openssl rand -base64 48 > secret`' }] };
  const mode = (await stat(full)).mode;
  if ((mode & 0o077) !== 0) warnings.push({ path, message: `${full} can be read by other users (mode ${(mode & 0o777).toString(8)})`, expected: 'mode 0600' });
  return { ok: true, value: secret };
}

/** Reads a 48-byte TLS session ticket key: raw bytes, 96 hex characters or 64 base64 characters. */
export async function loadTicketKey(dir: string, file: string, path: Path, warnings: Problem[]): Promise<Result<Buffer>> {
  const read = await readConfigFile(dir, file, path, 'a readable file holding a 48-byte session ticket key');
  if (!read.ok) return read;
  const full = resolve(dir, file);
  const text = read.value.toString('latin1').trim();
  const key = read.value.length === 48 ? read.value : /^[0-9a-fA-F]{96}$/.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/]{64}$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (!key || key.length !== 48) {
    return { ok: false, problems: [{ path, message: `${full} does not hold a 48-byte key`, expected: '48 raw bytes, 96 hex characters or 64 base64 characters, e.g. `openssl rand 48 > ticket.key`' }] };
  }
  const mode = (await stat(full)).mode;
  if ((mode & 0o077) !== 0) warnings.push({ path, message: `${full} can be read by other users (mode ${(mode & 0o777).toString(8)})`, expected: 'mode 0600' });
  return { ok: true, value: key };
}
