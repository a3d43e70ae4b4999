/**
 * forward: sends one request to a farm server through its keep-alive pool (upstream/) and streams the
 * response back, with back-pressure both ways. A failure before the response starts is retried once on
 * another server when that is safe (the request never reached the first server, or it is idempotent
 * and no body was sent); otherwise it becomes 502.3. A failure after the response started aborts the
 * client connection, so a broken body is never passed off as complete.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { ExchangeHandler } from '../shared/exchange.js';
import type { FarmServer } from '../farm/farm-server.js';
import type { RequestInfo } from '../farm/request-info.js';
import { clientResponseHeaders, reverseRewriteHost, upstreamRequestHeaders, type AddedHeaders } from './request-headers.js';
import type { BodyLimits, FarmRoute } from './site-runtime.js';
import { onBrokenBody } from './connection-state.js';
import { farmFailureOutcome, type OutcomeCode } from '../shared/outcome.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** A backend's `Arr-Disable-Session-Affinity: True` (ARR): no affinity cookie on this response. */
function disablesAffinity(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).length === 28 && (headers[i] as string).toLowerCase() === 'arr-disable-session-affinity') return (headers[i + 1] as string).trim().toLowerCase() === 'true';
  }
  return false;
}

/** What the handler needs to hear when the exchange ends. */
export interface ExchangeOutcome {
  status: number;
  subStatus: number;
  /** What happened (shared/outcome.ts), decided where it happened. */
  code: OutcomeCode;
  /** Response body bytes sent to the client. */
  bytes: number;
  server: FarmServer | undefined;
  /** Why the farm could not answer (for the log); undefined on success. */
  error: Error | undefined;
  /** The server that failed first, when a retry happened. */
  retriedFrom: FarmServer | undefined;
  /** Why the first server failed, when a retry happened. */
  retryCause: Error | undefined;
  /** Request body bytes read from the client. */
  bytesReceived: number;
  /** performance.now() marks of the last attempt: sent, connected, response headers, end. */
  readonly timings: ExchangeTimings;
  /** The headers sent to the server (flat name, value list) on the last attempt. */
  upstreamHeaders: readonly string[];
  /** The response headers passed on to the client (flat name, value list); empty before a response. Kept for a trace, read only if one is built. */
  responseHeaders: readonly string[];
}

export interface ExchangeTimings {
  sentMs: number;
  connectedMs: number;
  firstByteMs: number;
  endMs: number;
}

export type ExchangeDone = (outcome: ExchangeOutcome) => void;

const NO_BODY_LIMITS: BodyLimits = { maxBodyBytes: Number.POSITIVE_INFINITY, bodyTimeoutMs: 0 };

/** Characters a request target can never hold (a rule's rewrite is checked before it goes on the wire). */
const INVALID_TARGET = /[\s\x00-\x1f\x7f]/;

export class ProxyExchange implements ExchangeHandler {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #route: FarmRoute;
  /** The path and query sent to the server: the client's, or a rule's rewrite. */
  readonly #url: string;
  readonly #added: AddedHeaders;
  readonly #done: ExchangeDone;
  readonly #hasBody: boolean;
  #server: FarmServer;
  #retriedFrom: FarmServer | undefined;
  /** Request body bytes written to the current attempt's server; -1 before the body starts. */
  #bodyBytes = -1;
  #abort: ((error?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #isConnected = false;
  #isClientGone = false;
  /** The server's response could not be passed on (not a connection failure; not retried). */
  #isBadResponse = false;
  #bytes = 0;
  #status = 0;
  #isFinished = false;
  #onDrain: (() => void) | undefined;
  #attemptStartMs = 0;
  readonly #timings: ExchangeTimings = { sentMs: 0, connectedMs: 0, firstByteMs: 0, endMs: 0 };
  #upstreamHeaders: readonly string[] = [];
  #responseHeaders: readonly string[] = [];
  #retryCause: Error | undefined;
  readonly #request: RequestInfo;
  /** The site's maxAllowedContentLength: a body growing past it is cut (413). */
  readonly #maxBodyBytes: number;
  #isTooLarge = false;
  /** The site's requestBodyTimeout: the longest gap between two pieces of the body (408). */
  readonly #bodyTimeoutMs: number;
  #bodyTimer: NodeJS.Timeout | undefined;
  #isBodyTimedOut = false;

