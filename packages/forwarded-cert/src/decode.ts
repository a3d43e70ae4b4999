/**
 * The backend side of the wire: reads a forwarded-certificate header back into an X509Certificate,
 * strictly. Whatever is not a well-formed header of the configured format throws a
 * ForwardedCertificateError; only an absent (or empty) header yields `undefined`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { parseCertificateDer } from './certificate-fields.js';
import { ForwardedCertificateError } from './errors.js';
import { FORWARDED_CERTIFICATE_FORMATS, type ForwardedCertificateFormat } from './formats.js';
import { BASE64_RE, pemBodies } from './pem.js';

/** A header as node:http gives it: `req.headers[name]` (string) or `req.headersDistinct[name]` (array). */
export type HeaderValue = string | readonly string[] | undefined;

/** A decoded certificate together with the exact DER bytes that travelled in the header. */
export interface DecodedCertificate {
  readonly certificate: X509Certificate;
  readonly der: Buffer;
}

/** Longest leaf header accepted (a leaf is a few KiB; node's default header limit is 16 KiB). */
export const MAX_CERT_HEADER_LENGTH = 64 * 1024;
/** Longest chain / XFCC header accepted. */
export const MAX_CHAIN_HEADER_LENGTH = 256 * 1024;
/** Most intermediates accepted in a forwarded chain. */
export const MAX_CHAIN_CERTIFICATES = 10;

/**
 * Parses the forwarded leaf certificate.
 *
 * @param value the header value: a string, or the array from `req.headersDistinct` (more than one
 *   entry → `ERR_CERT_HEADER_MULTIPLE`); undefined or blank → `undefined`.
 * @param format the dialect (default `base64Der`, ARR's X-ARR-ClientCert). `base64Der` also
 *   tolerates PEM armour and whitespace. For `rfc9440` pass the `Client-Cert` header, for `xfcc` the
 *   `x-forwarded-client-cert` header.
 * @throws ForwardedCertificateError for anything malformed — never returns a half-parsed certificate.
 */
export function parseForwardedCertificate(value: HeaderValue, format: ForwardedCertificateFormat = 'base64Der'): X509Certificate | undefined {
  return decodeForwardedCertificate(value, format)?.certificate;
}

/**
 * Parses the forwarded intermediates (closest to the leaf first).
 * - `rfc9440`: pass the `Client-Cert-Chain` header (a structured-field list; several header lines are one list).
 * - `xfcc`: pass the `x-forwarded-client-cert` header; its `Chain` is returned without the leaf.
 * - `base64Der` / `pemUrlEncoded` carry no chain: always `[]`.
 * Absent header → `[]`. Malformed → ForwardedCertificateError.
 */
export function parseForwardedCertificateChain(value: HeaderValue, format: ForwardedCertificateFormat): X509Certificate[] {
  return decodeForwardedChain(value, format).map((d) => d.certificate);
}

/** Like {@link parseForwardedCertificate}, also returning the DER bytes (what a proxy signature covers). */
export function decodeForwardedCertificate(value: HeaderValue, format: ForwardedCertificateFormat = 'base64Der'): DecodedCertificate | undefined {
  checkFormat(format);
  const text = single(value, format === 'xfcc' ? MAX_CHAIN_HEADER_LENGTH : MAX_CERT_HEADER_LENGTH);
  if (text === undefined) return undefined;
  switch (format) {
    case 'base64Der':
      return decodeBase64Der(text);
    case 'pemUrlEncoded':
      return decodePemUrlEncoded(text);
    case 'rfc9440':
      noComma(text, 'Client-Cert');
      return derToCertificate(sfBinary(text, 'Client-Cert'), 'Client-Cert');
    case 'xfcc':
      return decodeXfcc(text).leaf;
  }
}

/** Like {@link parseForwardedCertificateChain}, with DER bytes. */
export function decodeForwardedChain(value: HeaderValue, format: ForwardedCertificateFormat): DecodedCertificate[] {
  checkFormat(format);
  if (format === 'base64Der' || format === 'pemUrlEncoded') return [];
  if (format === 'xfcc') {
    const text = single(value, MAX_CHAIN_HEADER_LENGTH);
    return text === undefined ? [] : decodeXfcc(text).chain;
  }
  // rfc9440: a List; several field lines are combined into one list (RFC 9651 §3.1).
  const lines = value === undefined ? [] : typeof value === 'string' ? [value] : value;
  const text = lines.filter((line) => line.trim() !== '').join(',');
  if (text.length > MAX_CHAIN_HEADER_LENGTH) throw tooLarge('Client-Cert-Chain', MAX_CHAIN_HEADER_LENGTH);
  if (text === '') return [];
  const members = text.split(',');
  if (members.length > MAX_CHAIN_CERTIFICATES) throw malformed(`Client-Cert-Chain holds ${members.length} certificates; at most ${MAX_CHAIN_CERTIFICATES} are accepted`);
  return members.map((member, index) => derToCertificate(sfBinary(member, `Client-Cert-Chain member ${index + 1}`), `Client-Cert-Chain member ${index + 1}`));
}

