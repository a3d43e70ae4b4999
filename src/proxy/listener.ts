/**
 * A listener: one listening socket (address + port) shared by one or more bindings. On https it picks
 * the binding by SNI (exact name, then `*.` wildcard, then the binding without a host name); on http by
 * the Host header in the same order.
 */
import { randomFillSync } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureServer as createHttp2Server, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import type { SecureContext, SecureContextOptions, TLSSocket } from 'node:tls';
import { secureContextFor, secureContextOptions } from '../tls/secure-context.js';
import type { BindingRuntime } from './site-runtime.js';
import { TlsConnection } from './tls-connection.js';

/**
 * Whether this TLS connection asks for a client certificate, decided in the SNI callback (Node calls it
 * with the server-side socket as `this`, before the server sends its CertificateRequest). Node has no
 * public per-connection switch: this sets the OpenSSL verify mode on the socket's TLS handle and the
 * flag Node reads to fill in `authorized`. Without it, one site on a shared port that ignores client
 * certificates would have its clients asked for one because another site requires them.
 */
function setClientCertificateRequest(socket: TLSSocket, isRequested: boolean): void {
  const internal = socket as TLSSocket & { _handle?: { setVerifyMode?: (request: boolean, reject: boolean) => void }; _requestCert?: boolean };
  if (typeof internal._handle?.setVerifyMode !== 'function') throw new Error('this Node.js version does not let Gatehouse choose per host name whether to ask for a client certificate');
  internal._handle.setVerifyMode(isRequested, false);
  internal._requestCert = isRequested;
}

/**
 * Node 20's tls.Server builds its default context without allowPartialTrustChain; clients without SNI
 * (and the binding without a host name) verify against that context, so set it there too.
 */
function allowPartialTrustChainOnDefault(server: HttpsServer, options: SecureContextOptions): void {
  if (!(options as { allowPartialTrustChain?: boolean }).allowPartialTrustChain) return;
  const shared = (server as unknown as { _sharedCreds?: { context?: { setAllowPartialTrustChain?: () => void } } })._sharedCreds?.context;
  if (typeof shared?.setAllowPartialTrustChain !== 'function') {
    throw new Error('this Node.js version does not let Gatehouse trust an intermediate CA by itself on its default TLS context (allowPartialTrustChain); use Node.js 20.18 or later');
  }
  shared.setAllowPartialTrustChain();
}

/**
 * Keeps TLS 1.3 resumption going. OpenSSL sends a new session ticket after a resumed TLS 1.3 handshake
 * only when the ticket key callback asks to renew (returns 2); Node's built-in callback returns 1, so a
 * client resumes once and then needs a full handshake (every other connection is a full handshake).
 * Node has no public option for this: this installs its internal JS ticket key callback (the one Node's
 * own test-https-resume-after-renew uses) with the server's ticket keys, renewing on every decrypt.
 * Call it again after setSecureContext (a new default context).
 */
function renewTicketsOnResumption(server: HttpsServer): void {
  type TicketCallback = (keyName: Buffer, iv: Buffer, isEncrypt: boolean) => unknown[];
  const context = (server as unknown as { _sharedCreds?: { context?: { enableTicketKeyCallback?: () => void; onticketkeycallback?: TicketCallback } } })._sharedCreds?.context;
  if (typeof context?.enableTicketKeyCallback !== 'function') return; // resumption still works, once per full handshake
  const keys = server.getTicketKeys(); // name (16) | HMAC key (16) | AES key (16), as in ticketKeys
  const name = Buffer.from(keys.subarray(0, 16));
  const hmac = Buffer.from(keys.subarray(16, 32));
  const aes = Buffer.from(keys.subarray(32, 48));
  context.enableTicketKeyCallback();
  // OpenSSL asks for a fresh IV for each ticket (two per full TLS 1.3 handshake) and copies it before the
  // callback returns: views of one CSPRNG block, refilled when used up, spare a randomBytes call each.
  const ivs = Buffer.allocUnsafe(16 * 256);
  let nextIv = ivs.length;
  context.onticketkeycallback = (keyName, _iv, isEncrypt) => {
    if (isEncrypt) {
      if (nextIv === ivs.length) {
        randomFillSync(ivs);
        nextIv = 0;
      }
      const iv = ivs.subarray(nextIv, nextIv + 16);
      nextIv += 16;
      return [1, hmac, aes, name, iv];
    }
    return keyName.equals(name) ? [2, hmac, aes] : [0, hmac, aes];
  };
}

