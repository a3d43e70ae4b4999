/**
 * WebSocket over HTTP/2 (RFC 8441): an extended CONNECT (`:method CONNECT`, `:protocol websocket`) that
 * admission routed to a farm becomes an HTTP/1.1 WebSocket upgrade to the chosen server, which never
 * needs to speak HTTP/2. Gatehouse makes the Sec-WebSocket-Key the HTTP/2 client does not send (RFC 8441
 * §5) and checks the server's Sec-WebSocket-Accept against it; only then does the client get its 200 and
 * the stream carry bytes both ways. Any other answer of the server is passed on as an ordinary response.
 * The end is reported like any exchange (forward.ts's ExchangeOutcome), so the handler logs, counts and
 * traces it the same way; the stream is kept among the open tunnels for the drain.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import type { FarmServer } from '../farm/farm-server.js';
import { farmFailureOutcome, type OutcomeCode } from '../shared/outcome.js';
import type { ExchangeDone } from './forward.js';
import { startTunnelExchange } from './tunnel-exchange.js';
import { clientResponseHeaders, upstreamRequestHeaders, type AddedHeaders } from './request-headers.js';
import type { FarmRoute } from './site-runtime.js';
import type { Tunnels } from './tunnels.js';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** An HTTP/2 extended CONNECT asking for a WebSocket (RFC 8441 §4). */
export function isWebSocketConnect(req: IncomingMessage): boolean {
  return req.method === 'CONNECT' && req.headers[':protocol'] === 'websocket';
}

/** Response fields that belong to the HTTP/1.1 handshake, not to the HTTP/2 client's 200. */
const HANDSHAKE_FIELDS = new Set(['sec-websocket-accept', 'upgrade', 'connection']);

export function tunnelHttp2WebSocket(req: IncomingMessage, res: ServerResponse, route: FarmRoute, server: FarmServer, added: AddedHeaders, url: string, tunnels: Tunnels, listener: object, done: ExchangeDone): void {
  const protocol = route.farm.config.protocol;
  const key = randomBytes(16).toString('base64');
  const headers = upstreamRequestHeaders(req.headers, route.strippedHeaders, protocol, added);
  headers.push('Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', key);
  if (req.headers['sec-websocket-version'] === undefined) headers.push('Sec-WebSocket-Version', '13');
  const upstream = httpRequest({ host: server.host, port: server.port, method: 'GET', path: url, headers, setHost: false, agent: false, timeout: protocol.timeoutMs });
  const { exchange, end: endTunnel } = startTunnelExchange(server, headers, upstream, done);
  const timings = exchange.timings;
  const end = (code: OutcomeCode, error: Error | undefined, isConnectionError: boolean) => {
    // Failed before any answer: a 502.3 for the handler to send and log.
    if (code !== 'switched' && code !== 'forwarded' && code !== 'client_aborted' && exchange.status === 0) {
      exchange.status = 502;
      exchange.subStatus = 3;
    }
    endTunnel(code, error, isConnectionError);
  };
  const stream = (req as unknown as Http2ServerRequest).stream;
  const onClientGone = () => {
    upstream.destroy();
    end(exchange.status === 200 ? 'switched' : 'client_aborted', exchange.status === 200 ? undefined : new Error('the client closed the stream'), false);
  };
  stream.once('close', onClientGone);
  upstream.on('timeout', () => upstream.destroy(Object.assign(new Error(`the server did not answer within ${protocol.timeoutMs} ms`), { code: timings.connectedMs ? 'ERR_HEADERS_TIMEOUT' : 'ERR_CONNECT_TIMEOUT' })));
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    if (exchange.status === 0) end(farmFailureOutcome(error.code, false), error, true);
    else {
      stream.destroy();
      end(exchange.status === 200 ? 'switched' : 'response_aborted', error, true);
    }
  });
  upstream.on('upgrade', (answer: IncomingMessage, serverSocket: Socket, serverHead: Buffer) => {
    timings.firstByteMs = performance.now();
    const accept = createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
    if (answer.headers.upgrade?.trim().toLowerCase() !== 'websocket' || answer.headers['sec-websocket-accept'] !== accept) {
      serverSocket.destroy();
      const why = answer.headers['sec-websocket-accept'] !== accept ? 'its Sec-WebSocket-Accept does not answer the key Gatehouse sent' : `it switched to '${answer.headers.upgrade ?? ''}'`;
      return end('bad_response', Object.assign(new Error(`the server's 101 is not a WebSocket handshake: ${why}`), { code: 'ERR_BAD_UPGRADE' }), true);
    }
    const out = clientResponseHeaders(answer.rawHeaders);
    const kept: string[] = [];
    for (let i = 0; i + 1 < out.length; i += 2) if (!HANDSHAKE_FIELDS.has((out[i] as string).toLowerCase())) kept.push(out[i] as string, out[i + 1] as string);
    exchange.status = 200;
    serverSocket.setTimeout(0);
    res.writeHead(200, kept);
    tunnels.add(listener, stream);
    if (serverHead.length > 0) {
      exchange.bytes += serverHead.length;
      res.write(serverHead);
    }
    serverSocket.on('data', (chunk: Buffer) => (exchange.bytes += chunk.length));
    req.on('data', (chunk: Buffer) => (exchange.bytesReceived += chunk.length));
    serverSocket.pipe(res);
    req.pipe(serverSocket);
    serverSocket.once('error', () => stream.destroy());
    stream.once('close', () => serverSocket.destroy());
    serverSocket.once('close', () => {
      if (!res.writableEnded) res.end();
      end('switched', undefined, false);
    });
  });
  upstream.on('response', (answer: IncomingMessage) => {
    // The server did not switch: its answer, as for any request; the stream ends with it.
    timings.firstByteMs = performance.now();
    exchange.status = answer.statusCode ?? 0;
    try {
      res.writeHead(exchange.status, clientResponseHeaders(answer.rawHeaders));
    } catch (error) {
      answer.destroy();
      exchange.status = 0;
      return end('bad_response', error as Error, false);
    }
    answer.on('data', (chunk: Buffer) => (exchange.bytes += chunk.length));
    answer.on('end', () => end('forwarded', undefined, false));
    answer.on('aborted', () => {
      stream.destroy();
      end('response_aborted', new Error('the server closed the connection in the middle of the response'), true);
    });
    answer.pipe(res);
  });
  upstream.end();
}
