/**
 * A head node's parser refuses (client-error.ts) is written to the access log in force, also after a
 * reload replaced the access logs (it once kept writing to the log the reload had closed: lines lost).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { within } from '../support/within.js';

let pki: TestPki;
let backend: Backend;
let running: RunningGatehouse;
let logFile: string;

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('web');
  logFile = join(pki.dir, 'refused-heads.log');
  running = await startGatehouse(
    `accessLog: { destination: ${logFile}, format: json }
sites:
  - name: app
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms: [{ name: web, servers: [{ address: ${backend.address} }] }]
`,
    pki.dir,
  );
});

after(async () => {
  await running?.stop();
  await backend?.close();
  await pki?.cleanup();
});

/** A head with both Content-Length and Transfer-Encoding (request smuggling): node's parser refuses it. */
function smuggle(path: string): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      const socket = connect(running.port('app', 'http'), '127.0.0.1');
      let answer = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
      socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    }),
    10_000,
    `the answer to ${path}`,
  );
}

test('refused heads before and after a reload are both in the access log, with their outcome code', async () => {
  assert.match(await smuggle('/before-reload'), /^HTTP\/1\.1 400 /);
  assert.equal(await running.gatehouse.reload(running.configFile), true, running.events.join('\n'));
  assert.match(await smuggle('/after-reload'), /^HTTP\/1\.1 400 /);
  await running.stop(); // flushes the access log
  const lines = (await readFile(logFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { url: string; status: number; outcome: string });
  const refused = lines.filter((line) => line.status === 400);
  assert.deepEqual(refused.map((line) => [line.url, line.outcome]), [['/before-reload', 'bad_request'], ['/after-reload', 'bad_request']], JSON.stringify(lines));
});
