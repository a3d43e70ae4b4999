/**
 * IIS's Server Certificates page: every certificate the config names (each https binding's certificate
 * and chain, each trusted CA bundle, the admin listener's certificate and its badge CAs), every certificate
 * of the store folder, and the CRLs. Read from the files when asked (the config file as it is on disk, and
 * the files it names), never on the request path. Each certificate once (by SHA-1 thumbprint), with who uses
 * it and its problems: expiring, expired, not yet valid, chain incomplete, key mismatch. No private key
 * leaves this module: keys are only read to compare with their certificate.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import 'reflect-metadata'; // @peculiar/x509 needs the Reflect metadata API (tsyringe)
import * as x509 from '@peculiar/x509';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config/model.js';
import { crlsIn } from '../config/tls-files.js';
import { readPfx } from '../pki/index.js';
import { certificateFiles, certificateStoreDir } from './certificate-paths.js';
import { readStore } from './certificate-store.js';
import { etagOf } from './etag.js';

x509.cryptoProvider.set(globalThis.crypto);

const DAY_MS = 86_400_000;
/** A certificate whose notAfter is this close has the problem `expires in N days`. */
export const EXPIRY_WARNING_DAYS = 30;

export type CertificateKind = 'server' | 'ca' | 'admin';

/** Who uses a certificate or CRL: a site's binding, a site (its SSL settings), or the admin listener (site null). */
export interface CertificateUse {
  readonly site: string | null;
  /** `https://address:port (hostName)`; `admin https://address:port` for the admin listener; null for a site-wide use (trusted CA, CRL). */
  readonly binding: string | null;
  readonly as: 'certificate' | 'chain' | 'trustedCa' | 'crl';
}

export interface CertificateEntry {
  readonly id: string;
  readonly friendlyName: string | null;
  readonly subject: string;
  readonly issuer: string;
  readonly sans: string[];
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly thumbprintSha1: string;
  readonly thumbprintSha256: string;
  readonly keyType: string;
  readonly keySize: number | null;
  readonly kind: CertificateKind;
  readonly files: { readonly certFile: string; readonly keyFile: string | null };
  readonly inStore: boolean;
  readonly usedBy: CertificateUse[];
  readonly problems: string[];
}

export interface CrlEntry {
  readonly file: string;
  readonly issuer: string;
  readonly thisUpdate: string;
  readonly nextUpdate: string | null;
  readonly revoked: number;
  readonly usedBy: CertificateUse[];
  readonly problems: string[];
}

export interface CertificateListing {
  readonly etag: string;
  readonly certificates: CertificateEntry[];
  readonly crls: CrlEntry[];
  /** Files the config or the store names that cannot be read or parsed (`FILE: why`). */
  readonly problems: string[];
}

/** Node's `C=US\nO=Example\nCN=x` → `CN=x, O=Example, C=US` (most specific first, as IIS shows it). */
export function displayName(nodeDn: string): string {
  return nodeDn.split('\n').filter(Boolean).reverse().join(', ');
}

/** @peculiar/x509's JSON name (RDNs in encoded order) in the same form as displayName. */
function displayJsonName(name: x509.JsonName): string {
  return name
    .map((rdn) => Object.entries(rdn).map(([type, values]) => values.map((value) => `${type}=${value}`).join('+')).join('+'))
    .reverse()
    .join(', ');
}

const CURVE_BITS: Record<string, number> = { prime256v1: 256, 'P-256': 256, secp384r1: 384, 'P-384': 384, secp521r1: 521, 'P-521': 521, secp256k1: 256 };

