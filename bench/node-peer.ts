/**
 * The Node peer of the benchmark: http-proxy (the most used Node reverse proxy library, 1.18), in front
 * of a node:https server, doing what Gatehouse does: client certificate required and verified against the
 * CA, the certificate forwarded as base64 DER in X-ARR-ClientCert (a client copy removed first),
 * X-Forwarded-For and X-Forwarded-Proto set (`xfwd`), round robin over the farm, keep-alive to the
 * backends through a node:http Agent.
 *
 * `node node-peer.js CONFIG_JSON`, CONFIG_JSON = {"backends":[port,...],"ca":file,
 *   "listeners":[{"name":"http"},{"name":"mtls","cert":file,"key":file},...]}
 * Prints `listening NAME URL` per listener, then `ready`. With "floor":true it proxies nothing: it reads the
 * client certificate and answers 1 KB itself, the floor of what node:https costs per request and per handshake.
 */
import { Agent, createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import httpProxy from 'http-proxy';

interface Config {
  /** The floor: answer 1 KB itself after reading the client certificate, no proxying (what node:https alone costs). */
  floor?: boolean;
  backends: number[];
  ca: string;
  listeners: { name: string; cert?: string; key?: string }[];
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
const targets = config.backends.map((port) => `http://127.0.0.1:${port}`);
let next = 0;

const KB = Buffer.alloc(1024, 'g');

function floorHandler(req: IncomingMessage, res: ServerResponse): void {
  // Plain http has no certificate to read: the floor of node:http alone.
  const socket = req.socket as Partial<TLSSocket>;
  const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': KB.length, 'x-client-cert-bytes': cert?.raw?.length ?? 0 });
  res.end(KB);
}

function handler(tls: boolean) {
  if (config.floor) return floorHandler;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const target = targets[next++ % targets.length] as string;
    delete req.headers['x-arr-clientcert'];
    if (tls) {
      const cert = (req.socket as TLSSocket).getPeerCertificate();
      if (cert.raw) req.headers['x-arr-clientcert'] = cert.raw.toString('base64');
    }
    proxy.web(req, res, { target }, () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
  };
}

const ca = config.ca ? readFileSync(config.ca) : undefined;
for (const listener of config.listeners) {
  const server = listener.cert
    ? createHttpsServer(
        { cert: readFileSync(listener.cert), key: readFileSync(listener.key as string), ca, requestCert: true, rejectUnauthorized: true },
        handler(true),
      )
    : createHttpServer(handler(false));
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 150_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening ${listener.name} ${listener.cert ? 'https' : 'http'}://127.0.0.1:${port}\n`);
}
process.stdout.write('ready\n');
