/**
 * What a matched rule does: expand its templates (captures, server variables, the query string), and
 * answer redirects and custom responses. Route actions are carried out by the handler and forward.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuleAction } from '../../config/model.js';
import type { ClientCertificate } from '../../tls/client-certificate.js';
import { localAnswer, sendLocalAnswer } from '../local-response.js';
import { encodeUrlText, type Template } from './compile.js';

/** What the rules see of a request. */
export interface RuleRequest {
  readonly req: IncomingMessage;
  /** The connection's accepted client certificate. */
  readonly certificate: ClientCertificate | undefined;
  readonly isHttps: boolean;
}

/** A template with captures (percent-encoded where a URL needs it) and server variables filled in. */
export function expandTemplate(template: Template, captures: readonly (string | undefined)[], request: RuleRequest): string {
  let out = '';
  for (const part of template.parts) {
    if (part.kind === 'text') out += part.text;
    else if (part.kind === 'capture') out += encodeUrlText(captures[part.index] ?? '');
    else if (part.name === 'HTTP_HOST') out += request.req.headers.host ?? '';
    else if (part.name === 'REQUEST_URI') out += request.req.url ?? '/';
    else out += request.isHttps ? 'on' : 'off';
  }
  return out;
}

/** `url` with the query string of `from` appended (`?` or `&`, as URL Rewrite's appendQueryString). */
export function withQueryOf(url: string, from: string, append: boolean): string {
  if (!append) return url;
  const at = from.indexOf('?');
  if (at < 0 || at === from.length - 1) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${from.slice(at + 1)}`;
}

/** The URL a route's rewrite sends on: always a path. `current` is the URL before it (the client's, or an earlier rule's). */
export function rewrittenUrl(template: Template, captures: readonly (string | undefined)[], request: RuleRequest, current: string, appendQueryString: boolean): string {
  let path = expandTemplate(template, captures, request);
  if (path.charCodeAt(0) !== 47 /* / */) path = `/${path}`;
  return withQueryOf(path, current, appendQueryString);
}

export function redirectLocation(template: Template, captures: readonly (string | undefined)[], request: RuleRequest, current: string, appendQueryString: boolean): string {
  return withQueryOf(expandTemplate(template, captures, request), current, appendQueryString);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}

/** IIS's "Object Moved" body of a redirect. */
export function redirectBody(location: string): Buffer {
  return Buffer.from(`<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>This document may be found <a HREF="${escapeHtml(location)}">here</a></body>`);
}

/** A redirect with IIS's "Object Moved" body. Returns the body length. */
export function sendRedirect(req: IncomingMessage, res: ServerResponse, status: number, location: string): number {
  const body = redirectBody(location);
  res.writeHead(status, { location, 'content-type': 'text/html; charset=UTF-8', 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
  return body.length;
}

type RespondAction = Extract<RuleAction, { type: 'respond' }>;

/**
 * A respond action's answer: its body when it has one; otherwise IIS's error page for the status
 * (400-599) or an empty body. The headers carry no Content-Length (the writer adds it).
 */
export function customResponse(action: RespondAction): { status: number; headers: string[]; body: Buffer | undefined } {
  if (action.body) return { status: action.status, headers: ['Content-Type', action.contentType], body: action.body };
  if (action.status >= 400) return { status: action.status, headers: ['Content-Type', 'text/plain; charset=utf-8', 'Cache-Control', 'no-store'], body: localAnswer(action.status, action.subStatus).text };
  return { status: action.status, headers: [], body: undefined };
}

/** A respond action (see customResponse). Returns the body length. */
export function sendCustomResponse(req: IncomingMessage, res: ServerResponse, action: RespondAction): number {
  const body = action.body;
  if (body) {
    res.writeHead(action.status, { 'content-type': action.contentType, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
    return body.length;
  }
  if (action.status >= 400) return sendLocalAnswer(req, res, localAnswer(action.status, action.subStatus));
  // RFC 9110: no Content-Length on 204, and 304 repeats the validators only.
  res.writeHead(action.status, action.status === 204 || action.status === 304 ? {} : { 'content-length': 0 });
  res.end();
  return 0;
}
