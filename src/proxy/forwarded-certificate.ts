/**
 * The client certificate as backends receive it, in each dialect Gatehouse speaks:
 * - base64Der: ARR's X-ARR-ClientCert, base64 of the DER leaf, one line, no PEM armour;
 * - rfc9440: RFC 9440 `Client-Cert` / `Client-Cert-Chain`, structured-field byte sequences (`:b64:`);
 * - pemUrlEncoded: nginx's `$ssl_client_escaped_cert`, the PEM leaf percent-encoded;
 * - xfcc: Envoy's `x-forwarded-client-cert` with Hash, Cert, Chain, Subject, URI and DNS.
 * Returned as a flat [name, value, …] list ready to append to the upstream headers.
 */
import type { ProtocolSettings } from '../config/model.js';
import type { ClientCertificate } from '../tls/client-certificate.js';
import { rfc4514Dn } from '../tls/distinguished-name.js';

function pem(der: Buffer): string {
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

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

export function forwardedCertificateHeaders(certificate: ClientCertificate, protocol: ProtocolSettings): string[] {
  const name = protocol.clientCertHeaderName;
  if (name === '') return [];
  switch (protocol.clientCertFormat) {
    case 'base64Der':
      return [name, certificate.base64];
    case 'pemUrlEncoded':
      return [name, encodeURIComponent(pem(certificate.raw))];
    case 'rfc9440': {
      const headers = ['Client-Cert', `:${certificate.base64}:`];
      if (certificate.chain.length) headers.push('Client-Cert-Chain', certificate.chain.map((der) => `:${der.toString('base64')}:`).join(', '));
      return headers;
    }
    case 'xfcc': {
      const x509 = certificate.x509;
      const sans = (x509.subjectAltName ?? '').split(', ').filter(Boolean);
      const parts = [
        `Hash=${certificate.thumbprintSha256}`,
        `Cert="${encodeURIComponent(pem(certificate.raw))}"`,
        `Chain="${encodeURIComponent([certificate.raw, ...certificate.chain].map(pem).join(''))}"`,
        `Subject="${rfc4514Dn(x509.subject).replace(/"/g, '\\"')}"`,
      ];
      for (const san of sans) {
        if (san.startsWith('URI:')) parts.push(`URI=${san.slice(4)}`);
        else if (san.startsWith('DNS:')) parts.push(`DNS=${san.slice(4)}`);
      }
      return ['x-forwarded-client-cert', parts.join(';')];
    }
  }
}
