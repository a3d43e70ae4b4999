/**
 * One keep-alive HTTP/1.1 connection to a farm server, carrying one exchange at a time. Requests are
 * written as one head string (and the body as it arrives, with back-pressure); responses are parsed by
 * node's own HTTP parser (llhttp, the one node:http uses), so framing (Content-Length, chunked,
 * close-delimited, HEAD, 1xx, 204/304) follows the same strict rules as node:http.
 *
 * This replaces a general-purpose client on the request path: a proxy sends each request once, to a known
 * server, with headers it has already checked, so it needs none of a client's request objects, header
 * re-validation or promise plumbing. Health tests keep using undici.
 */
import { connect, type Socket } from 'node:net';
import { afterSocketRead, createResponseParser, pauseReads, readInto, resumeReads, type HttpParser } from '../../platform/http-parser.js';
import type { ExchangeHandler, OutgoingRequest } from '../../shared/exchange.js';

export class UpstreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/** Pool callbacks: a connection that can carry another request, or one that is gone. */
export interface ConnectionOwner {
  release(connection: ServerConnection): void;
  forget(connection: ServerConnection): void;
}

/** ARR's maxResponseHeaderSize default. */
const MAX_HEADER_SIZE = 64 * 1024;
/** `Keep-Alive: timeout=N` from the server: reuse the connection only within N s minus this margin. */
const KEEP_ALIVE_MARGIN_MS = 1000;

export class ServerConnection {
  readonly socket: Socket;
  /** Whether a request has been written on it before (a reused connection may have been closed by the server). */
  hasCarried = false;
  /** performance.now() after which the server may have closed it while idle. */
  reusableUntilMs = Infinity;
  #isConnected = false;
  #handler: ExchangeHandler | undefined;
  #request: OutgoingRequest | undefined;
  #parser: HttpParser;
  /** maxResponseHeaderSize: a longer response head is refused (HPE_HEADER_OVERFLOW, 502.3). */
  readonly #maxHeaderSize: number;
  #headers: string[] = [];
  /**
   * The newest body chunk of the current read, held until the parser says whether the message ends in the
   * same read: then it goes with onComplete, so the client's response is ended with it (one write, no
   * extra stream turn) instead of written and then ended.
   */
  #heldChunk: Buffer | undefined;
  #status = 0;
  #isKeepAlive = false;
  #isRequestDone = false;
  #isResponseDone = false;
  #isBodyPaused = false;
  #isDead = false;
  /** The server sent bytes no request asked for: the connection can never be trusted again. */
  #isOutOfStep = false;
  /** Detaches the current request body's listeners (when the exchange ends before the body does). */
  #detachBody: (() => void) | undefined;
  readonly #owner: ConnectionOwner;
  readonly #timeoutMs: number;
  readonly #keepAliveMs: number;