  constructor(req: IncomingMessage, res: ServerResponse, route: FarmRoute, server: FarmServer, request: RequestInfo, added: AddedHeaders, done: ExchangeDone, url = req.url as string, limits: BodyLimits = NO_BODY_LIMITS) {
    this.#req = req;
    this.#maxBodyBytes = limits.maxBodyBytes;
    this.#bodyTimeoutMs = limits.bodyTimeoutMs;
    this.#request = request;
    this.#res = res;
    this.#route = route;
    this.#url = url;
    this.#server = server;
    this.#added = added;
    this.#done = done;
    const headers = req.headers;
    const length = headers['content-length'];
    // HTTP/2 frames the body itself: a stream that did not end with its headers has one (maybe without a length).
    this.#hasBody = length !== undefined ? length !== '0' : headers['transfer-encoding'] !== undefined || ((req as unknown as Partial<Http2ServerRequest>).stream?.endAfterHeaders === false);
    // 'close' comes once per response: a plain listener, no once() wrapper per request.
    res.on('close', this.#onClientGone);
    // A body that turns out not to be HTTP (client-error.ts) ends the exchange before it reaches the server.
    if (this.#hasBody && res.req === req) onBrokenBody(res, this.#onClientGone);
  }

  readonly #onClientGone = (): void => {
    if (this.#isFinished) return;
    this.#isClientGone = true;
    this.#abort?.(new Error('client closed the connection, or its request body broke'));
  };

  start(): void {
    const req = this.#req;
    const url = this.#url;
    if (url !== this.#added.originalUrl && (INVALID_TARGET.test(url) || url.length === 0)) {
      this.#status = 502;
      this.#finish(new Error(`the request target ${JSON.stringify(url)} cannot be sent to a server (whitespace or control characters)`));
      return;
    }
    const server = this.#server;
    server.onRequestStart();
    this.#attemptStartMs = performance.now();
    this.#timings.sentMs = this.#attemptStartMs;
    this.#timings.connectedMs = 0;
    this.#timings.firstByteMs = 0;
    this.#isConnected = false;
    this.#bodyBytes = -1;
    const protocol = this.#route.farm.config.protocol;
    const headers = upstreamRequestHeaders(req.headers, this.#route.strippedHeaders, protocol, this.#added.serverHost === server.address ? this.#added : { ...this.#added, serverHost: server.address });
    this.#upstreamHeaders = headers;
    const method = req.method as string;
    const isChunked = this.#hasBody && req.headers['content-length'] === undefined;
    let head = `${method} ${url} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    head += isChunked ? 'transfer-encoding: chunked\r\n\r\n' : '\r\n';
    server.pool!.send({ head, isHead: method === 'HEAD', body: this.#hasBody ? req : undefined, isChunked, onBodyChunk: this.#hasBody ? this.#onBodyChunk : undefined }, this);
  }

  readonly #onBodyChunk = (bytes: number): boolean => {
    const total = this.#bodyBytes < 0 ? bytes : this.#bodyBytes + bytes;
    if (total > this.#maxBodyBytes) {
      // Cut before the server sees the body's end; its connection is closed, never reused.
      this.#isTooLarge = true;
      this.#abort?.(new Error(`the request body grew past maxAllowedContentLength (${this.#maxBodyBytes} bytes)`));
      return false;
    }
    this.#bodyBytes = total;
    this.#bodyTimer?.refresh();
    return true;
  };

  /** requestBodyTimeout: armed once the server is connected (the body flows from then on), until the body ends. */
  #watchBody(): void {
    if (!this.#hasBody || this.#bodyTimeoutMs <= 0 || this.#bodyTimer || this.#req.readableEnded) return;
    this.#bodyTimer = setTimeout(this.#onBodyTimeout, this.#bodyTimeoutMs);
    this.#req.once('end', this.#stopWatchingBody);
  }

  readonly #stopWatchingBody = (): void => {
    if (this.#bodyTimer) clearTimeout(this.#bodyTimer);
  };

  readonly #onBodyTimeout = (): void => {
    if (this.#isFinished || this.#req.readableEnded) return;
    this.#isBodyTimedOut = true;
    this.#abort?.(new Error(`no request body bytes for ${this.#bodyTimeoutMs} ms (requestBodyTimeout)`));
  };

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    this.#isConnected = true;
    this.#watchBody();
    this.#timings.connectedMs = performance.now();
    if (this.#isClientGone) abort(new Error('client closed the connection'));
  }

  /**
   * 103 Early Hints from the server: its Link fields go to the client at once, unless the client speaks
   * HTTP/1.0 (no 1xx, RFC 9110 §15.2) or its response waits behind a pipelined one (a hint is only a hint).
   */
  onInformational(statusCode: number, rawHeaders: string[]): void {
    const res = this.#res;
    const req = this.#req;
    if (statusCode !== 103 || res.headersSent || (req.httpVersionMajor === 1 && (req.httpVersionMinor === 0 || !res.socket))) return;
    const links: string[] = [];
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      if ((rawHeaders[i] as string).length === 4 && (rawHeaders[i] as string).toLowerCase() === 'link') links.push(rawHeaders[i + 1] as string);
    }
    if (links.length > 0) res.writeEarlyHints({ link: links });
  }

  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void): boolean {
    this.#status = statusCode;
    this.#resume = resume;
    this.#timings.firstByteMs = performance.now();
    const headers = clientResponseHeaders(rawHeaders);
    if (this.#route.farm.config.protocol.reverseRewriteHostInResponseHeaders && this.#req.headers.host) {
      reverseRewriteHost(headers, this.#server.address, `${this.#added.isHttps ? 'https' : 'http'}://${this.#req.headers.host}`);
    }
    const affinity = this.#route.farm.affinity;
    if (affinity && (this.#added.isNewAffinity || (this.#retriedFrom !== undefined && affinity.usesCookie)) && !disablesAffinity(headers)) {
      headers.push('Set-Cookie', affinity.setCookieFor(this.#server, this.#added.isHttps));
    }
    this.#responseHeaders = headers;
    try {
      this.#res.writeHead(statusCode, headers);
    } catch (error) {
      // A header the client's protocol cannot carry (HTTP/2 refuses some that HTTP/1.1 allows): a bad gateway answer.
      this.#status = 0;
      this.#isBadResponse = true;
      this.#abort?.(error as Error);
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    if (this.#res.write(chunk)) return true;
    this.#onDrain ??= () => this.#resume?.();
    this.#res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(last: Buffer | undefined): void {
    if (last === undefined) this.#res.end();
    else {
      this.#bytes += last.length;
      this.#res.end(last);
    }
    this.#endAttempt(false);
    this.#finish(undefined);
  }

  onError(error: Error): void {
    if (this.#isFinished) return;
    const server = this.#server;
    // The client's request body broke (it left, or sent bytes that are not HTTP): the client's doing, never
    // a failure of the server's (a hostile client must not be able to mark servers unhealthy).
    if ((error as { code?: string }).code === 'ERR_CLIENT_ABORTED') this.#isClientGone = true;
    if (this.#isTooLarge || this.#isBodyTimedOut) {
      // The client's doing: not a failure of the server's. Before the response: 413 or 408; after: the stream is cut.
      this.#endAttempt(false);
      if (this.#status !== 0) this.#res.destroy(error);
      else this.#status = this.#isTooLarge ? 413 : 408;
      this.#finish(error);
      return;
    }
    if (this.#status !== 0) {
      // The response had started: cut the client connection so the truncation is visible to it.
      this.#endAttempt(!this.#isClientGone);
      this.#res.destroy(error);
      this.#finish(error);
      return;
    }
    this.#endAttempt(!this.#isClientGone && !this.#isBadResponse);
    if (this.#isClientGone) {
      this.#finish(error);
      return;
    }
    const isBodyStarted = this.#bodyBytes >= 0;
    const isSafe = !isBodyStarted && (!this.#isConnected || IDEMPOTENT.has(this.#req.method as string));
    const next = this.#retriedFrom === undefined && isSafe && !this.#isBadResponse ? this.#route.farm.pick(this.#request, server) : undefined;
    if (next) {
      this.#retriedFrom = server;
      this.#retryCause = error;
      this.#route.farm.affinity?.repin(this.#request, this.#added.certificateKey, next);
      this.#server = next;
      this.start();
      return;
    }
    this.#status = 502;
    this.#finish(error);
  }

  /** Reports the current attempt to its server (counters, response time, live-traffic health). */
  #endAttempt(isConnectionError: boolean): void {
    this.#server.onRequestEnd({
      status: this.#status,
      responseTimeMs: performance.now() - this.#attemptStartMs,
      bytesSent: Math.max(this.#bodyBytes, 0),
      bytesReceived: this.#bytes,
      isConnectionError,
    });
  }

  /** The outcome code of the exchange, from the state it ended in and the error's code (never its text). */
  #codeOf(error: Error | undefined): OutcomeCode {
    if (!error) return 'forwarded';
    if (this.#isTooLarge) return 'content_too_large';
    if (this.#isBodyTimedOut) return 'request_timeout';
    if (this.#isClientGone) return 'client_aborted';
    if (this.#isBadResponse) return 'bad_response';
    return farmFailureOutcome((error as { code?: string }).code, this.#timings.firstByteMs > 0);
  }

  #finish(error: Error | undefined): void {
    if (this.#isFinished) return;
    this.#isFinished = true;
    if (this.#bodyTimer) clearTimeout(this.#bodyTimer);
    this.#timings.endMs = performance.now();
    this.#done({
      status: this.#status,
      subStatus: this.#status === 502 ? 3 : this.#status === 413 ? 13 : 0,
      code: this.#codeOf(error),
      bytes: this.#bytes,
      server: this.#server,
      error,
      retriedFrom: this.#retriedFrom,
      retryCause: this.#retryCause,
      bytesReceived: Math.max(this.#bodyBytes, 0),
      timings: this.#timings,
      upstreamHeaders: this.#upstreamHeaders,
      responseHeaders: this.#responseHeaders,
    });
  }
}
