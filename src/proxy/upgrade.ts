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
import { admit } from './admission.js';
import { addedHeaders, describeError, type HandlerDeps } from './handler.js';
import { startTunnelExchange } from './tunnel-exchange.js';
import { requestFinisher } from './request-end.js';
import { customResponse, redirectBody } from './rules/action.js';
import type { RuleDecision } from './rules/match.js';
import type { SiteRuntime } from './site-runtime.js';
import type { TlsConnection } from './tls-connection.js';
import type { Tunnels } from './tunnels.js';
import { farmFailureOutcome, type OutcomeCode } from '../shared/outcome.js';
import { afterOwed } from './connection-state.js';
import { closingAnswer, localAnswer } from './local-response.js';
import type { ListenerRuntime } from './listener.js';
import { clientAddressOf, IncomingRequestInfo } from './request-info.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './request-headers.js';

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
    socket.end(closingAnswer(400, 0));
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

/** A whole HTTP/1.1 answer to an upgrade request that is not switched: then the connection closes. */
function answerAndEnd(socket: Duplex, status: number, headers: readonly string[], body: Buffer | undefined, isHead: boolean): number {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  head += `Content-Length: ${body?.length ?? 0}\r\nConnection: close\r\n\r\n`;
  socket.end(body && !isHead ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head);
  return body?.length ?? 0;
}

