/**
 * A listener: one listening socket (address + port) shared by one or more bindings. On https it picks
 * the binding by SNI (exact name, then `*.` wildcard, then the binding without a host name); on http by
 * the Host header in the same order.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { SecureContext, TLSSocket } from 'node:tls';
import { secureContextFor, secureContextOptions } from '../tls/secure-context.js';
import type { BindingRuntime } from './site-runtime.js';
import { TlsConnection } from './tls-connection.js';

export class ListenerRuntime {
  readonly address: string;
  readonly port: number;
  readonly isHttps: boolean;
  readonly bindings: readonly BindingRuntime[];
  readonly #byName = new Map<string, BindingRuntime>();
  readonly #wildcards: [suffix: string, binding: BindingRuntime][] = [];
  readonly #fallback: BindingRuntime | undefined;
  readonly #contexts = new Map<BindingRuntime, SecureContext>();
  server: HttpServer | HttpsServer | undefined;

  constructor(bindings: readonly BindingRuntime[]) {
    const first = bindings[0];
    if (!first) throw new Error('a listener needs at least one binding');
    this.address = first.config.address;
    this.port = first.config.port;
    this.isHttps = first.config.protocol === 'https';
    this.bindings = bindings;
    let fallback: BindingRuntime | undefined;
    for (const binding of bindings) {
      const name = binding.config.hostName;
      if (name === undefined) fallback = binding;
      else if (name.startsWith('*.')) this.#wildcards.push([name.slice(1), binding]);
      else this.#byName.set(name, binding);
    }
    this.#fallback = fallback;
  }

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
    const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.lastIndexOf(':');
    return this.bindingFor(end > 0 ? host.slice(0, end) : host);
  }

  /** https: the connection state of a socket, made on its first request. Undefined when no binding answers. */
  tlsConnection(socket: TLSSocket): TlsConnection | undefined {
    const known = TlsConnection.of(socket);
    if (known) return known;
    const binding = this.bindingFor(socket.servername);
    return binding ? TlsConnection.attach(socket, new TlsConnection(socket, binding)) : undefined;
  }

  /** Creates the node server (not yet listening). */
  createServer(onRequest: Parameters<typeof createHttpServer>[1]): HttpServer | HttpsServer {
    const common = { keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 0 };
    if (!this.isHttps) {
      this.server = createHttpServer(common, onRequest);
      return this.server;
    }
    for (const binding of this.bindings) this.#contexts.set(binding, secureContextFor(binding.config, binding.site.config));
    const defaultBinding = this.#fallback ?? (this.bindings[0] as BindingRuntime);
    const requestCert = this.bindings.some((b) => b.site.config.ssl.clientCertificates !== 'ignore');
    this.server = createHttpsServer(
      {
        ...common,
        ...secureContextOptions(defaultBinding.config, defaultBinding.site.config),
        requestCert,
        rejectUnauthorized: false,
        SNICallback: (servername, callback) => {
          const binding = this.bindingFor(servername);
          if (!binding) return callback(new Error(`no binding for host name ${servername}`));
          callback(null, this.#contexts.get(binding));
        },
      },
      onRequest,
    );
    if (!this.#fallback) {
      // No binding answers for clients without SNI: end those connections after the handshake.
      this.server.on('secureConnection', (socket: TLSSocket) => {
        if (!this.bindingFor(socket.servername)) socket.destroy();
      });
    }
    return this.server;
  }
}
