/**
 * Per-connection caps on HTTP/2 abuse that node's own limits leave loose. A client resetting its own
 * streams as fast as it opens them (rapid reset, CVE-2023-44487) costs the proxy a request each time while
 * costing the client nothing: past MAX_CLIENT_RESETS within RESET_WINDOW_MS the connection gets GOAWAY
 * ENHANCE_YOUR_CALM and is closed; so does a connection sending more than MAX_CONTROL_FRAMES SETTINGS and
 * PING frames in the window (each makes the server answer). Node and nghttp2 cut CONTINUATION floods, a
 * burst of control frames too large to answer within one read, and invalid frames themselves by closing
 * the connection before a GOAWAY can leave; those arrive as 'sessionError' and are counted too.
 */
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';

export const MAX_CLIENT_RESETS = 200;
export const RESET_WINDOW_MS = 10_000;
export const MAX_CONTROL_FRAMES = 500;

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
    cut('rapid_reset', `more than ${MAX_CLIENT_RESETS} streams reset by the client within ${RESET_WINDOW_MS / 1000} s`);
  };
  const cut = (kind: Http2Abuse, detail: string) => {
    isCut = true;
    onAbuse(kind, detail);
    // GOAWAY first (no new stream is taken), then the connection ends once it is on the wire.
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    setImmediate(() => session.destroy(undefined, constants.NGHTTP2_ENHANCE_YOUR_CALM));
  };
  session.on('stream', (stream: ServerHttp2Stream) => stream.once('aborted', onAborted));
  // SETTINGS and PING each make the server answer (an ACK): past MAX_CONTROL_FRAMES in the window, a flood.
  let control = 0;
  let controlStart = 0;
  const onControl = (what: string) => () => {
    const now = performance.now();
    if (now - controlStart > RESET_WINDOW_MS) {
      controlStart = now;
      control = 0;
    }
    if (++control <= MAX_CONTROL_FRAMES || isCut || session.destroyed) return;
    cut('protocol_flood', `more than ${MAX_CONTROL_FRAMES} SETTINGS and PING frames within ${RESET_WINDOW_MS / 1000} s (${what})`);
  };
  session.on('remoteSettings', onControl('SETTINGS'));
  session.on('ping', onControl('PING'));
}
