/**
 * The request path, in order (docs/request-lifecycle.md draws the same list):
 *   1. admission  head, binding, requireSsl, door, target, host, rules (admission.ts)
 *                 → 400 / 403.x / 421 / 431 / 505, or the rules' redirect or answer, or a route to a farm
 *   2. server     the farm's algorithm picks an available server             → 502.4
 *   3. forward    headers transformed, request and response streamed        → 502.3 (after one safe retry)
 * Steps 1-2 are synchronous and allocate little; only forward does I/O. An exception on the way is a
 * 500 for that request alone.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as http2Constants, type Http2ServerRequest } from 'node:http2';
import type { EventLog } from '../tracing/log.js';
import { ProxyExchange, type ExchangeOutcome } from './forward.js';
import type { ListenerRuntime } from './listener.js';
import { localAnswer, sendLocalAnswer } from './local-response.js';
import type { FarmRoute, SiteRuntime } from './site-runtime.js';
import type { RuleDecision } from './rules/match.js';
import { admit, isHttp2Request } from './admission.js';
import type { DynamicIpSecurity, IpDenial } from './dynamic-ip-security.js';
import type { DynamicIpSettings } from '../config/limits-schema.js';
import { closeAfter, requestStarted } from './connection-state.js';
import { sendCustomResponse, sendRedirect } from './rules/action.js';
import { clientAddressOf, IncomingRequestInfo } from './request-info.js';
import { requestFinisher, type RequestEndDeps } from './request-end.js';
import type { AddedHeaders } from './request-headers.js';
import type { FarmServer } from '../farm/farm-server.js';
import type { OutcomeCode } from '../shared/outcome.js';
import type { TlsConnection } from './tls-connection.js';
import type { Tunnels } from './tunnels.js';
import { tunnelHttp2WebSocket } from './websocket-h2.js';
import { signForwardedIdentity } from '@gatehouse/forwarded-cert';

export interface HandlerDeps extends RequestEndDeps {
  readonly eventLog: EventLog;
  /** Dynamic IP Restrictions in force (a reload may change them); undefined: none. */
  readonly dynamicIp?: () => DynamicIpSecurity | undefined;
  /** Open WebSocket tunnels (for the drain); without it HTTP/2 WebSockets are not tunnelled. */
  readonly tunnels?: Tunnels;
}

/** One request on its way: what every answer needs to know of it. */
interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly startMs: number;
  readonly isHttp2: boolean;
  site: SiteRuntime | undefined;
  tls: TlsConnection | undefined;
  decision: RuleDecision | undefined;
}

