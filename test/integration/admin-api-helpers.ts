/**
 * Helpers for the admin API tests: token files, and requests over real https with a bearer token or an
 * admin client certificate.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

export interface Badge {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: any;
}

export interface ApiRequest {
  readonly token?: string;
  readonly badge?: Badge;
  /** A JSON value (sent with Content-Type: application/json unless contentType says otherwise) or raw text. */
  readonly body?: unknown;
  readonly raw?: string;
  readonly contentType?: string | null;
  readonly ifMatch?: string;
  readonly headers?: Record<string, string>;
}

/** Writes a new random token into `dir/name.token`; returns the token and its file. */
export async function makeToken(dir: string, name: string): Promise<{ token: string; file: string }> {
  const token = randomBytes(32).toString('base64url');
  const file = join(dir, `${name}.token`);
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

export function apiClient(baseUrl: () => string, caFile: string) {
  const ca = readFileSync(caFile);
  return (method: string, path: string, options: ApiRequest = {}): Promise<ApiAnswer> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
      const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      if (payload !== undefined && options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
      // DELETE (like GET) is not chunked by node's client: a body without a length would reach the server as a next request.
      if (payload !== undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = String(Buffer.byteLength(payload));
      const req = httpsRequest(
        `${baseUrl()}${path}`,
        { method, headers, ca, agent: false, ...(options.badge ? { cert: readFileSync(options.badge.certFile), key: readFileSync(options.badge.keyFile) } : {}) },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
}
