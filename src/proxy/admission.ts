/**
 * Admission: what Gatehouse decides about a request before any byte of it goes to a server, the same for
 * ordinary requests (handler.ts) and upgrades (upgrade.ts). In order:
 *   1. head      HTTP/1.x framing and version (request-head.ts)                 → 400 / 431 / 505, close
 *   2. binding   https: by SNI, once per connection; http: by Host             → 400 unknown host name
 *   3. requireSsl  a request on http to a site that requires SSL              → 403.4
 *   4. door      the connection's client-certificate verdict, and validity     → 403.7 / 403.13 / 403.16 / 403.17
 *   5. target    one normal form of the request target (request-target.ts); absolute-form must name the
 *                site Host names; HTTP/1.0 without Host gets the binding's      → 400
 *      limits    the site's request filtering (request-limits.ts)            → 413.13 / 414.14 / 414.15 / 431
 *   6. host      https, several bindings: Host must belong to the handshake's site → 421
 *   7. rules     the site's rules, in order: route (maybe rewritten), redirect, or respond
 * Synchronous; it allocates the result and, for odd targets only, the normal form.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { RuleAction } from '../config/model.js';
import type { OutcomeCode } from '../shared/outcome.js';
import { hostNameOf, type ListenerRuntime } from './listener.js';
import { addressWithPort } from './request-info.js';
import { checkHttp1Head } from './request-head.js';
import { checkRequestLimits } from './request-limits.js';
import { authorityOf, judgeTarget } from './request-target.js';
import { evaluateRules, type RuleDecision } from './rules/match.js';
import type { BindingRuntime, FarmRoute, SiteRuntime } from './site-runtime.js';
import type { TlsConnection } from './tls-connection.js';

interface Decided {
  readonly site: SiteRuntime | undefined;
  readonly tls: TlsConnection | undefined;
  /** What the site's rules decided; undefined when the site has none or none matched. */
  readonly decision: RuleDecision | undefined;
}

/** Gatehouse answers itself: the request goes nowhere. `close`: the connection ends after the answer. */
export interface Refused extends Decided {
  readonly kind: 'refuse';
  readonly status: number;
  readonly subStatus: number;
  readonly reason: string;
  /** What happened, from the catalogue (shared/outcome.ts): what metrics, logs and traces read. */
  readonly outcome: OutcomeCode;
  readonly close: boolean;
}

export interface Redirected extends Decided {
  readonly kind: 'redirect';
  readonly site: SiteRuntime;
  readonly status: number;
  readonly location: string;
}

export interface Answered extends Decided {
  readonly kind: 'respond';
  readonly site: SiteRuntime;
  readonly action: Extract<RuleAction, { type: 'respond' }>;
}

export interface Routed extends Decided {
  readonly kind: 'route';
  readonly site: SiteRuntime;
  readonly route: FarmRoute;
  /** The target to send: the judged one, or a rule's rewrite of it. */
  readonly url: string;
  /** The judged target before any rewrite: X-Original-URL. */
  readonly originalUrl: string;
}

/** https: no binding answers the connection's name; the connection is closed without an answer. */
export interface Dropped {
  readonly kind: 'drop';
}

export type Admission = Refused | Redirected | Answered | Routed | Dropped;