/** `{ keyType: 'RSA', keySize: 2048 }`, `{ 'EC', 256 }`, `{ 'Ed25519', 256 }`. */
export function keyOf(cert: X509Certificate): { keyType: string; keySize: number | null } {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return { keyType: key.asymmetricKeyType === 'rsa' ? 'RSA' : 'RSA-PSS', keySize: details.modulusLength ?? null };
    case 'ec':
      return { keyType: 'EC', keySize: CURVE_BITS[details.namedCurve ?? ''] ?? null };
    case 'ed25519':
      return { keyType: 'Ed25519', keySize: 256 };
    case 'ed448':
      return { keyType: 'Ed448', keySize: 456 };
    case 'dsa':
      return { keyType: 'DSA', keySize: details.modulusLength ?? null };
    default:
      return { keyType: key.asymmetricKeyType ?? 'unknown', keySize: null };
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM file (or a single DER certificate). */
function certificatesIn(bytes: Buffer): X509Certificate[] {
  const text = bytes.toString('latin1');
  if (!text.includes('-----BEGIN')) return [new X509Certificate(bytes)];
  return (text.match(PEM_CERT) ?? []).map((pem) => new X509Certificate(pem));
}

/** One place a certificate was found. */
interface Sighting {
  readonly cert: X509Certificate;
  readonly kind: CertificateKind;
  readonly certFile: string;
  readonly keyFile: string | null;
  readonly inStore: boolean;
  readonly friendlyName: string | null;
  readonly use: CertificateUse | undefined;
  readonly problems: readonly string[];
}

function why(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES') return 'is not readable (permission denied)';
  return (error as Error).message;
}

/** The declared config as written (read leniently: what is not there is skipped). */
interface Declared {
  readonly sites: readonly { name: string; bindings: readonly DeclaredBindingLike[]; trustedCaFile?: string; crlFiles: readonly string[] }[];
  readonly admin: { address: string; port: number; certificate?: { certFile?: string; keyFile?: string }; trustedCaFile?: string } | undefined;
}

interface DeclaredBindingLike {
  readonly label: string;
  readonly certificate: { certFile?: string; keyFile?: string; pfxFile?: string; passphrase?: string; passphraseFile?: string; id?: string } | undefined;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);
const obj = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function hostPort(address: string, port: unknown): string {
  const bare = address.replace(/^\[(.*)\]$/, '$1');
  return `${bare.includes(':') ? `[${bare}]` : bare}:${typeof port === 'number' ? port : '?'}`;
}

/** `https://127.0.0.1:443 (app.example.test)`: how a binding is named in `usedBy`. */
export function bindingLabel(protocol: string, address: string, port: unknown, hostName: string | undefined): string {
  return `${protocol}://${hostPort(address, port)}${hostName ? ` (${hostName.toLowerCase()})` : ''}`;
}

function declaredOf(text: string): Declared {
  const raw = obj(parseYaml(text));
  const sites = list(raw.sites).map((value) => {
    const site = obj(value);
    const ssl = obj(site.ssl);
    const crl = ssl.crlFile;
    return {
      name: str(site.name) ?? '?',
      bindings: list(site.bindings)
        .map(obj)
        .filter((binding) => binding.protocol === 'https')
        .map((binding) => ({
          label: bindingLabel('https', str(binding.address) ?? '0.0.0.0', binding.port, str(binding.hostName)),
          certificate: binding.certificate === undefined ? undefined : (obj(binding.certificate) as DeclaredBindingLike['certificate']),
        })),
      ...(str(ssl.trustedCaFile) ? { trustedCaFile: str(ssl.trustedCaFile) as string } : {}),
      crlFiles: typeof crl === 'string' ? [crl] : list(crl).filter((f): f is string => typeof f === 'string'),
    };
  });
  const admin = raw.admin === undefined ? undefined : obj(raw.admin);
  return {
    sites,
    admin: admin && {
      address: str(admin.address) ?? '127.0.0.1',
      port: typeof admin.port === 'number' ? admin.port : 0,
      ...(admin.certificate !== undefined ? { certificate: obj(admin.certificate) as { certFile?: string; keyFile?: string } } : {}),
      ...(str(admin.trustedCaFile) ? { trustedCaFile: str(admin.trustedCaFile) as string } : {}),
    },
  };
}

/** Whether `key` is the private key of `cert`. */
function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** Reads a key file only to compare it with its certificate: a problem, or none. */
async function keyProblem(cert: X509Certificate, keyFile: string, passphrase: string | undefined): Promise<string | undefined> {
  let key: KeyObject;
  try {
    const bytes = await readFile(keyFile);
    key = createPrivateKey(passphrase === undefined ? { key: bytes } : { key: bytes, passphrase });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'EACCES' ? `key file ${keyFile} ${why(error)}` : `key file ${keyFile} is not a readable private key${/passphrase|decrypt/i.test((error as Error).message) ? ' (encrypted: the passphrase is missing or wrong)' : ''}`;
  }
  return keyMatches(cert, key) ? undefined : 'key does not match the certificate';
}

/** Every certificate Gatehouse has to look issuers up in, besides the file itself. */
class IssuerPool {
  readonly #bySubject = new Map<string, X509Certificate[]>();

  add(cert: X509Certificate): void {
    this.#bySubject.set(cert.subject, [...(this.#bySubject.get(cert.subject) ?? []), cert]);
  }

  has(cert: X509Certificate): boolean {
    return (this.#bySubject.get(cert.issuer) ?? []).some((issuer) => issuedBy(cert, issuer));
  }
}

let systemRoots: IssuerPool | undefined;

function systemRootPool(): IssuerPool {
  if (systemRoots) return systemRoots;
  const pool = new IssuerPool();
  for (const pem of rootCertificates) {
    try {
      pool.add(new X509Certificate(pem));
    } catch {
      // A root node bundles but cannot parse is no issuer here.
    }
  }
  return (systemRoots = pool);
}

/** By name and signature (OpenSSL's checkIssued also wants keyCertSign, which a self-signed server certificate lacks). */
function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.issuer === issuer.subject && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

const isSelfSigned = (cert: X509Certificate): boolean => issuedBy(cert, cert);

/**
 * `chain incomplete: issuer … not in the file` when, following issuers from the leaf through the file, the
 * top certificate is not self-signed and its issuer is neither in the file, nor a CA the config or the
 * store holds, nor a root node trusts (its bundled Mozilla roots).
 */
function chainProblem(certs: readonly X509Certificate[], known: IssuerPool): string | undefined {
  let top = certs[0] as X509Certificate;
  const seen = new Set<X509Certificate>([top]);
  for (;;) {
    if (isSelfSigned(top)) return undefined;
    const next = certs.find((c) => !seen.has(c) && issuedBy(top, c));
    if (!next) break;
    seen.add(next);
    top = next;
  }
  if (known.has(top) || systemRootPool().has(top)) return undefined;
  return `chain incomplete: issuer ${displayName(top.issuer)} not in the file`;
}

function lifeProblems(cert: X509Certificate, nowMs: number): string[] {
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (nowMs > notAfter) return ['expired'];
  const problems: string[] = [];
  if (nowMs < notBefore) problems.push('not yet valid');
  const days = Math.floor((notAfter - nowMs) / DAY_MS);
  if (days <= EXPIRY_WARNING_DAYS) problems.push(`expires in ${days} day${days === 1 ? '' : 's'}`);
  return problems;
}

function entryOf(sightings: readonly Sighting[], nowMs: number): CertificateEntry {
  const first = sightings[0] as Sighting;
  const cert = first.cert;
  // The place that says most: the store's files, else a leaf with its key, else the first.
  const main = sightings.find((s) => s.inStore) ?? sightings.find((s) => s.keyFile !== null) ?? first;
  const kinds = new Set(sightings.map((s) => s.kind));
  const kind: CertificateKind = kinds.has('server') ? 'server' : kinds.has('admin') ? 'admin' : 'ca';
  const uses = new Map<string, CertificateUse>();
  for (const s of sightings) if (s.use) uses.set(JSON.stringify(s.use), s.use);
  const notAfterMs = Date.parse(cert.validTo);
  const id = cert.fingerprint.replace(/:/g, '');
  return {
    id,
    friendlyName: sightings.find((s) => s.friendlyName !== null)?.friendlyName ?? null,
    subject: displayName(cert.subject),
    issuer: displayName(cert.issuer),
    sans: cert.subjectAltName ? cert.subjectAltName.split(/,\s*/).filter(Boolean) : [],
    serialNumber: cert.serialNumber.toUpperCase().replace(/^0+(?=.)/, ''),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(notAfterMs).toISOString(),
    daysLeft: Math.floor((notAfterMs - nowMs) / DAY_MS),
    thumbprintSha1: id,
    thumbprintSha256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    ...keyOf(cert),
    kind,
    files: { certFile: main.certFile, keyFile: main.keyFile },
    inStore: sightings.some((s) => s.inStore),
    usedBy: [...uses.values()],
    problems: [...new Set([...lifeProblems(cert, nowMs), ...sightings.flatMap((s) => s.problems)])],
  };
}

/** The listing's ETag: a hash of what it shows (a write to the store, a config change, a day passing change it). */
export function listingEtag(certificates: readonly CertificateEntry[], crls: readonly CrlEntry[]): string {
  return etagOf(JSON.stringify({ certificates, crls }));
}

/** Everything the Server Certificates page shows, read now from the config file and the store folder. */
export async function listCertificates(config: Pick<Config, 'file' | 'admin'>, nowMs = Date.now()): Promise<CertificateListing> {
  const dir = dirname(config.file);
  const storeDir = certificateStoreDir(config);
  const problems: string[] = [];
  const sightings: Sighting[] = [];
  const known = new IssuerPool();
  /** Leaf files whose chain and key are checked once every CA is known. */
  const leaves: { certs: X509Certificate[]; keyFile: string | null; passphrase: string | undefined; key: KeyObject | undefined; index: number; count: number }[] = [];
  const cache = new Map<string, Promise<Buffer>>();
  const read = (file: string) => {
    let pending = cache.get(file);
    if (!pending) cache.set(file, (pending = readFile(file)));
    return pending;
  };
  const readCertificates = async (file: string): Promise<X509Certificate[] | undefined> => {
    try {
      const certs = certificatesIn(await read(file));
      if (certs.length === 0) problems.push(`${file}: holds no certificate`);
      return certs.length ? certs : undefined;
    } catch (error) {
      problems.push(`${file}: ${why(error)}`);
      return undefined;
    }
  };
  const passphraseOf = async (declared: { passphrase?: string; passphraseFile?: string }): Promise<string | undefined> => {
    if (declared.passphraseFile === undefined) return typeof declared.passphrase === 'string' ? declared.passphrase : undefined;
    try {
      return (await read(resolve(dir, declared.passphraseFile))).toString('utf8').replace(/\r?\n$/, '');
    } catch {
      return undefined;
    }
  };
  /** A leaf file: the leaf (kind), the rest of the chain (ca). */
  const addLeafFile = (certs: X509Certificate[], certFile: string, keyFile: string | null, kind: 'server' | 'admin', use: CertificateUse | undefined, extra: { inStore?: boolean; friendlyName?: string | null; passphrase?: string; key?: KeyObject; problems?: string[] }) => {
    const before = sightings.length;
    certs.forEach((cert, index) => {
      sightings.push({ cert, kind: index === 0 ? kind : 'ca', certFile, keyFile: index === 0 ? keyFile : null, inStore: extra.inStore === true, friendlyName: index === 0 ? (extra.friendlyName ?? null) : null, use: use && (index === 0 ? use : { ...use, as: 'chain' }), problems: index === 0 ? (extra.problems ?? []) : [] });
      if (index > 0) known.add(cert);
    });
    leaves.push({ certs, keyFile, passphrase: extra.passphrase, key: extra.key, index: before, count: certs.length });
  };

  let text: string | undefined;
  try {
    text = (await read(config.file)).toString('utf8');
  } catch (error) {
    problems.push(`${config.file}: ${why(error)}`);
  }
  let declared: Declared = { sites: [], admin: undefined };
  try {
    if (text !== undefined) declared = declaredOf(text);
  } catch (error) {
    problems.push(`${config.file}: cannot be read as YAML (${(error as Error).message.split('\n')[0]})`);
  }

  for (const site of declared.sites) {
    for (const binding of site.bindings) {
      const c = binding.certificate;
      if (!c) continue;
      const use: CertificateUse = { site: site.name, binding: binding.label, as: 'certificate' };
      if (c.pfxFile !== undefined) {
        const pfxFile = resolve(dir, c.pfxFile);
        try {
          const contents = readPfx(await read(pfxFile), (await passphraseOf(c)) ?? '');
          const key = contents.keys[0];
          const leafIndex = key ? Math.max(0, contents.certificates.findIndex((cert) => keyMatches(cert, key))) : 0;
          const certs = [...contents.certificates];
          const [leaf] = certs.splice(leafIndex, 1);
          if (leaf) addLeafFile([leaf, ...certs], pfxFile, null, 'server', use, { friendlyName: contents.friendlyName ?? null, ...(key ? { key } : {}) });
          else problems.push(`${pfxFile}: holds no certificate`);
        } catch (error) {
          problems.push(`${pfxFile}: ${why(error)}`);
        }
        continue;
      }
      const files = c.id !== undefined && /^[0-9A-F]{40}$/.test(c.id) ? certificateFiles(storeDir, c.id) : c.certFile !== undefined ? { certFile: resolve(dir, c.certFile), keyFile: c.keyFile === undefined ? undefined : resolve(dir, c.keyFile) } : undefined;
      if (!files) continue;
      const certs = await readCertificates(files.certFile);
      const passphrase = await passphraseOf(c);
      if (certs) addLeafFile(certs, files.certFile, files.keyFile ?? null, 'server', use, passphrase === undefined ? {} : { passphrase });
    }
  }
  const addBundle = async (file: string, use: CertificateUse) => {
    const certs = await readCertificates(file);
    for (const cert of certs ?? []) {
      known.add(cert);
      sightings.push({ cert, kind: 'ca', certFile: file, keyFile: null, inStore: false, friendlyName: null, use, problems: cert.ca ? [] : ['not a CA certificate (basicConstraints CA:TRUE missing)'] });
    }
  };
  for (const site of declared.sites) if (site.trustedCaFile !== undefined) await addBundle(resolve(dir, site.trustedCaFile), { site: site.name, binding: null, as: 'trustedCa' });
  const admin = declared.admin;
  if (admin) {
    const label = `admin ${bindingLabel('https', admin.address, admin.port, undefined)}`;
    if (admin.certificate?.certFile !== undefined) {
      const certFile = resolve(dir, admin.certificate.certFile);
      const certs = await readCertificates(certFile);
      if (certs) addLeafFile(certs, certFile, admin.certificate.keyFile === undefined ? null : resolve(dir, admin.certificate.keyFile), 'admin', { site: null, binding: label, as: 'certificate' }, {});
    }
    if (admin.trustedCaFile !== undefined) await addBundle(resolve(dir, admin.trustedCaFile), { site: null, binding: label, as: 'trustedCa' });
  }
  for (const stored of await readStore(storeDir)) {
    const certs = await readCertificates(stored.certFile);
    if (!certs) continue;
    addLeafFile(certs, stored.certFile, stored.keyFile ?? null, 'server', undefined, { inStore: true, friendlyName: stored.friendlyName ?? null, problems: stored.keyFile === undefined ? ['no key file in the store'] : [] });
    const id = (certs[0] as X509Certificate).fingerprint.replace(/:/g, '');
    if (id !== stored.id) problems.push(`${stored.certFile}: named ${stored.id} but its certificate's SHA-1 thumbprint is ${id}`);
  }

  // Chains and keys, now that every CA the config and the store hold is known.
  for (const leaf of leaves) {
    const found: string[] = [];
    const chain = chainProblem(leaf.certs, known);
    if (chain) found.push(chain);
    const cert = leaf.certs[0] as X509Certificate;
    if (leaf.key) {
      if (!keyMatches(cert, leaf.key)) found.push('key does not match the certificate');
    } else if (leaf.keyFile !== null) {
      const problem = await keyProblem(cert, leaf.keyFile, leaf.passphrase);
      if (problem) found.push(problem);
    }
    if (found.length) {
      const sighting = sightings[leaf.index] as Sighting;
      sightings[leaf.index] = { ...sighting, problems: [...sighting.problems, ...found] };
    }
  }

  const byId = new Map<string, Sighting[]>();
  for (const s of sightings) {
    const id = s.cert.fingerprint;
    byId.set(id, [...(byId.get(id) ?? []), s]);
  }
  const certificates = [...byId.values()].map((group) => entryOf(group, nowMs));
  certificates.sort((a, b) => (a.kind === b.kind ? a.subject.localeCompare(b.subject) || a.id.localeCompare(b.id) : ['server', 'admin', 'ca'].indexOf(a.kind) - ['server', 'admin', 'ca'].indexOf(b.kind)));

  const crls = new Map<string, { entry: Omit<CrlEntry, 'usedBy'>; usedBy: Map<string, CertificateUse> }>();
  for (const site of declared.sites) {
    for (const name of site.crlFiles) {
      const file = resolve(dir, name);
      let ders: Buffer[];
      try {
        ders = crlsIn(await read(file));
      } catch (error) {
        problems.push(`${file}: ${why(error)}`);
        continue;
      }
      for (const [index, der] of ders.entries()) {
        const which = ders.length > 1 ? `${file} (CRL ${index + 1} of ${ders.length})` : file;
        let known = crls.get(which);
        if (!known) {
          let crl: x509.X509Crl;
          try {
            crl = new x509.X509Crl(new Uint8Array(der));
          } catch {
            problems.push(`${which}: not a CRL (PEM or DER)`);
            continue;
          }
          const nextUpdate = crl.nextUpdate;
          const crlProblems = nextUpdate && nextUpdate.getTime() < nowMs ? [`stale: nextUpdate ${nextUpdate.toISOString()} has passed`] : [];
          known = { entry: { file: which, issuer: displayJsonName(crl.issuerName.toJSON()), thisUpdate: crl.thisUpdate.toISOString(), nextUpdate: nextUpdate?.toISOString() ?? null, revoked: crl.entries.length, problems: crlProblems }, usedBy: new Map() };
          crls.set(which, known);
        }
        known.usedBy.set(site.name, { site: site.name, binding: null, as: 'crl' });
      }
    }
  }
  const crlEntries: CrlEntry[] = [...crls.values()].map(({ entry, usedBy }) => ({ ...entry, usedBy: [...usedBy.values()] }));
  return { etag: listingEtag(certificates, crlEntries), certificates, crls: crlEntries, problems };
}
