/**
 * Backend servers for tests: plain node:http servers on 127.0.0.1, port 0. The default handler answers
 * with what it received (JSON: server name, method, url, headers, body length and SHA-256).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoReply {
  server: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
}

export interface Backend {
  readonly name: string;
  readonly server: Server;
  /** `127.0.0.1:port` as a farm server address. */
  readonly address: string;
  readonly port: number;
  /** Requests received, in order. */
  readonly received: EchoReply[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, backend: Backend) => void;

export function echoHandler(req: IncomingMessage, res: ServerResponse, backend: Backend): void {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  req.on('end', () => {
    const reply: EchoReply = { server: backend.name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes, bodySha256: hash.digest('hex') };
    backend.received.push(reply);
    const body = JSON.stringify(reply);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

export async function startBackend(name: string, handler: Handler = echoHandler, host = '127.0.0.1'): Promise<Backend> {
  const received: EchoReply[] = [];
  let backend: Backend;
  const server = createServer((req, res) => handler(req, res, backend));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  backend = {
    name,
    server,
    port,
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return backend;
}

/** A port that refuses connections: bound, then closed. */
export async function refusedAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