function checkFormat(format: string): asserts format is ForwardedCertificateFormat {
  if (!(FORWARDED_CERTIFICATE_FORMATS as readonly string[]).includes(format)) {
    throw new ForwardedCertificateError('ERR_CERT_FORMAT_UNKNOWN', `unknown forwarded-certificate format '${format}' (expected one of ${FORWARDED_CERTIFICATE_FORMATS.join(', ')})`);
  }
}

/** The one value of a header that must appear at most once; undefined when absent or blank. */
function single(value: HeaderValue, maxLength: number): string | undefined {
  if (value === undefined) return undefined;
  let text: unknown = value;
  if (typeof value !== 'string') {
    if (value.length > 1) throw new ForwardedCertificateError('ERR_CERT_HEADER_MULTIPLE', `the certificate header was sent ${value.length} times; exactly one is accepted (was a client's copy forwarded alongside the proxy's?)`);
    text = value[0];
    if (text === undefined) return undefined;
  }
  if (typeof text !== 'string') throw malformed('the header value is not a string');
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (trimmed.length > maxLength) throw tooLarge('the certificate header', maxLength);
  return trimmed;
}

function decodeBase64Der(text: string): DecodedCertificate {
  noComma(text, 'the base64Der header');
  let body: string;
  let bodies: string[] | undefined;
  try {
    bodies = pemBodies(text);
  } catch (error) {
    throw malformed(`broken PEM armour in the base64Der header: ${(error as Error).message}`);
  }
  if (bodies !== undefined) {
    if (bodies.length !== 1) throw malformed(`the base64Der header holds ${bodies.length} PEM certificates; exactly one is accepted`);
    body = bodies[0] as string;
  } else {
    body = text.replace(/\s+/g, '');
  }
  return derToCertificate(base64(body, 'the base64Der header'), 'the base64Der header');
}

function decodePemUrlEncoded(text: string): DecodedCertificate {
  noComma(text, 'the pemUrlEncoded header');
  let pem: string;
  try {
    pem = decodeURIComponent(text);
  } catch {
    throw malformed('the pemUrlEncoded header is not valid percent-encoding');
  }
  return pemToCertificate(pem, 'the pemUrlEncoded header');
}

function pemToCertificate(pem: string, where: string): DecodedCertificate {
  const all = pemCertificates(pem, where);
  if (all.length !== 1) throw malformed(`${where} holds ${all.length} PEM certificates; exactly one is accepted`);
  return all[0] as DecodedCertificate;
}

function pemCertificates(pem: string, where: string): DecodedCertificate[] {
  let bodies: string[] | undefined;
  try {
    bodies = pemBodies(pem);
  } catch (error) {
    throw malformed(`${where}: broken PEM armour: ${(error as Error).message}`);
  }
  if (bodies === undefined) throw malformed(`${where} is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)`);
  return bodies.map((body) => derToCertificate(base64(body, where), where));
}

/** An RFC 8941 byte sequence `:<base64>:`, parameters not allowed. */
function sfBinary(member: string, where: string): Buffer {
  const m = /^[ \t]*:([^:]*):[ \t]*$/.exec(member);
  if (!m) throw malformed(`${where} is not a structured-field byte sequence (':<base64>:')`);
  return base64(m[1] as string, where);
}

function base64(body: string, where: string): Buffer {
  if (body === '') throw malformed(`${where} is empty`);
  if (!BASE64_RE.test(body)) {
    const bad = /[^A-Za-z0-9+/=]/.exec(body);
    throw malformed(bad ? `${where} is not base64 (unexpected character '${bad[0]}' at offset ${bad.index})` : `${where} is not base64 (bad length or padding)`);
  }
  return Buffer.from(body, 'base64');
}

