/**
 * The request path, in order (docs/request-lifecycle.md draws the same list):
 *   1. binding   https: by SNI, once per connection; http: by Host          → 400 unknown host name
 *   2. requireSsl  a request on http to a site that requires SSL           → 403.4
 *   3. door      the connection's client-certificate verdict, and validity  → 403.7 / 403.13 / 403.16 / 403.17
 *   4. server    the farm's algorithm picks an available server             → 502.4
 *   5. forward   headers transformed, request and response streamed        → 502.3 (after one safe retry)
 * Steps 1-4 are synchronous and allocate little; only forward does I/O.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AccessLog } from '../tracing/access-log.js';
import type { EventLog } from '../tracing/log.js';
import type { FarmServer } from '../farm/farm-server.js';
import { ProxyExchange, type ExchangeOutcome } from './forward.js';
import type { ListenerRuntime } from './listener.js';
import { localAnswer, sendLocalAnswer } from './local-response.js';
import type { SiteRuntime } from './site-runtime.js';
import { IncomingRequestInfo } from './request-info.js';
import type { TlsConnection } from './tls-connection.js';
import { signForwardedIdentity } from '@gatehouse/forwarded-cert';

export interface HandlerDeps {
  readonly accessLog: AccessLog;
  readonly eventLog: EventLog;
}

function clientAddressOf(req: IncomingMessage, withPort: boolean): string {
  const socket = req.socket;
  const ip = socket.remoteAddress ?? '';
  if (!withPort) return ip;
  return ip.includes(':') ? `[${ip}]:${socket.remotePort ?? 0}` : `${ip}:${socket.remotePort ?? 0}`;
}

export function createRequestHandler(listener: ListenerRuntime, deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { accessLog, eventLog } = deps;

  function logAccess(req: IncomingMessage, site: SiteRuntime | undefined, startMs: number, status: number, subStatus: number, bytes: number, server: FarmServer | undefined, logId: string, tls: TlsConnection | undefined): void {
    if (!accessLog.enabled) return;
    accessLog.write({
      clientAddress: clientAddressOf(req, true),
      site: site?.name ?? '-',
      method: req.method ?? '-',
      url: req.url ?? '-',
      status,
      subStatus,
      bytes,
      timeTakenMs: performance.now() - startMs,
      farm: server && site ? site.farm.name : '',
      server: server?.address ?? '',
      logId,
      thumbprint: tls?.certificate?.thumbprint ?? '',
    });
  }

  function reject(req: IncomingMessage, res: ServerResponse, site: SiteRuntime | undefined, startMs: number, status: number, subStatus: number, reason: string, tls: TlsConnection | undefined): void {
    const bytes = sendLocalAnswer(req, res, localAnswer(status, subStatus));
    const cert = tls?.certificate;
    const who = cert ? ` subject="${cert.subject}" thumbprint=${cert.thumbprint}` : '';
    eventLog.warn(`${status}.${subStatus} client ${clientAddressOf(req, true)} site ${site?.name ?? '-'} ${req.method} ${req.url}: ${reason}${who}`);
    logAccess(req, site, startMs, status, subStatus, bytes, undefined, '', tls);
  }

  return function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const startMs = performance.now();
    let tls: TlsConnection | undefined;
    let site: SiteRuntime;
    if (listener.isHttps) {
      tls = listener.tlsConnection(req.socket as TLSSocket);
      if (!tls) {
        req.socket.destroy();
        return;
      }
      site = tls.binding.site;
      const verdict = tls.verdict;
      if (verdict.subStatus !== 0) return reject(req, res, site, startMs, 403, verdict.subStatus, verdict.reason, tls);
      const expired = tls.certificate?.validityAt(Date.now());
      if (expired) return reject(req, res, site, startMs, 403, expired.subStatus, expired.reason, tls);
    } else {
      const binding = listener.bindingForHost(req.headers.host);
      if (!binding) return reject(req, res, undefined, startMs, 400, 0, `no site on ${listener.address}:${listener.port} answers for host '${req.headers.host ?? ''}'`, undefined);
      site = binding.site;
      if (site.config.ssl.requireSsl) return reject(req, res, site, startMs, 403, 4, 'SSL required (request on an http binding)', undefined);
    }

    const farm = site.farm;
    const request = new IncomingRequestInfo(req);
    const server = farm.pick(request);
    if (!server) return reject(req, res, site, startMs, 502, 4, `no server available in farm ${farm.name}`, tls);

    const protocol = farm.config.protocol;
    const secret = protocol.signatureSecret;
    const logId = protocol.logGuidName || accessLog.enabled || secret ? randomUUID() : '';
    const exchange = new ProxyExchange(
      req,
      res,
      site,
      server,
      request,
      {
        clientAddress: clientAddressOf(req, protocol.includePortInXForwardedFor),
        sslValue: tls?.sslValue,
        certificateHeaders: tls ? tls.certificateHeaders : [],
        logId,
        signature: secret ? signForwardedIdentity({ secret, timestampSeconds: Math.floor(Date.now() / 1000), logId, certificateDer: tls && tls.certificateHeaders.length > 0 ? tls.certificate?.raw : undefined }) : undefined,
        isHttps: tls !== undefined,
        serverHost: server.address,
      },
      (outcome: ExchangeOutcome) => {
        if (outcome.status === 502) {
          const retry = outcome.retriedFrom ? ` after a retry (first server ${outcome.retriedFrom.address})` : '';
          eventLog.warn(`502.3 client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${outcome.server?.address ?? '-'} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${describeError(outcome.error)}${retry}`);
          if (!res.headersSent && !res.destroyed) outcome.bytes = sendLocalAnswer(req, res, localAnswer(502, 3));
        } else if (outcome.error && outcome.status !== 0) {
          eventLog.warn(`response aborted: client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${outcome.server?.address ?? '-'} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${describeError(outcome.error)}`);
        }
        logAccess(req, site, startMs, outcome.status, outcome.subStatus, outcome.bytes, outcome.server, logId, tls);
      },
    );
    exchange.start();
  };
}

/** `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9001` style, for logs. */
export function describeError(error: Error | undefined): string {
  if (!error) return 'unknown error';
  const code = (error as { code?: string }).code;
  return code ? `${code} ${error.message}` : error.message;
}
