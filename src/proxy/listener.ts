/**
 * A listener: one listening socket (address + port) shared by one or more bindings. On https it picks
 * the binding by SNI (exact name, then `*.` wildcard, then the binding without a host name); on http by
 * the Host header in the same order.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureServer as createHttp2Server, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { secureContextFor, secureContextOptions } from '../tls/secure-context.js';
import { allowPartialTrustChainOnDefault, renewTicketsOnResumption, serverRequestsCertificates, setClientCertificateRequest, useSniCallback } from '../platform/tls-internals.js';
import type { BindingRuntime } from './site-runtime.js';
import { TlsConnection } from './tls-connection.js';
import type { Limits } from '../config/limits-schema.js';
import { guardSession, type Http2Abuse } from './http2-guard.js';
import { isHttp2Safe } from '../platform/http2-probe.js';
import { gateConnections, type ConnectionGate } from '../platform/connection-gate.js';
import type { Server as NetServer } from 'node:net';
import { revocationGate } from '../tls/online/revocation-service.js';
import type { ClientCertificateInventory } from '../tls/client-certificate-inventory.js';

/**
 * HTTP/2 settings we send: a bound on concurrent streams per connection, as nginx (128) and Envoy have, and
 * extended CONNECT (RFC 8441) for WebSockets over HTTP/2.
 */
const HTTP2_SETTINGS = { maxConcurrentStreams: 128, enableConnectProtocol: true } as const;
/** An HTTP/2 connection with no frames for this long is closed (GOAWAY), like an idle HTTP/1.1 keep-alive connection. */

/** The node server of a listener: http, https (HTTP/1.1 only), or https with HTTP/2 (and HTTP/1.1 by ALPN). */
export type ListenerServer = HttpServer | HttpsServer | Http2SecureServer;

/** The host of a `host[:port]` authority (Host, :authority); IPv6 literals keep their brackets. */
export function hostNameOf(authority: string): string {
  const end = authority.startsWith('[') ? authority.indexOf(']') + 1 : authority.lastIndexOf(':');
  return end > 0 ? authority.slice(0, end) : authority;
}

/** The listener generation a TLS socket's handshake finished under (stamped on 'secureConnection'). */
const kHandshakeGeneration = Symbol('gatehouse.handshakeGeneration');

function handshakeGenerationOf(socket: TLSSocket): number {
  return (socket as TLSSocket & { [kHandshakeGeneration]?: number })[kHandshakeGeneration] ?? 0;
}

/** Bindings by the host names they answer: exact, `*.` wildcard suffixes, and the one without a name. */
interface BindingIndex {
  readonly byName: Map<string, BindingRuntime>;
  readonly wildcards: [suffix: string, binding: BindingRuntime][];
  readonly fallback: BindingRuntime | undefined;
}

function indexOf(bindings: readonly BindingRuntime[]): BindingIndex {
  const byName = new Map<string, BindingRuntime>();
  const wildcards: [string, BindingRuntime][] = [];
  let fallback: BindingRuntime | undefined;
  for (const binding of bindings) {
    const name = binding.config.hostName;
    if (name === undefined) fallback = binding;
    else if (name.startsWith('*.')) wildcards.push([name.slice(1), binding]);
    else byName.set(name, binding);
  }
  return { byName, wildcards, fallback };
}

/**
 * A listener's part of a config reload, built by prepare() (where every failure happens) and applied by
 * commit() (which cannot fail). Discarding it undoes nothing: prepare changed nothing in force.
 */
export interface ListenerUpdate {
  readonly bindings: readonly BindingRuntime[];
  readonly index: BindingIndex;
  readonly contexts: Map<BindingRuntime, SecureContext>;
  /** https: the server's new default context options, when the default binding's TLS changed. */
  readonly defaultOptions: SecureContextOptions | undefined;
  readonly generation: number;
}

