/**
 * The bookkeeping of a WebSocket tunnel to a farm server (upgrade.ts over HTTP/1.1, websocket-h2.ts over
 * HTTP/2): one request on the server for the life of the tunnel, and one ExchangeOutcome that the access
 * log, metrics and trace read like any exchange's (bytes are the tunnel's, both ways).
 */
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { FarmServer } from '../farm/farm-server.js';
import type { OutcomeCode } from '../shared/outcome.js';
import type { ExchangeOutcome } from './forward.js';

export interface TunnelExchange {
  readonly exchange: ExchangeOutcome;
  /** The tunnel (or the attempt) is over, once: the server's counters, then `onEnd`. */
  end(code: OutcomeCode, error: Error | undefined, isConnectionError: boolean): void;
}

/** Counts the request on `server` now; `upstream`'s connect is timed; `onEnd` hears the end once. */
export function startTunnelExchange(server: FarmServer, upstreamHeaders: readonly string[], upstream: ClientRequest, onEnd: (exchange: ExchangeOutcome) => void): TunnelExchange {
  server.onRequestStart();
  const timings = { sentMs: performance.now(), connectedMs: 0, firstByteMs: 0, endMs: 0 };
  const exchange: ExchangeOutcome = { status: 0, subStatus: 0, code: 'switched', bytes: 0, server, error: undefined, retriedFrom: undefined, retryCause: undefined, bytesReceived: 0, timings, upstreamHeaders, responseHeaders: [] };
  upstream.once('socket', (socket: Socket) => socket.once('connect', () => (timings.connectedMs = performance.now())));
  let ended = false;
  return {
    exchange,
    end(code, error, isConnectionError) {
      if (ended) return;
      ended = true;
      timings.endMs = performance.now();
      exchange.code = code;
      exchange.error = error;
      server.onRequestEnd({ status: exchange.status, responseTimeMs: timings.endMs - timings.sentMs, bytesSent: exchange.bytesReceived, bytesReceived: exchange.bytes, isConnectionError });
      onEnd(exchange);
    },
  };
}
