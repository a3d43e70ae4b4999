/**
 * The proxy side: turns a client certificate into the headers of a forwarding dialect. Gatehouse and
 * this library share this code so that what one writes the other reads.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { certificateFields } from './certificate-fields.js';
import { derToPem } from './pem.js';
import { DEFAULT_CERT_HEADER, headerNamesFor, type ForwardedCertificateFormat } from './formats.js';
import { ForwardedCertificateError } from './errors.js';

/** A certificate to forward: the leaf's DER and the intermediates the client sent (closest first, no root). */
export interface CertificateToForward {
  /** DER of the leaf. An X509Certificate fits here too (its `raw`). */
  readonly raw: Buffer;
  /** DER of the intermediates, the leaf's issuer first; never the root. Default none. */
  readonly chain?: readonly Buffer[] | undefined;
}

/**
 * Encodes `cert` in `format` and returns a flat `[name, value, …]` header list, ready for
 * `http.request({ headers })` or `res.setHeader` pairs.
 *
 * - `base64Der` → `[headerName, base64(DER)]` (IIS ARR's X-ARR-ClientCert).
 * - `pemUrlEncoded` → `[headerName, encodeURIComponent(PEM)]` (nginx `$ssl_client_escaped_cert`).
 * - `rfc9440` → `['Client-Cert', ':b64:']` plus `['Client-Cert-Chain', ':b64:, :b64:']` when there is a chain.
 * - `xfcc` → `['x-forwarded-client-cert', 'Hash=…;Cert="…";Chain="…";Subject="…";URI=…;DNS=…']`.
 *
 * `headerName` (default `X-ARR-ClientCert`) is used by `base64Der` and `pemUrlEncoded`; the other
 * two formats have standard names. Throws a ForwardedCertificateError for an unknown format.
 */
export function encodeClientCertificate(cert: CertificateToForward, format: ForwardedCertificateFormat = 'base64Der', headerName: string = DEFAULT_CERT_HEADER): string[] {
  const raw = cert.raw;
  const chain = cert.chain ?? [];
  switch (format) {
    case 'base64Der':
      return [headerName, raw.toString('base64')];
    case 'pemUrlEncoded':
      return [headerName, encodeURIComponent(derToPem(raw))];
    case 'rfc9440': {
      const names = headerNamesFor('rfc9440');
      const out = [names.cert, `:${raw.toString('base64')}:`];
      if (chain.length > 0) out.push(names.chain as string, chain.map((der) => `:${der.toString('base64')}:`).join(', '));
      return out;
    }
    case 'xfcc':
      return [headerNamesFor('xfcc').cert, xfccElement(raw, chain)];
    default:
      throw new ForwardedCertificateError('ERR_CERT_FORMAT_UNKNOWN', `unknown forwarded-certificate format '${String(format)}'`);
  }
}

/** One XFCC element (Envoy's field order; no `By=`, which only Envoy-to-Envoy hops use). */
function xfccElement(raw: Buffer, chain: readonly Buffer[]): string {
  const fields = certificateFields(new X509Certificate(raw));
  const parts = [
    `Hash=${createHash('sha256').update(raw).digest('hex')}`,
    `Cert=${quote(encodeURIComponent(derToPem(raw)))}`,
    `Chain=${quote(encodeURIComponent([raw, ...chain].map(derToPem).join('')))}`,
    `Subject=${quote(asciiOnly(fields.subject.rfc4514))}`,
  ];
  for (const type of ['uri', 'dns'] as const) {
    for (const san of fields.subjectAltNames) {
      // IA5 names are ASCII; anything else could not travel in a header and is left out.
      if (san.type === type && /^[\x21-\x7e]+$/.test(san.value)) parts.push(`${type.toUpperCase()}=${/[,;="\\]/.test(san.value) ? quote(san.value) : san.value}`);
    }
  }
  return parts.join(';');
}

/** An XFCC quoted value: `"` and `\` escaped with a backslash. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** RFC 4514 lets any character be written as `\XX` UTF-8 hex pairs: do that beyond ASCII so the header stays ASCII. */
function asciiOnly(dn: string): string {
  return dn.replace(/[^\x20-\x7e]/gu, (c) => [...Buffer.from(c, 'utf8')].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join(''));
}
