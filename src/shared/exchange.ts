/**
 * One exchange with a farm server, as a contract: the request the request path hands over
 * (OutgoingRequest), what it hears back (ExchangeHandler), and a server's keep-alive connections that
 * carry them (ConnectionPool). proxy/upstream/ implements it, proxy/forward.ts uses it, and a farm server
 * (farm/farm-server.ts) holds its pool by it, so farm/ needs nothing of proxy/.
 *
 * A leaf module: it imports nothing of Gatehouse.
 */
import type { Readable } from 'node:stream';

/** What an exchange hears from its connection (undici's raw handler shape, with string headers). */
export interface ExchangeHandler {
  /** The request is about to be written on a connected socket; `abort` ends the exchange with an error. */
  onConnect(abort: (error?: Error) => void): void;
  /** An informational response (103 Early Hints) before the final one. */
  onInformational?(statusCode: number, headers: string[]): void;
  /** Response head (final status, not 1xx); false pauses the body until `resume`. */
  onHeaders(statusCode: number, headers: string[], resume: () => void): boolean;
  /** A chunk of the response body; false pauses until `resume`. */
  onData(chunk: Buffer): boolean;
  /** The response is complete; `last` is its final body chunk when it came in the same read as the end (end it with it). */
  onComplete(last: Buffer | undefined): void;
  /** Called at most once, and never after onComplete. */
  onError(error: Error): void;
}

/** A request, ready to write: `head` is the request line and headers, ending with the blank line. */
export interface OutgoingRequest {
  readonly head: string;
  readonly isHead: boolean;
  /** The client's body, streamed as it arrives; undefined for none. */
  readonly body: Readable | undefined;
  /** Frame the body as chunked (the client sent no length). */
  readonly isChunked: boolean;
  /** Told of each body chunk before it is written (bytes), for counters and retry safety; false: do not write it (the exchange is being aborted). */
  readonly onBodyChunk: ((bytes: number) => boolean) | undefined;
}

/** A server's keep-alive connections for proxied requests (proxy/upstream/server-pool.ts's ServerPool). */
export interface ConnectionPool {
  /** Open connections (idle and busy). */
  readonly size: number;
  /** Sends a request on an idle connection, or on a new one. */
  send(request: OutgoingRequest, handler: ExchangeHandler): void;
  /** No new requests are expected: idle connections close now, busy ones after their exchange. */
  close(): Promise<void>;
  /** Closes every connection now. */
  destroy(): Promise<void>;
}
