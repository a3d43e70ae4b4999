/**
 * With workers: 2 the primary serves the admin API: /status answers (workers: 2), farm reads and writes
 * answer 503 cluster_unsupported saying why, and nothing is applied to one worker alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { apiClient, makeToken } from './admin-api-helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/main.js');

let pki: TestPki;
let backend: Backend;

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('one');
});

after(async () => {
  await backend?.close();
  await pki?.cleanup();
});

test('workers: 2: the primary answers /status; farm reads and writes answer 503 cluster_unsupported', async (t) => {
  const { token, file } = await makeToken(pki.dir, 'ops');
  const config = join(pki.dir, 'cluster.yaml');
  await writeFile(
    config,
    `accessLog: off
workers: 2
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  users: [{ name: ops, tokenFile: ${file}, role: operator }]
sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [{ address: ${backend.address} }]
`,
  );
  const child = spawn(process.execPath, [MAIN, 'start', '-c', config], { cwd: pki.dir });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const adminUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no admin listening line within 20 s\n${out}\n${stderr}`)), 20_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const match = /listening (https:\/\/\S+)\/metrics \(admin\)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.on('exit', () => reject(new Error(`gatehouse exited\n${out}\n${stderr}`)));
  });
  const api = apiClient(() => adminUrl, pki.caFile);
  const status = await api('GET', '/api/v1/status', { token });
  assert.equal(status.status, 200, status.text);
  assert.equal(status.json.workers, 2);
  assert.equal((await api('GET', '/api/v1/status')).status, 401);
  const farms = await api('GET', '/api/v1/farms/web', { token });
  assert.equal(farms.status, 503);
  assert.equal(farms.json.code, 'cluster_unsupported');
  assert.match(farms.json.detail, /workers: 2 each worker process holds its own farms/);
  const drain = await api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(backend.address)}/state`, { token, body: { state: 'drain' }, ifMatch: '"x"' });
  assert.equal(drain.status, 503);
  assert.equal(drain.json.code, 'cluster_unsupported');
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await exited;
});
