/**
 * JSON lines: one object per request with `time` (when the request ended, ISO 8601 UTC, the moment the
 * W3C `date`/`time` fields show) followed by every field of the RequestRecord, as it is, in the record's
 * order. The fields are named one by one: a record may be a class whose `certificateSubject` is a getter
 * on its prototype, which a spread would leave out. JSON escapes quotes and line breaks, so a line is
 * always one line.
 */
import type { RequestRecord } from './request-record.js';

export function jsonLine(r: RequestRecord): string {
  return `${JSON.stringify({
    time: new Date(r.startEpochMs + r.timeTakenMs).toISOString(),
    startEpochMs: r.startEpochMs,
    timeTakenMs: r.timeTakenMs,
    clientIp: r.clientIp,
    clientPort: r.clientPort,
    localIp: r.localIp,
    localPort: r.localPort,
    site: r.site,
    isHttps: r.isHttps,
    method: r.method,
    url: r.url,
    host: r.host,
    userAgent: r.userAgent,
    referer: r.referer,
    status: r.status,
    subStatus: r.subStatus,
    outcome: r.outcome,
    reason: r.reason,
    bytesSent: r.bytesSent,
    bytesReceived: r.bytesReceived,
    farm: r.farm,
    server: r.server,
    logId: r.logId,
    thumbprint: r.thumbprint,
    certificateSubject: r.certificateSubject,
    certificateNotAfterMs: r.certificateNotAfterMs,
    retriedFrom: r.retriedFrom,
  } satisfies Record<keyof RequestRecord, unknown> & { time: string })}\n`;
}
