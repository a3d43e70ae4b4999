/**
 * The header dialects a proxy can forward a client certificate in.
 */

/**
 * - `base64Der`: IIS ARR's `X-ARR-ClientCert`: base64 of the leaf's DER, one line, no PEM armour.
 * - `pemUrlEncoded`: nginx's `$ssl_client_escaped_cert`: the leaf's PEM, percent-encoded.
 * - `rfc9440`: RFC 9440 `Client-Cert: :<b64>:` and `Client-Cert-Chain: :<b64>:, :<b64>:`.
 * - `xfcc`: Envoy's `x-forwarded-client-cert: Hash=…;Cert="…";Chain="…";Subject="…";URI=…;DNS=…`.
 */
export type ForwardedCertificateFormat = 'base64Der' | 'pemUrlEncoded' | 'rfc9440' | 'xfcc';

/** Every format, for validation of configuration. */
export const FORWARDED_CERTIFICATE_FORMATS: readonly ForwardedCertificateFormat[] = ['base64Der', 'pemUrlEncoded', 'rfc9440', 'xfcc'];

/** ARR's header name, the default for `base64Der` and `pemUrlEncoded`. */
export const DEFAULT_CERT_HEADER = 'X-ARR-ClientCert';

/** RFC 9440 header names. */
export const RFC9440_CERT_HEADER = 'Client-Cert';
export const RFC9440_CHAIN_HEADER = 'Client-Cert-Chain';

/** Envoy's header name. */
export const XFCC_HEADER = 'x-forwarded-client-cert';

/**
 * The header names a format uses: `cert` carries the leaf, `chain` (rfc9440 only) the intermediates.
 * `headerName` applies to `base64Der` and `pemUrlEncoded`; rfc9440 and xfcc have fixed names.
 */
export function headerNamesFor(format: ForwardedCertificateFormat, headerName: string = DEFAULT_CERT_HEADER): { cert: string; chain?: string } {
  switch (format) {
    case 'base64Der':
    case 'pemUrlEncoded':
      return { cert: headerName };
    case 'rfc9440':
      return { cert: RFC9440_CERT_HEADER, chain: RFC9440_CHAIN_HEADER };
    case 'xfcc':
      return { cert: XFCC_HEADER };
  }
}
