/**
 * Upgraded connections. Only WebSocket is tunnelled: the request passes the same admission as any other
 * (admission.ts: head, binding, door, target, rules), a server is chosen the same way (affinity,
 * algorithm), the same ARR headers are added, and the request goes to the server alone. Bytes flow both
 * ways only after the server's 101 names `websocket`; until then nothing the client sent after its request
 * head reaches the server. Any other answer is passed on as an ordinary response, and the connection
 * closes. Counted on the server as one request for the life of the connection.
 *
 * Any other upgrade (`h2c` with HTTP2-Settings, made-up tokens) is never tunnelled: its Upgrade and
 * HTTP2-Settings fields and their Connection tokens are dropped and the request goes back to node's
 * HTTP/1.1 server as an ordinary one on the same connection (request smuggling through h2c: the client's
 * HTTP/2 preface would otherwise reach the server past the proxy).
 */
import { request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { EventLog } from '../tracing/log.js';
import { admit } from './admission.js';
import { afterOwed } from './connection-state.js';
import { closingAnswer } from './local-response.js';
import type { ListenerRuntime } from './listener.js';
import { clientAddressOf, IncomingRequestInfo } from './request-info.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './request-headers.js';

function refuse(socket: Duplex, status: number, subStatus: number): void {
  socket.end(closingAnswer(status, subStatus));
}

/** The one upgrade Gatehouse tunnels. */
function isWebSocket(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'websocket';
}

const UPGRADE_TOKENS = /^(?:upgrade|http2-settings)$/i;

/**
 * Gives a request node took for an upgrade back to the HTTP/1.1 server as an ordinary request: its head
 * is written again without the upgrade fields and put back in front of the bytes that followed it, and
 * the connection is handed to the server's own connection listener (the first one, registered by node's
 * constructor; Gatehouse's TLS listeners come later and have seen this connection already). Node parsed
 * and checked this head, so it is written from its parsed fields as they came.
 */
function reinjectAsPlain(listener: ListenerRuntime, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const server = listener.server;
  const [connectionListener] = server ? server.listeners(listener.isHttps ? 'secureConnection' : 'connection') : [];
  if (typeof connectionListener !== 'function') {
    refuse(socket, 400, 0);
    return;
  }
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (UPGRADE_TOKENS.test(name)) continue;
    let value = raw[i + 1] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && !UPGRADE_TOKENS.test(token))
        .join(', ');
      if (value === '') continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  text += '\r\n';
  if (head.length > 0) socket.unshift(head);
  socket.unshift(Buffer.from(text, 'latin1'));
  (connectionListener as (socket: Duplex) => void).call(server, socket);
}

