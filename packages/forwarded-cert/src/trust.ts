/**
 * The per-request decision: is the forwarded certificate on this request to be believed? Combines
 * the trusted-proxy allowlist, the optional Gatehouse signature, header decoding and validation.
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { decodeForwardedCertificate, decodeForwardedChain, type DecodedCertificate } from './decode.js';
import { ForwardedCertificateError } from './errors.js';
import { DEFAULT_CERT_HEADER, FORWARDED_CERTIFICATE_FORMATS, headerNamesFor, type ForwardedCertificateFormat } from './formats.js';
import { createProxyAllowlist } from './proxy-allowlist.js';
import { ReplayCache } from './replay-cache.js';
import { assertSignatureSecret, SIGNATURE_HEADER, verifyForwardedIdentity, type SignatureErrorCode, type SignatureSecret } from './signature.js';
import { createCertificateValidator, type ValidationErrorCode, type ValidationOptions } from './validate.js';

/** Options of {@link createClientCertificateVerifier}. */
export interface ClientCertificateVerifierOptions {
  /**
   * Peers allowed to send the certificate header (`req.socket.remoteAddress`, never X-Forwarded-For):
   * addresses, CIDR ranges, `loopback`, `linklocal`, `uniquelocal`. A request carrying the header
   * (or a signature) from anyone else is refused.
   */
  readonly trustedProxies: readonly string[];
  /** Refuse requests without a certificate (default true). */
  readonly required?: boolean | undefined;
  /** Header dialect (default `base64Der`). */
  readonly format?: ForwardedCertificateFormat | undefined;
  /** Header name for `base64Der` / `pemUrlEncoded` (default `X-ARR-ClientCert`). */
  readonly headerName?: string | undefined;
  /**
   * The proxy-signature secret (Gatehouse's `protocol.signatureSecretFile` contents, ≥ 32 bytes).
   * When set, every request from a trusted proxy must carry a valid signature covering the
   * forwarded certificate (or its absence).
   */
  readonly secret?: SignatureSecret | undefined;
  /** Signature header name (default `X-Gatehouse-Signature`; Gatehouse's `protocol.signatureHeaderName`). */
  readonly signatureHeaderName?: string | undefined;
  /** Signature clock tolerance, both ways (default 60 s). */
  readonly maxSkewSeconds?: number | undefined;
  /**
   * Replay protection for signatures: a ReplayCache (shareable between verifiers), or false to turn
   * it off. Default: a private ReplayCache when `secret` is set.
   */
  readonly replayCache?: ReplayCache | false | undefined;
  /** How the certificate itself is validated (trustedCas or thumbprints required). */
  readonly validation: ValidationOptions;
  /** Clock in ms since the epoch for signature and validity checks (default `Date.now`). */
  readonly now?: (() => number) | undefined;
}

/** Codes of a refusal by the verifier (header, signature and validation codes, plus these). */
export type VerificationErrorCode =
  | 'ERR_UNTRUSTED_PROXY'
  | 'ERR_CERT_MISSING'
  | 'ERR_INTERNAL'
  | ForwardedCertificateError['code']
  | SignatureErrorCode
  | ValidationErrorCode;

/** The verifier's answer for one request. */
export type ClientCertificateVerification =
  | { readonly ok: true; readonly certificate: X509Certificate | undefined; readonly chain: readonly X509Certificate[]; readonly logId?: string }
  | { readonly ok: false; readonly status: 403; readonly code: VerificationErrorCode; readonly reason: string };

/** `(req) => verification`, compiled once from options. */
export type ClientCertificateVerifier = (req: IncomingMessage) => ClientCertificateVerification;

/**
 * Compiles a verifier. Throws a TypeError/RangeError for invalid options (bad proxy entry, bad CA,
 * short secret…) so mistakes surface at startup, not per request. The verifier itself never throws.
 */
export function createClientCertificateVerifier(options: ClientCertificateVerifierOptions): ClientCertificateVerifier {
  const format = options.format ?? 'base64Der';
  if (!FORWARDED_CERTIFICATE_FORMATS.includes(format)) throw new TypeError(`unknown format '${String(format)}' (expected one of ${FORWARDED_CERTIFICATE_FORMATS.join(', ')})`);
  const names = headerNamesFor(format, options.headerName ?? DEFAULT_CERT_HEADER);
  const certHeader = names.cert.toLowerCase();
  const chainHeader = names.chain?.toLowerCase();
  const signatureHeader = (options.signatureHeaderName ?? SIGNATURE_HEADER).toLowerCase();
  const isTrustedPeer = createProxyAllowlist(options.trustedProxies);
  const required = options.required ?? true;
  const now = options.now ?? Date.now;
  const validate = createCertificateValidator({ ...options.validation, now: options.validation.now ?? now });
  const secret = options.secret;
  if (secret !== undefined) assertSignatureSecret(secret);
  const replayCache = secret === undefined || options.replayCache === false ? undefined : (options.replayCache ?? new ReplayCache());

  return (req) => {
    try {
      const headers = req.headersDistinct;
      const certValue = headers[certHeader];
      const chainValue = chainHeader === undefined ? undefined : headers[chainHeader];
      const signatureValue = headers[signatureHeader];
      const peer = req.socket?.remoteAddress;

      if (!isTrustedPeer(peer)) {
        if (certValue !== undefined || chainValue !== undefined || signatureValue !== undefined) {
          return refuse('ERR_UNTRUSTED_PROXY', `${peer ?? 'an unknown peer'} is not a trusted proxy but sent a forwarded-certificate or signature header`);
        }
        return required ? refuse('ERR_CERT_MISSING', 'a client certificate is required') : { ok: true, certificate: undefined, chain: [] };
      }

      let leaf: DecodedCertificate | undefined;
      let chain: DecodedCertificate[] = [];
      try {
        leaf = decodeForwardedCertificate(certValue, format);
        chain = decodeForwardedChain(format === 'xfcc' ? certValue : chainValue, format);
      } catch (error) {
        if (error instanceof ForwardedCertificateError) return refuse(error.code, error.message);
        throw error;
      }
      if (!leaf && chain.length > 0) return refuse('ERR_CERT_HEADER_MALFORMED', 'a certificate chain was forwarded without a certificate');

      let logId: string | undefined;
      if (secret !== undefined) {
        const signature = verifyForwardedIdentity(signatureValue, { secret, certificateDer: leaf?.der, now, maxSkewSeconds: options.maxSkewSeconds, replayCache });
        if (!signature.ok) return refuse(signature.code, signature.reason);
        logId = signature.logId;
      }
      if (!leaf) {
        if (required) return refuse('ERR_CERT_MISSING', 'a client certificate is required');
        return logId === undefined ? { ok: true, certificate: undefined, chain: [] } : { ok: true, certificate: undefined, chain: [], logId };
      }
      const intermediates = chain.map((c) => c.certificate);
      const verdict = validate(leaf.certificate, intermediates);
      if (!verdict.ok) return refuse(verdict.code, verdict.reason);
      return logId === undefined ? { ok: true, certificate: leaf.certificate, chain: intermediates } : { ok: true, certificate: leaf.certificate, chain: intermediates, logId };
    } catch (error) {
      return refuse('ERR_INTERNAL', `the forwarded certificate could not be checked: ${(error as Error)?.message ?? String(error)}`);
    }
  };
}

function refuse(code: VerificationErrorCode, reason: string): ClientCertificateVerification {
  return { ok: false, status: 403, code, reason };
}
