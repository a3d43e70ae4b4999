/**
 * Opens COUNT idle mTLS connections (handshake done, no request) to HOST:PORT, at most CONCURRENCY
 * handshakes in flight, for at most SECONDS, then prints one JSON line {open, failed, seconds} and holds
 * the connections until it is killed (or 60 s pass), then exits.
 * `node idle-conns.js PORT CERT KEY COUNT CONCURRENCY SECONDS`
 */
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';

const [portArg, certFile, keyFile, countArg, concurrencyArg, secondsArg] = process.argv.slice(2) as [string, string, string, string, string, string];
const port = Number(portArg);
const count = Number(countArg);
const concurrency = Number(concurrencyArg);
const deadline = performance.now() + Number(secondsArg) * 1000;
const cert = readFileSync(certFile);
const key = readFileSync(keyFile);
const sockets: TLSSocket[] = [];
let open = 0;
let failed = 0;
let started = 0;
const start = performance.now();

function one(): Promise<void> {
  return new Promise((resolve) => {
    // rejectUnauthorized false: the client side's verification is not what is measured.
    const socket = connect({ host: '127.0.0.1', port, cert, key, rejectUnauthorized: false, servername: 'localhost' });
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      if (ok) {
        open++;
        sockets.push(socket);
      } else {
        failed++;
        socket.destroy();
      }
      resolve();
    };
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      done(true);
    });
    socket.once('error', () => done(false));
    socket.once('close', () => {
      if (settled) open--;
      done(false);
    });
    socket.setTimeout(10_000, () => done(false));
  });
}

async function worker(): Promise<void> {
  while (started < count && performance.now() < deadline) {
    started++;
    await one();
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
// The server may refuse a connection only after the handshake (as a TLS 1.3 alert): give it a moment.
await new Promise((resolve) => setTimeout(resolve, 500));
process.stdout.write(`${JSON.stringify({ open, failed, seconds: (performance.now() - start) / 1000 })}\n`);
setTimeout(() => {
  for (const s of sockets) s.destroy();
  process.exit(0);
}, 60_000);