export function createRequestHandler(listener: ListenerRuntime, deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { eventLog } = deps;
  const finish = requestFinisher(deps);

  /** Gatehouse answers itself (IIS's page for the status), logs why, and records it. */
  function reject(ctx: RequestContext, status: number, subStatus: number, outcome: OutcomeCode, reason: string): void {
    const { req, res, tls } = ctx;
    const bytesSent = sendLocalAnswer(req, res, localAnswer(status, subStatus));
    const cert = tls?.certificate;
    const who = cert ? ` subject="${cert.subject}" thumbprint=${cert.thumbprint}` : '';
    eventLog.warn(`${status}.${subStatus} outcome=${outcome} client ${clientAddressOf(req, true)} site ${ctx.site?.name ?? '-'} ${req.method} ${req.url}: ${reason}${who}`);
    finish({ req, site: ctx.site, tls, startMs: ctx.startMs, status, subStatus, outcome, reason, bytesSent, logId: '', exchange: undefined, route: undefined, decision: ctx.decision });
  }

  /** Dynamic IP Restrictions said no: the deny action (403.501 / 403.502, 404, 401, or the connection cut). */
  function deny(ctx: RequestContext, denial: IpDenial, action: DynamicIpSettings['denyAction']): void {
    const outcome: OutcomeCode = denial.subStatus === 501 ? 'too_many_concurrent_requests' : 'too_many_requests';
    if (action === 'forbidden') return reject(ctx, 403, denial.subStatus, outcome, denial.reason);
    if (action === 'notFound') return reject(ctx, 404, 0, outcome, denial.reason);
    if (action === 'unauthorized') return reject(ctx, 401, 0, outcome, denial.reason);
    const { req } = ctx;
    eventLog.warn(`403.${denial.subStatus} outcome=${outcome} client ${clientAddressOf(req, true)} site ${ctx.site?.name ?? '-'} ${req.method} ${req.url}: ${denial.reason}; aborted (denyAction abortRequest)`);
    if (ctx.isHttp2) (req as unknown as Http2ServerRequest).stream.close(http2Constants.NGHTTP2_REFUSED_STREAM);
    else req.socket.destroy();
    finish({ req, site: ctx.site, tls: ctx.tls, startMs: ctx.startMs, status: 403, subStatus: denial.subStatus, outcome, reason: `${denial.reason}; aborted`, bytesSent: 0, logId: '', exchange: undefined, route: undefined, decision: undefined });
  }

  // HTTP/2 requests come through node's compatibility API (Http2ServerRequest/Response), which has the
  // same shape for everything used here; `req.socket` is a proxy of the TLS socket.
  return function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const startMs = performance.now();
    const isHttp2 = isHttp2Request(req);
    if (!isHttp2 && !requestStarted(req, res)) return; // after a request that closes the connection: never forwarded
    const ctx: RequestContext = { req, res, startMs, isHttp2, site: undefined, tls: undefined, decision: undefined };
    try {
      handle(ctx);
    } catch (error) {
      internalError(ctx, error as Error);
    }
  };

  /** A defect of Gatehouse's, not the client's: this request gets 500, the process and other requests go on. */
  function internalError(ctx: RequestContext, error: Error): void {
    const { req, res } = ctx;
    eventLog.error(`500 outcome=internal_error client ${clientAddressOf(req, true)} ${req.method} ${req.url}: unexpected error on the request path\n${error.stack ?? error.message}`);
    try {
      if (res.headersSent) {
        res.destroy(error);
        return;
      }
      if (!ctx.isHttp2) closeAfter(req, res);
      const bytesSent = sendLocalAnswer(req, res, localAnswer(500, 0));
      finish({ req, site: undefined, tls: undefined, startMs: ctx.startMs, status: 500, subStatus: 0, outcome: 'internal_error', reason: `unexpected error: ${error.message}`, bytesSent, logId: '', exchange: undefined, route: undefined, decision: undefined });
    } catch {
      res.destroy();
    }
  }

  function handle(ctx: RequestContext): void {
    const { req, res, isHttp2 } = ctx;
    const admission = admit(listener, req, isHttp2);
    if (admission.kind === 'drop') {
      if (isHttp2) (req as unknown as Http2ServerRequest).stream.session?.destroy();
      else req.socket.destroy();
      return;
    }
    const { tls, decision } = admission;
    ctx.tls = tls;
    ctx.site = admission.site;
    ctx.decision = decision;
    if (tls?.isFromEarlierConfig && !isHttp2) closeAfter(req, res);
    if (admission.kind === 'refuse') {
      if (admission.close && !isHttp2) closeAfter(req, res);
      return reject(ctx, admission.status, admission.subStatus, admission.outcome, admission.reason);
    }
    const site = admission.site;
    const ipSecurity = deps.dynamicIp?.();
    if (ipSecurity) {
      const address = req.socket.remoteAddress ?? '';
      const denial = ipSecurity.admit(address);
      if (denial) return deny(ctx, denial, ipSecurity.settings.denyAction);
      if (ipSecurity.countsInFlight) res.once('close', () => ipSecurity.release(address));
    }
    if (admission.kind === 'redirect') {
      const bytesSent = sendRedirect(req, res, admission.status, admission.location);
      return finish({ req, site, tls, startMs: ctx.startMs, status: admission.status, subStatus: 0, outcome: 'rule_redirect', reason: '', bytesSent, logId: '', exchange: undefined, route: undefined, decision });
    }
    if (admission.kind === 'respond') {
      const action = admission.action;
      const bytesSent = sendCustomResponse(req, res, action);
      const rule = decision?.matched[decision.matched.length - 1]?.rule.name ?? '';
      return finish({ req, site, tls, startMs: ctx.startMs, status: action.status, subStatus: action.subStatus, outcome: 'rule_response', reason: `answered by rule '${rule}'`, bytesSent, logId: '', exchange: undefined, route: undefined, decision });
    }
    const route = admission.route;
    const farm = route.farm;
    const request = new IncomingRequestInfo(req);
    // The server: the one affinity pins the client to, or the algorithm's pick (no object made for farms without affinity).
    const affinity = farm.affinity;
    const pinned = affinity?.decide(request, tls?.certificate?.thumbprintSha256);
    const server = pinned ? pinned.server : farm.pick(request);
    const isNewAffinity = pinned !== undefined && pinned.isNew && affinity?.usesCookie === true;
    if (!server) return reject(ctx, 502, 4, 'no_server', `no server available in farm ${farm.name}`);
    const protocol = farm.config.protocol;
    const logId = protocol.logGuidName || deps.accessLog.enabledFor(site.name) || protocol.signatureSecret ? randomUUID() : '';
    const onDone = (outcome: ExchangeOutcome): void => {
      let reason = '';
      if (outcome.status === 502) {
        const retry = outcome.retriedFrom ? ` after a retry (first server ${outcome.retriedFrom.address}: ${describeError(outcome.retryCause)})` : '';
        reason = `${describeError(outcome.error)}${retry}`;
        eventLog.warn(`502.3 outcome=${outcome.code} client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${outcome.server?.address ?? '-'} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${reason}`);
        if (!res.headersSent && !res.destroyed) outcome.bytes = sendLocalAnswer(req, res, localAnswer(502, 3));
      } else if ((outcome.status === 413 || outcome.status === 408) && outcome.error) {
        reason = outcome.error.message;
        eventLog.warn(`${outcome.status}.${outcome.subStatus} outcome=${outcome.code} client ${clientAddressOf(req, true)} site ${site.name} ${req.method} ${req.url}: ${reason}`);
        if (!res.headersSent && !res.destroyed) {
          if (!isHttp2) closeAfter(req, res); // the rest of the body is never read
          outcome.bytes = sendLocalAnswer(req, res, localAnswer(outcome.status, outcome.subStatus));
        }
      } else if (outcome.error && outcome.code !== 'client_aborted') {
        reason = `response aborted: ${describeError(outcome.error)}`;
        eventLog.warn(`response aborted: outcome=${outcome.code} client ${clientAddressOf(req, true)} site ${site.name} farm ${farm.name} server ${outcome.server?.address ?? '-'} ${req.method} ${req.url} X-ARR-LOG-ID ${logId}: ${describeError(outcome.error)}`);
      } else if (outcome.error) {
        reason = `client gone: ${describeError(outcome.error)}`;
      }
      finish({ req, site, tls, startMs: ctx.startMs, status: outcome.status, subStatus: outcome.subStatus, outcome: outcome.code, reason, bytesSent: outcome.bytes, logId, exchange: outcome, route, decision });
    };
    const added = addedHeaders(req, route, server, tls, logId, isNewAffinity, admission.originalUrl);
    // HTTP/2's extended CONNECT (RFC 8441): a WebSocket, tunnelled to the server as an HTTP/1.1 upgrade.
    if (isHttp2 && req.method === 'CONNECT' && deps.tunnels) return tunnelHttp2WebSocket(req, res, route, server, added, admission.url, deps.tunnels, listener, onDone);
    new ProxyExchange(req, res, route, server, request, added, onDone, admission.url, site.bodyLimits).start();
  }
}

