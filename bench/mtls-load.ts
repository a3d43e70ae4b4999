/**
 * Keep-alive load with a client certificate, which wrk cannot present: undici pool with `connections`
 * sockets, each sending requests back to back for `seconds`. Prints JSON {requests, seconds, p99Ms}.
 * With `close`, every request carries `Connection: close` (a new TLS connection, full handshake, per request):
 * the fallback of bench/run.ts when the wrk client-certificate shim cannot be built.
 * `node mtls-load.js URL CERT KEY CA CONNECTIONS SECONDS [close]`
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

const [url, certFile, keyFile, caFile, connectionsArg, secondsArg, mode] = process.argv.slice(2) as [string, string, string, string, string, string, string | undefined];
const reset = mode === 'close';
const connections = Number(connectionsArg);
const durationMs = Number(secondsArg) * 1000;
const pool = new Pool(url, { connections, pipelining: 1, ...(reset ? { maxCachedSessions: 0 } : {}), connect: { cert: readFileSync(certFile), key: readFileSync(keyFile), ca: readFileSync(caFile), servername: 'localhost' } });
const latencies: number[] = [];
let requests = 0;
let errors = 0;
const start = performance.now();
const end = start + durationMs;

async function worker(): Promise<void> {
  while (performance.now() < end) {
    const t = performance.now();
    try {
      const { statusCode, body } = await pool.request({ path: '/', method: 'GET', reset });
      await body.dump();
      if (statusCode === 200) requests++;
      else errors++;
    } catch {
      errors++;
    }
    latencies.push(performance.now() - t);
  }
}

await Promise.all(Array.from({ length: connections }, worker));
const seconds = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
process.stdout.write(`${JSON.stringify({ requests, errors, seconds, p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0 })}\n`);
await pool.close();
