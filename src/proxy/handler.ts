/**
 * The request path, in order (docs/request-lifecycle.md draws the same list):
 *   1. admission  head, binding, requireSsl, door, target, host, rules (admission.ts)
 *                 → 400 / 403.x / 421 / 431 / 505, or the rules' redirect or answer, or a route to a farm
 *   2. server     the farm's algorithm picks an available server             → 502.4
 *   3. forward    headers transformed, request and response streamed        → 502.3 (after one safe retry)
 * Steps 1-2 are synchronous and allocate little; only forward does I/O. An exception on the way is a
 * 500 for that request alone.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as http2Constants, type Http2ServerRequest } from 'node:http2';
import type { AccessLogWriter } from '../tracing/access-log.js';
import type { RequestObserver, RequestRecord } from '../tracing/request-record.js';
import type { EventLog } from '../tracing/log.js';
import { ProxyExchange, type ExchangeOutcome } from './forward.js';
import type { ListenerRuntime } from './listener.js';
import { localAnswer, sendLocalAnswer } from './local-response.js';
import type { FarmRoute, SiteRuntime } from './site-runtime.js';
import type { RuleDecision } from './rules/match.js';
import { admit, isHttp2Request } from './admission.js';
import type { DynamicIpSecurity, IpDenial } from './dynamic-ip-security.js';
import type { DynamicIpSettings } from '../config/limits-schema.js';
import { closeAfter, requestStarted } from './connection-state.js';
import { sendCustomResponse, sendRedirect } from './rules/action.js';
import { clientAddressOf, IncomingRequestInfo } from './request-info.js';
import type { TlsConnection } from './tls-connection.js';
import { signForwardedIdentity } from '@gatehouse/forwarded-cert';

export interface HandlerDeps {
  /** The access logs (AccessLogs: each site's own), or one AccessLog. */
  readonly accessLog: AccessLogWriter;
  readonly eventLog: EventLog;
  /** Told of every finished request (metrics). */
  readonly observers: readonly RequestObserver[];
  /** Dynamic IP Restrictions in force (a reload may change them); undefined: none. */
  readonly dynamicIp?: () => DynamicIpSecurity | undefined;
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

  /** Dynamic IP Restrictions said no: the deny action (403.501 / 403.502, 404, 401, or the connection cut). */
  function deny(req: IncomingMessage, res: ServerResponse, site: SiteRuntime, startMs: number, denial: IpDenial, action: DynamicIpSettings['denyAction'], tls: TlsConnection | undefined, isHttp2: boolean): void {
    if (action === 'forbidden') return reject(req, res, site, startMs, 403, denial.subStatus, denial.reason, tls);
    if (action === 'notFound') return reject(req, res, site, startMs, 404, 0, denial.reason, tls);
    if (action === 'unauthorized') return reject(req, res, site, startMs, 401, 0, denial.reason, tls);
    eventLog.warn(`403.${denial.subStatus} client ${clientAddressOf(req, true)} site ${site.name} ${req.method} ${req.url}: ${denial.reason}; aborted (denyAction abortRequest)`);
    if (isHttp2) (req as unknown as Http2ServerRequest).stream.close(http2Constants.NGHTTP2_REFUSED_STREAM);
    else req.socket.destroy();
    finish({ req, site, tls, startMs, status: 403, subStatus: denial.subStatus, reason: `${denial.reason}; aborted`, bytesSent: 0, logId: '', outcome: undefined, route: undefined, decision: undefined });
  }

  // HTTP/2 requests come through node's compatibility API (Http2ServerRequest/Response), which has the
  // same shape for everything used here; `req.socket` is a proxy of the TLS socket.
  return function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const startMs = performance.now();
    const isHttp2 = isHttp2Request(req);
    if (!isHttp2 && !requestStarted(req, res)) return; // after a request that closes the connection: never forwarded
    try {
      handle(req, res, startMs, isHttp2);
    } catch (error) {
      internalError(req, res, startMs, isHttp2, error as Error);
    }
  };

  /** A defect of Gatehouse's, not the client's: this request gets 500, the process and other requests go on. */
  function internalError(req: IncomingMessage, res: ServerResponse, startMs: number, isHttp2: boolean, error: Error): void {
    eventLog.error(`500 client ${clientAddressOf(req, true)} ${req.method} ${req.url}: unexpected error on the request path\n${error.stack ?? error.message}`);
    try {
      if (res.headersSent) {
        res.destroy(error);
        return;
      }
      if (!isHttp2) closeAfter(req, res);
      const bytesSent = sendLocalAnswer(req, res, localAnswer(500, 0));
      finish({ req, site: undefined, tls: undefined, startMs, status: 500, subStatus: 0, reason: `unexpected error: ${error.message}`, bytesSent, logId: '', outcome: undefined, route: undefined, decision: undefined });
    } catch {
      res.destroy();
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse, startMs: number, isHttp2: boolean): void {
    const admission = admit(listener, req, isHttp2);
    if (admission.kind === 'drop') {
      if (isHttp2) (req as unknown as Http2ServerRequest).stream.session?.destroy();
      else req.socket.destroy();
      return;
    }
    const { tls, decision } = admission;
    if (tls?.isFromEarlierConfig && !isHttp2) closeAfter(req, res);
    if (admission.kind === 'refuse') {
      if (admission.close && !isHttp2) closeAfter(req, res);
      return reject(req, res, admission.site, startMs, admission.status, admission.subStatus, admission.reason, tls, decision);
    }
    const site = admission.site;
    const ipSecurity = deps.dynamicIp?.();
    if (ipSecurity) {
      const address = req.socket.remoteAddress ?? '';
      const denial = ipSecurity.admit(address);
      if (denial) return deny(req, res, site, startMs, denial, ipSecurity.settings.denyAction, tls, isHttp2);
      if (ipSecurity.countsInFlight) res.once('close', () => ipSecurity.release(address));
    }
    if (admission.kind === 'redirect') {
      const bytesSent = sendRedirect(req, res, admission.status, admission.location);
      return finish({ req, site, tls, startMs, status: admission.status, subStatus: 0, reason: '', bytesSent, logId: '', outcome: undefined, route: undefined, decision });
    }
    if (admission.kind === 'respond') {
      const action = admission.action;
      const bytesSent = sendCustomResponse(req, res, action);
      const rule = decision?.matched[decision.matched.length - 1]?.rule.name ?? '';
      return finish({ req, site, tls, startMs, status: action.status, subStatus: action.subStatus, reason: `answered by rule '${rule}'`, bytesSent, logId: '', outcome: undefined, route: undefined, decision });
    }
    const route = admission.route;
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
        originalUrl: admission.originalUrl,
      },
      (outcome: ExchangeOutcome) => {
        let reason = '';
        if (outcome.status === 502) {
          const retry = outcome.retriedFrom ? ` after a retry (first server ${outcome.retriedFrom.address}: ${describeError(outcome.retryCause)})` : '';
          reason = `${describeError(outcome.error)}${retry}`;
          eventLog.warn(`502.3 client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${outcome.server?.address ?? '-'} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${reason}`);
          if (!res.headersSent && !res.destroyed) outcome.bytes = sendLocalAnswer(req, res, localAnswer(502, 3));
        } else if ((outcome.status === 413 || outcome.status === 408) && outcome.error) {
          reason = outcome.error.message;
          eventLog.warn(`${outcome.status}.${outcome.subStatus} client ${clientAddressOf(req, true)} site ${site.name} ${req.method} ${req.url}: ${reason}`);
          if (!res.headersSent && !res.destroyed) {
            if (!isHttp2) closeAfter(req, res); // the rest of the body is never read
            outcome.bytes = sendLocalAnswer(req, res, localAnswer(outcome.status, outcome.subStatus));
          }
        } else if (outcome.error && outcome.status !== 0) {
          reason = `response aborted: ${describeError(outcome.error)}`;
          eventLog.warn(`response aborted: client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${outcome.server?.address ?? '-'} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${describeError(outcome.error)}`);
        } else if (outcome.error) {
          reason = `client gone: ${describeError(outcome.error)}`;
        }
        finish({ req, site, tls, startMs, status: outcome.status, subStatus: outcome.subStatus, reason, bytesSent: outcome.bytes, logId, outcome, route, decision });
      },
      admission.url,
      site.bodyLimits,
    );
    exchange.start();
  }
}

/** `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9001` style, for logs. */
export function describeError(error: Error | undefined): string {
  if (!error) return 'unknown error';
  const code = (error as { code?: string }).code;
  return code ? `${code} ${error.message}` : error.message;
}
