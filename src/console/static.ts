/**
 * The console's files on the admin listener: `GET /` (index.html) and its assets (app.js, console.css),
 * built by src/console/build.ts into dist/console/. The files are public (they hold no data: every datum
 * comes from /api/v1 with the user's credentials) and served with a strict Content-Security-Policy (no
 * inline script or style), X-Frame-Options DENY, Referrer-Policy no-referrer and nosniff. Fixed names,
 * revalidated on every load (`Cache-Control: no-cache` with a strong ETag, 304 when unchanged). The console
 * routes with the URL's hash (`#/farms/web`), so any other path is a 404. Read once, on first request: the
 * admin listener only, nothing here is on the request path.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** URL path → file in dist/console and its type. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

interface Loaded {
  readonly body: Buffer;
  readonly etag: string;
  readonly type: string;
}

/** Where the built console is (this file runs from dist/src/console). */
export const CONSOLE_DIR = new URL('../../console/', import.meta.url);

export interface ConsoleFiles {
  /** Whether `path` is the console's (the admin server then calls serve). */
  owns(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, path: string): void;
}

function send(res: ServerResponse, status: number, headers: Record<string, string | number>, body?: Buffer | string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers });
  res.end(body);
}

export function consoleFiles(dir: URL = CONSOLE_DIR): ConsoleFiles {
  const cache = new Map<string, Loaded | null>();
  const load = (path: string): Loaded | null => {
    if (cache.has(path)) return cache.get(path) as Loaded | null;
    const entry = FILES[path];
    let loaded: Loaded | null = null;
    if (entry) {
      try {
        const body = readFileSync(new URL(entry.file, dir));
        loaded = { body, type: entry.type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      } catch {
        loaded = null; // not built: answered 503 below, and tried again next time
      }
    }
    if (loaded) cache.set(path, loaded);
    return loaded;
  };
  return {
    owns: (path) => path !== '/metrics' && path !== '/api' && !path.startsWith('/api/'),
    serve(req, res, path) {
      req.resume();
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, 'Method Not Allowed: the console answers GET, HEAD\n');
      if (!FILES[path]) return send(res, 404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, `Not Found: the console is at / (its pages are #/… links); the admin API is under /api/v1\n`);
      const file = load(path);
      if (!file) return send(res, 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'retry-after': 5 }, 'Service Unavailable: the console is not built (npm run build writes dist/console/)\n');
      const headers = { 'content-type': file.type, 'cache-control': 'no-cache', etag: file.etag };
      const match = req.headers['if-none-match'];
      if (match !== undefined && match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag)) return send(res, 304, headers);
      send(res, 200, { ...headers, 'content-length': file.body.length }, req.method === 'HEAD' ? undefined : file.body);
    },
  };
}
