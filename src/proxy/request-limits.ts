/**
 * Request filtering (a site's `limits`), judged once the site is known and before anything goes to a
 * server: the path and query string lengths, the header fields' count and bytes, and a declared body
 * length. A body without a declared length (chunked, HTTP/2) is counted as it streams (forward.ts).
 * Each answer carries IIS's sub-status, so log tooling built for IIS keeps working.
 */
import type { IncomingMessage } from 'node:http';
import type { Limits } from '../config/limits-schema.js';
import type { OutcomeCode } from '../shared/outcome.js';

export interface LimitProblem {
  readonly status: number;
  readonly subStatus: number;
  readonly reason: string;
  readonly outcome: OutcomeCode;
  /** The request's body (unread) follows: the connection cannot carry another request. */
  readonly close: boolean;
}

/** The first limit `req` (its target already in normal form, `url`) is over; undefined when none. */
export function checkRequestLimits(req: IncomingMessage, url: string, limits: Limits): LimitProblem | undefined {
  const query = url.indexOf('?');
  const pathBytes = query < 0 ? url.length : query;
  if (pathBytes > limits.maxUrl) return { status: 414, subStatus: 14, outcome: 'url_too_long', reason: `the URL is ${pathBytes} bytes, more than maxUrl (${limits.maxUrl})`, close: false };
  if (query >= 0 && url.length - query - 1 > limits.maxQueryString) return { status: 414, subStatus: 15, outcome: 'query_string_too_long', reason: `the query string is ${url.length - query - 1} bytes, more than maxQueryString (${limits.maxQueryString})`, close: false };
  const raw = req.rawHeaders;
  if (raw.length > limits.maxHeaderCount * 2) return { status: 431, subStatus: 0, outcome: 'headers_too_large', reason: `the request has ${raw.length / 2} header fields, more than maxHeaderCount (${limits.maxHeaderCount})`, close: true };
  let bytes = 0;
  for (let i = 0; i < raw.length; i++) bytes += (raw[i] as string).length;
  if (bytes > limits.maxRequestHeadersBytes) return { status: 431, subStatus: 0, outcome: 'headers_too_large', reason: `the request's header fields are ${bytes} bytes, more than maxRequestHeadersBytes (${limits.maxRequestHeadersBytes})`, close: true };
  const length = req.headers['content-length'];
  if (length !== undefined && length.length >= String(limits.maxAllowedContentLength).length && Number(length) > limits.maxAllowedContentLength) {
    return { status: 413, subStatus: 13, outcome: 'content_too_large', reason: `the request body is ${length} bytes (Content-Length), more than maxAllowedContentLength (${limits.maxAllowedContentLength})`, close: true };
  }
  return undefined;
}