/** HTTP/2 settings we send: a bound on concurrent streams per connection, as nginx (128) and Envoy have. */
const HTTP2_SETTINGS = { maxConcurrentStreams: 128 } as const;
/** An HTTP/2 connection with no frames for this long is closed (GOAWAY), like an idle HTTP/1.1 keep-alive connection. */
const HTTP2_IDLE_TIMEOUT_MS = 65_000;

/** The node server of a listener: http, https (HTTP/1.1 only), or https with HTTP/2 (and HTTP/1.1 by ALPN). */
export type ListenerServer = HttpServer | HttpsServer | Http2SecureServer;

/**
 * A listener whose only binding answers for every host name needs no SNI callback: the default context is
 * that binding's, and asking for a client certificate is already set for its site. Without a callback,
 * node completes the handshake in C++ without a round trip through JavaScript (about 5% of a new
 * connection's CPU here). Node has no public switch after creation: this sets the server's internal
 * SNI callback slot (read on every new connection), or leaves the callback on when that slot is not found.
 */
function useSniCallback(server: HttpsServer, callback: ((servername: string, cb: (error: Error | null, context?: SecureContext) => void) => void) | undefined): void {
  const slot = Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'snicallback');
  if (slot === undefined) return;
  (server as unknown as Record<symbol, unknown>)[slot] = callback;
}

