/**
 * A bench backend, keep-alive. `node backend.js PORT`.
 * - GET /10mb: 10 MB body (download scenario)
 * - GET /echo-cert: the X-ARR-ClientCert header it received (checks that a peer forwards the certificate)
 * - POST anything: reads the whole body, then answers 1 KB (upload scenario)
 * - anything else: 1 KB
 */
import { createServer } from 'node:http';

const body = Buffer.alloc(1024, 'g');
const big = Buffer.alloc(10 * 1024 * 1024, 'b');
const port = Number(process.argv[2] ?? 0);
const server = createServer((req, res) => {
  if (req.url === '/echo-cert') {
    req.resume();
    const cert = Buffer.from(String(req.headers['x-arr-clientcert'] ?? ''));
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': cert.length });
    res.end(cert);
    return;
  }
  const payload = req.url === '/10mb' ? big : body;
  const answer = () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': payload.length });
    res.end(payload);
  };
  if (req.method === 'POST' || req.method === 'PUT') {
    req.on('end', answer);
    req.resume();
    return;
  }
  req.resume();
  answer();
});
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
});
