/**
 * The Node peer of the benchmark: "node:http proxy (http.Agent)", a plain TLS-terminating reverse proxy
 * written the way a typical Node proxy is (node:https server, node:http client with a keep-alive
 * http.Agent, request and response piped), doing what Gatehouse does: client certificate required and
 * verified against the CA, the certificate forwarded as base64 DER in X-ARR-ClientCert, X-Forwarded-For
 * and X-Forwarded-Proto set, round robin over the farm.
 *
 * `node node-peer.js CONFIG_JSON`, CONFIG_JSON = {"backends":[port,...],"ca":file,
 *   "listeners":[{"name":"http"},{"name":"mtls","cert":file,"key":file},...]}
 * Prints `listening NAME URL` per listener, then `ready`.
 */
import { Agent, createServer as createHttpServer, request, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

interface Config {
  backends: number[];
  ca: string;
  listeners: { name: string; cert?: string; key?: string }[];
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000, maxFreeSockets: 256 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'x-arr-clientcert']);
let next = 0;

function handler(tls: boolean) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const port = config.backends[next++ % config.backends.length] as number;
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = req.headers['transfer-encoding'];
    const remote = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${remote}` : remote;
    headers['x-forwarded-proto'] = tls ? 'https' : 'http';
    if (tls) {
      const cert = (req.socket as TLSSocket).getPeerCertificate();
      if (cert.raw) headers['x-arr-clientcert'] = cert.raw.toString('base64');
    }
    const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent }, (answer) => {
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
      if (answer.headers['transfer-encoding'] !== undefined) out['transfer-encoding'] = answer.headers['transfer-encoding'];
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
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
