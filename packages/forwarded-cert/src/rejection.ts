/**
 * The 403 answer every middleware gives when a forwarded certificate is refused.
 */
import type { ServerResponse } from 'node:http';

/** Body of a refusal: the reason code only (the detailed reason is for logs, not for clients). */
export function rejectionBody(code: string): string {
  return `Forbidden: ${code}\n`;
}

/** Answers 403 with a short text body naming `code`; destroys the response if headers already went out. */
export function sendRejection(res: ServerResponse, code: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = rejectionBody(code);
  res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
