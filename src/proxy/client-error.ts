/**
 * Requests node's HTTP parser refuses (RFC 9112 framing: Content-Length with Transfer-Encoding,
 * differing Content-Lengths, obs-fold, bare CR, NUL, whitespace before a colon, bad chunks, a head over
 * the size limit, a head too slow): an IIS-style answer, after the answers owed to earlier pipelined
 * requests on the connection, then the connection closes. Logged with the parser's reason.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AccessLogs } from '../tracing/access-log.js';
import type { EventLog } from '../tracing/log.js';
import type { RequestObserver, RequestRecord } from '../tracing/request-record.js';
import { answerAndClose } from './connection-state.js';
import { localAnswer } from './local-response.js';
import type { OutcomeCode } from '../shared/outcome.js';

/** Where a refused head is recorded besides the event log: the top-level access log and the metrics. */
export interface ClientErrorDeps {
  readonly accessLog?: AccessLogs;
  readonly observers?: readonly RequestObserver[];
}

/** What the access log and the metrics get for a head the parser refused (no site, method or URL is known). */
function recordOf(socket: Socket, status: number, outcome: OutcomeCode, reason: string, rawPacket: Buffer | undefined): RequestRecord {
  const line = rawPacket ? rawPacket.subarray(0, Math.min(rawPacket.length, 512)).toString('latin1').split('\r\n')[0] ?? '' : '';
  const [method = '', url = ''] = /^[A-Z]{1,16} \S+/.test(line) ? line.split(' ') : [];
  return {
    startEpochMs: Date.now(),
    timeTakenMs: 0,
    clientIp: socket.remoteAddress ?? '',
    clientPort: socket.remotePort ?? 0,
    localIp: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    site: '',
    isHttps: (socket as Partial<TLSSocket>).encrypted === true,
    method,
    url,
    host: '',
    userAgent: '',
    referer: '',
    status,
    subStatus: 0,
    outcome,
    reason,
    bytesSent: localAnswer(status, 0).text.length,
    bytesReceived: 0,
    farm: '',
    server: '',
    logId: '',
    thumbprint: '',
    certificateSubject: '',
    certificateNotAfterMs: 0,
    retriedFrom: '',
  };
}

const STATUS_OF: Readonly<Record<string, number>> = { headers_too_large: 431, request_timeout: 408, http_version: 505, bad_request: 400 };

function outcomeFor(code: string | undefined): OutcomeCode {
  if (code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADER_TIMEOUT') return 'request_timeout';
  if (code === 'HPE_INVALID_VERSION') return 'http_version';
  return 'bad_request';
}

export function createClientErrorHandler(eventLog: EventLog, deps: ClientErrorDeps = {}): (error: NodeJS.ErrnoException & { reason?: string; rawPacket?: Buffer }, socket: Socket) => void {
  const { observers = [] } = deps;
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const outcome = outcomeFor(error.code);
    const status = STATUS_OF[outcome] as number;
    const reason = error.reason ?? error.message;
    if (answerAndClose(socket, status)) {
      const why = status === 408 ? `the request head did not arrive within headersTimeout (${error.code ?? 'timeout'})` : `the request is not valid HTTP/1.1 (${error.code ?? 'error'}: ${reason})`;
      eventLog.warn(`${status} outcome=${outcome} client ${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0} on ${socket.localAddress ?? ''}:${socket.localPort ?? 0}: ${why}; closing the connection`);
      // Read at each refusal: a reload replaces the access logs (and closes the old ones).
      const accessLog = deps.accessLog;
      const logged = accessLog?.enabledFor('') === true;
      if (!logged && observers.length === 0) return;
      const record = recordOf(socket, status, outcome, why, error.rawPacket);
      if (logged) accessLog?.write(record);
      for (const observer of observers) observer.requestEnded(record);
    }
  };
}
