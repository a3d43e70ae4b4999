/**
 * What the proxy knows about a TLS connection, worked out on its first request and kept on the socket:
 * the binding (by SNI), the client certificate and its verdict, the X-ARR-SSL value, and the forwarded
 * certificate headers. Nothing here is recomputed per request.
 */
import type { TLSSocket } from 'node:tls';
import { evaluateClientCertificate, type ClientCertificate } from '../tls/client-certificate.js';
import type { Verdict } from '../tls/verdict.js';
import type { ClientCertificateRecord } from '../tls/client-certificate-inventory.js';
import { forwardedCertificateHeaders } from './forwarded-certificate.js';
import type { BindingRuntime } from './site-runtime.js';

const kConnection = Symbol('gatehouse.tlsConnection');

export class TlsConnection {
  readonly binding: BindingRuntime;
  readonly certificate: ClientCertificate | undefined;
  readonly verdict: Verdict;
  readonly sslValue: string;
  readonly isResumed: boolean;
  /** For traces: negotiated protocol and cipher, SNI name, ALPN protocol. */
  readonly protocol: string;
  readonly cipher: string;
  readonly serverName: string;
  readonly alpn: string;
  #certificateHeaders: readonly string[] | undefined;
  /** The client certificate's record in the inventory of certificates seen (listener.ts counts requests on it). */
  seen: ClientCertificateRecord | undefined;

  /** The listener generation it was made under (a config reload makes a new one). */
  readonly generation: number;
  /** The listener generation its TLS handshake was made under. */
  readonly handshakeGeneration: number;
  /**
   * A config reload changed the TLS material its handshake met (the binding's certificate, TLS policy, the
   * site's client-certificate mode, trusted CAs, CRLs): the connection should close after this response,
   * so the client's next handshake uses the new certificates and trust. A reload that changed none of
   * them leaves it false: the connection carries on with the new config (see `carry`).
   */
  readonly isFromEarlierConfig: boolean;

  /** `source`: the socket, whose certificate is evaluated; or the connection carried on by `carry`. */
  constructor(source: TLSSocket | TlsConnection, binding: BindingRuntime, generation = 0, isFromEarlierConfig = false, handshakeGeneration = generation) {
    this.binding = binding;
    this.generation = generation;
    this.handshakeGeneration = handshakeGeneration;
    this.isFromEarlierConfig = isFromEarlierConfig;
    if (source instanceof TlsConnection) {
      this.certificate = source.certificate;
      this.verdict = source.verdict;
      this.isResumed = source.isResumed;
      this.sslValue = source.sslValue;
      this.protocol = source.protocol;
      this.cipher = source.cipher;
      this.serverName = source.serverName;
      this.alpn = source.alpn;
      this.seen = source.seen;
      return;
    }
    const socket = source;
    const site = binding.site;
    const { certificate, verdict } = evaluateClientCertificate(socket, site.config.ssl, site.chains, site.needsClientChain, site.revocation);
    this.certificate = certificate;
    this.verdict = verdict;
    this.isResumed = socket.isSessionReused();
    const cipher = socket.getCipher();
    this.sslValue = binding.sslHeaderValue(cipherKeyBits(cipher?.standardName));
    this.protocol = socket.getProtocol() ?? '';
    this.cipher = cipher?.standardName ?? cipher?.name ?? '';
    this.serverName = typeof socket.servername === 'string' ? socket.servername : '';
    this.alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : '';
  }

  /**
   * The same connection under a reloaded config whose TLS material is this connection's (equal tlsKey):
   * the certificate and its verdict still hold, the binding (and so its site, farms and rules) is the new
   * one. The forwarded certificate headers are made again (the farm's format may have changed).
   */
  carry(binding: BindingRuntime, generation: number): TlsConnection {
    return new TlsConnection(this, binding, generation, false, this.handshakeGeneration);
  }

  /** Flat [name, value, …] certificate headers for the site's farm; empty without an accepted certificate. */
  get certificateHeaders(): readonly string[] {
    if (this.#certificateHeaders) return this.#certificateHeaders;
    const headers = this.certificate && this.verdict.subStatus === 0 ? forwardedCertificateHeaders(this.certificate, this.binding.site.farm.config.protocol) : [];
    return (this.#certificateHeaders = headers);
  }

  static of(socket: TLSSocket): TlsConnection | undefined {
    return (socket as TLSSocket & { [kConnection]?: TlsConnection })[kConnection];
  }

  static attach(socket: TLSSocket, connection: TlsConnection): TlsConnection {
    (socket as TLSSocket & { [kConnection]?: TlsConnection })[kConnection] = connection;
    return connection;
  }
}

/** Symmetric key bits of a negotiated cipher, from its standard name. */
export function cipherKeyBits(standardName: string | undefined): number {
  if (!standardName) return 0;
  if (/CHACHA20|AES_256|AES256/.test(standardName)) return 256;
  if (/AES_128|AES128/.test(standardName)) return 128;
  if (/3DES|DES_EDE/.test(standardName)) return 168;
  return 0;
}
