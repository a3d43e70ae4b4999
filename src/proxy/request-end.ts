/**
 * The end of a request, one way for every kind (HTTP/1.1, HTTP/2, WebSocket upgrades): what the access
 * log, the metrics and the site's tracer are told. A RequestRecord is built only when one of them wants it.
 */
import type { IncomingMessage } from 'node:http';
import type { AccessLogWriter } from '../tracing/access-log.js';
import type { RequestObserver, RequestRecord } from '../tracing/request-record.js';
import type { OutcomeCode } from '../shared/outcome.js';
import type { ExchangeOutcome } from './forward.js';
import type { RuleDecision } from './rules/match.js';
import type { FarmRoute, SiteRuntime } from './site-runtime.js';
import type { TlsConnection } from './tls-connection.js';

/** How a request ended, before it becomes a RequestRecord (only when something wants one). */
export interface RequestEnd {
  readonly req: IncomingMessage;
  readonly site: SiteRuntime | undefined;
  readonly tls: TlsConnection | undefined;
  readonly startMs: number;
  readonly status: number;
  readonly subStatus: number;
  /** What happened, from the catalogue (shared/outcome.ts). */
  readonly outcome: OutcomeCode;
  /** For people: why Gatehouse answered itself, or why the response was cut; '' otherwise. */
  readonly reason: string;
  readonly bytesSent: number;
  readonly logId: string;
  /** The exchange with a farm server; undefined when Gatehouse answered the request itself. */
  readonly exchange: ExchangeOutcome | undefined;
  /** Where the request was sent; undefined when Gatehouse answered it itself. */
  readonly route: FarmRoute | undefined;
  /** What the site's rules decided; undefined when the site has none or none matched. */
  readonly decision: RuleDecision | undefined;
}

/** Where finished requests go. */
export interface RequestEndDeps {
  /** The access logs (AccessLogs: each site's own), or one AccessLog. */
  readonly accessLog: AccessLogWriter;
  /** Told of every finished request (metrics). */
  readonly observers: readonly RequestObserver[];
}

export function recordOf(end: RequestEnd): RequestRecord {
  const { req, site, tls, exchange, route } = end;
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
    outcome: end.outcome,
    reason: end.reason,
    bytesSent: end.bytesSent,
    bytesReceived: exchange?.bytesReceived ?? 0,
    farm: exchange?.server && site && route ? route.farm.name : '',
    server: exchange?.server?.address ?? '',
    logId: end.logId,
    thumbprint: cert?.thumbprint ?? '',
    // Read only by the consumers that want it (a JSON log line, a tracing rule): naming it parses the certificate.
    get certificateSubject() {
      return cert ? cert.subject : '';
    },
    certificateNotAfterMs: cert?.notAfterMs ?? 0,
    retriedFrom: exchange?.retriedFrom?.address ?? '',
  };
}

/** The function that tells the access log, the observers and the site's tracer of a finished request. */
export function requestFinisher(deps: RequestEndDeps): (end: RequestEnd) => void {
  return function finish(end: RequestEnd): void {
    const { accessLog, observers } = deps;
    const tracer = end.site?.tracer;
    const logged = accessLog.enabledFor(end.site?.name ?? '');
    if (!logged && observers.length === 0 && !tracer) return;
    const record = recordOf(end);
    if (logged) accessLog.write(record);
    for (const observer of observers) observer.requestEnded(record);
    tracer?.consider(record, end);
  };
}
