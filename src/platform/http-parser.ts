/**
 * node's own HTTP parser (llhttp, through node:http's `_http_common` module) for responses from farm
 * servers, and how it reads a socket. Not in node's public API, so it lives here and nowhere else:
 *
 * - The parser itself is probed when this module loads, by behaviour: a canned chunked response must
 *   produce head, body and end callbacks in that order. Without it Gatehouse cannot start (clear error).
 * - Reading: the fast path hands the socket's handle to the parser (`consume`, as node:http's server
 *   does), so reads go straight to C++ with no Buffer, stream push or 'data' event per read; back-pressure
 *   then stops and starts the handle's reads and the inactivity timer is refreshed by hand. The fallback
 *   feeds the parser from ordinary 'data' events (`execute`), with the stream's own pause/resume and
 *   timer. It is used when `consume` or the handle methods are missing, or when
 *   GATEHOUSE_PLATFORM_FALLBACKS lists `consume` (tests force it that way).
 */
import { createRequire } from 'node:module';
import { Socket } from 'node:net';

export interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | Error;
  /** Reads the socket's handle in C++ (node:http's server does this): no JS read path, no read buffer per chunk. */
  consume(handle: unknown): void;
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}
export interface HttpParserClass {
  new (): HttpParser;
  readonly prototype: HttpParser;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kOnExecute: number;
}
/** What a consumed socket needs of node:net's internals (as node:http's server uses them). */
interface ConsumableSocket {
  _handle: { reading?: boolean; readStart(): number; readStop(): number } | null;
  /** Refreshes the socket's inactivity timer: reads through the parser do not pass through node:net's JS. */
  _unrefTimer(): void;
}

function loadParser(): HttpParserClass {
  const parser = (createRequire(import.meta.url)('_http_common') as { HTTPParser?: HttpParserClass }).HTTPParser;
  const problem = `this Node.js version (${process.version}) does not provide node:http's HTTP parser (_http_common.HTTPParser) as Gatehouse uses it for its connections to farm servers`;
  if (typeof parser !== 'function' || typeof parser.kOnHeadersComplete !== 'number' || typeof parser.kOnBody !== 'number' || typeof parser.kOnMessageComplete !== 'number') throw new Error(problem);
  // Behaviour: a chunked response gives head, body, end, in that order.
  const seen: string[] = [];
  const probe = new parser();
  probe.initialize(parser.RESPONSE, {}, 16_384, 0);
  probe[parser.kOnHeadersComplete] = (_major: number, _minor: number, _headers: unknown, _method: unknown, _url: unknown, status: number) => {
    seen.push(`head ${status}`);
    return 0;
  };
  probe[parser.kOnBody] = (chunk: Buffer) => void seen.push(`body ${chunk.toString('latin1')}`);
  probe[parser.kOnMessageComplete] = () => void seen.push('end');
  const result = probe.execute(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n', 'latin1'));
  probe.close();
  if (result instanceof Error || seen.join('|') !== 'head 200|body ok|end') throw new Error(`${problem} (a canned response parsed as ${JSON.stringify(seen)})`);
  return parser;
}

export const HTTPParser = loadParser();

const forced = (process.env['GATEHOUSE_PLATFORM_FALLBACKS'] ?? '').split(',').map((name) => name.trim());

/** Whether sockets are read by the parser in C++ (false: the 'data'-event fallback). */
export const readsInParser =
  !forced.includes('consume') &&
  typeof HTTPParser.kOnExecute === 'number' &&
  typeof HTTPParser.prototype.consume === 'function' &&
  typeof (Socket.prototype as unknown as Partial<ConsumableSocket>)._unrefTimer === 'function';

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