/** What Gatehouse adds to the request it sends to a farm server: ARR's headers, the certificate, the signature. */
export function addedHeaders(req: IncomingMessage, route: FarmRoute, server: FarmServer, tls: TlsConnection | undefined, logId: string, isNewAffinity: boolean, originalUrl: string): AddedHeaders {
  const protocol = route.farm.config.protocol;
  const secret = protocol.signatureSecret;
  const certificateHeaders = tls ? route.certificateHeadersFor(tls) : [];
  return {
    clientAddress: clientAddressOf(req, protocol.includePortInXForwardedFor),
    sslValue: tls?.sslValue,
    certificateHeaders,
    logId,
    signature: secret ? signForwardedIdentity({ secret, timestampSeconds: Math.floor(Date.now() / 1000), logId, certificateDer: tls && certificateHeaders.length > 0 ? tls.certificate?.raw : undefined }) : undefined,
    isHttps: tls !== undefined,
    serverHost: server.address,
    isNewAffinity,
    certificateKey: tls?.certificate?.thumbprintSha256,
    originalUrl,
  };
}

/** `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9001` style, for logs. */
export function describeError(error: Error | undefined): string {
  if (!error) return 'unknown error';
  const code = (error as { code?: string }).code;
  return code ? `${code} ${error.message}` : error.message;
}