/** DER bytes → certificate, refusing anything that is not exactly one canonical DER certificate. */
function derToCertificate(der: Buffer, where: string): DecodedCertificate {
  try {
    parseCertificateDer(der);
  } catch (error) {
    throw new ForwardedCertificateError('ERR_CERT_DER_INVALID', `${where} does not hold a DER X.509 certificate: ${(error as Error).message}`, { cause: error });
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch (error) {
    throw new ForwardedCertificateError('ERR_CERT_DER_INVALID', `${where} does not hold a certificate OpenSSL can read: ${(error as Error).message}`, { cause: error });
  }
  if (!certificate.raw.equals(der)) throw new ForwardedCertificateError('ERR_CERT_DER_INVALID', `${where} holds a certificate that is not canonically DER-encoded`);
  return { certificate, der };
}

interface Xfcc {
  leaf: DecodedCertificate;
  chain: DecodedCertificate[];
}

/** Envoy's XFCC: one element of `key=value` pairs separated by `;`, values optionally quoted. */
function decodeXfcc(text: string): Xfcc {
  const elements = splitXfcc(text);
  if (elements.length !== 1) throw new ForwardedCertificateError('ERR_CERT_HEADER_MULTIPLE', `x-forwarded-client-cert holds ${elements.length} elements; exactly one (Gatehouse's) is accepted`);
  const fields = new Map<string, string>();
  for (const [key, value] of elements[0] as [string, string][]) {
    const k = key.toLowerCase();
    if (k === 'uri' || k === 'dns') continue;
    if (!['by', 'hash', 'cert', 'chain', 'subject'].includes(k)) throw malformed(`x-forwarded-client-cert has an unknown key '${key}'`);
    if (fields.has(k)) throw malformed(`x-forwarded-client-cert has '${key}' twice`);
    fields.set(k, value);
  }
  const certField = fields.get('cert');
  if (certField === undefined) throw malformed('x-forwarded-client-cert has no Cert field (configure the proxy to forward the certificate itself)');
  let decoded: string;
  try {
    decoded = decodeURIComponent(certField);
  } catch {
    throw malformed('x-forwarded-client-cert Cert is not valid percent-encoding');
  }
  const leaf = pemToCertificate(decoded, 'x-forwarded-client-cert Cert');
  const hash = fields.get('hash');
  if (hash !== undefined && hash.toLowerCase() !== createHash('sha256').update(leaf.der).digest('hex')) throw malformed('x-forwarded-client-cert Hash does not match its Cert');
  const chainField = fields.get('chain');
  let chain: DecodedCertificate[] = [];
  if (chainField !== undefined) {
    let chainPem: string;
    try {
      chainPem = decodeURIComponent(chainField);
    } catch {
      throw malformed('x-forwarded-client-cert Chain is not valid percent-encoding');
    }
    const all = pemCertificates(chainPem, 'x-forwarded-client-cert Chain');
    if (!all[0]?.der.equals(leaf.der)) throw malformed('x-forwarded-client-cert Chain does not start with its Cert');
    chain = all.slice(1);
    if (chain.length > MAX_CHAIN_CERTIFICATES) throw malformed(`x-forwarded-client-cert Chain holds ${chain.length} intermediates; at most ${MAX_CHAIN_CERTIFICATES} are accepted`);
  }
  return { leaf, chain };
}

/** Tokenizes an XFCC header into elements of [key, value] pairs. */
function splitXfcc(text: string): [string, string][][] {
  const elements: [string, string][][] = [];
  let pairs: [string, string][] = [];
  let i = 0;
  const ows = (): void => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  for (;;) {
    ows();
    const key = /^[A-Za-z][A-Za-z0-9_-]*/.exec(text.slice(i, i + 64))?.[0];
    if (!key || text[i + key.length] !== '=') throw malformed(`x-forwarded-client-cert: expected 'key=' at offset ${i}`);
    i += key.length + 1;
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const c = text[i];
        if (c === undefined) throw malformed('x-forwarded-client-cert: unterminated quoted value');
        if (c === '"') break;
        if (c === '\\') {
          const next = text[i + 1];
          if (next === undefined) throw malformed('x-forwarded-client-cert: unterminated quoted value');
          value += next;
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++;
    } else {
      const m = /^[^;,"]*/.exec(text.slice(i)) as RegExpExecArray;
      value = m[0].trim();
      i += m[0].length;
    }
    pairs.push([key, value]);
    ows();
    const sep = text[i++];
    if (sep === undefined) break;
    if (sep === ',') {
      elements.push(pairs);
      pairs = [];
    } else if (sep !== ';') {
      throw malformed(`x-forwarded-client-cert: unexpected '${sep}' at offset ${i - 1}`);
    }
  }
  elements.push(pairs);
  return elements;
}

function noComma(text: string, where: string): void {
  if (text.includes(',')) throw new ForwardedCertificateError('ERR_CERT_HEADER_MULTIPLE', `${where} holds a comma-separated list: the header was sent more than once (node joins repeated headers with ', ')`);
}

function malformed(message: string): ForwardedCertificateError {
  return new ForwardedCertificateError('ERR_CERT_HEADER_MALFORMED', message);
}

function tooLarge(where: string, limit: number): ForwardedCertificateError {
  return new ForwardedCertificateError('ERR_CERT_HEADER_TOO_LARGE', `${where} is longer than any forwarded certificate (limit ${limit} characters)`);
}
