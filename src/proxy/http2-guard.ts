/**
 * Per-connection caps on HTTP/2 abuse that node's own limits leave loose. A client resetting its own
 * streams as fast as it opens them (rapid reset, CVE-2023-44487) costs the proxy a request each time while
 * costing the client nothing: past MAX_CLIENT_RESETS within RESET_WINDOW_MS the connection gets GOAWAY
 * ENHANCE_YOUR_CALM and is closed. (Node and nghttp2 already cut CONTINUATION floods, SETTINGS floods and
 * oversized header lists by closing the connection; those arrive as 'sessionError' and are counted too.)
 */
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';

export const MAX_CLIENT_RESETS = 200;
export const RESET_WINDOW_MS = 10_000;

export type Http2Abuse = 'rapid_reset' | 'protocol_flood';

/** Watches one session; `onAbuse` hears each connection it closes. */
export function guardSession(session: ServerHttp2Session, onAbuse: (kind: Http2Abuse, detail: string) => void): void {
  let resets = 0;
  let windowStart = 0;
  let isCut = false;
  const onAborted = () => {
    const now = performance.now();
    if (now - windowStart > RESET_WINDOW_MS) {
      windowStart = now;
      resets = 0;
    }
    if (++resets <= MAX_CLIENT_RESETS || isCut || session.destroyed) return;
    isCut = true;
    onAbuse('rapid_reset', `more than ${MAX_CLIENT_RESETS} streams reset by the client within ${RESET_WINDOW_MS / 1000} s`);
    // GOAWAY first (no new stream is taken), then the connection ends once it is on the wire.
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    setImmediate(() => session.destroy(undefined, constants.NGHTTP2_ENHANCE_YOUR_CALM));
  };
  session.on('stream', (stream: ServerHttp2Stream) => stream.once('aborted', onAborted));
}
