/**
 * A client certificate as seen once per TLS connection: the DER bytes to forward, identifiers for logs,
 * the chain the client sent, and the verdict. Built once per connection, never per request.
 */
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { RevocationList, SslSettings } from '../config/model.js';
import type { ChainCache } from './chain-cache.js';
import { normalizeSerial } from '../config/tls-files.js';
import { revokedByFile, type FileRevocation } from './revocation.js';
import type { CheckObserver, OnlineRevocation } from './online/online-revocation.js';
import { ACCEPTED, CERTIFICATE_REQUIRED, EXPIRED, NOT_REQUESTED, NOT_YET_VALID, NO_CERTIFICATE_ACCEPTED, revocationUnknownVerdict, revokedVerdict, verdictForVerifyError, type Verdict } from './verdict.js';

export class ClientCertificate {
  /** DER of the leaf. */
  readonly raw: Buffer;
  /** SHA-1 thumbprint, upper-case hex without separators (as IIS and Windows show it). */
  readonly thumbprint: string;
  /** SHA-256 thumbprint, lower-case hex without separators. */
  readonly thumbprintSha256: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** DER of the certificates above the leaf that chain it to a trust anchor, closest first; self-signed roots excluded. */
  readonly chain: readonly Buffer[];
  readonly #peer: PeerCertificate | DetailedPeerCertificate;
  #x509: X509Certificate | undefined;
  #base64: string | undefined;

  /** `peer` is node's legacy peer certificate: detailed (with the chain the client sent) or the leaf alone. */
  constructor(peer: PeerCertificate | DetailedPeerCertificate, chains?: ChainCache, isResumed = false) {
    this.#peer = peer;
    this.raw = peer.raw;
    this.thumbprint = peer.fingerprint.replace(/:/g, '');
    this.thumbprintSha256 = peer.fingerprint256.replace(/:/g, '').toLowerCase();
    this.notBeforeMs = Date.parse(peer.valid_from);
    this.notAfterMs = Date.parse(peer.valid_to);
    const chain: Buffer[] = [];
    for (let cert = (peer as Partial<DetailedPeerCertificate>).issuerCertificate; cert && cert !== peer && chain.length < 10; cert = cert.issuerCertificate) {
      if (cert.issuerCertificate === cert || cert.fingerprint256 === cert.issuerCertificate?.fingerprint256) break; // self-signed anchor
      chain.push(cert.raw);
      if (cert.issuerCertificate === undefined) break;
    }
    if (chains && isResumed && chain.length === 0) this.chain = chains.recall(peer.fingerprint256) ?? chain;
    else {
      if (chains && !isResumed) chains.remember(peer.fingerprint256, chain);
      this.chain = chain;
    }
  }

  /** Base64 of the DER leaf, one line: the value of X-ARR-ClientCert. */
  get base64(): string {
    return (this.#base64 ??= this.raw.toString('base64'));
  }

  /** Node's full parse, made only when a log, trace or format needs names. */
  get x509(): X509Certificate {
    return (this.#x509 ??= new X509Certificate(this.raw));
  }

  /** `CN=alice, O=Example` for log lines. */
  get subject(): string {
    return this.x509.subject.split('\n').reverse().join(', ');
  }

  get issuer(): string {
    return this.x509.issuer.split('\n').reverse().join(', ');
  }

  get serialNumber(): string {
    return normalizeSerial(this.#peer.serialNumber);
  }

  /** Whether the leaf (or, with `check: chain`, a CA above it) is on a CRL file, and which. */
  revokedByFile(revocation: RevocationList): FileRevocation | undefined {
    return revokedByFile(this.#peer as DetailedPeerCertificate, () => this.x509.issuer, revocation);
  }

  /** Node's detailed peer certificate (the verified chain), for the online check. */
  get peer(): PeerCertificate | DetailedPeerCertificate {
    return this.#peer;
  }

  /** The validity check made on every request, so a long keep-alive connection cannot outlive the certificate. */
  validityAt(nowMs: number): Verdict | undefined {
    if (nowMs > this.notAfterMs) return EXPIRED;
    if (nowMs < this.notBeforeMs) return NOT_YET_VALID;
    return undefined;
  }
}

export interface ClientCertificateResult {
  readonly certificate: ClientCertificate | undefined;
  readonly verdict: Verdict;
}

/**
 * Evaluates a TLS connection's client certificate under a site's SSL settings. The detailed chain is read
 * before anything else touches the peer certificate (reading it later loses the intermediates the client sent).
 *
 * `needsChain`: whether anything will use the chain the client sent (a CRL, a forwarded format that
 * carries the chain, a trace); without it only the leaf is read, which costs a new connection about a
 * quarter as much (node parses every certificate of a detailed chain into a JS object). Node 20's
 * getPeerX509Certificate() would be cheaper still, but keeps about 3 KB of native memory per call.
 */
export function evaluateClientCertificate(socket: TLSSocket, ssl: SslSettings, chains?: ChainCache, needsChain = true, revocation?: DoorRevocation): ClientCertificateResult {
  if (ssl.clientCertificates === 'ignore') return { certificate: undefined, verdict: NOT_REQUESTED };
  const peer = revocation?.online?.peerOf(socket) ?? (needsChain || !ssl.revocation.isEmpty ? socket.getPeerCertificate(true) : socket.getPeerCertificate(false));
  if (!peer || !peer.raw) {
    return { certificate: undefined, verdict: ssl.clientCertificates === 'require' ? CERTIFICATE_REQUIRED : NO_CERTIFICATE_ACCEPTED };
  }
  const certificate = new ClientCertificate(peer, needsChain ? chains : undefined, socket.isSessionReused());
  if (!socket.authorized) {
    const error = socket.authorizationError as unknown;
    const code = typeof error === 'string' ? error : ((error as { code?: string } | null)?.code ?? String(error));
    return { certificate, verdict: verdictForVerifyError(code) };
  }
  if (!ssl.revocation.isEmpty) {
    const revoked = certificate.revokedByFile(ssl.revocation);
    revocation?.observer?.checked('file', revoked ? 'revoked' : 'good');
    if (revoked) return { certificate, verdict: revokedVerdict(revoked.source, revoked.subject ?? certificate.subject, revoked.serial) };
  }
  const online = revocation?.online;
  if (online) {
    let status;
    try {
      status = online.statusOf(online.pairsFor(socket, peer as DetailedPeerCertificate, certificate.chain), revocation.observer);
    } catch (error) {
      status = { state: 'unknown', subject: certificate.subject, why: `its chain cannot be read (${(error as Error).message})` } as const;
    }
    if (status.state === 'revoked') return { certificate, verdict: revokedVerdict(status.source, status.subject, status.serial) };
    if (status.state === 'unknown') {
      if (online.settings.whenUnknown === 'deny') return { certificate, verdict: revocationUnknownVerdict(status.subject, status.why) };
      revocation.warn?.(`revocation status unknown, let in (whenUnknown: allow): ${certificate.subject}, serial ${certificate.serialNumber}: ${status.subject}: ${status.why}`);
    }
  }
  return { certificate, verdict: ACCEPTED };
}

/** The door's revocation helpers beyond CRL files: the site's online check, the metrics, the event log. */
export interface DoorRevocation {
  readonly online: OnlineRevocation | undefined;
  readonly observer: CheckObserver | undefined;
  readonly warn: ((message: string) => void) | undefined;
}
