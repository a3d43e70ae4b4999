/**
 * Builds a request's trace after it finished, from what the request path kept anyway (the connection
 * state, the exchange's timings and the headers it sent): a request that no rule keeps pays nothing here.
 */
import type { IncomingMessage } from 'node:http';
import type { Rule, RuleAction, Site } from '../config/model.js';
import type { TracingSettings } from '../config/tracing-schema.js';
import type { ClientCertificate } from '../tls/client-certificate.js';
import type { Verdict } from '../tls/verdict.js';
import type { RequestRecord } from './request-record.js';
import type { Trace, TraceEvent } from '../shared/trace.js';

/**
 * What a trace reads of a finished request. The request path's RequestEnd (proxy/request-end.ts) is one:
 * tracing/ names the fields it reads rather than the request path's types, so it imports nothing of proxy/.
 */
export interface TracedRequest {
  readonly req: IncomingMessage;
  /** performance.now() when the request started. */
  readonly startMs: number;
  readonly site: { readonly name: string; readonly hasRules: boolean; readonly config: Site } | undefined;
  readonly tls: TracedConnection | undefined;
  /** Where the request was sent; undefined when Gatehouse answered it itself. */
  readonly route: TracedRoute | undefined;
  /** What the site's rules decided; undefined when the site has none or none matched. */
  readonly decision: { readonly matched: readonly { readonly rule: Rule; readonly url: string }[]; readonly action: RuleAction } | undefined;
  /** The exchange with a farm server; undefined when Gatehouse answered the request itself. */
  readonly exchange: TracedExchange | undefined;
}

/** What a trace reads of a TLS connection. */
export interface TracedConnection {
  readonly protocol: string;
  readonly cipher: string;
  readonly serverName: string;
  readonly alpn: string;
  readonly isResumed: boolean;
  readonly certificate: ClientCertificate | undefined;
  readonly verdict: Verdict;
}

/** What a trace reads of the farm a request was sent to. */
export interface TracedRoute {
  readonly farm: { readonly name: string; readonly algorithm: { readonly name: string } };
  /** Lower-case request header names never forwarded to the farm. */
  readonly strippedHeaders: ReadonlySet<string>;
}

/** What a trace reads of the exchange with a server. */
export interface TracedExchange {
  readonly status: number;
  /** Response body bytes sent to the client. */
  readonly bytes: number;
  /** Request body bytes read from the client. */
  readonly bytesReceived: number;
  readonly server: { readonly address: string } | undefined;
  readonly retriedFrom: { readonly address: string } | undefined;
  readonly retryCause: Error | undefined;
  readonly error: Error | undefined;
  /** performance.now() marks of the last attempt. */
  readonly timings: { readonly sentMs: number; readonly connectedMs: number; readonly firstByteMs: number; readonly endMs: number };
  /** The headers sent to the server (flat name, value list) on the last attempt. */
  readonly upstreamHeaders: readonly string[];
  /** The response headers passed on to the client (flat name, value list). */
  readonly responseHeaders: readonly string[];
}

const REDACTED = '[redacted]';

/** URL Rewrite's names of the actions, as its traces show them. */
const ACTION_NAMES = { route: 'Route to farm', redirect: 'Redirect', respond: 'CustomResponse' } as const;

class EventList {
  readonly events: TraceEvent[] = [];
  constructor(readonly startEpochMs: number, readonly startPerfMs: number) {}
  /** An event at a performance.now() mark (or at the start when 0). */
  add(name: string, atPerfMs: number, data: Record<string, unknown>): void {
    const elapsed = atPerfMs > 0 ? Math.max(0, atPerfMs - this.startPerfMs) : 0;
    this.events.push({ name, time: new Date(this.startEpochMs + elapsed).toISOString(), elapsedMs: Math.round(elapsed * 1000) / 1000, data });
  }
}

function headerPairs(list: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([list[i] as string, list[i + 1] as string]);
  return out;
}