const DROPPED: Dropped = { kind: 'drop' };
const INVALID_HOST = /[@/\\?#,;\s]/;

function refuse(status: number, subStatus: number, outcome: OutcomeCode, reason: string, site: SiteRuntime | undefined, tls: TlsConnection | undefined, close = false, decision?: RuleDecision): Refused {
  return { kind: 'refuse', status, subStatus, outcome, reason, close, site, tls, decision };
}

/** Whether a request came over HTTP/2 (node reports `HTTP/2.0` written as text over HTTP/1 too). */
export function isHttp2Request(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2 && (req as unknown as Partial<Http2ServerRequest>).stream !== undefined;
}

export function admit(listener: ListenerRuntime, req: IncomingMessage, isHttp2: boolean): Admission {
  if (isHttp2) {
    // HTTP/2 names the host in `:authority` (RFC 9113 §8.3.1), which wins over a Host header.
    const authority = req.headers[':authority'];
    if (typeof authority === 'string') req.headers.host = authority;
  } else {
    const problem = checkHttp1Head(req);
    if (problem) return refuse(problem.status, 0, problem.outcome, problem.reason, undefined, undefined, true);
  }
  let tls: TlsConnection | undefined;
  let binding: BindingRuntime | undefined;
  const host = req.headers.host;
  // Host (or :authority) is `host[:port]`: user information, a path or a list is no host a binding names.
  if (host !== undefined && (host.length === 0 || INVALID_HOST.test(host))) return refuse(400, 0, 'bad_request', `the Host ${JSON.stringify(host)} is not host[:port]`, undefined, undefined, !isHttp2);
  if (listener.isHttps) {
    tls = listener.tlsConnection(req.socket as TLSSocket);
    if (!tls) return DROPPED;
    binding = tls.binding;
    const verdict = tls.verdict;
    if (verdict.subStatus !== 0) return refuse(403, verdict.subStatus, verdict.outcome ?? 'certificate_invalid', verdict.reason, binding.site, tls);
    const expired = tls.certificate?.validityAt(Date.now());
    if (expired) return refuse(403, expired.subStatus, expired.outcome ?? 'expired', expired.reason, binding.site, tls);
  } else {
    binding = host === undefined && listener.bindings.length === 1 ? listener.bindings[0] : listener.bindingForHost(host);
    if (!binding) return refuse(400, 0, 'unknown_host', `no site on ${listener.address}:${listener.port} answers for host '${host ?? ''}'`, undefined, undefined);
    if (binding.site.config.ssl.requireSsl) return refuse(403, 4, 'ssl_required', 'SSL required (request on an http binding)', binding.site, undefined);
  }
  const site = binding.site;

  // HTTP/1.1 CONNECT never gets here (app.ts answers it); HTTP/2's does (RFC 9113 §8.5). Only the extended
  // CONNECT of a WebSocket (RFC 8441) is tunnelled; it names a path like a GET.
  const isWebSocketConnect = req.method === 'CONNECT' && isHttp2 && req.headers[':protocol'] === 'websocket';
  if (req.method === 'CONNECT' && !isWebSocketConnect) return refuse(405, 0, 'method_not_allowed', req.headers[':protocol'] === undefined ? 'CONNECT is not proxied' : `CONNECT for protocol '${String(req.headers[':protocol'])}' is not proxied (only websocket)`, site, tls);
  const target = req.url as string;
  const url = judgeTarget(target, isWebSocketConnect ? 'GET' : req.method);
  if (typeof url !== 'string') return refuse(400, 0, 'bad_request', `${url.refused}: ${JSON.stringify(target ?? '')}`, site, tls, !isHttp2);
  const authority = url === target ? undefined : authorityOf(target);
  if (authority !== undefined) {
    // RFC 9112 §3.2.2: a server reads the target's authority, not Host; the two must agree, and name this site.
    if ((host !== undefined && hostNameOf(host).toLowerCase() !== hostNameOf(authority).toLowerCase()) || listener.bindingForHost(authority)?.site !== site) {
      return refuse(400, 0, 'bad_request', `the absolute request target names host '${authority}', which is not the site Host '${host ?? ''}' names`, site, tls, !isHttp2);
    }
    if (host === undefined) req.headers.host = authority;
  } else if (host === undefined) {
    // HTTP/1.0 without Host (HTTP/1.1 without one never gets here): the server still gets one.
    req.headers.host = binding.config.hostName ?? addressWithPort(req.socket.localAddress ?? '', req.socket.localPort ?? 0);
  }
  if (url !== target) req.url = url;
  const overLimit = checkRequestLimits(req, url, site.config.limits);
  if (overLimit) return refuse(overLimit.status, overLimit.subStatus, overLimit.outcome, overLimit.reason, site, tls, overLimit.close && !isHttp2);

  if (tls && listener.bindings.length > 1 && host !== undefined && listener.isMisdirected(host, tls.binding)) {
    // RFC 9110 §15.5.20: an HTTP/2 client reuses a connection for every host its certificate covers
    // (connection coalescing); 421 makes it open a connection of its own, whose handshake applies that
    // site's certificate and client-certificate policy.
    return refuse(421, 0, 'misdirected', `host '${host}' belongs to another site than the one this connection's TLS handshake chose (SNI '${tls.serverName}')`, site, tls);
  }

  let route = site.defaultRoute;
  let decision: RuleDecision | undefined;
  let sent = url;
  if (site.hasRules) {
    decision = evaluateRules(site.rules, { req, certificate: tls?.certificate, isHttps: tls !== undefined });
    if (decision) {
      const action = decision.action;
      if (action.type === 'redirect') return { kind: 'redirect', site, tls, decision, status: action.status, location: decision.url };
      if (action.type === 'respond') return { kind: 'respond', site, tls, decision, action };
      route = site.routeTo(action.farm);
      if (!route) return refuse(502, 4, 'no_server', `farm ${action.farm.name} is not bound to site ${site.name} (SiteRuntime.bindFarms was not called)`, site, tls, false, decision);
      if (decision.isRewritten) sent = decision.url;
    }
    if (!route) return refuse(404, 0, 'no_route', 'no rule matched and the site has no farm', site, tls, false, decision);
  } else if (!route) {
    return refuse(502, 4, 'no_server', `the farm of site ${site.name} is not bound`, site, tls);
  }
  return { kind: 'route', site, tls, decision, route, url: sent, originalUrl: url };
}