export class ListenerRuntime {
  readonly address: string;
  readonly port: number;
  readonly isHttps: boolean;
  /** https: HTTP/2 is offered by ALPN (the server is an http2 secure server that also speaks HTTP/1.1). */
  readonly isHttp2: boolean;
  /** Open HTTP/2 connections, for a graceful stop (GOAWAY) and a config reload. */
  readonly #sessions = new Set<ServerHttp2Session>();
  /** The bindings on this socket; replaced by update() on a config reload. */
  bindings: readonly BindingRuntime[];
  /**
   * Bumped by each reload (commit): connections made before it take the new bindings on their next
   * request, carrying on (TlsConnection.carry) unless their binding's TLS material changed since their
   * handshake (BindingRuntime.tlsSince).
   */
  generation = 0;
  #byName = new Map<string, BindingRuntime>();
  #wildcards: [suffix: string, binding: BindingRuntime][] = [];
  #fallback: BindingRuntime | undefined;
  #contexts = new Map<BindingRuntime, SecureContext>();
  #ticketKeys: Buffer | undefined;
  server: ListenerServer | undefined;

  constructor(bindings: readonly BindingRuntime[]) {
    const first = bindings[0];
    if (!first) throw new Error('a listener needs at least one binding');
    this.address = first.config.address;
    this.port = first.config.port;
    this.isHttps = first.config.protocol === 'https';
    // A Node whose HTTP/2 a client can crash offers HTTP/1.1 only (platform/http2-probe.ts).
    this.isHttp2 = this.isHttps && first.config.http2 && isHttp2Safe();
    this.bindings = bindings;
    this.#useIndex(indexOf(bindings));
  }

