/**
 * The bench's events stream client: `node events-client.js ADMIN_URL TOKEN_FILE` connects to
 * GET /api/v1/events/stream as a console would, reads everything, prints `connected` once the stream
 * is open and then, every second, `read B bytes, E events, H heartbeats`; `closed …` if the stream ends.
 * Runs as its own process (pinned with the generator) so that it reads while the bench waits on wrk.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

const [url, tokenFile] = process.argv.slice(2) as [string, string];
const token = readFileSync(tokenFile, 'utf8').trim();
let bytes = 0;
let events = 0;
let heartbeats = 0;
const report = () => process.stdout.write(`read ${bytes} bytes, ${events} events, ${heartbeats} heartbeats\n`);
const req = request(`${url}/api/v1/events/stream`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
  if (res.statusCode !== 200) {
    process.stdout.write(`closed: status ${res.statusCode}\n`);
    process.exit(1);
  }
  process.stdout.write('connected\n');
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    bytes += Buffer.byteLength(chunk);
    events += chunk.split('\nevent: ').length - 1;
    heartbeats += chunk.split(': heartbeat').length - 1;
  });
  res.on('close', () => {
    report();
    process.stdout.write('closed: the stream ended\n');
    process.exit(1);
  });
  setInterval(report, 1000);
});
req.on('error', (error) => {
  process.stdout.write(`closed: ${error.message}\n`);
  process.exit(1);
});
req.end();
