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

/**
 * Whether a client's certificate, or (with `check: chain`) a CA above it, is revoked. `peer` is the
 * detailed chain node built after verifying it; `leafIssuer` the leaf's issuer in node's form, used when
 * a resumed session carries the leaf without its chain.
 */
export function isRevoked(peer: DetailedPeerCertificate, leafIssuer: () => string, revocation: RevocationList): boolean {
  if (revocation.isEmpty) return false;
  const hasPending = revocation.pending.length > 0;
  let cert: DetailedPeerCertificate | undefined = peer;
  for (let depth = 0; cert && depth < 10; depth++) {
    const issuer: DetailedPeerCertificate | undefined = cert.issuerCertificate;
    const serial = normalizeSerial(cert.serialNumber);
    if (issuer && issuer !== cert) {
      if (revocation.byIssuerFingerprint.get(issuer.fingerprint256)?.has(serial)) return true;
      if (hasPending && pendingSerials(revocation, issuer)?.has(serial)) return true;
    } else if (depth === 0) {
      // A resumed session may carry the leaf without its chain: match by the issuer's name.
      const name = leafIssuer();
      if (revocation.byIssuerSubject.get(name)?.has(serial)) return true;
      if (hasPending && pendingStates.get(revocation)?.bySubject.get(name)?.has(serial)) return true;
    }
    if (revocation.check === 'leaf' || !issuer || issuer === cert) break;
    cert = issuer;
  }
  return false;
}
