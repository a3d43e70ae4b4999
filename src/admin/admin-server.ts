/**
 * The admin listener: `GET /metrics` (and HEAD) with the Prometheus text exposition, the admin API under
 * `/api/` when one is given (api.ts: authenticated, problem+json) and then also the browser console at `/`
 * (src/console/static.ts: its public files with a strict CSP; 404 on other paths), else 404 on any other
 * path; 405 on any other method of /metrics. Plain http, or https with `admin.certificate` (asking for admin badges when
 * `admin.trustedCaFile` is set). It binds where the `admin` key says (127.0.0.1 by default) and only when
 * that key is present: app.ts (or the cluster's primary) starts it, and closes it on stop.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { EventLog } from '../tracing/log.js';
import { closeAllConnections } from '../platform/connections.js';
import type { AdminSettings } from '../config/admin-schema.js';
import type { ServerCertificate } from '../config/tls-files.js';
import type { AdminApi } from './api.js';
import { consoleFiles, type ConsoleFiles } from '../console/static.js';
import { adminReload } from './admin-reload.js';

/** What the admin listener serves: a prom-client registry (GatehouseMetrics has one). */
export interface MetricsSource {
  readonly registry: { readonly contentType: string; metrics(): Promise<string> };
}

export interface AdminServer {
  /** `http://127.0.0.1:9100` (https with a certificate), with the real port. */
  readonly url: string;
  readonly address: string;
  readonly port: number;
  readonly server: Server;
  /**
   * A reload's admin settings: a changed certificate or badge CA bundle is used by new handshakes at once
   * (admin-reload.ts); returns one sentence for each change that waits for a restart.
   */
  reload(next: AdminSettings | undefined): readonly string[];
  /** Stops listening and closes open connections; idempotent. */
  close(): Promise<void>;
}

export class AdminListenError extends Error {
  readonly code = 'ERR_LISTEN';
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'AdminListenError';
  }
}

const ALLOWED = 'GET, HEAD';
/** Connections the admin listener holds at once (node's maxConnections: the next ones are closed). */
export const MAX_ADMIN_CONNECTIONS = 512;
/** Connections one client address holds at once, so that one host cannot take every place; the next is closed. */
export const MAX_ADMIN_CONNECTIONS_PER_ADDRESS = 64;
/** A TLS handshake not done by then is dropped (node's default is 120 s). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export interface AdminServerOptions {
  readonly eventLog?: EventLog;
  /** The admin API under /api/ (api.ts); without it only /metrics answers. */
  readonly api?: AdminApi;
  /** `authenticated`: /metrics needs a user too (the api's authentication); asked at each request (a reload may change it). */
  readonly metrics?: () => 'open' | 'authenticated';
  /** The console's files at / (src/console/static.ts); served whenever the admin API is. */
  readonly console?: ConsoleFiles;
}

/** The request handler alone (tests may mount it on a server of their own). */
export function adminRequestHandler(metrics: MetricsSource, eventLog?: EventLog, options: Omit<AdminServerOptions, 'eventLog'> = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const consoleAt = options.console ?? consoleFiles();
  return (req, res) => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    if (options.api && (path === '/api' || path.startsWith('/api/'))) return options.api.handle(req, res);
    if (options.api && consoleAt.owns(path)) return consoleAt.serve(req, res, path);
    req.resume(); // no body is read: drain any the client sent
    if (path !== '/metrics') return answer(res, 404, `Not Found: the admin listener serves GET /metrics${options.api ? ' and the admin API under /api/v1' : ''}`);
    if (options.metrics?.() === 'authenticated' && options.api && !options.api.authenticateOrAnswer(req, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, `Method Not Allowed: /metrics answers ${ALLOWED}`, { allow: ALLOWED });
    metrics.registry.metrics().then(
      (text) => {
        const body = Buffer.from(text);
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': body.length, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        eventLog?.error(`admin: /metrics failed: ${(error as Error).message}`);
        if (!res.headersSent) answer(res, 500, 'Internal Server Error: the metrics could not be collected');
        else res.destroy();
      },
    );
  };
}

/** Closes a new connection whose address already holds `limit` (counted from 'connection' to 'close'). */
function limitPerAddress(server: Server, limit: number): void {
  const held = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = held.get(address) ?? 0;
    if (count >= limit) {
      socket.destroy();
      return;
    }
    held.set(address, count + 1);
    socket.once('close', () => {
      const left = (held.get(address) ?? 1) - 1;
      if (left > 0) held.set(address, left);
      else held.delete(address);
    });
  });
}

type ListenerSettings = Pick<AdminSettings, 'address' | 'port' | 'certificate' | 'trustedCa' | 'auditLogFile'>;

/** The listener's TLS options; undefined for plain http. Badges are asked for, not required: a token user (or an open /metrics) needs none; api.ts decides. */
function tlsOptions(settings: ListenerSettings) {
  const certificate = settings.certificate;
  if (!certificate) return undefined;
  return { ...certificate.options, ...(settings.trustedCa ? { ca: settings.trustedCa.pem, requestCert: true, rejectUnauthorized: false } : {}), minVersion: 'TLSv1.2' as const };
}

/**
 * Binds the admin listener. Rejects with AdminListenError (nothing left listening) when the address and
 * port cannot be bound.
 */
export function startAdminServer(settings: ListenerSettings, metrics: MetricsSource, options: AdminServerOptions = {}): Promise<AdminServer> {
  const address = settings.address.replace(/^\[(.*)\]$/, '$1');
  const handler = adminRequestHandler(metrics, options.eventLog, { ...(options.api ? { api: options.api } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) });
  const timeouts = { keepAliveTimeout: 5_000, headersTimeout: 10_000, requestTimeout: 30_000 };
  const tls = tlsOptions(settings);
  const server: Server = tls ? createHttpsServer({ ...tls, ...timeouts, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, handler) : createServer(timeouts, handler);
  let running = settings;
  server.on('clientError', (_error, socket) => socket.destroy());
  // Bounds on the connections held at once (a console tab needs a few), in all and per client address.
  server.maxConnections = MAX_ADMIN_CONNECTIONS;
  limitPerAddress(server, MAX_ADMIN_CONNECTIONS_PER_ADDRESS);
  let closing: Promise<void> | undefined;
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : error.code === 'EADDRNOTAVAIL' ? 'the address is not on this machine' : error.message;
      reject(new AdminListenError(`cannot listen on ${address}:${settings.port} (admin): ${why}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen({ host: address, port: settings.port }, () => {
      server.off('error', onError);
      const port = (server.address() as AddressInfo).port;
      const host = address.includes(':') ? `[${address}]` : address;
      const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
      resolve({
        url,
        address,
        port,
        server,
        reload: (next) => {
          const { tls: isChanged, restart } = adminReload(running, next, url);
          const options = next && isChanged ? tlsOptions(next) : undefined;
          if (next && options) {
            (server as HttpsServer).setSecureContext(options);
            // A removed CA bundle stays in `running`: the listener goes on asking for badges until a restart.
            running = { ...running, certificate: next.certificate as ServerCertificate, ...(next.trustedCa ? { trustedCa: next.trustedCa } : {}) };
          }
          return restart;
        },
        close: () =>
          (closing ??= new Promise<void>((done) => {
            server.close(() => done());
            closeAllConnections(server);
          })),
      });
    });
  });
}
