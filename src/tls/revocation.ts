/**
 * Revocation by CRL at the door. CRLs signed by a CA in trustedCaFile are checked when the config loads;
 * a CRL signed by a CA that is not a trust anchor (the issuing intermediate of a corporate PKI, which
 * clients send in their chain) is kept pending, and verified, once per CA certificate, against the key
 * of the CA a client's verified chain shows under that name. `check` says which certificates are looked
 * up: `chain` (default: the leaf and every CA above it), `leaf`, or `off`.
 */
import { X509Certificate, verify } from 'node:crypto';
import type { DetailedPeerCertificate } from 'node:tls';
import type { RevocationList } from '../config/model.js';
import { certificateSubjectDer } from '../config/der.js';
import { normalizeSerial } from '../config/tls-files.js';

interface PendingState {
  /** CA certificate fingerprint256 → the serials its verified CRLs revoke (null: none of them). */
  readonly byCa: Map<string, ReadonlySet<string> | null>;
  /** CA subject (node's form) → serials, once verified: for resumed sessions that carry the leaf alone. */
  readonly bySubject: Map<string, ReadonlySet<string>>;
}

const pendingStates = new WeakMap<RevocationList, PendingState>();

/** The serials revoked by the pending CRLs that `ca` signed (verified once per CA certificate). */
function pendingSerials(revocation: RevocationList, ca: DetailedPeerCertificate): ReadonlySet<string> | undefined {
  let state = pendingStates.get(revocation);
  if (!state) pendingStates.set(revocation, (state = { byCa: new Map(), bySubject: new Map() }));
  const known = state.byCa.get(ca.fingerprint256);
  if (known !== undefined) return known ?? undefined;
  let serials: Set<string> | null = null;
  try {
    const name = certificateSubjectDer(ca.raw).toString('hex');
    const certificate = new X509Certificate(ca.raw);
    const key = certificate.publicKey;
    for (const crl of revocation.pending) {
      if (crl.issuerName !== name || !verify(crl.digest, crl.signed, key, crl.signature)) continue;
      serials ??= new Set();
      for (const serial of crl.serials) serials.add(serial);
    }
    if (serials) state.bySubject.set(certificate.subject, serials);
  } catch {
    serials = null; // a CA certificate or key node cannot read: its name signs no CRL here
  }
  state.byCa.set(ca.fingerprint256, serials);
  return serials ?? undefined;
}

/** Which certificate a CRL file revoked, and the file. */
export interface FileRevocation {
  readonly source: string;
  readonly serial: string;
  /** The revoked certificate's subject, node's form (`CN=…` lines). */
  readonly subject: string | undefined;
}

/**
 * Whether a client's certificate, or (with `check: chain`) a CA above it, is revoked by a CRL file, and by
 * which. `peer` is the detailed chain node built after verifying it; `leafIssuer` the leaf's issuer in
 * node's form, used when a resumed session carries the leaf without its chain.
 */
export function revokedByFile(peer: DetailedPeerCertificate, leafIssuer: () => string, revocation: RevocationList): FileRevocation | undefined {
  if (revocation.isEmpty) return undefined;
  const hasPending = revocation.pending.length > 0;
  const found = (key: string, serial: string, cert: DetailedPeerCertificate): FileRevocation => ({
    source: `CRL file ${(revocation.filesByIssuer.get(key) ?? revocation.pending.filter((crl) => crl.issuer === key).map((crl) => crl.file)).join(', ') || 'crlFile'}`,
    serial,
    subject: typeof cert.subject === 'object' ? Object.entries(cert.subject).map(([k, v]) => `${k}=${String(v)}`).join(', ') : undefined,
  });
  let cert: DetailedPeerCertificate | undefined = peer;
  for (let depth = 0; cert && depth < 10; depth++) {
    const issuer: DetailedPeerCertificate | undefined = cert.issuerCertificate;
    const serial = normalizeSerial(cert.serialNumber);
    if (issuer && issuer !== cert) {
      if (revocation.byIssuerFingerprint.get(issuer.fingerprint256)?.has(serial)) return found(issuer.fingerprint256, serial, cert);
      if (hasPending && pendingSerials(revocation, issuer)?.has(serial)) return { ...found('', serial, cert), source: `CRL file ${pendingFilesOf(revocation, issuer)}` };
    } else if (depth === 0) {
      // A resumed session may carry the leaf without its chain: match by the issuer's name.
      const name = leafIssuer();
      if (revocation.byIssuerSubject.get(name)?.has(serial)) return found(name, serial, cert);
      if (hasPending && pendingStates.get(revocation)?.bySubject.get(name)?.has(serial)) return { ...found('', serial, cert), source: 'CRL file (issuing CA\'s)' };
    }
    if (revocation.check === 'leaf' || !issuer || issuer === cert) break;
    cert = issuer;
  }
  return undefined;
}

/** The pending CRL files signed with `ca`'s name. */
function pendingFilesOf(revocation: RevocationList, ca: DetailedPeerCertificate): string {
  try {
    const name = certificateSubjectDer(ca.raw).toString('hex');
    return [...new Set(revocation.pending.filter((crl) => crl.issuerName === name).map((crl) => crl.file))].join(', ');
  } catch {
    return 'crlFile';
  }
}

/** Whether a configured CRL file answers for the certificates `issuer` (DER, SHA-256 hex) issued. */
export function crlFileCovers(revocation: RevocationList, issuerRaw: Buffer, sha256Hex: string): boolean {
  if (revocation.check === 'off') return false;
  const fingerprint256 = (sha256Hex.toUpperCase().match(/../g) ?? []).join(':');
  if (revocation.byIssuerFingerprint.has(fingerprint256)) return true;
  if (revocation.pending.length === 0) return false;
  return pendingSerials(revocation, { raw: issuerRaw, fingerprint256 } as DetailedPeerCertificate) !== undefined;
}