export function createUpgradeHandler(listener: ListenerRuntime, eventLog: EventLog): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!isWebSocket(req.headers.upgrade)) return reinjectAsPlain(listener, req, socket, head);
    const admission = admit(listener, req, false);
    if (admission.kind === 'drop') return void socket.destroy();
    if (admission.kind === 'refuse') {
      eventLog.warn(`${admission.status}.${admission.subStatus} upgrade client ${clientAddressOf(req, true)} site ${admission.site?.name ?? '-'} ${req.method} ${req.url}: ${admission.reason}`);
      return refuse(socket, admission.status, admission.subStatus);
    }
    // The site's rules decide as for any request: a redirect or a fixed answer refuses the upgrade.
    if (admission.kind === 'redirect') return refuse(socket, 403, 0);
    if (admission.kind === 'respond') return refuse(socket, admission.action.status, admission.action.subStatus);
    const { site, tls, route } = admission;
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
      eventLog.warn(`400 upgrade client ${clientAddressOf(req, true)} site ${site.name} ${req.method} ${req.url}: a WebSocket upgrade request carries a body`);
      return refuse(socket, 400, 0);
    }
    const farm = route.farm;
    const request = new IncomingRequestInfo(req);
    const server = farm.affinity ? farm.affinity.decide(request, tls?.certificate?.thumbprintSha256).server : farm.pick(request);
    if (!server) {
      eventLog.warn(`502.4 upgrade ${req.url} site ${site.name}: no server available in farm ${farm.name}`);
      return refuse(socket, 502, 4);
    }
    const protocol = farm.config.protocol;
    const headers = upstreamRequestHeaders(req.headers, route.strippedHeaders, protocol, {
      clientAddress: clientAddressOf(req, protocol.includePortInXForwardedFor),
      sslValue: tls?.sslValue,
      certificateHeaders: tls ? route.certificateHeadersFor(tls) : [],
      logId: randomUUID(),
      signature: undefined,
      isHttps: tls !== undefined,
      serverHost: server.address,
      isNewAffinity: false,
      certificateKey: undefined,
      originalUrl: admission.originalUrl,
    });
    // Connection and Upgrade are hop-by-hop, yet they are what asks the server to switch protocols.
    headers.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
    server.onRequestStart();
    const startMs = performance.now();
    let bytesSent = 0;
    let bytesReceived = 0;
    let status = 0;
    let ended = false;
    const end = (isConnectionError: boolean) => {
      if (ended) return;
      ended = true;
      server.onRequestEnd({ status, responseTimeMs: performance.now() - startMs, bytesSent, bytesReceived, isConnectionError });
    };
    const fail = (reason: string, subStatus = 3) => {
      eventLog.warn(`502.${subStatus} upgrade ${req.url} site ${site.name} farm ${farm.name} server ${server.address}: ${reason}`);
      status = 502;
      refuse(socket, 502, subStatus);
      end(true);
    };
    const upstream = httpRequest({ host: server.host, port: server.port, method: req.method, path: admission.url, headers, setHost: false, agent: false, timeout: protocol.timeoutMs });
    const onClientGone = () => {
      upstream.destroy();
      end(false);
    };
    socket.once('error', onClientGone);
    socket.once('close', onClientGone);
    upstream.on('timeout', () => upstream.destroy(Object.assign(new Error(`the server did not answer within ${protocol.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (status === 0) fail(`${error.code ?? ''} ${error.message}`);
      else socket.destroy();
      end(true);
    });
    upstream.on('upgrade', (res: IncomingMessage, serverSocket: Socket, serverHead: Buffer) => {
      if (!isWebSocket(res.headers.upgrade)) {
        serverSocket.destroy();
        return fail(`the server switched to '${res.headers.upgrade ?? ''}', not to the websocket the client asked for`);
      }
      status = 101;
      serverSocket.setTimeout(0);
      let answer = `HTTP/1.1 101 ${res.statusMessage || 'Switching Protocols'}\r\n`;
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) answer += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      socket.write(`${answer}\r\n`);
      if (serverHead.length > 0) socket.write(serverHead);
      if (head.length > 0) serverSocket.write(head);
      serverSocket.on('data', (chunk: Buffer) => (bytesReceived += chunk.length));
      socket.on('data', (chunk: Buffer) => (bytesSent += chunk.length));
      serverSocket.pipe(socket);
      socket.pipe(serverSocket);
      serverSocket.once('error', () => socket.destroy());
      serverSocket.once('close', () => {
        socket.end();
        end(false);
      });
      socket.once('close', () => serverSocket.destroy());
    });
    upstream.on('response', (res: IncomingMessage) => {
      // The server did not switch: an ordinary answer, and the connection ends with it. Nothing the
      // client sent after its request head was read, so none of it reached the server.
      status = res.statusCode ?? 0;
      const out = clientResponseHeaders(res.rawHeaders);
      let answer = `HTTP/1.1 ${status} ${res.statusMessage || STATUS_CODES[status] || ''}\r\n`;
      for (let i = 0; i + 1 < out.length; i += 2) answer += `${out[i]}: ${out[i + 1]}\r\n`;
      socket.write(`${answer}Connection: close\r\n\r\n`);
      res.on('data', (chunk: Buffer) => (bytesReceived += chunk.length));
      res.on('end', () => end(false));
      res.on('aborted', () => socket.destroy());
      res.pipe(socket);
    });
    upstream.end();
  }

  return function onUpgrade(req, socket, head) {
    // Pipelined behind requests still being answered: those answers go out first.
    afterOwed(req.socket, () => {
      try {
        upgrade(req, socket, head);
      } catch (error) {
        eventLog.error(`500 upgrade client ${clientAddressOf(req, true)} ${req.method} ${req.url}: unexpected error on the request path\n${(error as Error).stack ?? String(error)}`);
        refuse(socket, 500, 0);
      }
    });
  };
}
