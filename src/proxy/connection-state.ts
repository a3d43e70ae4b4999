/**
 * HTTP/1.1 connections Gatehouse has decided to close (a framing error, a refused head): answers owed
 * to earlier pipelined requests go out first, in order, then Gatehouse's answer, then the connection
 * closes; no request read after the bad one is ever forwarded. Node writes pipelined responses in order
 * itself; what it does not do is hold a parser error's answer (client-error.ts) behind them, or stop
 * emitting the requests that follow one whose answer closes the connection.
 *
 * Per request this costs one WeakMap store (the connection's newest response): node finishes responses
 * in request order, so once the newest has finished, every earlier one has.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closingAnswer, localAnswer, sendLocalAnswer } from './local-response.js';

const newestResponse = new WeakMap<Socket, ServerResponse>();
/** Requests with a body being forwarded: what to call when their body breaks. */
const brokenBodyHandlers = new WeakMap<ServerResponse, () => void>();
/** Set on a connection that closes after the answers it owes (rare: never on the way of a good request). */
const kClosing = Symbol('gatehouse.closing');
type ClosingSocket = Socket & { [kClosing]?: true };

/**
 * An HTTP/1.x request starts: false when the connection is closing and the request must be dropped
 * unanswered (the connection ends after the answers already owed).
 */
export function requestStarted(req: IncomingMessage, res: ServerResponse): boolean {
  const socket = req.socket as ClosingSocket;
  if (socket[kClosing]) return false;
  newestResponse.set(socket, res);
  // HTTP/1.0 without keep-alive, or Connection: close: this answer is the connection's last.
  if (!res.shouldKeepAlive) socket[kClosing] = true;
  return true;
}

/**
 * `Expect: 100-continue`: `handle` answers or forwards the request; a request it forwarded gets its
 * 100 Continue once the answers owed before it have gone out (node would write the 100 into a queued
 * response's buffer, ahead of nothing and behind its head). A request `handle` answered gets no 100
 * (RFC 9110 §10.1.1: the final status instead). An HTTP/2 stream owes nothing before it: its 100 goes at once.
 */
export function continueInOrder(req: IncomingMessage, res: ServerResponse, handle: (req: IncomingMessage, res: ServerResponse) => void): void {
  const earlier = newestResponse.get(req.socket);
  handle(req, res);
  const writeContinue = () => {
    if (!res.headersSent && !res.writableEnded && !res.destroyed) res.writeContinue();
  };
  if (earlier === undefined || earlier === res || earlier.writableFinished) writeContinue();
  else earlier.once('finish', writeContinue);
}

/** An exchange forwarding this response's request body: `then` ends it if the body breaks. */
export function onBrokenBody(res: ServerResponse, then: () => void): void {
  brokenBodyHandlers.set(res, then);
}

/** The current request's answer closes the connection: nothing read after it is forwarded. */
export function closeAfter(req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
  (req.socket as ClosingSocket)[kClosing] = true;
}

/**
 * Runs `then` once every answer owed on this connection has gone out (now, when none is owed): what node
 * hands over outside its request queue (a parser error, an upgrade, CONNECT) must not overtake them. A
 * connection that closes before they finish is destroyed instead.
 */
export function afterOwed(socket: Socket, then: () => void): void {
  const owed = newestResponse.get(socket);
  if (owed === undefined || owed.writableFinished) {
    then();
    return;
  }
  owed.once('finish', then);
  owed.once('close', () => {
    if (!owed.writableFinished) socket.destroy(); // ended without finishing: nothing more can be said
  });
}

/**
 * Node's parser refused what followed, or a request node hands over outside its queue (CONNECT): the
 * answer `status` goes after the answers owed, then the connection closes. An error in the body of the
 * newest request (its head was read, its body broke) belongs to that request: it is the answer, when that
 * request's response has not started (the exchange sees its client gone and drops the half request at the
 * server), or else the connection just ends after it. False when the connection was closing already (the
 * parser reports its error again on each read).
 */
export function answerAndClose(socket: Socket, status: number): boolean {
  const closing = socket as ClosingSocket;
  if (closing[kClosing]) return false;
  closing[kClosing] = true;
  const owed = newestResponse.get(socket);
  const req = owed?.req;
  if (owed && req && !req.complete && !owed.writableEnded) {
    brokenBodyHandlers.get(owed)?.();
    if (!owed.headersSent) {
      owed.shouldKeepAlive = false;
      sendLocalAnswer(req, owed, localAnswer(status, 0));
    } else afterOwed(socket, () => socket.end());
    return true;
  }
  afterOwed(socket, () => {
    if (socket.writable) socket.end(closingAnswer(status));
    else socket.destroy();
  });
  return true;
}
