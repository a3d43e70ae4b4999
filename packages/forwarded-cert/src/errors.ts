/**
 * The error thrown when a forwarded-certificate header cannot be read.
 */

/** Machine-readable reasons a forwarded-certificate header is refused. */
export type ForwardedCertificateErrorCode =
  /** The header's syntax is not the configured format (bad base64, bad structured field, bad PEM…). */
  | 'ERR_CERT_HEADER_MALFORMED'
  /** The header appears more than once (or holds a comma-joined list where one value is allowed). */
  | 'ERR_CERT_HEADER_MULTIPLE'
  /** The header is longer than any certificate a proxy forwards. */
  | 'ERR_CERT_HEADER_TOO_LARGE'
  /** The header decodes to bytes that are not exactly one DER X.509 certificate. */
  | 'ERR_CERT_DER_INVALID'
  /** The format name is not one this library knows. */
  | 'ERR_CERT_FORMAT_UNKNOWN';

/**
 * Thrown by the decoders for any header that is not a well-formed forwarded certificate.
 * Never thrown for an absent header (the decoders return `undefined` / `[]` then).
 */
export class ForwardedCertificateError extends Error {
  /** Why the header was refused. */
  readonly code: ForwardedCertificateErrorCode;

  constructor(code: ForwardedCertificateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ForwardedCertificateError';
    this.code = code;
  }
}
