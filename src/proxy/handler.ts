/**
 * The request path, in order (docs/request-lifecycle.md draws the same list):
 *   1. binding   https: by SNI, once per connection; http: by Host          → 400 unknown host name
 *   2. requireSsl  a request on http to a site that requires SSL           → 403.4
 *   3. door      the connection's client-certificate verdict, and validity  → 403.7 / 403.13 / 403.16 / 403.17
 *   4. rules     the site's rules, in order (a site without rules skips them): route to a farm (maybe
 *                rewritten), redirect, or respond; no match → the site's farm  → 3xx / custom / 404 (no farm)
 *   5. server    the farm's algorithm picks an available server             → 502.4
 *   6. forward   headers transformed, request and response streamed        → 502.3 (after one safe retry)
 * Steps 1-5 are synchronous and allocate little; only forward does I/O.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { AccessLogWriter } from '../tracing/access-log.js';
import type { RequestObserver, RequestRecord } from '../tracing/request-record.js';
import type { EventLog } from '../tracing/log.js';
import { ProxyExchange, type ExchangeOutcome } from './forward.js';
import type { ListenerRuntime } from './listener.js';
import { localAnswer, sendLocalAnswer } from './local-response.js';
import type { FarmRoute, SiteRuntime } from './site-runtime.js';
import { evaluateRules, type RuleDecision } from './rules/match.js';
import { sendCustomResponse, sendRedirect } from './rules/action.js';
import { IncomingRequestInfo } from './request-info.js';
import type { TlsConnection } from './tls-connection.js';
import { signForwardedIdentity } from '@gatehouse/forwarded-cert';

export interface HandlerDeps {
  /** The access logs (AccessLogs: each site's own), or one AccessLog. */
  readonly accessLog: AccessLogWriter;
  readonly eventLog: EventLog;
  /** Told of every finished request (metrics). */
  readonly observers: readonly RequestObserver[];
}

/** How a request ended, before it becomes a RequestRecord (only when something wants one). */
export interface RequestEnd {
  readonly req: IncomingMessage;
  readonly site: SiteRuntime | undefined;
  readonly tls: TlsConnection | undefined;
  readonly startMs: number;
  readonly status: number;
  readonly subStatus: number;
  readonly reason: string;
  readonly bytesSent: number;
  readonly logId: string;
  readonly outcome: ExchangeOutcome | undefined;
  /** Where the request was sent; undefined when Gatehouse answered it itself. */
  readonly route: FarmRoute | undefined;
  /** What the site's rules decided; undefined when the site has none or none matched. */
  readonly decision: RuleDecision | undefined;
}

function clientAddressOf(req: IncomingMessage, withPort: boolean): string {
  const socket = req.socket;
  const ip = socket.remoteAddress ?? '';
  if (!withPort) return ip;
  return ip.includes(':') ? `[${ip}]:${socket.remotePort ?? 0}` : `${ip}:${socket.remotePort ?? 0}`;
}

function recordOf(end: RequestEnd): RequestRecord {
  const { req, site, tls, outcome, route } = end;
  const socket = req.socket;
  const now = performance.now();
  const cert = tls?.certificate;
  const headers = req.headers;
  return {
    startEpochMs: Date.now() - (now - end.startMs),
    timeTakenMs: now - end.startMs,
    clientIp: socket.remoteAddress ?? '',
    clientPort: socket.remotePort ?? 0,
    localIp: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    site: site?.name ?? '',
    isHttps: tls !== undefined,
    method: req.method ?? '',
    url: req.url ?? '',
    host: headers.host ?? '',
    userAgent: headers['user-agent'] ?? '',
    referer: headers.referer ?? '',
    status: end.status,
    subStatus: end.subStatus,
    reason: end.reason,
    bytesSent: end.bytesSent,
    bytesReceived: outcome?.bytesReceived ?? 0,
    farm: outcome?.server && site && route ? route.farm.name : '',
    server: outcome?.server?.address ?? '',
    logId: end.logId,
    thumbprint: cert?.thumbprint ?? '',
    // Read only by the consumers that want it (a JSON log line, a tracing rule): naming it parses the certificate.
    get certificateSubject() {
      return cert ? cert.subject : '';
    },
    certificateNotAfterMs: cert?.notAfterMs ?? 0,
    retriedFrom: outcome?.retriedFrom?.address ?? '',
  };
}

