import type { OutcomeCode } from '../shared/outcome.js';

/**
 * One finished request, as the access log, the metrics and the tracer see it. Built once per request,
 * and only when one of them is on.
 */
export interface RequestRecord {
  /** When the request arrived, ms since the epoch. */
  readonly startEpochMs: number;
  readonly timeTakenMs: number;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly localIp: string;
  readonly localPort: number;
  /** Site name, or '' when no site answered (unknown host name). */
  readonly site: string;
  readonly isHttps: boolean;
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly host: string;
  readonly userAgent: string;
  readonly referer: string;
  readonly status: number;
  readonly subStatus: number;
  /** How the request ended, from the catalogue (shared/outcome.ts): what labels and log fields read. */
  readonly outcome: OutcomeCode;
  /** Why Gatehouse answered itself (403.x, 502.x, 400), or why the response was cut; '' otherwise. */
  readonly reason: string;
  /** Response body bytes sent to the client. */
  readonly bytesSent: number;
  /** Request body bytes received from the client. */
  readonly bytesReceived: number;
  readonly farm: string;
  readonly server: string;
  readonly logId: string;
  /** Client certificate SHA-1 thumbprint (upper-case hex), '' without one. */
  readonly thumbprint: string;
  readonly certificateSubject: string;
  /** Client certificate notAfter, ms since the epoch; 0 without one. */
  readonly certificateNotAfterMs: number;
  /** The server that failed first when the request was retried; ''. */
  readonly retriedFrom: string;
}

/** Something that wants every finished request (metrics, a later admin API). */
export interface RequestObserver {
  requestEnded(record: RequestRecord): void;
}
