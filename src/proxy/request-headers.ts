/**
 * The headers a server receives: the client's, minus hop-by-hop headers (RFC 9110 §7.6.1, and those
 * the client's Connection header names) and minus every header a client could use to pass as the proxy
 * (certificate dialects, X-ARR-*, X-Original-URL and IIS 6's X-Rewrite-URL, Forwarded / X-Forwarded-Host / X-Real-IP
 * and the other forwarded-identity headers, the farm's configured names), in any letter case and with
 * `_` for `-`; plus what ARR sets, in ARR's order: Max-Forwards, X-Original-URL, X-Forwarded-For, X-ARR-SSL,
 * X-ARR-ClientCert, X-ARR-LOG-ID, then X-Forwarded-Proto.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProtocolSettings } from '../config/model.js';
import { CLIENT_CERT_HEADER_FAMILY } from './forwarded-certificate.js';

/**
 * Never forwarded: hop-by-hop, `expect` (the proxy answers 100-continue itself), and HTTP/2's
 * pseudo-headers (the request line and Host are made from them).
 */
const HOP_BY_HOP = ['connection', 'proxy-connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'trailer', 'expect', 'http2-settings', ':method', ':path', ':scheme', ':authority', ':protocol'];

/**
 * What a backend's forwarded-headers middleware (ASP.NET Core's ForwardedHeaders, Express's trust proxy,
 * Spring's ForwardedHeaderFilter) believes about the client or the original request when it comes from
 * its proxy: the original host, port, prefix and client address. Gatehouse sets none of them (it keeps
 * Host, as ARR does, and sets X-Forwarded-For itself), so a client's copy can only be a forgery: a
 * spoofed host poisons caches and password-reset links, a spoofed address defeats IP rules.
 */
const FORWARDING_IDENTITY = ['forwarded', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-server', 'x-forwarded-ssl', 'x-real-ip', 'x-client-ip', 'true-client-ip'];

/** Lower-case names removed from every client request of a farm: hop-by-hop, spoofable and replaced headers. */
export function strippedRequestHeaders(protocol: ProtocolSettings): ReadonlySet<string> {
  const names = new Set([...HOP_BY_HOP, ...CLIENT_CERT_HEADER_FAMILY, ...FORWARDING_IDENTITY, 'x-arr-ssl', 'x-arr-log-id', 'max-forwards', 'x-forwarded-proto', 'x-gatehouse-signature', 'x-original-url', 'x-rewrite-url']);
  for (const name of [protocol.clientCertHeaderName, protocol.sslHeaderName, protocol.logGuidName, protocol.forwardedProtoHeaderName, protocol.signatureHeaderName]) {
    if (name) names.add(name.toLowerCase());
  }
  return names;
}

/** What the request adds, known before the headers are copied. */
export interface AddedHeaders {
  /** `ip:port` or `[v6]:port` (or the bare ip) to append to X-Forwarded-For. */
  readonly clientAddress: string;
  /** X-ARR-SSL value, or undefined for a plain-http request. */
  readonly sslValue: string | undefined;
  /** Flat [name, value, …] list of certificate headers; empty when there is no certificate. */
  readonly certificateHeaders: readonly string[];
  readonly logId: string;
  /** The proxy signature header value, when the farm signs. */
  readonly signature: string | undefined;
  readonly isHttps: boolean;
  /** Replaces Host when the farm does not preserve it. */
  readonly serverHost: string;
  /** The client has no usable affinity cookie: set one for the server that answers. */
  readonly isNewAffinity: boolean;
  /** The client certificate's SHA-256 thumbprint, for certificate affinity. */
  readonly certificateKey: string | undefined;
  /** The client's request target as judged (before any rewrite): X-Original-URL, as ARR sends it. */
  readonly originalUrl: string;
}

const UNDERSCORES = /_/g;

export function upstreamRequestHeaders(headers: IncomingHttpHeaders, stripped: ReadonlySet<string>, protocol: ProtocolSettings, added: AddedHeaders): string[] {
  const out: string[] = [];
  const xffName = protocol.xForwardedForHeaderName;
  const xffLower = xffName ? xffName.toLowerCase() : '';
  let xff: string | undefined;
  let connectionTokens: Set<string> | undefined;
  const connection = headers.connection;
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    connectionTokens = new Set(connection.toLowerCase().split(',').map((token) => token.trim()));
  }
  for (const name in headers) {
    if (stripped.has(name)) continue;
    // IIS server variables, CGI, PHP, WSGI and Rack read `_` as `-` (HTTP_X_ARR_CLIENTCERT): a name that
    // folds into a stripped one (X_ARR_ClientCert, x-forwarded_proto) or into X-Forwarded-For is a forgery.
    if (name.includes('_')) {
      const folded = name.replace(UNDERSCORES, '-');
      if (stripped.has(folded) || folded === xffLower) continue;
    }
    if (connectionTokens?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (name === xffLower) {
      xff = Array.isArray(value) ? value.join(', ') : value;
      continue;
    }
    if (name === 'host' && !protocol.preserveHostHeader) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  if (!protocol.preserveHostHeader) out.push('host', added.serverHost);
  out.push('Max-Forwards', String(protocol.maxForwards));
  out.push('X-Original-URL', added.originalUrl);
  if (xffName) out.push(xffName, xff ? `${xff}, ${added.clientAddress}` : added.clientAddress);
  if (added.sslValue !== undefined && protocol.sslHeaderName) out.push(protocol.sslHeaderName, added.sslValue);
  for (let i = 0; i < added.certificateHeaders.length; i++) out.push(added.certificateHeaders[i] as string);
  if (protocol.logGuidName) out.push(protocol.logGuidName, added.logId);
  if (added.signature !== undefined && protocol.signatureHeaderName) out.push(protocol.signatureHeaderName, added.signature);
  if (protocol.forwardedProtoHeaderName) out.push(protocol.forwardedProtoHeaderName, added.isHttps ? 'https' : 'http');
  return out;
}

/** Response headers never passed back to the client (the proxy frames its own response). */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'te', 'http2-settings']);
const HOP_BY_HOP_LENGTHS = new Set([...RESPONSE_HOP_BY_HOP].map((name) => name.length));

/** A server's response headers (flat [name, value, …] as parsed) → flat list for res.writeHead. */
export function clientResponseHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  let connectionTokens: Set<string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (HOP_BY_HOP_LENGTHS.has(name.length) && RESPONSE_HOP_BY_HOP.has(name.toLowerCase())) {
      const value = raw[i + 1] as string;
      if (name.length === 10 && value !== 'keep-alive' && value !== 'close' && name.toLowerCase() === 'connection') {
        // RFC 9110 §7.6.1: headers the server names in Connection are hop-by-hop too.
        for (const token of value.toLowerCase().split(',')) {
          const trimmed = token.trim();
          if (trimmed !== 'keep-alive' && trimmed !== 'close' && trimmed) (connectionTokens ??= new Set()).add(trimmed);
        }
      }
      continue;
    }
    out.push(name, raw[i + 1] as string);
  }
  if (!connectionTokens) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!connectionTokens.has((out[i] as string).toLowerCase())) kept.push(out[i] as string, out[i + 1] as string);
  }
  return kept;
}

/**
 * reverseRewriteHostInResponseHeaders: a Location or Content-Location that names the server itself
 * (`http://<server host:port>/…`) is rewritten to the origin the client used. Edits `headers` in place.
 */
export function reverseRewriteHost(headers: string[], serverAddress: string, clientOrigin: string): void {
  const prefixes = [`http://${serverAddress}`, `https://${serverAddress}`];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = (headers[i] as string).toLowerCase();
    if (name !== 'location' && name !== 'content-location') continue;
    const value = headers[i + 1] as string;
    for (const prefix of prefixes) {
      const next = value.charAt(prefix.length);
      if (value.toLowerCase().startsWith(prefix.toLowerCase()) && (next === '' || next === '/' || next === '?' || next === '#')) {
        headers[i + 1] = clientOrigin + value.slice(prefix.length);
        break;
      }
    }
  }
}
