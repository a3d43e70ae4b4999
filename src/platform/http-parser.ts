/**
 * node's own HTTP parser (llhttp) for responses from farm servers, and how it reads a socket: the request
 * path's side of platform/llhttp.ts, which loads and probes it. This module refuses to load when the
 * parser failed its probe (Gatehouse cannot forward without it: a clear error at start).
 *
 * - The parser's callback slots (kOn*) are wired here, by createResponseParser, and nowhere else.
 * - Reading: the fast path hands the socket's handle to the parser (`consume`, as node:http's server
 *   does), so reads go straight to C++ with no Buffer, stream push or 'data' event per read; back-pressure
 *   then stops and starts the handle's reads and the inactivity timer is refreshed by hand. The fallback
 *   feeds the parser from ordinary 'data' events (`execute`), with the stream's own pause/resume and
 *   timer: used when the loopback probe (llhttp.ts, probeSocketReads) finds consume, the handle's
 *   readStop/readStart or _unrefTimer misbehaving, or GATEHOUSE_PLATFORM_FALLBACKS names one of them.
 */
import type { Socket } from 'node:net';
import { LoadedParser, parserProbe, readsInParser, type ConsumableSocket, type HttpParser, type HttpParserClass } from './llhttp.js';

export type { HttpParser, HttpParserClass } from './llhttp.js';
export { readsInParser } from './llhttp.js';

if (!LoadedParser) throw new Error(parserProbe.reason);
export const HTTPParser: HttpParserClass = LoadedParser;

/** What a response parser tells its connection (the kOn* slots, with node's argument lists trimmed). */
export interface ResponseCallbacks {
  /** The first byte of a response. */
  onMessageBegin(): void;
  /** Header fields of a head too large for one read (the rest come with onHeadersComplete). */
  onHeaders(headers: string[]): void;
  /** The head: return 0 to read a body, 1 to skip it (HEAD), 2 to stop (upgrade). */
  onHeadersComplete(headers: string[] | undefined, statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number;
  onBody(chunk: Buffer): void;
  onMessageComplete(): void;
}

/** A parser for responses, heads up to `maxHeaderSize` bytes (longer: HPE_HEADER_OVERFLOW), calling `callbacks`. */
export function createResponseParser(maxHeaderSize: number, callbacks: ResponseCallbacks): HttpParser {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.RESPONSE, {}, maxHeaderSize, 0);
  parser[HTTPParser.kOnMessageBegin] = callbacks.onMessageBegin;
  parser[HTTPParser.kOnHeaders] = callbacks.onHeaders;
  const onHeadersComplete = callbacks.onHeadersComplete;
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, headers: string[] | undefined, _method: unknown, _url: unknown, statusCode: number, _message: string, upgrade: boolean, shouldKeepAlive: boolean) =>
    onHeadersComplete(headers, statusCode, upgrade, shouldKeepAlive);
  parser[HTTPParser.kOnBody] = callbacks.onBody;
  parser[HTTPParser.kOnMessageComplete] = callbacks.onMessageComplete;
  return parser;
}

/**
 * Makes `parser` read `socket` from now on; `afterRead` hears each read's result (bytes parsed or the
 * parse error) and calls afterSocketRead. False when the socket is gone already.
 */
export function readInto(parser: HttpParser, socket: Socket, afterRead: (result: number | Error) => void): boolean {
  if (readsInParser) {
    const handle = (socket as unknown as ConsumableSocket)._handle;
    if (!handle || typeof handle.readStart !== 'function') return false;
    parser[HTTPParser.kOnExecute] = afterRead;
    parser.consume(handle);
    return true;
  }
  if (socket.destroyed) return false;
  socket.on('data', (chunk: Buffer) => afterRead(parser.execute(chunk)));
  return true;
}

/**
 * Call after each read: a socket the parser reads in C++ refreshes its inactivity timer here (its reads
 * do not pass through node:net's JS); a fallback socket's stream did it already.
 */
export function afterSocketRead(socket: Socket): void {
  if (readsInParser) (socket as unknown as ConsumableSocket)._unrefTimer();
}

/** Back-pressure: stops the socket's reads (the handle's, when the parser reads it). */
export function pauseReads(socket: Socket): void {
  if (!readsInParser) {
    socket.pause();
    return;
  }
  const handle = (socket as unknown as ConsumableSocket)._handle;
  if (handle?.reading) {
    handle.reading = false;
    handle.readStop();
  }
}

export function resumeReads(socket: Socket): void {
  if (!readsInParser) {
    socket.resume();
    return;
  }
  const handle = (socket as unknown as ConsumableSocket)._handle;
  if (handle && !handle.reading) {
    handle.reading = true;
    handle.readStart();
  }
}
