/**
 * Requests node's HTTP parser refuses (RFC 9112 framing: Content-Length with Transfer-Encoding,
 * differing Content-Lengths, obs-fold, bare CR, NUL, whitespace before a colon, bad chunks, a head over
 * the size limit, a head too slow): an IIS-style answer, after the answers owed to earlier pipelined
 * requests on the connection, then the connection closes. Logged with the parser's reason.
 */
import type { Socket } from 'node:net';
import type { EventLog } from '../tracing/log.js';
import { answerAndClose } from './connection-state.js';

function statusFor(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADER_TIMEOUT') return 408;
  if (code === 'HPE_INVALID_VERSION') return 505;
  return 400;
}

export function createClientErrorHandler(eventLog: EventLog): (error: NodeJS.ErrnoException & { reason?: string }, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = statusFor(error.code);
    const reason = error.reason ?? error.message;
    if (answerAndClose(socket, status)) {
      eventLog.warn(`${status} client ${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0} on ${socket.localAddress ?? ''}:${socket.localPort ?? 0}: the request is not valid HTTP/1.1 (${error.code ?? 'error'}: ${reason}); closing the connection`);
    }
  };
}
