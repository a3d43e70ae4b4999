/**
 * Requests node's HTTP parser refuses (RFC 9112 framing: Content-Length with Transfer-Encoding,
 * differing Content-Lengths, obs-fold, bare CR, NUL, whitespace before a colon, bad chunks, a head over
 * the size limit, a head too slow): an IIS-style answer, after the answers owed to earlier pipelined
 * requests on the connection, then the connection closes. Logged with the parser's reason.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { EventLog } from '../tracing/log.js';
import { answerAndClose } from './connection-state.js';
import { localAnswer } from './local-response.js';

function statusFor(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADER_TIMEOUT') return 408;
  if (code === 'HPE_INVALID_VERSION') return 505;
  return 400;
}

/** A whole HTTP/1.1 response with Gatehouse's text body and `Connection: close`. */
export function closingAnswer(status: number, subStatus = 0): string {
  const body = localAnswer(status, subStatus).text.toString('latin1');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`;
}

export function createClientErrorHandler(eventLog: EventLog): (error: NodeJS.ErrnoException & { reason?: string }, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = statusFor(error.code);
    const reason = error.reason ?? error.message;
    if (answerAndClose(socket, closingAnswer(status))) {
      eventLog.warn(`${status} client ${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0} on ${socket.localAddress ?? ''}:${socket.localPort ?? 0}: the request is not valid HTTP/1.1 (${error.code ?? 'error'}: ${reason}); closing the connection`);
    }
  };
}
