/**
 * Upgraded connections (WebSocket): the request passes the same door as any other (binding, requireSsl,
 * client certificate), a server is chosen the same way (affinity, algorithm), the same ARR headers are
 * added, and then the two sockets are joined byte for byte until either side closes. Counted on the
 * server as one request for the life of the connection.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { randomUUID } from 'node:crypto';
import type { EventLog } from '../tracing/log.js';
import type { ListenerRuntime } from './listener.js';
import { localAnswer } from './local-response.js';
import { IncomingRequestInfo } from './request-info.js';
import { evaluateRules } from './rules/match.js';
import { upstreamRequestHeaders } from './request-headers.js';
import type { TlsConnection } from './tls-connection.js';

function refuse(socket: Duplex, status: number, subStatus: number): void {
  const answer = localAnswer(status, subStatus);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${answer.text.length}\r\nConnection: close\r\n\r\n${answer.text.toString()}`);
}

export function createUpgradeHandler(listener: ListenerRuntime, eventLog: EventLog): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return function onUpgrade(req, socket, head) {
    let tls: TlsConnection | undefined;
    let site;
    if (listener.isHttps) {
      tls = listener.tlsConnection(req.socket as TLSSocket);
      if (!tls) return void socket.destroy();
      site = tls.binding.site;
      if (tls.verdict.subStatus !== 0) return refuse(socket, 403, tls.verdict.subStatus);
      const expired = tls.certificate?.validityAt(Date.now());
      if (expired) return refuse(socket, 403, expired.subStatus);
    } else {
      const binding = listener.bindingForHost(req.headers.host);
      if (!binding) return refuse(socket, 400, 0);
      site = binding.site;
      if (site.config.ssl.requireSsl) return refuse(socket, 403, 4);
    }
    // The site's rules decide as for any request: a redirect or a fixed answer refuses the upgrade.
    let route = site.defaultRoute;
    let url = req.url ?? '/';
    if (site.hasRules) {
      const decision = evaluateRules(site.rules, { req, certificate: tls?.certificate, isHttps: tls !== undefined });
      if (decision) {
        const action = decision.action;
        if (action.type === 'redirect') return refuse(socket, 403, 0);
        if (action.type === 'respond') return refuse(socket, action.status, action.subStatus);
        route = site.routeTo(action.farm);
        if (decision.isRewritten) url = decision.url;
      }
    }
    if (!route) return refuse(socket, 404, 0);
    const farm = route.farm;
    const request = new IncomingRequestInfo(req);
    const server = farm.affinity ? farm.affinity.decide(request, tls?.certificate?.thumbprintSha256).server : farm.pick(request);
    if (!server) {
      eventLog.warn(`502.4 upgrade ${req.url} site ${site.name}: no server available in farm ${farm.name}`);
      return refuse(socket, 502, 4);
    }
    const protocol = farm.config.protocol;
    const ip = req.socket.remoteAddress ?? '';
    const headers = upstreamRequestHeaders(req.headers, route.strippedHeaders, protocol, {
      clientAddress: protocol.includePortInXForwardedFor ? (ip.includes(':') ? `[${ip}]:${req.socket.remotePort}` : `${ip}:${req.socket.remotePort}`) : ip,
      sslValue: tls?.sslValue,
      certificateHeaders: tls ? route.certificateHeadersFor(tls) : [],
      logId: randomUUID(),
      signature: undefined,
      isHttps: tls !== undefined,
      serverHost: server.address,
      isNewAffinity: false,
      certificateKey: undefined,
    });
    // Connection and Upgrade are hop-by-hop, yet they are what asks the server to switch protocols.
    headers.push('Connection', 'Upgrade', 'Upgrade', String(req.headers.upgrade ?? 'websocket'));
    if (url !== req.url) headers.push('X-Original-URL', req.url ?? '/');
    let head1 = `${req.method} ${url} HTTP/1.1\r\n`;
    for (let i = 0; i + 1 < headers.length; i += 2) head1 += `${headers[i]}: ${headers[i + 1]}\r\n`;
    head1 += '\r\n';
    server.onRequestStart();
    const startMs = performance.now();
    let bytesSent = 0;
    let bytesReceived = 0;
    let isConnected = false;
    let ended = false;
    const upstream: Socket = connect({ host: server.host, port: server.port, timeout: protocol.timeoutMs });
    const end = (isConnectionError: boolean) => {
      if (ended) return;
      ended = true;
      server.onRequestEnd({ status: isConnected ? 101 : 0, responseTimeMs: performance.now() - startMs, bytesSent, bytesReceived, isConnectionError });
    };
    upstream.once('connect', () => {
      isConnected = true;
      upstream.setTimeout(0);
      upstream.write(head1);
      if (head.length) upstream.write(head);
      upstream.on('data', (chunk: Buffer) => (bytesReceived += chunk.length));
      socket.on('data', (chunk: Buffer) => (bytesSent += chunk.length));
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.once('timeout', () => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      if (!isConnected) {
        eventLog.warn(`502.3 upgrade ${req.url} site ${site.name} farm ${farm.name} server ${server.address}: ${error.code ?? ''} ${error.message}`);
        refuse(socket, 502, 3);
      } else socket.destroy();
      end(true);
    });
    upstream.once('close', () => {
      socket.end();
      end(false);
    });
    socket.once('error', () => upstream.destroy());
    socket.once('close', () => {
      upstream.destroy();
      end(false);
    });
  };
}
