/**
 * TLS handshakes for the metrics: listens to an https listener's server ('secureConnection',
 * 'tlsClientError') and reports each handshake with its site and, for a failure, a reason from a fixed
 * list. Once per connection, never per request. The composition root calls `observeTlsHandshakes` for each
 * https listener; nothing in the listener itself changes.
 */
import type { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import type { HandshakeFailureReason, HandshakeObserver } from './metrics.js';

/** What is read of a listener (ListenerRuntime has it): its bindings and the binding for an SNI name. */
export interface HandshakeListener {
  readonly isHttps: boolean;
  readonly bindings: readonly { readonly site: { readonly name: string } }[];
  bindingFor(hostName: string | false | undefined | null): { readonly site: { readonly name: string } } | undefined;
}

/**
 * The site a TLS connection reached, as the listener decides it (a single binding answers every name,
 * a resumed TLS 1.2 session may carry none); undefined when no binding answers for the name.
 */
export function siteOfConnection(listener: HandshakeListener, socket: TLSSocket): string | undefined {
  if (listener.bindings.length === 1) return listener.bindings[0]?.site.name;
  return listener.bindingFor(socket.servername)?.site.name;
}

/** Reports every handshake of an https listener's server to `observer`. */
export function observeTlsHandshakes(server: EventEmitter, listener: HandshakeListener, observer: HandshakeObserver): void {
  if (!listener.isHttps) return;
  server.on('secureConnection', (socket: TLSSocket) => {
    const site = siteOfConnection(listener, socket);
    // No binding answers for the name (or for a client without SNI): the listener ends the connection.
    if (site === undefined) observer.tlsHandshakeFailed('unknown_server_name', '');
    else observer.tlsHandshakeCompleted(site, socket.isSessionReused());
  });
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    const site = siteOfConnection(listener, socket);
    // The SNI callback refused the name (no binding answers for it).
    const reason = socket.servername && site === undefined ? 'unknown_server_name' : handshakeFailureReason(error);
    observer.tlsHandshakeFailed(reason, site ?? '');
  });
}

const PROTOCOL_CODES = new Set([
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
  'ERR_SSL_VERSION_TOO_LOW',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_UNSUPPORTED_SSL_VERSION',
  'ERR_SSL_UNKNOWN_PROTOCOL',
]);
const CIPHER_CODES = new Set([
  'ERR_SSL_NO_SHARED_CIPHER',
  'ERR_SSL_NO_SHARED_SIGNATURE_ALGORITHMS',
  'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM',
  'ERR_SSL_NO_SUITABLE_KEY_SHARE',
  'ERR_SSL_NO_SHARED_GROUPS',
  'ERR_SSL_NO_CIPHERS_AVAILABLE',
]);

/** A failed handshake's reason, from the error Node gave 'tlsClientError'. */
export function handshakeFailureReason(error: unknown): HandshakeFailureReason {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'other';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return 'client_closed';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ERR_SSL_HTTP_REQUEST' || code === 'ERR_SSL_HTTPS_PROXY_REQUEST') return 'plain_http';
  if (PROTOCOL_CODES.has(code)) return 'protocol_version';
  if (CIPHER_CODES.has(code)) return 'no_shared_cipher';
  // The client sent an alert: it refused the server certificate (unknown CA, bad certificate) or the parameters.
  if (/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/.test(code)) return 'client_alert';
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'tls_error';
  return 'other';
}
