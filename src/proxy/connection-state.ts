/**
 * HTTP/1.1 connections Gatehouse has decided to close (a framing error, a refused head): answers owed
 * to earlier pipelined requests go out first, in order, then Gatehouse's answer, then the connection
 * closes; no request read after the bad one is ever forwarded. Node writes pipelined responses in order
 * itself; what it does not do is hold a parser error's answer (client-error.ts) behind them, or stop
 * emitting the requests that follow one whose answer closes the connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface ConnectionState {
  /** Responses started and not yet finished (or abandoned). */
  owed: number;
  /** No further request on this connection is forwarded. */
  isClosing: boolean;
  /** Written once nothing is owed: the answer to a request node's parser refused. */
  finalAnswer: string | undefined;
}

const kState = Symbol('gatehouse.connectionState');
type TrackedSocket = Socket & { [kState]?: ConnectionState };

function stateOf(socket: Socket): ConnectionState {
  const tracked = socket as TrackedSocket;
  return (tracked[kState] ??= { owed: 0, isClosing: false, finalAnswer: undefined });
}

function onResponseClose(this: ServerResponse): void {
  const socket = this.req?.socket as TrackedSocket | undefined;
  const state = socket?.[kState];
  if (!socket || !state) return;
  state.owed--;
  if (state.owed === 0 && state.finalAnswer !== undefined) writeFinalAnswer(socket, state);
}

function writeFinalAnswer(socket: Socket, state: ConnectionState): void {
  const answer = state.finalAnswer as string;
  state.finalAnswer = '';
  if (answer && socket.writable) socket.end(answer);
  else socket.destroy();
}

/**
 * An HTTP/1.x request starts: false when the connection is closing and the request must be dropped
 * unanswered (the connection ends after the answers already owed).
 */
export function requestStarted(req: IncomingMessage, res: ServerResponse): boolean {
  const state = stateOf(req.socket);
  if (state.isClosing) return false;
  state.owed++;
  res.on('close', onResponseClose);
  return true;
}

/** The current request's answer closes the connection: nothing read after it is forwarded. */
export function closeAfter(req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
  stateOf(req.socket).isClosing = true;
}

/** Node's parser refused what followed: `answer` (a whole HTTP/1.1 response) goes after the answers owed, then the connection closes. False when the connection was answered so already. */
export function answerAndClose(socket: Socket, answer: string): boolean {
  const state = stateOf(socket);
  if (state.finalAnswer !== undefined) return false; // answered already (the parser reports its error again on each read)
  state.isClosing = true;
  state.finalAnswer = answer;
  if (state.owed === 0) writeFinalAnswer(socket, state);
  return true;
}