  constructor(host: string, port: number, owner: ConnectionOwner, timeoutMs: number, keepAliveMs: number, maxHeaderSize = MAX_HEADER_SIZE) {
    this.#owner = owner;
    this.#maxHeaderSize = maxHeaderSize;
    this.#timeoutMs = timeoutMs;
    this.#keepAliveMs = keepAliveMs;
    this.socket = connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
    // One inactivity timer for the connection's life: connect, response headers, each body chunk, and idle keep-alive.
    this.socket.setTimeout(timeoutMs);
    this.#parser = this.#newParser();
    this.socket.once('connect', () => {
      this.#isConnected = true;
      this.#consume();
      if (this.#handler) this.#write();
    });
    this.socket.on('end', () => this.#onEnd());
    this.socket.on('timeout', () => this.#onTimeout());
    this.socket.on('error', (error: Error) => this.#fail(error));
    this.socket.on('close', () => this.#onClose());
  }

  get isIdle(): boolean {
    return this.#handler === undefined && !this.#isDead;
  }

  /** Starts an exchange on this connection (now, or once it is connected). */
  send(request: OutgoingRequest, handler: ExchangeHandler): void {
    this.#handler = handler;
    this.#request = request;
    this.#headers = [];
    this.#status = 0;
    this.#isKeepAlive = false;
    this.#isRequestDone = false;
    this.#isResponseDone = false;
    if (this.#isConnected) this.#write();
  }

  /** Closes it now when idle; a busy one closes when its exchange ends (the pool no longer takes it back). */
  close(): void {
    if (this.#handler) return; // the exchange ends it: see #finishExchange
    this.#isDead = true;
    this.socket.destroy();
  }

  destroy(error?: Error): void {
    this.#isDead = true;
    this.socket.destroy(error);
  }

  #newParser(): HttpParser {
    return createResponseParser(this.#maxHeaderSize, {
      // The first byte of a response while none is awaited (idle, or after this exchange's response ended,
      // even in the same read): the server is out of step, and the connection is dropped after this read.
      onMessageBegin: () => {
        if (!this.#handler || this.#isResponseDone) this.#isOutOfStep = true;
      },
      onHeaders: (headers: string[]) => {
        for (let i = 0; i < headers.length; i++) this.#headers.push(headers[i] as string);
      },
      onHeadersComplete: (headers, statusCode, upgrade, shouldKeepAlive) => this.#onHeadersComplete(headers, statusCode, upgrade, shouldKeepAlive),
      onBody: (chunk: Buffer) => this.#onBody(chunk),
      onMessageComplete: () => this.#onMessageComplete(),
    });
  }

  #write(): void {
    const request = this.#request as OutgoingRequest;
    const handler = this.#handler as ExchangeHandler;
    this.hasCarried = true;
    handler.onConnect((error?: Error) => this.#abort(error));
    if (this.#handler !== handler) return; // aborted in onConnect
    const socket = this.socket;
    const body = request.body;
    if (!body) {
      socket.write(request.head, 'latin1');
      this.#isRequestDone = true;
      return;
    }
    // The head waits (corked) for the body: it leaves with the whole body when that ends, or after the
    // read that brought the first body bytes. A body that breaks in the read that brought its head (a bad
    // chunk, data past a chunk's size) aborts the exchange while nothing has reached the server, and a
    // small body leaves in one write with its head.
    socket.cork();
    socket.write(request.head, 'latin1');
    let isHeadCorked = true;
    let isHeadScheduled = false;
    const sendHead = () => {
      if (!isHeadCorked) return;
      isHeadCorked = false;
      socket.uncork();
    };
    const isChunked = request.isChunked;
    const onBodyChunk = request.onBodyChunk;
    const onDrain = () => body.resume();
    const onChunk = (chunk: Buffer) => {
      if (this.#handler !== handler) return;
      if (onBodyChunk?.(chunk.length) === false || this.#handler !== handler) return;
      if (chunk.length === 0) return;
      let isFlowing: boolean;
      if (isChunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        isFlowing = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else isFlowing = socket.write(chunk);
      if (!isHeadScheduled) {
        isHeadScheduled = true;
        setImmediate(sendHead);
      }
      if (!isFlowing) {
        body.pause();
        socket.once('drain', onDrain);
      }
    };
    const onEnd = () => {
      cleanup();
      if (this.#handler !== handler) return;
      if (isChunked) socket.write('0\r\n\r\n', 'latin1');
      sendHead();
      this.#isRequestDone = true;
      if (this.#isResponseDone) this.#finishExchange();
    };
    const onAborted = () => {
      cleanup();
      if (this.#handler === handler) this.#abort(new UpstreamError('ERR_CLIENT_ABORTED', 'the client stopped sending the request body'));
    };
    const cleanup = () => {
      if (this.#detachBody === cleanup) this.#detachBody = undefined;
      // Paused, not left flowing without a listener: a retry on another server may still read it.
      if (!body.readableEnded) body.pause();
      body.off('data', onChunk);
      body.off('end', onEnd);
      body.off('error', onAborted);
      body.off('close', onClosedEarly);
      socket.off('drain', onDrain);
    };
    const onClosedEarly = () => {
      if (!body.readableEnded) onAborted();
    };
    this.#detachBody = cleanup;
    body.on('data', onChunk);
    body.on('end', onEnd);
    body.on('error', onAborted);
    body.on('close', onClosedEarly);
    body.resume();
  }

  /**
   * From here the parser reads the socket (platform/http-parser.ts: in C++ where node allows, as node:http's
   * server reads its clients; else from 'data' events). EOF and read errors still reach the socket.
   */
  #consume(): void {
    readInto(this.#parser, this.socket, (result) => this.#afterRead(result));
  }

  /** After the parser has read and parsed one chunk from the socket. */
  #afterRead(result: number | Error): void {
    afterSocketRead(this.socket);
    if (this.#heldChunk !== undefined) this.#flushHeldChunk();
    if (this.#isOutOfStep) {
      this.#fail(new UpstreamError('ERR_OUT_OF_STEP', 'the server sent a response no request asked for (a second answer to one request, or bytes while idle)'));
      return;
    }
    if (result instanceof Error) {
      const code = (result as Error & { code?: string }).code ?? 'HPE_INVALID';
      const why = code === 'HPE_HEADER_OVERFLOW' ? `the server's response head is larger than maxResponseHeaderSize (${this.#maxHeaderSize} bytes)` : `the server's response is not valid HTTP/1.1 (${code}${(result as Error & { reason?: string }).reason ? `: ${(result as Error & { reason?: string }).reason}` : ''})`;
      this.#fail(new UpstreamError(code, why));
    }
  }

  #onHeadersComplete(headers: string[] | undefined, statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number {
    const handler = this.#handler;
    if (!handler || this.#isResponseDone) {
      this.#isOutOfStep = true;
      return 1;
    }
    if (headers) for (let i = 0; i < headers.length; i++) this.#headers.push(headers[i] as string);
    const list = this.#headers;
    this.#headers = [];
    if (statusCode < 200) {
      if (statusCode === 101 || upgrade) {
        this.#fail(new UpstreamError('ERR_UNEXPECTED_UPGRADE', `the server switched protocols (${statusCode}) on a request that did not ask to`));
        return 2;
      }
      // 103 Early Hints is passed on (RFC 9110 §15.2: a proxy forwards 1xx); 100 Continue is the proxy's own
      // business with its client, and 102 is obsolete. The final response follows.
      if (statusCode === 103) handler.onInformational?.(statusCode, list);
      return 1;
    }
    if (upgrade) {
      this.#fail(new UpstreamError('ERR_UNEXPECTED_UPGRADE', 'the server switched protocols on a request that did not ask to'));
      return 2;
    }
    this.#status = statusCode;
    this.#isKeepAlive = shouldKeepAlive;
    if (shouldKeepAlive) this.reusableUntilMs = keepAliveDeadline(list, this.#keepAliveMs);
    const isFlowing = handler.onHeaders(statusCode, list, this.#resume);
    if (!isFlowing && this.#handler === handler) this.#pause();
    return this.#request?.isHead ? 1 : 0;
  }

  #onBody(chunk: Buffer): void {
    const handler = this.#handler;
    if (!handler || this.#isResponseDone) {
      this.#isOutOfStep = true;
      return;
    }
    if (this.#status === 0) return;
    if (this.#heldChunk !== undefined) this.#flushHeldChunk();
    this.#heldChunk = chunk;
  }

  #flushHeldChunk(): void {
    const chunk = this.#heldChunk as Buffer;
    this.#heldChunk = undefined;
    const handler = this.#handler;
    if (handler && !this.#isResponseDone && !handler.onData(chunk) && this.#handler === handler) this.#pause();
  }

  #onMessageComplete(): void {
    if (!this.#handler || this.#isResponseDone) {
      this.#isOutOfStep = true;
      return;
    }
    if (this.#status === 0) return; // the end of a 1xx
    this.#isResponseDone = true;
    const handler = this.#handler;
    const last = this.#heldChunk;
    this.#heldChunk = undefined;
    if (this.#isRequestDone) this.#finishExchange();
    else {
      // The server answered before the whole body was sent: the connection cannot carry another request.
      this.#isKeepAlive = false;
      this.#finishExchange();
    }
    handler.onComplete(last);
  }

  // Back-pressure on the server's reads (pausing the socket's stream would not stop a parser reading its handle).
  readonly #resume = (): void => {
    if (!this.#isBodyPaused) return;
    this.#isBodyPaused = false;
    resumeReads(this.socket);
  };

  #pause(): void {
    this.#isBodyPaused = true;
    pauseReads(this.socket);
  }

  /** The exchange is over: the connection goes back to the pool, or away. */
  #finishExchange(): void {
    this.#handler = undefined;
    this.#heldChunk = undefined;
    this.#detachBody?.();
    this.#request = undefined;
    if (this.#isBodyPaused) this.#resume();
    if (this.#isKeepAlive && this.#isRequestDone && !this.#isDead) this.#owner.release(this);
    else this.destroy();
  }

  #abort(error?: Error): void {
    const handler = this.#handler;
    if (!handler) return;
    this.#handler = undefined;
    this.#heldChunk = undefined;
    this.#detachBody?.();
    this.destroy();
    handler.onError(error ?? new UpstreamError('ERR_ABORTED', 'the request was aborted'));
  }

  #onEnd(): void {
    // A close-delimited body ends here; otherwise the server closed an idle or a busy connection.
    if (this.#handler && this.#status !== 0) this.#parser.finish();
    if (this.#handler) this.#fail(new UpstreamError('ECONNABORTED', this.#status === 0 ? 'the server closed the connection before answering' : 'the server closed the connection in the middle of the response'));
    else this.destroy();
  }

  #onTimeout(): void {
    if (!this.#handler) {
      this.destroy(); // idle for the whole timeout
      return;
    }
    const code = !this.#isConnected ? 'ERR_CONNECT_TIMEOUT' : this.#status === 0 ? 'ERR_HEADERS_TIMEOUT' : 'ERR_BODY_TIMEOUT';
    const what = !this.#isConnected ? 'connect' : this.#status === 0 ? 'answer (response headers)' : 'send more of the response body';
    this.#fail(new UpstreamError(code, `the server did not ${what} within ${this.#timeoutMs} ms`));
  }

  #fail(error: Error): void {
    const handler = this.#handler;
    this.#handler = undefined;
    this.#heldChunk = undefined;
    this.#detachBody?.();
    this.destroy();
    handler?.onError(error);
  }

  #onClose(): void {
    this.#isDead = true;
    // Not from node's parser pool: close() frees it (free() is for pooled parsers). 'close' is always
    // emitted after the parser's callbacks have returned.
    this.#parser.close();
    this.#owner.forget(this);
    const handler = this.#handler;
    if (handler) {
      this.#handler = undefined;
      this.#detachBody?.();
      handler.onError(new UpstreamError('ECONNABORTED', 'the connection to the server closed'));
    }
  }
}

/** When a kept-alive connection stops being safe to reuse: our own limit, or the server's `Keep-Alive: timeout=N` less a margin. */
function keepAliveDeadline(headers: readonly string[], keepAliveMs: number): number {
  let ms = keepAliveMs;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length !== 10 || name.toLowerCase() !== 'keep-alive') continue;
    ms = Math.min(ms, keepAliveHintMs(headers[i + 1] as string));
  }
  return performance.now() + ms;
}

/** The last Keep-Alive value seen and what it allows, ms (a server sends the same value on every response). */
let lastHint = '';
let lastHintMs = Infinity;

function keepAliveHintMs(value: string): number {
  if (value !== lastHint) {
    const match = /timeout\s*=\s*(\d+)/i.exec(value);
    lastHint = value;
    lastHintMs = match ? Number(match[1]) * 1000 - KEEP_ALIVE_MARGIN_MS : Infinity;
  }
  return lastHintMs;
}