export function createRequestHandler(listener: ListenerRuntime, deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { accessLog, eventLog, observers } = deps;

  function finish(end: RequestEnd): void {
    const tracer = end.site?.tracer;
    const logged = accessLog.enabledFor(end.site?.name ?? '');
    if (!logged && observers.length === 0 && !tracer) return;
    const record = recordOf(end);
    if (logged) accessLog.write(record);
    for (const observer of observers) observer.requestEnded(record);
    tracer?.consider(record, end);
  }

  function reject(req: IncomingMessage, res: ServerResponse, site: SiteRuntime | undefined, startMs: number, status: number, subStatus: number, reason: string, tls: TlsConnection | undefined, decision?: RuleDecision): void {
    const bytesSent = sendLocalAnswer(req, res, localAnswer(status, subStatus));
    const cert = tls?.certificate;
    const who = cert ? ` subject="${cert.subject}" thumbprint=${cert.thumbprint}` : '';
    eventLog.warn(`${status}.${subStatus} client ${clientAddressOf(req, true)} site ${site?.name ?? '-'} ${req.method} ${req.url}: ${reason}${who}`);
    finish({ req, site, tls, startMs, status, subStatus, reason, bytesSent, logId: '', outcome: undefined, route: undefined, decision });
  }

  /** Several bindings share this socket: a request must name the binding its handshake chose. */
  const checksHost = listener.isHttps && listener.bindings.length > 1;

  // HTTP/2 requests come through node's compatibility API (Http2ServerRequest/Response), which has the
  // same shape for everything used here; `req.socket` is a proxy of the TLS socket.
  return function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const startMs = performance.now();
    let tls: TlsConnection | undefined;
    let site: SiteRuntime;
    if (req.httpVersionMajor === 2) adoptAuthority(req);
    if (listener.isHttps) {
      tls = listener.tlsConnection(req.socket as TLSSocket);
      if (!tls) {
        if (req.httpVersionMajor === 2) (req as unknown as Http2ServerRequest).stream.session?.destroy();
        else req.socket.destroy();
        return;
      }
      site = tls.binding.site;
      if (tls.isFromEarlierConfig) res.shouldKeepAlive = false;
      const verdict = tls.verdict;
      if (verdict.subStatus !== 0) return reject(req, res, site, startMs, 403, verdict.subStatus, verdict.reason, tls);
      const expired = tls.certificate?.validityAt(Date.now());
      if (expired) return reject(req, res, site, startMs, 403, expired.subStatus, expired.reason, tls);
      if (checksHost && req.headers.host !== undefined && listener.isMisdirected(req.headers.host, tls.binding)) {
        // RFC 9110 §15.5.20: an HTTP/2 client reuses a connection for every host its certificate covers
        // (connection coalescing); 421 makes it open a connection of its own, whose handshake applies that
        // site's certificate and client-certificate policy.
        return reject(req, res, site, startMs, 421, 0, `host '${req.headers.host}' belongs to another site than the one this connection's TLS handshake chose (SNI '${tls.serverName}')`, tls);
      }
    } else {
      const binding = listener.bindingForHost(req.headers.host);
      if (!binding) return reject(req, res, undefined, startMs, 400, 0, `no site on ${listener.address}:${listener.port} answers for host '${req.headers.host ?? ''}'`, undefined);
      site = binding.site;
      if (site.config.ssl.requireSsl) return reject(req, res, site, startMs, 403, 4, 'SSL required (request on an http binding)', undefined);
    }

    let route = site.defaultRoute;
    let decision: RuleDecision | undefined;
    let url: string | undefined;
    if (site.hasRules) {
      decision = evaluateRules(site.rules, { req, certificate: tls?.certificate, isHttps: tls !== undefined });
      if (decision) {
        const action = decision.action;
        if (action.type === 'redirect') {
          const bytesSent = sendRedirect(req, res, action.status, decision.url);
          return finish({ req, site, tls, startMs, status: action.status, subStatus: 0, reason: '', bytesSent, logId: '', outcome: undefined, route: undefined, decision });
        }
        if (action.type === 'respond') {
          const bytesSent = sendCustomResponse(req, res, action);
          const rule = decision.matched[decision.matched.length - 1]?.rule.name ?? '';
          return finish({ req, site, tls, startMs, status: action.status, subStatus: action.subStatus, reason: `answered by rule '${rule}'`, bytesSent, logId: '', outcome: undefined, route: undefined, decision });
        }
        route = site.routeTo(action.farm);
        if (!route) return reject(req, res, site, startMs, 502, 4, `farm ${action.farm.name} is not bound to site ${site.name} (SiteRuntime.bindFarms was not called)`, tls, decision);
        if (decision.isRewritten) url = decision.url;
      }
      if (!route) return reject(req, res, site, startMs, 404, 0, 'no rule matched and the site has no farm', tls, decision);
    } else if (!route) {
      return reject(req, res, site, startMs, 502, 4, `the farm of site ${site.name} is not bound`, tls);
    }

    const farm = route.farm;
    const request = new IncomingRequestInfo(req);
    const affinity = farm.affinity;
    let server;
    let isNewAffinity = false;
    if (affinity) {
      const pinned = affinity.decide(request, tls?.certificate?.thumbprintSha256);
      server = pinned.server;
      isNewAffinity = pinned.isNew && affinity.usesCookie;
    } else server = farm.pick(request);
    if (!server) return reject(req, res, site, startMs, 502, 4, `no server available in farm ${farm.name}`, tls);

    const protocol = farm.config.protocol;
    const secret = protocol.signatureSecret;
    const logId = protocol.logGuidName || accessLog.enabledFor(site.name) || secret ? randomUUID() : '';
    const certificateHeaders = tls ? route.certificateHeadersFor(tls) : [];
    const exchange = new ProxyExchange(
      req,
      res,
      route,
      server,
      request,
      {
        clientAddress: clientAddressOf(req, protocol.includePortInXForwardedFor),
        sslValue: tls?.sslValue,
        certificateHeaders,
        logId,
        signature: secret ? signForwardedIdentity({ secret, timestampSeconds: Math.floor(Date.now() / 1000), logId, certificateDer: tls && certificateHeaders.length > 0 ? tls.certificate?.raw : undefined }) : undefined,
        isHttps: tls !== undefined,
        serverHost: server.address,
        isNewAffinity,
        certificateKey: tls?.certificate?.thumbprintSha256,
      },
      (outcome: ExchangeOutcome) => {
        let reason = '';
        if (outcome.status === 502) {
          const retry = outcome.retriedFrom ? ` after a retry (first server ${outcome.retriedFrom.address}: ${describeError(outcome.retryCause)})` : '';
          reason = `${describeError(outcome.error)}${retry}`;
          eventLog.warn(`502.3 client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${outcome.server?.address ?? '-'} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${reason}`);
          if (!res.headersSent && !res.destroyed) outcome.bytes = sendLocalAnswer(req, res, localAnswer(502, 3));
        } else if (outcome.error && outcome.status !== 0) {
          reason = `response aborted: ${describeError(outcome.error)}`;
          eventLog.warn(`response aborted: client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${outcome.server?.address ?? '-'} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${describeError(outcome.error)}`);
        } else if (outcome.error) {
          reason = `client gone: ${describeError(outcome.error)}`;
        }
        finish({ req, site, tls, startMs, status: outcome.status, subStatus: outcome.subStatus, reason, bytesSent: outcome.bytes, logId, outcome, route, decision });
      },
      url,
      url === undefined ? undefined : req.url,
    );
    exchange.start();
  };
}

/**
 * HTTP/2 names the host in `:authority` (RFC 9113 §8.3.1), which wins over a Host header; the rest of the
 * request path (binding by host, rules, hashing, the Host sent to the server) reads `host`.
 */
function adoptAuthority(req: IncomingMessage): void {
  const authority = req.headers[':authority'];
  if (typeof authority === 'string') req.headers.host = authority;
}

/** `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9001` style, for logs. */
export function describeError(error: Error | undefined): string {
  if (!error) return 'unknown error';
  const code = (error as { code?: string }).code;
  return code ? `${code} ${error.message}` : error.message;
}