  #useIndex(index: BindingIndex): void {
    this.#byName = index.byName;
    this.#wildcards = index.wildcards;
    this.#fallback = index.fallback;
  }

  /**
   * A config reload, first step: builds what this socket needs to serve `bindings` (the binding index, a
   * TLS context per binding, the default context) and changes nothing. Throws when the reload cannot be
   * applied here: HTTP/2 turned on or off (ALPN is fixed when the socket is created), a certificate or
   * TLS policy OpenSSL refuses. A binding whose TLS material (BindingRuntime.tlsKey) is unchanged keeps
   * its context and its tlsSince: its open connections carry on after commit().
   */
  prepare(bindings: readonly BindingRuntime[]): ListenerUpdate {
    const http2 = bindings[0]?.config.http2 === true && this.isHttps && isHttp2Safe();
    if (http2 !== this.isHttp2) {
      const port = (this.server?.address() as { port?: number } | null)?.port ?? this.port;
      throw new Error(`turning HTTP/2 ${http2 ? 'on' : 'off'} for ${this.address}:${port} needs a restart (ALPN is fixed when the socket is created)`);
    }
    const index = indexOf(bindings);
    const generation = this.generation + 1;
    const contexts = new Map<BindingRuntime, SecureContext>();
    if (!this.isHttps) return { bindings, index, contexts, defaultOptions: undefined, generation };
    const isShared = bindings.length > 1;
    const wasShared = this.bindings.length > 1;
    const before = new Map(this.bindings.map((binding) => [binding.config.hostName, binding]));
    for (const binding of bindings) {
      const old = before.get(binding.config.hostName);
      const isSame = old !== undefined && old.tlsKey === binding.tlsKey;
      binding.tlsSince = isSame ? old.tlsSince : generation;
      // The context also holds the site's name (session id context) and whether tickets are on (a shared port).
      const kept = isSame && isShared === wasShared && old.site.name === binding.site.name ? this.#contexts.get(old) : undefined;
      contexts.set(binding, kept ?? contextOf(binding, isShared));
    }
    const defaultBinding = index.fallback ?? (bindings[0] as BindingRuntime);
    const oldDefault = this.#fallback ?? (this.bindings[0] as BindingRuntime);
    const isDefaultSame = oldDefault.config.hostName === defaultBinding.config.hostName && oldDefault.tlsKey === defaultBinding.tlsKey && oldDefault.site.name === defaultBinding.site.name && isShared === wasShared;
    let defaultOptions: SecureContextOptions | undefined;
    if (!isDefaultSame) {
      defaultOptions = { ...secureContextOptions(defaultBinding.config, defaultBinding.site.config, isShared), ...(this.#ticketKeys ? { ticketKeys: this.#ticketKeys } : {}) };
      // What commit's setSecureContext builds from the same options: OpenSSL refuses them here or not at all.
      contextOf(defaultBinding, isShared, defaultOptions);
    }
    return { bindings, index, contexts, defaultOptions, generation };
  }

  /**
   * A config reload, second step: the socket serves the prepared bindings (new sites, farms, rules,
   * certificates, CAs, CRLs) from now on. New handshakes use the new TLS contexts; requests in flight
   * finish as they started; open connections take the new config with their next request. An HTTP/2
   * connection whose binding's TLS material changed since its handshake gets a GOAWAY (its streams
   * finish, the client makes a new handshake); an HTTP/1.1 one closes after its next response
   * (TlsConnection.isFromEarlierConfig). Any other connection stays open. Cannot fail.
   */
  commit(update: ListenerUpdate): void {
    this.bindings = update.bindings;
    this.#useIndex(update.index);
    this.#contexts = update.contexts;
    this.generation = update.generation;
    const server = this.server;
    if (!server) return;
    if (this.isHttps) {
      const https = server as HttpsServer;
      const defaultOptions = update.defaultOptions;
      if (defaultOptions) {
        https.setSecureContext(defaultOptions);
        allowPartialTrustChainOnDefault(https, defaultOptions);
        // A shared port has tickets off (secureContextOptions): nothing to renew there.
        if (this.bindings.length === 1 && this.bindings[0]?.config.tls.sessionResumption) renewTicketsOnResumption(https);
        const defaultBinding = this.#fallback ?? (this.bindings[0] as BindingRuntime);
        (https as HttpsServer & { requestCert?: boolean }).requestCert = serverRequestsCertificates(defaultBinding.site.config.ssl.clientCertificates !== 'ignore', this.bindings.some((b) => b.site.config.ssl.clientCertificates !== 'ignore'));
      }
      useSniCallback(https, this.#needsSniCallback ? this.#sniCallback : undefined);
      this.#holdForRevocation();
      this.#stapleOcsp();
      for (const session of this.#sessions) {
        const socket = session.socket as TLSSocket | undefined;
        if (!socket) continue;
        const binding = this.bindings.length === 1 ? this.bindings[0] : this.bindingFor(socket.servername);
        // GOAWAY: the streams open finish, new ones go to a new connection and its handshake.
        if (!binding || handshakeGenerationOf(socket) < binding.tlsSince) session.close();
      }
    }
    // The limits of the new config (the check interval stays the one the socket started with).
    const { keepAliveTimeout, headersTimeout, maxHeaderSize } = this.#connectionSettings();
    Object.assign(server, { keepAliveTimeout, headersTimeout, maxHeaderSize });
    this.#limitConnections();
  }

  /** Whether the handshake must look at the SNI name: several bindings, or one that answers for one name only. */
  get #needsSniCallback(): boolean {
    return this.bindings.length > 1 || this.#fallback === undefined;
  }

  /** The SNI callback (node calls it with the server-side socket as `this`, before the server's CertificateRequest). */
  readonly #sniCallback = (() => {
    const listener = this;
    return function (this: TLSSocket, servername: string, callback: (error: Error | null, context?: SecureContext) => void): void {
      const binding = listener.bindingFor(servername);
      if (!binding) return callback(new Error(`no binding for host name ${servername}`));
      // The context is chosen now: so is the TLS material this handshake meets (see 'secureConnection').
      (this as TLSSocket & { [kHandshakeGeneration]?: number })[kHandshakeGeneration] = listener.generation;
      setClientCertificateRequest(this, binding.site.config.ssl.clientCertificates !== 'ignore');
      callback(null, listener.#contexts.get(binding));
    };
  })();

  /** The binding answering for a host name (SNI or Host without port), or undefined. */
  bindingFor(hostName: string | false | undefined | null): BindingRuntime | undefined {
    if (!hostName || (this.#byName.size === 0 && this.#wildcards.length === 0)) return this.#fallback;
    const name = hostName.toLowerCase();
    const exact = this.#byName.get(name);
    if (exact) return exact;
    for (const [suffix, binding] of this.#wildcards) {
      if (name.endsWith(suffix) && name.indexOf('.') === name.length - suffix.length) return binding;
    }
    return this.#fallback;
  }

  /** http: the binding for a request's Host header. */
  bindingForHost(host: string | undefined): BindingRuntime | undefined {
    if (host === undefined || (this.#byName.size === 0 && this.#wildcards.length === 0)) return this.#fallback;
    return this.bindingFor(hostNameOf(host));
  }

  /**
   * https, several bindings: whether a request's Host names a binding of another site than the one the
   * connection's handshake chose. A Host that names no binding (an IP address, say) is not misdirected:
   * the handshake's site answers it.
   */
  isMisdirected(host: string, binding: BindingRuntime): boolean {
    const named = this.bindingForHost(host);
    return named !== undefined && named !== this.#fallback && named.site !== binding.site;
  }

  /**
   * https: the connection state of a socket, made on its first request and again on its first request
   * after a reload. Undefined when no binding answers.
   */
  tlsConnection(socket: TLSSocket): TlsConnection | undefined {
    const known = TlsConnection.of(socket);
    const connection = known && known.generation === this.generation ? known : this.#connectionOf(socket, known);
    // The one piece of per-request work of the client certificate inventory: an integer increment.
    if (connection?.seen) connection.seen.requests++;
    return connection;
  }

  /** The client certificates seen (app.ts sets it when the admin API can show them); undefined: none are kept. */
  clientCertificates: ClientCertificateInventory | undefined;

  #connectionOf(socket: TLSSocket, known: TlsConnection | undefined): TlsConnection | undefined {
    // A listener with one binding disables nothing, so a resumed TLS 1.2 session (which may report no
    // server name) can only be that binding's; with several bindings resumption is off (see createServer).
    const binding = this.bindings.length === 1 ? this.bindings[0] : this.bindingFor(socket.servername);
    if (!binding) return undefined;
    const handshake = known?.handshakeGeneration ?? handshakeGenerationOf(socket);
    // A reload changed the TLS material this connection's handshake met: evaluated again, closed after its response.
    const isFromEarlierConfig = handshake < binding.tlsSince;
    // Unchanged material: the verdict holds (unless the new site reads the client's chain and the old did not).
    const isCarried = known !== undefined && !isFromEarlierConfig && (known.binding.site.needsClientChain || !binding.site.needsClientChain);
    const connection = isCarried ? known.carry(binding, this.generation) : new TlsConnection(socket, binding, this.generation, isFromEarlierConfig, handshake);
    // A new connection's certificate is counted once, with the door's verdict; one evaluated again after a reload keeps its record.
    if (known) connection.seen = known.seen;
    else if (connection.certificate && this.clientCertificates) connection.seen = this.clientCertificates.connected(connection.certificate, connection.verdict, binding.site.name);
    return TlsConnection.attach(socket, connection);
  }

  /** HTTP/2: asks every open connection to finish its streams and close (GOAWAY). */
  closeSessions(): void {
    for (const session of this.#sessions) session.close();
  }

  /** HTTP/2: closes every open connection now (the drain timeout is over). */
  destroySessions(): void {
    for (const session of this.#sessions) session.destroy();
  }

  /** The limits of the socket's sites (they agree on the connection-level ones: references.ts). */
  get #limits(): Limits {
    return (this.bindings[0] as BindingRuntime).site.config.limits;
  }

  /**
   * Node's connection settings from the limits: the head must arrive within headersTimeout (checked every
   * second, not node's 30 s, so it holds to within a second), idle keep-alive connections end after
   * keepAliveTimeout, a TLS handshake must finish within headersTimeout, and node's own head size bound
   * leaves room for the largest head the limits allow (the limits answer 431 themselves).
   */
  #connectionSettings(): { keepAliveTimeout: number; headersTimeout: number; connectionsCheckingInterval: number; maxHeaderSize: number; handshakeTimeout: number } {
    const limits = this.#limits;
    let maxHeaderSize = 16_384;
    for (const binding of this.bindings) {
      const l = binding.site.config.limits;
      maxHeaderSize = Math.max(maxHeaderSize, l.maxRequestHeadersBytes + 4 * l.maxHeaderCount + l.maxUrl + l.maxQueryString + 256);
    }
    return {
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(limits.headersTimeoutMs / 2))),
      maxHeaderSize,
      handshakeTimeout: limits.headersTimeoutMs,
    };
  }

  /** maxConnections: past it a new connection waits until one closes (platform/connection-gate.ts); counted. */
  #limitConnections(): void {
    const server = this.server;
    if (!server || this.#gate) return;
    this.#gate = gateConnections(server as unknown as NetServer, () => this.#limits.maxConnections, { queued: (isDropped) => this.onConnectionQueued?.(isDropped) }, this.isHttps);
  }

  #gate: ConnectionGate | undefined;
  /** Told of each connection that found maxConnections reached (app.ts: metrics). */
  onConnectionQueued: ((isDropped: boolean) => void) | undefined;

  /** Stopping: connections waiting for a slot are closed (they were never read). */
  closeWaiting(): void {
    this.#gate?.closeWaiting();
  }

  /** Connections served and waiting (maxConnections). */
  get connections(): { open: number; waiting: number } {
    return { open: this.#gate?.open ?? 0, waiting: this.#gate?.waiting ?? 0 };
  }

  #isStapling = false;
  #isHolding = false;
  /** Told of each HTTP/2 connection closed for abuse (app.ts: event log and metrics). */
  onHttp2Abuse: ((kind: Http2Abuse, detail: string, peer: string) => void) | undefined;

  /**
   * OCSP stapling: node asks for a staple ('OCSPRequest') on each handshake whose client sends
   * status_request, once a listener is registered; so one is registered only when a binding staples.
   */
  #stapleOcsp(): void {
    const server = this.server as HttpsServer | undefined;
    if (!server || !this.bindings.some((binding) => binding.staple)) return;
    if (!this.#isStapling) {
      this.#isStapling = true;
      server.on('OCSPRequest', (certificate: Buffer, issuer: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => {
        const staple = this.bindings.find((binding) => binding.staple?.isFor(certificate))?.staple;
        if (staple) staple.answer(issuer, callback);
        else callback(null);
      });
    }
    // Fetch the answers now (a reload's new bindings too), not on the first handshake that asks.
    for (const binding of this.bindings) binding.staple?.start();
  }

  /**
   * Online revocation: a new connection reaches the HTTP server (node's connection listener, the first
   * 'secureConnection' listener its constructor added) only once the answers its client certificate needs
   * are cached, so no request waits on a fetch. What the client sends meanwhile stays buffered in the socket.
   */
  #holdForRevocation(): void {
    const server = this.server;
    // Installed once, when a binding first has revocation.online (at start or by a reload): nothing otherwise.
    if (!server || this.#isHolding || !this.bindings.some((binding) => binding.site.revocation?.online)) return;
    const [connection] = server.listeners('secureConnection') as ((this: unknown, socket: TLSSocket) => void)[];
    if (!connection) return;
    this.#isHolding = true;
    server.removeListener('secureConnection', connection);
    server.prependListener('secureConnection', (socket: TLSSocket) => {
      const site = (this.bindings.length === 1 ? this.bindings[0] : this.bindingFor(socket.servername))?.site;
      const wait = site?.revocation?.online ? revocationGate(socket, site.revocation.online, (fingerprint) => site.chains.recall(fingerprint)) : undefined;
      if (!wait) {
        connection.call(server, socket);
        return;
      }
      void wait.then(() => {
        if (!socket.destroyed) connection.call(server, socket);
      });
    });
  }

  /** Creates the node server (not yet listening). */
  createServer(onRequest: Parameters<typeof createHttpServer>[1], ticketKeys?: Buffer): ListenerServer {
    this.#ticketKeys = ticketKeys;
    // maxHeadersCount 0: node hands over every header field (the head's size is still bounded), so a head
    // over request-head.ts's count is answered 431 instead of being cut silently at node's 1,000th field.
    // requireHostHeader false: an HTTP/1.1 request without Host reaches request-head.ts, which answers it
    // like every refused head (node's own answer would let the requests pipelined after it through).
    const common = { ...this.#connectionSettings(), requestTimeout: 0, maxHeadersCount: 0, requireHostHeader: false };
    if (!this.isHttps) {
      this.server = Object.assign(createHttpServer(common, onRequest), common);
      this.#limitConnections();
      return this.server;
    }
    for (const binding of this.bindings) this.#contexts.set(binding, contextOf(binding, this.bindings.length > 1));
    const defaultBinding = this.#fallback ?? (this.bindings[0] as BindingRuntime);
    // Clients without SNI get the default binding, so its site decides whether the handshake asks for a
    // certificate; the SNI callback sets it for the binding a name selects.
    // (On the request-cert fallback the server asks whenever any binding asks: platform/tls-internals.ts.)
    const requestCert = serverRequestsCertificates(defaultBinding.site.config.ssl.clientCertificates !== 'ignore', this.bindings.some((b) => b.site.config.ssl.clientCertificates !== 'ignore'));
    const defaultOptions = secureContextOptions(defaultBinding.config, defaultBinding.site.config, this.bindings.length > 1);
    const options = {
      ...common,
      ...defaultOptions,
      // One key for every worker (and, from sessionTicketKeyFile, every instance): resumption works wherever the client lands.
      ...(ticketKeys ? { ticketKeys } : {}),
      requestCert,
      rejectUnauthorized: false,
      SNICallback: this.#sniCallback,
    };
    if (this.isHttp2) {
      // ALPN offers h2 then http/1.1; a client without ALPN (wrk, older tools) gets HTTP/1.1.
      const limits = this.#limits;
      // The header list a client may send (RFC 9113 §6.5.2: names and values plus 32 bytes a field), and its fields.
      const settings = { ...HTTP2_SETTINGS, maxHeaderListSize: limits.maxRequestHeadersBytes + 32 * limits.maxHeaderCount + limits.maxUrl + limits.maxQueryString + 256 };
      const server = createHttp2Server({ ...options, allowHTTP1: true, settings, maxHeaderListPairs: limits.maxHeaderCount + 8 }, onRequest as unknown as Parameters<typeof createHttp2Server>[1]);
      // The HTTP/1.1 side of an http2 server reads these from the server object (its constructor sets only headersTimeout).
      Object.assign(server, common);
      server.on('session', (session: ServerHttp2Session) => {
        this.#sessions.add(session);
        session.once('close', () => this.#sessions.delete(session));
        session.setTimeout(this.#limits.keepAliveTimeoutMs, () => session.close());
        const peer = `${session.socket?.remoteAddress ?? '?'}:${session.socket?.remotePort ?? 0}`;
        peers.set(session, peer);
        guardSession(session, (kind, detail) => this.onHttp2Abuse?.(kind, detail, peer));
      });
      // Node's and nghttp2's own flood limits (CONTINUATION, SETTINGS, invalid frames) end a session with an error.
      const peers = new WeakMap<ServerHttp2Session, string>();
      server.on('sessionError', (error: Error, session: ServerHttp2Session) => this.onHttp2Abuse?.('protocol_flood', `${(error as NodeJS.ErrnoException).code ?? 'error'}: ${error.message}`, peers.get(session) ?? '?'));
      this.server = server;
    } else {
      this.server = Object.assign(createHttpsServer(options, onRequest), common);
    }
    allowPartialTrustChainOnDefault(this.server as HttpsServer, defaultOptions);
    if (!this.#needsSniCallback) useSniCallback(this.server as HttpsServer, undefined);
    if (this.bindings.length === 1 && this.bindings[0]?.config.tls.sessionResumption) renewTicketsOnResumption(this.server as HttpsServer);
    this.#holdForRevocation();
    this.#stapleOcsp();
    this.#limitConnections();
    this.server.on('secureConnection', (socket: TLSSocket) => {
      // The TLS material this handshake met is that of this generation's bindings (tlsConnection, commit),
      // unless the SNI callback chose the context under an earlier one.
      (socket as TLSSocket & { [kHandshakeGeneration]?: number })[kHandshakeGeneration] ??= this.generation;
      // A client without SNI when no binding answers for it: end the connection after the handshake.
      if (this.#fallback) return;
      if (this.bindings.length === 1 && socket.isSessionReused()) return; // see tlsConnection
      if (!this.bindingFor(socket.servername)) socket.destroy();
    });
    return this.server;
  }
}

/** A binding's TLS context; OpenSSL's refusal names the binding. `options`: other options to try instead. */
function contextOf(binding: BindingRuntime, isShared: boolean, options?: SecureContextOptions): SecureContext {
  try {
    return options ? createSecureContext(options) : secureContextFor(binding.config, binding.site.config, isShared);
  } catch (error) {
    const name = binding.config.hostName === undefined ? '' : ` (host name ${binding.config.hostName})`;
    throw new Error(`binding ${binding.config.address}:${binding.config.port}${name} of site ${binding.site.name}: its TLS context cannot be made: ${(error as Error).message}`, { cause: error });
  }
}
