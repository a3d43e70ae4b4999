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
import type { ClientCertificate } from '../tls/client-certificate.js';

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

/**
 * A finished request as the access log, the metrics and the tracer read it. A class, not an object literal:
 * the literal's `certificateSubject` getter (a closure per request, defined at run time) made every record
 * a slow object, about 5 µs per request once the metrics are on; a prototype getter costs nothing.
 */
class FinishedRequest implements RequestRecord {
  readonly startEpochMs: number;
  readonly timeTakenMs: number;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly localIp: string;
  readonly localPort: number;
  readonly site: string;
  readonly isHttps: boolean;
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly userAgent: string;
  readonly referer: string;
  readonly status: number;
  readonly subStatus: number;
  readonly outcome: OutcomeCode;
  readonly reason: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly farm: string;
  readonly server: string;
  readonly logId: string;
  readonly thumbprint: string;
  readonly certificateNotAfterMs: number;
  readonly retriedFrom: string;
  readonly #certificate: ClientCertificate | undefined;

  constructor(end: RequestEnd) {
    const { req, site, tls, exchange, route } = end;
    const socket = req.socket;
    const now = performance.now();
    const cert = tls?.certificate;
    const headers = req.headers;
    this.startEpochMs = Date.now() - (now - end.startMs);
    this.timeTakenMs = now - end.startMs;
    this.clientIp = socket.remoteAddress ?? '';
    this.clientPort = socket.remotePort ?? 0;
    this.localIp = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.site = site?.name ?? '';
    this.isHttps = tls !== undefined;
    this.method = req.method ?? '';
    this.url = req.url ?? '';
    this.host = headers.host ?? '';
    this.userAgent = headers['user-agent'] ?? '';
    this.referer = headers.referer ?? '';
    this.status = end.status;
    this.subStatus = end.subStatus;
    this.outcome = end.outcome;
    this.reason = end.reason;
    this.bytesSent = end.bytesSent;
    this.bytesReceived = exchange?.bytesReceived ?? 0;
    this.farm = exchange?.server && site && route ? route.farm.name : '';
    this.server = exchange?.server?.address ?? '';
    this.logId = end.logId;
    this.thumbprint = cert?.thumbprint ?? '';
    this.certificateNotAfterMs = cert?.notAfterMs ?? 0;
    this.retriedFrom = exchange?.retriedFrom?.address ?? '';
    this.#certificate = cert;
  }

  /** Read only by the consumers that want it (a JSON log line, a tracing rule): naming it parses the certificate. */
  get certificateSubject(): string {
    return this.#certificate ? this.#certificate.subject : '';
  }
}

export function recordOf(end: RequestEnd): RequestRecord {
  return new FinishedRequest(end);
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
