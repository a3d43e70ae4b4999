/**
 * The client certificate as backends receive it, in each dialect Gatehouse speaks:
 * - base64Der: ARR's X-ARR-ClientCert, base64 of the DER leaf, one line, no PEM armour;
 * - rfc9440: RFC 9440 `Client-Cert` / `Client-Cert-Chain`, structured-field byte sequences (`:b64:`);
 * - pemUrlEncoded: nginx's `$ssl_client_escaped_cert`, the PEM leaf percent-encoded;
 * - xfcc: Envoy's `x-forwarded-client-cert` with Hash, Cert, Chain, Subject, URI and DNS.
 * Returned as a flat [name, value, …] list ready to append to the upstream headers. The encoders live in
 * @gatehouse/forwarded-cert, beside the decoders backends use, so the two sides cannot drift apart.
 */
import type { ProtocolSettings } from '../config/model.js';
import { encodeClientCertificate } from '@gatehouse/forwarded-cert';
import type { ClientCertificate } from '../tls/client-certificate.js';

/** Header names of every dialect: removed from every client request whatever the farm forwards. */
export const CLIENT_CERT_HEADER_FAMILY: readonly string[] = [
  'x-arr-clientcert',
  'client-cert',
  'client-cert-chain',
  'x-forwarded-client-cert',
  'x-client-cert',
  'x-client-certificate',
  'x-ssl-cert',
  'x-ssl-client-cert',
  'x-ssl-client-der',
  'x-ssl-client-verify',
  'x-ssl-client-s-dn',
  'x-ssl-client-i-dn',
  'x-ssl-client-sha1',
  'x-ssl-client-serial',
  'ssl-client-cert',
  'ssl-client-verify',
  'x-client-verify',
  'x-client-dn',
  'ms-aspnetcore-clientcert',
  'x-forwarded-tls-client-cert',
  'x-forwarded-tls-client-cert-info',
];

/** The farm's certificate headers for a connection's certificate; none when forwarding is off. */
export function forwardedCertificateHeaders(certificate: ClientCertificate, protocol: ProtocolSettings): string[] {
  if (protocol.clientCertHeaderName === '') return [];
  return encodeClientCertificate(certificate, protocol.clientCertFormat, protocol.clientCertHeaderName);
}