export function buildTrace(record: RequestRecord, end: TracedRequest, settings: TracingSettings, ruleIndex: number, failureReason: string): Trace {
  const { req, tls, exchange: outcome, site, route, decision } = end;
  const list = new EventList(record.startEpochMs, end.startMs);
  const redact = (name: string, value: string) => (settings.redactHeaders.has(name.toLowerCase()) ? REDACTED : value);

  list.add('GENERAL_REQUEST_START', 0, {
    Site: record.site,
    Binding: `${record.isHttps ? 'https' : 'http'}://${record.localIp.includes(':') ? `[${record.localIp}]` : record.localIp}:${record.localPort}`,
    ConnId: `${record.clientIp}:${record.clientPort}`,
    RequestURL: record.url,
    RequestVerb: record.method,
  });
  list.add('GENERAL_ENDPOINT_INFORMATION', 0, { RemoteAddress: record.clientIp, RemotePort: record.clientPort, LocalAddress: record.localIp, LocalPort: record.localPort });
  if (tls) {
    const cert = tls.certificate;
    list.add('SSL_CONNECTION_INFORMATION', 0, {
      Protocol: tls.protocol,
      Cipher: tls.cipher,
      ServerName: tls.serverName,
      Alpn: tls.alpn,
      SessionResumed: tls.isResumed,
      ClientCertificateMode: site?.config.ssl.clientCertificates ?? '',
    });
    list.add('SSL_CLIENT_CERTIFICATE', 0, cert
      ? {
          Subject: cert.subject,
          Issuer: cert.issuer,
          Thumbprint: cert.thumbprint,
          ThumbprintSha256: cert.thumbprintSha256,
          SerialNumber: cert.serialNumber,
          NotBefore: new Date(cert.notBeforeMs).toISOString(),
          NotAfter: new Date(cert.notAfterMs).toISOString(),
          ChainLength: cert.chain.length,
          Verdict: tls.verdict.subStatus === 0 ? 'accepted' : `403.${tls.verdict.subStatus}`,
          Reason: tls.verdict.reason,
          VerifyCode: tls.verdict.code ?? '',
        }
      : { Subject: '', Verdict: tls.verdict.subStatus === 0 ? 'accepted' : `403.${tls.verdict.subStatus}`, Reason: tls.verdict.reason });
  }
  const incoming: [string, string][] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) incoming.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string]);
  list.add('GENERAL_REQUEST_HEADERS', 0, { Headers: incoming.map(([name, value]) => `${name}: ${redact(name, value)}`).join('\n') });

  // The site's rules that matched, in order (the last one decided), with what each did.
  for (const { rule, url } of decision?.matched ?? []) {
    const action = rule.action;
    const data: Record<string, unknown> = { Rule: rule.name, RuleIndex: rule.index, Action: ACTION_NAMES[action.type], StopProcessing: rule.stopProcessing };
    if (action.type === 'route') {
      data['WebFarm'] = action.farm.name;
      if (action.rewrite) data['RewriteURL'] = url;
    } else if (action.type === 'redirect') {
      data['RedirectURL'] = url;
      data['StatusCode'] = action.status;
    } else {
      data['StatusCode'] = action.status;
      data['SubStatusCode'] = action.subStatus;
    }
    list.add('URL_REWRITE_RULE_MATCHED', 0, data);
  }
  const ruleAnswered = decision !== undefined && decision.action.type !== 'route';
  if (record.status !== 0 && !outcome && (!ruleAnswered || record.status >= 400)) {
    // Gatehouse answered itself: the door, requireSsl, a rule's custom response, no rule and no farm, no server.
    list.add('MODULE_SET_RESPONSE_ERROR_STATUS', 0, { ModuleName: ruleAnswered ? 'RewriteModule' : 'Gatehouse', HttpStatus: record.status, HttpSubStatus: record.subStatus, Outcome: record.outcome, Reason: record.reason });
  }
  if (outcome && site && route) {
    const farm = route.farm;
    if (!decision) list.add('URL_REWRITE_RULE_MATCHED', 0, { Rule: site.hasRules ? `site ${site.name} → farm ${farm.name} (no rule matched)` : `site ${site.name} → farm ${farm.name}`, Action: 'Route to farm' });
    if (outcome.retriedFrom) {
      list.add('ARR_REQUEST_ROUTED', 0, { WebFarm: farm.name, Server: outcome.retriedFrom.address, Algorithm: farm.algorithm.name, RoutingReason: 'LoadBalancing' });
      list.add('ARR_REQUEST_RETRY', 0, { FailedServer: outcome.retriedFrom.address, Cause: describe(outcome.retryCause), NextServer: outcome.server?.address ?? '' });
    }
    list.add('ARR_REQUEST_ROUTED', outcome.timings.sentMs, { WebFarm: farm.name, Server: outcome.server?.address ?? '', Algorithm: farm.algorithm.name, RoutingReason: outcome.retriedFrom ? 'Retry' : 'LoadBalancing' });
    // What Gatehouse set or removed: compare the client's headers with those sent to the server.
    const sent = headerPairs(outcome.upstreamHeaders);
    const incomingByName = new Map<string, string[]>();
    for (const [name, value] of incoming) incomingByName.set(name.toLowerCase(), [...(incomingByName.get(name.toLowerCase()) ?? []), value]);
    const sentNames = new Set(sent.map(([name]) => name.toLowerCase()));
    for (const [name] of incomingByName) {
      if (!sentNames.has(name)) list.add('GENERAL_REMOVE_REQUEST_HEADER', outcome.timings.sentMs, { HeaderName: name, Reason: removalReason(name, route.strippedHeaders) });
    }
    for (const [name, value] of sent) {
      const before = incomingByName.get(name.toLowerCase());
      if (before && before.join(', ') === value) continue;
      list.add('GENERAL_SET_REQUEST_HEADER', outcome.timings.sentMs, { HeaderName: name, HeaderValue: redact(name, value), Replace: true });
    }
    list.add('ARR_REQUEST_HEADERS_START', outcome.timings.sentMs, { Server: outcome.server?.address ?? '' });
    if (outcome.timings.connectedMs) list.add('ARR_REQUEST_HEADERS_END', outcome.timings.connectedMs, { Server: outcome.server?.address ?? '' });
    if (outcome.timings.firstByteMs) list.add('ARR_RESPONSE_HEADERS_END', outcome.timings.firstByteMs, { HttpStatus: outcome.status });
    if (outcome.responseHeaders.length > 0) {
      // The answer's headers as the client got them (Set-Cookie values are secrets too).
      const shown = headerPairs(outcome.responseHeaders).map(([name, value]) => `${name}: ${name.toLowerCase() === 'set-cookie' ? REDACTED : redact(name, value)}`);
      list.add('GENERAL_RESPONSE_HEADERS', outcome.timings.firstByteMs, { Headers: shown.join('\n') });
    }
    if (outcome.error) {
      list.add('ARR_RESPONSE_ERROR', outcome.timings.endMs, { Server: outcome.server?.address ?? '', Error: describe(outcome.error), ResponseStarted: outcome.timings.firstByteMs > 0 });
    }
    if (record.status === 502) list.add('MODULE_SET_RESPONSE_ERROR_STATUS', outcome.timings.endMs, { ModuleName: 'ApplicationRequestRouting', HttpStatus: 502, HttpSubStatus: record.subStatus, Outcome: record.outcome, Reason: record.reason });
    list.add('ARR_RESPONSE_ENTITY_END', outcome.timings.endMs, {
      BytesReceivedFromServer: outcome.bytes,
      BytesSentToServer: outcome.bytesReceived,
      ConnectMs: outcome.timings.connectedMs ? round(outcome.timings.connectedMs - outcome.timings.sentMs) : null,
      FirstByteMs: outcome.timings.firstByteMs ? round(outcome.timings.firstByteMs - outcome.timings.sentMs) : null,
      CompleteMs: round(outcome.timings.endMs - outcome.timings.sentMs),
    });
  }
  list.add('GENERAL_REQUEST_END', end.startMs + record.timeTakenMs, {
    HttpStatus: record.status,
    HttpSubStatus: record.subStatus,
    Outcome: record.outcome,
    BytesSent: record.bytesSent,
    BytesReceived: record.bytesReceived,
    TimeTakenMs: round(record.timeTakenMs),
    LogId: record.logId,
  });
  return {
    format: 'gatehouse-trace/1',
    url: record.url,
    site: record.site,
    verb: record.method,
    statusCode: record.status,
    subStatusCode: record.subStatus,
    outcome: record.outcome,
    timeTakenMs: round(record.timeTakenMs),
    failureReason,
    rule: ruleIndex,
    activityId: record.logId,
    startTime: new Date(record.startEpochMs).toISOString(),
    events: list.events,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function describe(error: Error | undefined): string {
  if (!error) return '';
  const code = (error as { code?: string }).code;
  return code ? `${code} ${error.message}` : error.message;
}

function removalReason(name: string, stripped: ReadonlySet<string>): string {
  if (!stripped.has(name)) return 'hop-by-hop (named in Connection)';
  if (['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer', 'expect', 'http2-settings'].includes(name)) return 'hop-by-hop';
  return 'set by the proxy only (a client copy could be spoofed)';
}