/** The host of a `host[:port]` authority (Host, :authority); IPv6 literals keep their brackets. */
export function hostNameOf(authority: string): string {
  const end = authority.startsWith('[') ? authority.indexOf(']') + 1 : authority.lastIndexOf(':');
  return end > 0 ? authority.slice(0, end) : authority;
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
  /** Bumped by each update(): connections made before it take the new bindings on their next request. */
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
    this.isHttp2 = this.isHttps && first.config.http2;
    this.bindings = bindings;
    this.#index(bindings);
  }

  #index(bindings: readonly BindingRuntime[]): void {
    const byName = new Map<string, BindingRuntime>();
    const wildcards: [string, BindingRuntime][] = [];
    let fallback: BindingRuntime | undefined;
    for (const binding of bindings) {
      const name = binding.config.hostName;
      if (name === undefined) fallback = binding;
      else if (name.startsWith('*.')) wildcards.push([name.slice(1), binding]);
      else byName.set(name, binding);
    }
    this.#byName = byName;
    this.#wildcards = wildcards;
    this.#fallback = fallback;
  }

  /**
   * A config reload: the same socket now serves these bindings (new sites, farms, certificates, CAs,
   * CRLs). New handshakes use the new TLS contexts at once; requests in flight finish as they started.
   */
  update(bindings: readonly BindingRuntime[]): void {
    const http2 = bindings[0]?.config.http2 === true;
    if (http2 !== this.isHttp2) {
      const port = (this.server?.address() as { port?: number } | null)?.port ?? this.port;
      throw new Error(`turning HTTP/2 ${http2 ? 'on' : 'off'} for ${this.address}:${port} needs a restart (ALPN is fixed when the socket is created)`);
    }
    if (this.isHttps) {
      // Build everything first: a bad certificate throws here, before anything changed.
      const contexts = new Map(bindings.map((b) => [b, secureContextFor(b.config, b.site.config, bindings.length > 1)] as const));
      this.bindings = bindings;
      this.#index(bindings);
      this.#contexts = contexts;
      const server = this.server as HttpsServer | undefined;
      // HTTP/2 connections made before: a GOAWAY lets their streams finish and sends the client to a new handshake.
      for (const session of this.#sessions) session.close();
      if (server) {
        const defaultBinding = this.#fallback ?? (bindings[0] as BindingRuntime);
        const defaultOptions = secureContextOptions(defaultBinding.config, defaultBinding.site.config, bindings.length > 1);
        server.setSecureContext({ ...defaultOptions, ...(this.#ticketKeys ? { ticketKeys: this.#ticketKeys } : {}) });
        allowPartialTrustChainOnDefault(server, defaultOptions);
        // A shared port has tickets off (secureContextOptions): nothing to renew there.
        if (bindings.length === 1 && bindings[0]?.config.tls.sessionResumption) renewTicketsOnResumption(server);
        (server as HttpsServer & { requestCert?: boolean }).requestCert = defaultBinding.site.config.ssl.clientCertificates !== 'ignore';
        useSniCallback(server, this.#needsSniCallback ? this.#sniCallback : undefined);
      }
    } else {
      this.bindings = bindings;
      this.#index(bindings);
    }
    this.generation++;
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

  /** https: the connection state of a socket, made on its first request. Undefined when no binding answers. */
  tlsConnection(socket: TLSSocket): TlsConnection | undefined {
    const known = TlsConnection.of(socket);
    if (known && known.generation === this.generation) return known;
    // A listener with one binding disables nothing, so a resumed TLS 1.2 session (which may report no
    // server name) can only be that binding's; with several bindings resumption is off (see createServer).
    const binding = this.bindings.length === 1 ? this.bindings[0] : this.bindingFor(socket.servername);
    return binding ? TlsConnection.attach(socket, new TlsConnection(socket, binding, this.generation, known !== undefined)) : undefined;
  }

  /** HTTP/2: asks every open connection to finish its streams and close (GOAWAY). */
  closeSessions(): void {
    for (const session of this.#sessions) session.close();
  }

  /** HTTP/2: closes every open connection now (the drain timeout is over). */
  destroySessions(): void {
    for (const session of this.#sessions) session.destroy();
  }

  /** Creates the node server (not yet listening). */
  createServer(onRequest: Parameters<typeof createHttpServer>[1], ticketKeys?: Buffer): ListenerServer {
    this.#ticketKeys = ticketKeys;
    // maxHeadersCount 0: node hands over every header field (the head's size is still bounded), so a head
    // over request-head.ts's count is answered 431 instead of being cut silently at node's 1,000th field.
    // requireHostHeader false: an HTTP/1.1 request without Host reaches request-head.ts, which answers it
    // like every refused head (node's own answer would let the requests pipelined after it through).
    const common = { keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 0, maxHeadersCount: 0, requireHostHeader: false };
    if (!this.isHttps) {
      this.server = Object.assign(createHttpServer(common, onRequest), common);
      return this.server;
    }
    for (const binding of this.bindings) this.#contexts.set(binding, secureContextFor(binding.config, binding.site.config, this.bindings.length > 1));
    const defaultBinding = this.#fallback ?? (this.bindings[0] as BindingRuntime);
    // Clients without SNI get the default binding, so its site decides whether the handshake asks for a
    // certificate; the SNI callback sets it for the binding a name selects.
    const requestCert = defaultBinding.site.config.ssl.clientCertificates !== 'ignore';
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
      const server = createHttp2Server({ ...options, allowHTTP1: true, settings: HTTP2_SETTINGS }, onRequest as unknown as Parameters<typeof createHttp2Server>[1]);
      // The HTTP/1.1 side of an http2 server reads these from the server object (its constructor sets only headersTimeout).
      Object.assign(server, common);
      server.on('session', (session: ServerHttp2Session) => {
        this.#sessions.add(session);
        session.once('close', () => this.#sessions.delete(session));
        session.setTimeout(HTTP2_IDLE_TIMEOUT_MS, () => session.close());
      });
      this.server = server;
    } else {
      this.server = Object.assign(createHttpsServer(options, onRequest), common);
    }
    allowPartialTrustChainOnDefault(this.server as HttpsServer, defaultOptions);
    if (!this.#needsSniCallback) useSniCallback(this.server as HttpsServer, undefined);
    if (this.bindings.length === 1 && this.bindings[0]?.config.tls.sessionResumption) renewTicketsOnResumption(this.server as HttpsServer);
    // A client without SNI when no binding answers for it: end the connection after the handshake.
    this.server.on('secureConnection', (socket: TLSSocket) => {
      if (this.#fallback) return;
      if (this.bindings.length === 1 && socket.isSessionReused()) return; // see tlsConnection
      if (!this.bindingFor(socket.servername)) socket.destroy();
    });
    return this.server;
  }
}
