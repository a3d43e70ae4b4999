/** A bench backend: answers every request with 1 KB, keep-alive. `node backend.js PORT`. */
import { createServer } from 'node:http';

const body = Buffer.alloc(1024, 'g');
const port = Number(process.argv[2] ?? 0);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
});
