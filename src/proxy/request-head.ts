/**
 * HTTP/1.x request heads that node's parser accepts and a proxy must not pass on (RFC 9112): a version
 * other than 1.0 and 1.1 (the parser takes `HTTP/2.0` and `HTTP/0.9` as text), several Host fields (or
 * none on HTTP/1.1),
 * Transfer-Encoding on HTTP/1.0 or with any coding but a single `chunked`. (Header counts and sizes are
 * the site's limits: request-limits.ts.) What the parser itself refuses (Content-Length with Transfer-Encoding, differing
 * Content-Lengths, obs-fold, bare CR, NUL, whitespace before a colon, bad chunk sizes) reaches
 * client-error.ts instead. Each of these answers and closes the connection: its framing cannot be trusted.
 */
import type { IncomingMessage } from 'node:http';
import type { OutcomeCode } from '../shared/outcome.js';

export interface HeadProblem {
  readonly status: number;
  readonly outcome: OutcomeCode;
  readonly reason: string;
}

export function checkHttp1Head(req: IncomingMessage): HeadProblem | undefined {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor > 1) return { status: 505, outcome: 'http_version', reason: `HTTP/${req.httpVersion} is not HTTP/1.0 or HTTP/1.1 (HTTP/2 is spoken only after TLS ALPN)` };
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts > 1) return { status: 400, outcome: 'bad_request', reason: `the request has ${hosts} Host header fields` };
  if (hosts === 0 && req.httpVersionMinor === 1) return { status: 400, outcome: 'bad_request', reason: 'an HTTP/1.1 request without a Host header field' };
  const coding = req.headers['transfer-encoding'];
  if (coding !== undefined) {
    if (req.httpVersionMinor === 0) return { status: 400, outcome: 'bad_request', reason: 'Transfer-Encoding on an HTTP/1.0 request' };
    if (coding.length !== 7 || coding.toLowerCase() !== 'chunked') return { status: 400, outcome: 'bad_request', reason: `Transfer-Encoding '${coding}': only 'chunked' is accepted` };
  }
  return undefined;
}