/** `deps` as the request handler's (where requests end, the event log); `tunnels`: where open tunnels are kept for the drain. */
export function createUpgradeHandler(listener: ListenerRuntime, deps: HandlerDeps, tunnels: Tunnels): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { eventLog } = deps;
  const finish = requestFinisher(deps);

  /** Gatehouse answers the upgrade request itself (IIS's page for the status); the connection closes. */
  function refuse(req: IncomingMessage, socket: Duplex, startMs: number, admitted: { site: SiteRuntime | undefined; tls: TlsConnection | undefined; decision: RuleDecision | undefined }, status: number, subStatus: number, outcome: OutcomeCode, reason: string): void {
    const cert = admitted.tls?.certificate;
    const who = cert ? ` subject="${cert.subject}" thumbprint=${cert.thumbprint}` : '';
    eventLog.warn(`${status}.${subStatus} outcome=${outcome} upgrade client ${clientAddressOf(req, true)} site ${admitted.site?.name ?? '-'} ${req.method} ${req.url}: ${reason}${who}`);
    const answer = localAnswer(status, subStatus);
    const bytesSent = answerAndEnd(socket, status, ['Content-Type', 'text/plain; charset=utf-8', 'Cache-Control', 'no-store'], answer.text, req.method === 'HEAD');
    finish({ req, site: admitted.site, tls: admitted.tls, startMs, status, subStatus, outcome, reason, bytesSent, logId: '', exchange: undefined, route: undefined, decision: admitted.decision });
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, startMs: number): void {
    if (!isWebSocket(req.headers.upgrade)) return reinjectAsPlain(listener, req, socket, head);
    const admission = admit(listener, req, false);
    if (admission.kind === 'drop') return void socket.destroy();
    if (admission.kind === 'refuse') return refuse(req, socket, startMs, admission, admission.status, admission.subStatus, admission.outcome, admission.reason);
    const { site, tls, decision } = admission;
    const ipSecurity = deps.dynamicIp?.();
    if (ipSecurity) {
      const address = req.socket.remoteAddress ?? '';
      const denial = ipSecurity.admit(address);
      if (denial) {
        const outcome: OutcomeCode = denial.subStatus === 501 ? 'too_many_concurrent_requests' : 'too_many_requests';
        const action = ipSecurity.settings.denyAction;
        if (action === 'abortRequest') {
          socket.destroy();
          eventLog.warn(`403.${denial.subStatus} outcome=${outcome} upgrade client ${clientAddressOf(req, true)} site ${site.name} ${req.method} ${req.url}: ${denial.reason}; aborted (denyAction abortRequest)`);
          return finish({ req, site, tls, startMs, status: 403, subStatus: denial.subStatus, outcome, reason: `${denial.reason}; aborted`, bytesSent: 0, logId: '', exchange: undefined, route: undefined, decision });
        }
        const [status, subStatus] = action === 'notFound' ? [404, 0] : action === 'unauthorized' ? [401, 0] : [403, denial.subStatus];
        return refuse(req, socket, startMs, admission, status, subStatus, outcome, denial.reason);
      }
      // The tunnel holds its slot for as long as it is open.
      if (ipSecurity.countsInFlight) socket.once('close', () => ipSecurity.release(address));
    }
    // The site's rules decide as for any request: their redirect or fixed answer, and the connection closes.
    if (admission.kind === 'redirect') {
      const bytesSent = answerAndEnd(socket, admission.status, ['Location', admission.location, 'Content-Type', 'text/html; charset=UTF-8'], redirectBody(admission.location), false);
      return finish({ req, site, tls, startMs, status: admission.status, subStatus: 0, outcome: 'rule_redirect', reason: '', bytesSent, logId: '', exchange: undefined, route: undefined, decision });
    }
    if (admission.kind === 'respond') {
      const { status, headers, body } = customResponse(admission.action);
      const bytesSent = answerAndEnd(socket, status, headers, body, false);
      const rule = decision?.matched[decision.matched.length - 1]?.rule.name ?? '';
      return finish({ req, site, tls, startMs, status, subStatus: admission.action.subStatus, outcome: 'rule_response', reason: `answered by rule '${rule}'`, bytesSent, logId: '', exchange: undefined, route: undefined, decision });
    }
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
      return refuse(req, socket, startMs, admission, 400, 0, 'bad_request', 'a WebSocket upgrade request carries a body');
    }
    const route = admission.route;
    const farm = route.farm;
    const affinity = farm.affinity;
    const request = new IncomingRequestInfo(req);
    const pinned = affinity?.decide(request, tls?.certificate?.thumbprintSha256);
    const server = pinned ? pinned.server : farm.pick(request);
    const isNewAffinity = pinned !== undefined && pinned.isNew && affinity?.usesCookie === true;
    if (!server) return refuse(req, socket, startMs, admission, 502, 4, 'no_server', `no server available in farm ${farm.name}`);
    const protocol = farm.config.protocol;
    const logId = randomUUID();
    const headers = upstreamRequestHeaders(req.headers, route.strippedHeaders, protocol, addedHeaders(req, route, server, tls, logId, isNewAffinity, admission.originalUrl));
    // Connection and Upgrade are hop-by-hop, yet they are what asks the server to switch protocols.
    headers.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
    const upstream = httpRequest({ host: server.host, port: server.port, method: req.method, path: admission.url, headers, setHost: false, agent: false, timeout: protocol.timeoutMs });
    // The access log, metrics and trace hear of the tunnel when it closes (or of the attempt when it fails).
    const { exchange, end } = startTunnelExchange(server, headers, upstream, () => {
      const { error, code } = exchange;
      let reason = '';
      if (exchange.status === 502) reason = describeError(error);
      else if (code === 'client_aborted') reason = `client gone: ${describeError(error)}`;
      else if (error) reason = `response aborted: ${describeError(error)}`;
      finish({ req, site, tls, startMs, status: exchange.status, subStatus: exchange.subStatus, outcome: code, reason, bytesSent: exchange.bytes, logId, exchange, route, decision });
    });
    const timings = exchange.timings;
    const fail = (error: Error, code: OutcomeCode) => {
      eventLog.warn(`502.3 outcome=${code} upgrade client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${server.address} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${describeError(error)}`);
      exchange.status = 502;
      exchange.subStatus = 3;
      const answer = localAnswer(502, 3);
      exchange.bytes = answerAndEnd(socket, 502, ['Content-Type', 'text/plain; charset=utf-8', 'Cache-Control', 'no-store'], answer.text, false);
      end(code, error, true);
    };
    const onClientGone = () => {
      upstream.destroy();
      end(exchange.status === 101 ? 'switched' : 'client_aborted', exchange.status === 101 ? undefined : new Error('the client closed the connection'), false);
    };
    socket.once('error', onClientGone);
    socket.once('close', onClientGone);
    upstream.on('timeout', () => upstream.destroy(Object.assign(new Error(`the server did not answer within ${protocol.timeoutMs} ms`), { code: timings.connectedMs ? 'ERR_HEADERS_TIMEOUT' : 'ERR_CONNECT_TIMEOUT' })));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (exchange.status === 0) fail(error, farmFailureOutcome(error.code, false));
      else {
        socket.destroy();
        end(exchange.status === 101 ? 'switched' : 'response_aborted', error, true);
      }
    });
    upstream.on('upgrade', (res: IncomingMessage, serverSocket: Socket, serverHead: Buffer) => {
      timings.firstByteMs = performance.now();
      if (!isWebSocket(res.headers.upgrade)) {
        serverSocket.destroy();
        return fail(new Error(`the server switched to '${res.headers.upgrade ?? ''}', not to the websocket the client asked for`), 'bad_response');
      }
      exchange.status = 101;
      serverSocket.setTimeout(0);
      tunnels.add(listener, socket);
      let answer = `HTTP/1.1 101 ${res.statusMessage || 'Switching Protocols'}\r\n`;
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) answer += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      socket.write(`${answer}\r\n`);
      if (serverHead.length > 0) {
        exchange.bytes += serverHead.length;
        socket.write(serverHead);
      }
      if (head.length > 0) {
        exchange.bytesReceived += head.length;
        serverSocket.write(head);
      }
      serverSocket.on('data', (chunk: Buffer) => (exchange.bytes += chunk.length));
      socket.on('data', (chunk: Buffer) => (exchange.bytesReceived += chunk.length));
      serverSocket.pipe(socket);
      socket.pipe(serverSocket);
      serverSocket.once('error', () => socket.destroy());
      serverSocket.once('close', () => {
        socket.end();
        end('switched', undefined, false);
      });
      socket.once('close', () => serverSocket.destroy());
    });
    upstream.on('response', (res: IncomingMessage) => {
      // The server did not switch: an ordinary answer, and the connection ends with it. Nothing the
      // client sent after its request head was read, so none of it reached the server.
      timings.firstByteMs = performance.now();
      exchange.status = res.statusCode ?? 0;
      const out = clientResponseHeaders(res.rawHeaders);
      let answer = `HTTP/1.1 ${exchange.status} ${res.statusMessage || STATUS_CODES[exchange.status] || ''}\r\n`;
      for (let i = 0; i + 1 < out.length; i += 2) answer += `${out[i]}: ${out[i + 1]}\r\n`;
      socket.write(`${answer}Connection: close\r\n\r\n`);
      res.on('data', (chunk: Buffer) => (exchange.bytes += chunk.length));
      res.on('end', () => end('forwarded', undefined, false));
      res.on('aborted', () => socket.destroy());
      res.pipe(socket);
    });
    upstream.end();
  }

  return function onUpgrade(req, socket, head) {
    const startMs = performance.now();
    // Pipelined behind requests still being answered: those answers go out first.
    afterOwed(req.socket, () => {
      try {
        upgrade(req, socket, head, startMs);
      } catch (error) {
        eventLog.error(`500 outcome=internal_error upgrade client ${clientAddressOf(req, true)} ${req.method} ${req.url}: unexpected error on the request path\n${(error as Error).stack ?? String(error)}`);
        socket.end(closingAnswer(500, 0));
      }
    });
  };
}
