/**
 * A real server on 127.0.0.1 (port 0) and a fetch-based client for middleware tests.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Running {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts `listener` on `host` (default 127.0.0.1), port 0. */
export async function listen(listener: RequestListener, host = '127.0.0.1'): Promise<Running> {
  const server = createServer(listener);
  return started(server, host);
}

/** Wraps an already created server (listen not yet called). */
export async function started(server: Server, host = '127.0.0.1'): Promise<Running> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET `url` with `headers`; returns status and text body. */
export async function get(url: string, headers: Record<string, string> | [string, string][] = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text() };
}

/** Turns a flat [name, value, …] list into fetch header pairs. */
export function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}
