/**
 * One bounded HTTP exchange with a CRL distribution point or an OCSP responder: plain http (RFC 5280 and
 * 6960 publish them so), no redirects, the whole exchange within `timeoutMs`, the body within `maxBytes`.
 */
import { request } from 'node:http';

export interface FetchOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** POST this body (an OCSP request) instead of a GET. */
  readonly body?: Buffer;
  readonly contentType?: string;
}

export class FetchError extends Error {}

/** The response body of a 200; rejects with a FetchError saying what went wrong. */
export function fetchBytes(url: string, options: FetchOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new FetchError('not a URL'));
      return;
    }
    if (target.protocol !== 'http:') {
      reject(new FetchError(`${target.protocol} is not fetched (http only)`));
      return;
    }
    let settled = false;
    const finish = (error: Error | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        req.destroy();
        reject(error);
      } else resolve(body as Buffer);
    };
    const headers: Record<string, string | number> = { accept: options.body ? 'application/ocsp-response' : 'application/pkix-crl, */*', 'user-agent': 'Gatehouse' };
    if (options.body) {
      headers['content-type'] = options.contentType ?? 'application/ocsp-request';
      headers['content-length'] = options.body.length;
    }
    const req = request(target, { method: options.body ? 'POST' : 'GET', headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(new FetchError(`answered HTTP ${res.statusCode}`));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        finish(new FetchError(`the answer is ${declared} bytes (more than ${options.maxBytes})`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) finish(new FetchError(`the answer is more than ${options.maxBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, Buffer.concat(chunks, size)));
      res.on('error', (error) => finish(new FetchError(`the answer broke off (${error.message})`)));
      res.on('aborted', () => finish(new FetchError('the answer broke off')));
    });
    const timer = setTimeout(() => finish(new FetchError(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => finish(new FetchError(error.code ? `${error.code} ${error.message}` : error.message)));
    req.end(options.body);
  });
}
