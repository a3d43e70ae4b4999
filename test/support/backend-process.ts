/**
 * A farm server as a process of its own, for tests that kill it (SIGKILL) and start it again:
 * `GATEHOUSE_TEST_BACKEND=NAME node backend-process.js [PORT]` listens on 127.0.0.1:PORT (0: any free
 * port), prints `listening PORT`, and answers every request with `NAME URL` (200). `/health` answers 200.
 * `POST /mode/500` makes every later request (health included) answer 500; `POST /mode/ok` undoes it.
 *
 * Without GATEHOUSE_TEST_BACKEND it does nothing: the test runner runs every file under test/.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const name = process.env['GATEHOUSE_TEST_BACKEND'];
if (name) {
  let failing = false;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url?.startsWith('/mode/')) failing = req.url === '/mode/500';
      const body = `${name} ${req.url}\n`;
      res.writeHead(failing ? 500 : 200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
