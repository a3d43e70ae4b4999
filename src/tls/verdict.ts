import type { OutcomeCode } from '../shared/outcome.js';

/**
 * The door's answer for a client certificate, as IIS gives it: a 403 sub-status and a reason.
 * OpenSSL's verification error codes (Node's authorizationError) map onto IIS's sub-statuses.
 */

/** 0 = let in; otherwise the 403 sub-status. */
export type SubStatus = 0 | 7 | 13 | 16 | 17;

export interface Verdict {
  readonly subStatus: SubStatus;
  /** One line for logs and traces: why the certificate was or was not accepted. */
  readonly reason: string;
  /** OpenSSL's code where it decided, e.g. CERT_HAS_EXPIRED. */
  readonly code: string | undefined;
  /** The outcome code of a refusal (shared/outcome.ts); undefined when the certificate let the request in. */
  readonly outcome: OutcomeCode | undefined;
}

export const ACCEPTED: Verdict = Object.freeze({ subStatus: 0, reason: 'certificate valid', code: undefined, outcome: undefined });
export const NO_CERTIFICATE_ACCEPTED: Verdict = Object.freeze({ subStatus: 0, reason: 'no certificate presented (accept mode)', code: undefined, outcome: undefined });
export const NOT_REQUESTED: Verdict = Object.freeze({ subStatus: 0, reason: 'client certificates ignored', code: undefined, outcome: undefined });
export const CERTIFICATE_REQUIRED: Verdict = Object.freeze({ subStatus: 7, reason: 'client certificate required but none presented', code: undefined, outcome: 'certificate_required' });
export const REVOKED: Verdict = Object.freeze({ subStatus: 13, reason: 'client certificate revoked (CRL)', code: 'CERT_REVOKED', outcome: 'revoked' });
export const EXPIRED: Verdict = Object.freeze({ subStatus: 17, reason: 'client certificate expired', code: 'CERT_HAS_EXPIRED', outcome: 'expired' });
export const NOT_YET_VALID: Verdict = Object.freeze({ subStatus: 17, reason: 'client certificate not yet valid', code: 'CERT_NOT_YET_VALID', outcome: 'not_yet_valid' });

/** 403.13 naming the source (CRL file, CDP URL, OCSP responder) and the revoked certificate. */
export function revokedVerdict(source: string, subject: string, serial: string): Verdict {
  return Object.freeze({ subStatus: 13, reason: `client certificate revoked (${source}: ${subject}, serial ${serial})`, code: 'CERT_REVOKED', outcome: 'revoked' });
}

/** 403.16 when no source could say whether a certificate is revoked (`whenUnknown: deny`). */
export function revocationUnknownVerdict(subject: string, why: string): Verdict {
  return Object.freeze({ subStatus: 16, reason: `client certificate revocation status unknown (${subject}: ${why})`, code: 'CERT_REVOCATION_STATUS_UNKNOWN', outcome: 'revocation_unknown' });
}

const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_CA',
]);

const cache = new Map<string, Verdict>();

/** The verdict for OpenSSL's verification error code. */
export function verdictForVerifyError(code: string): Verdict {
  let verdict = cache.get(code);
  if (verdict) return verdict;
  if (code === 'CERT_HAS_EXPIRED') verdict = EXPIRED;
  else if (code === 'CERT_NOT_YET_VALID') verdict = NOT_YET_VALID;
  else if (code === 'CERT_REVOKED') verdict = REVOKED;
  else if (UNTRUSTED.has(code)) verdict = { subStatus: 16, reason: `client certificate not issued by a trusted CA (${code})`, code, outcome: 'untrusted' };
  else if (code === 'CERT_SIGNATURE_FAILURE' || code === 'CERT_SIGNATURE_INVALID') verdict = { subStatus: 16, reason: `client certificate has a bad signature (${code})`, code, outcome: 'bad_signature' };
  else if (code === 'INVALID_PURPOSE') verdict = { subStatus: 16, reason: 'client certificate not valid for client authentication: key usage or extended key usage (INVALID_PURPOSE)', code, outcome: 'wrong_usage' };
  else verdict = { subStatus: 16, reason: `client certificate invalid (${code})`, code, outcome: 'certificate_invalid' };
  verdict = Object.freeze(verdict);
  cache.set(code, verdict);
  return verdict;
}
