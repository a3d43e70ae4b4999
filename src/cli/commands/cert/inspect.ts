/**
 * `gatehouse cert inspect FILE [--ca CAFILE]`: what a certificate is, where its revocation status is published
 * (CRL distribution points, OCSP responders), and whether (and why not) it chains to a CA.
 */
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DetailedPeerCertificate } from 'node:tls';
import type { RevocationList } from '../../../config/model.js';
import type { Problem } from '../../../config/problem.js';
import { loadRevocationList } from '../../../config/tls-files.js';
import { OnlineRevocation } from '../../../tls/online/online-revocation.js';
import { RevocationCache } from '../../../tls/online/revocation-cache.js';
import { crlFileCovers, revokedByFile } from '../../../tls/revocation.js';
import * as x509 from '@peculiar/x509';
import { splitPemCertificates } from '../../../pki/index.js';
import { CliError } from '../../cli-error.js';

const KEY_USAGES: [x509.KeyUsageFlags, string][] = [
  [x509.KeyUsageFlags.digitalSignature, 'digitalSignature'],
  [x509.KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [x509.KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [x509.KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [x509.KeyUsageFlags.cRLSign, 'cRLSign'],
];
const EKU_NAMES: Record<string, string> = { '1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth', '1.3.6.1.5.5.7.3.3': 'codeSigning', '1.3.6.1.5.5.7.3.4': 'emailProtection', '1.3.6.1.5.5.7.3.9': 'OCSPSigning', '1.3.6.1.4.1.311.20.2.2': 'smartcardLogon' };

/** Certificates of a PEM bundle or a single DER file. */
export async function readCertificates(file: string, flag: string): Promise<X509Certificate[]> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    throw new CliError(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (error as Error).message} (expected a PEM or DER certificate file)`);
  }
  const text = data.toString('latin1');
  try {
    if (text.includes('-----BEGIN CERTIFICATE-----')) return splitPemCertificates(text).map((pem) => new X509Certificate(pem));
    return [new X509Certificate(data)];
  } catch (error) {
    throw new CliError(`${flag} ${file}: not a certificate (${(error as Error).message}) (expected a PEM or DER certificate)`);
  }
}

const dn = (text: string) => text.split('\n').reverse().join(', ');

/** A general name as text: a URI as itself, anything else as `type:value`. */
function nameText(name: x509.GeneralName): string {
  return name.type === 'url' ? name.value : `${name.type}:${name.value}`;
}

/** Where the certificate says its CRL is (each distribution point's full names), or undefined without the extension. */
function crlDistributionPoints(cert: x509.X509Certificate): string | undefined {
  const ext = cert.getExtension(x509.CRLDistributionPointsExtension);
  if (!ext) return undefined;
  const names = ext.distributionPoints.flatMap((dp) => {
    if (dp.distributionPoint?.nameRelativeToCRLIssuer) return ['(a name relative to the CRL issuer)'];
    return (dp.distributionPoint?.fullName ?? []).map((name) => {
      try {
        return nameText(new x509.GeneralName(name));
      } catch {
        return '(a name of an unsupported type)';
      }
    });
  });
  return names.length > 0 ? names.join(', ') : '(none)';
}

/** Whether `leaf` chains to one of `cas` (using `extra` as intermediates), and why not. */
export function chainsTo(leaf: X509Certificate, extra: readonly X509Certificate[], cas: readonly X509Certificate[], now = new Date()): { ok: boolean; detail: string } {
  const path: string[] = [];
  let current = leaf;
  for (let depth = 0; depth < 10; depth++) {
    const trusted = cas.find((ca) => current.checkIssued(ca));
    if (trusted) {
      if (!current.verify(trusted.publicKey)) return { ok: false, detail: `the signature on ${dn(current.subject)} does not verify with the key of ${dn(trusted.subject)} (same name, different CA?)` };
      if (!trusted.ca) return { ok: false, detail: `${dn(trusted.subject)} is not a CA certificate` };
      if (new Date(trusted.validTo) < now) return { ok: false, detail: `the CA ${dn(trusted.subject)} expired on ${new Date(trusted.validTo).toISOString()}` };
      path.push(dn(trusted.subject));
      return { ok: true, detail: `chain: ${[dn(leaf.subject), ...path].join(' → ')}` };
    }
    const next = extra.find((c) => c !== current && current.checkIssued(c));
    if (!next) return { ok: false, detail: `no certificate in the CA file issued ${dn(current.subject)} (its issuer is ${dn(current.issuer)}); add that CA, or the intermediate, to the file` };
    if (!current.verify(next.publicKey)) return { ok: false, detail: `the signature on ${dn(current.subject)} does not verify with the key of ${dn(next.subject)}` };
    path.push(dn(next.subject));
    current = next;
  }
  return { ok: false, detail: 'the chain is longer than 10 certificates' };
}

/** Node's detailed peer certificate shape, linked leaf → anchor, as the door sees a verified chain. */
function detailedChain(leaf: X509Certificate, extra: readonly X509Certificate[], cas: readonly X509Certificate[]): DetailedPeerCertificate {
  const link = (cert: X509Certificate): DetailedPeerCertificate =>
    ({ raw: cert.raw, fingerprint256: cert.fingerprint256, serialNumber: cert.serialNumber, subject: Object.fromEntries(cert.subject.split('\n').map((rdn) => rdn.split('=') as [string, string])) }) as unknown as DetailedPeerCertificate;
  const top = link(leaf);
  let node = top;
  let current = leaf;
  for (let depth = 0; depth < 10; depth++) {
    const issuer = [...extra, ...cas].find((c) => c !== current && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) break;
    const next = issuer === current ? node : link(issuer);
    (node as { issuerCertificate: DetailedPeerCertificate }).issuerCertificate = next;
    if (issuer.checkIssued(issuer)) {
      (next as { issuerCertificate: DetailedPeerCertificate }).issuerCertificate = next; // a self-signed anchor
      break;
    }
    node = next;
    current = issuer;
  }
  return top;
}

/** What the door would say about revocation: CRL files (verified against `cas` or the chain), then, with `online`, CDPs and OCSP. */
async function revocationOf(leaf: X509Certificate, extra: readonly X509Certificate[], cas: readonly X509Certificate[], crlFiles: readonly string[], online: boolean): Promise<{ ok: boolean; line: string }> {
  const trusted = { pem: Buffer.from(cas.map((ca) => ca.toString()).join('')), certs: cas };
  const warnings: Problem[] = [];
  let list: RevocationList | undefined;
  if (crlFiles.length > 0) {
    const loaded = await loadRevocationList(process.cwd(), crlFiles, trusted, ['--crl'], warnings, 'chain');
    if (!loaded.ok) throw new CliError(loaded.problems.map((p) => `--crl ${p.message} (expected ${p.expected})`).join('\n'));
    list = loaded.value;
  }
  const peer = detailedChain(leaf, extra, cas);
  const sources: string[] = [];
  if (list) {
    const revoked = revokedByFile(peer, () => leaf.issuer, list);
    if (revoked) return { ok: false, line: `REVOKED (${revoked.source}: serial ${revoked.serial})` };
    sources.push(`not on ${crlFiles.join(', ')}`);
  }
  if (online) {
    const folder = await mkdtemp(join(tmpdir(), 'gatehouse-inspect-'));
    const cache = new RevocationCache({ folder, freshnessMs: 60_000, fetchTimeoutMs: 5000 }, { fetched: () => undefined, warn: () => undefined });
    try {
      const checker = new OnlineRevocation({ cachedOnly: false, whenUnknown: 'deny' }, cache, 'chain', cas.map((ca) => Buffer.from(ca.raw)), (issuer) => (list ? crlFileCovers(list, issuer.der, issuer.fingerprint) : false));
      const pairs = checker.pairsOf(peer);
      await checker.prepare(pairs);
      const status = checker.statusOf(pairs);
      if (status.state === 'revoked') return { ok: false, line: `REVOKED (${status.source}: ${status.subject}, serial ${status.serial})` };
      if (status.state === 'unknown') return { ok: false, line: `UNKNOWN (${status.subject}: ${status.why})` };
      if (status.state === 'good') sources.push(`good (${status.source})`);
    } finally {
      cache.close();
      await rm(folder, { recursive: true, force: true });
    }
  }
  return { ok: true, line: `not revoked: ${sources.join('; ')}` };
}

export async function inspectCommand(file: string, options: { ca?: string; crl?: string[]; online?: boolean }): Promise<number> {
  const [leaf, ...extra] = await readCertificates(file, 'FILE');
  if (!leaf) throw new CliError(`FILE ${file}: holds no certificate`);
  const parsed = new x509.X509Certificate(new Uint8Array(leaf.raw));
  const ku = parsed.getExtension(x509.KeyUsagesExtension);
  const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
  const crls = crlDistributionPoints(parsed);
  const ocsp = parsed.getExtension(x509.AuthorityInfoAccessExtension)?.ocsp ?? [];
  const now = Date.now();
  const notAfter = new Date(leaf.validTo);
  const daysLeft = Math.round((notAfter.getTime() - now) / 86_400_000);
  const validity = now < new Date(leaf.validFrom).getTime() ? 'NOT YET VALID' : daysLeft < 0 ? `EXPIRED ${-daysLeft} days ago` : `${daysLeft} days left`;
  const lines = [
    `subject      ${dn(leaf.subject)}`,
    `issuer       ${dn(leaf.issuer)}`,
    `SANs         ${leaf.subjectAltName ?? '(none)'}`,
    `key usage    ${ku ? KEY_USAGES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, name]) => name).join(', ') : '(not restricted)'}`,
    `ext. usage   ${eku ? eku.usages.map((u) => EKU_NAMES[String(u)] ?? String(u)).join(', ') : '(not restricted)'}`,
    `CA           ${leaf.ca ? 'yes' : 'no'}`,
    `valid from   ${new Date(leaf.validFrom).toISOString()}`,
    `valid to     ${notAfter.toISOString()} (${validity})`,
    `serial       ${leaf.serialNumber}`,
    `SHA-1        ${leaf.fingerprint.replace(/:/g, '')}`,
    `SHA-256      ${leaf.fingerprint256.replace(/:/g, '')}`,
    `key          ${leaf.publicKey.asymmetricKeyType ?? '?'} ${leaf.publicKey.asymmetricKeyDetails?.modulusLength ?? leaf.publicKey.asymmetricKeyDetails?.namedCurve ?? ''}`.trimEnd(),
  ];
  if (crls !== undefined) lines.push(`CRL distribution points: ${crls}`);
  if (ocsp.length > 0) lines.push(`OCSP responders: ${ocsp.map(nameText).join(', ')}`);
  let code = 0;
  if (options.ca) {
    const cas = await readCertificates(options.ca, '--ca');
    const result = chainsTo(leaf, extra, cas);
    lines.push(`chains to CA ${result.ok ? 'yes' : 'NO'}: ${result.detail}`);
    if (!result.ok) code = 1;
    if (result.ok && (options.crl?.length || options.online)) {
      const verdict = await revocationOf(leaf, extra, cas, options.crl ?? [], options.online === true);
      lines.push(`revocation   ${verdict.line}`);
      if (!verdict.ok) code = 1;
    }
  } else if (options.crl?.length || options.online) {
    throw new CliError('--crl and --online need --ca (the CA file the chain is checked against, and whose CRLs are verified)');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return code;
}
