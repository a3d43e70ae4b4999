/**
 * Drain through the admin API under load: while requests keep flowing, a server drained with
 * PUT /farms/{farm}/servers/{address}/state gets no new clients, clients with affinity (ARRAffinity
 * cookie) keep it, and no request fails. Then `gatehouse admin token` as a child process. With several
 * workers, see admin-api-cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { apiClient, makeToken } from './admin-api-helpers.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/main.js');

let pki: TestPki;
let backends: Backend[];
let running: RunningGatehouse;
let token: string;
let api: ReturnType<typeof apiClient>;

function get(cookie?: string): Promise<{ status: number; server: string; cookie: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${running.url('web', 'http')}/`, { agent: false, headers: cookie ? { cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, server: body, cookie: res.headers['set-cookie']?.find((c) => c.startsWith('ARRAffinity='))?.split(';')[0] }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  pki = await createTestPki();
  backends = await Promise.all(['one', 'two', 'three'].map((name) => startBackend(name, (_req, res, backend) => res.end(backend.name))));
  const operator = await makeToken(pki.dir, 'drainer');
  token = operator.token;
  running = await startGatehouse(
    `accessLog: off
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  users: [{ name: drainer, tokenFile: ${operator.file}, role: operator }]
sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [${backends.map((b) => `{ address: ${b.address} }`).join(', ')}]
    affinity: { useCookie: true }
`,
    pki.dir,
  );
  api = apiClient(() => (running.gatehouse.admin as { url: string }).url, pki.caFile);
});

after(async () => {
  await running?.stop();
  await Promise.all(backends.map((b) => b.close()));
  await pki?.cleanup();
});

describe('drain through the API under load', () => {
  test('new clients stop reaching the drained server, affinity clients keep it, no request fails', async () => {
    // Pinned clients: keep asking until a few are pinned to each server.
    const pinned = new Map<string, string[]>();
    while ([...pinned.values()].filter((list) => list.length >= 3).length < backends.length) {
      const first = await get();
      assert.equal(first.status, 200);
      assert.ok(first.cookie, 'a new client gets an ARRAffinity cookie');
      pinned.set(first.server, [...(pinned.get(first.server) ?? []), first.cookie as string]);
    }
    const drained = backends[0] as Backend;
    let stop = false;
    const failures: string[] = [];
    const newClientServers: string[] = [];
    let drainedAt = Number.POSITIVE_INFINITY;
    // Load: new clients (no cookie) and pinned clients, in parallel, all through the drain.
    const load = Array.from({ length: 6 }, async (_, worker) => {
      let sent = 0;
      while (!stop) {
        const cookies = pinned.get(drained.name) as string[];
        const cookie = worker % 2 === 0 ? undefined : cookies[sent % cookies.length];
        const startedAt = Date.now();
        try {
          const answer = await get(cookie);
          if (answer.status !== 200) failures.push(`status ${answer.status}`);
          if (cookie && answer.server !== drained.name) failures.push(`an affinity client of ${drained.name} reached ${answer.server}`);
          if (!cookie && startedAt > drainedAt) newClientServers.push(answer.server);
        } catch (error) {
          failures.push((error as Error).message);
        }
        sent++;
      }
      return sent;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const farm = await api('GET', '/api/v1/farms/web', { token });
    const answer = await api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(drained.address)}/state`, { token, body: { state: 'drain' }, ifMatch: farm.headers.etag as string });
    assert.equal(answer.status, 200, answer.text);
    drainedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 600));
    stop = true;
    const sent = (await Promise.all(load)).reduce((a, b) => a + b, 0);
    assert.deepEqual(failures, [], 'no request failed');
    assert.ok(sent > 50, `${sent} requests under load`);
    assert.ok(newClientServers.length > 10, `${newClientServers.length} new clients after the drain`);
    assert.equal(newClientServers.filter((name) => name === drained.name).length, 0, 'no new client reached the drained server');
    const after = await api('GET', '/api/v1/farms/web', { token });
    const server = after.json.servers[0];
    assert.equal(server.state, 'drain');
    assert.equal(server.affinityClients, null, 'cookie affinity: the clients keep the cookie');
    assert.ok(server.totalRequests > 0);
  });
});

describe('gatehouse admin token (child process)', () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN, ...args], { cwd: pki.dir });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  test('writes a 0600 token file and prints the users line; never over a file without --force; the token is printed nowhere', async () => {
    const made = await run(['admin', 'token', '--name', 'ci', '-o', 'ci.token', '--role', 'operator']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stdout.trim(), '- { name: ci, tokenFile: ci.token, role: operator }');
    const file = join(pki.dir, 'ci.token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const minted = readFileSync(file, 'utf8').trim();
    assert.match(minted, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(made.stdout.includes(minted) || made.stderr.includes(minted), false, 'the token is printed nowhere');
    const again = await run(['admin', 'token', '--name', 'ci', '-o', 'ci.token']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ci\.token already exists/);
    assert.equal(readFileSync(file, 'utf8').trim(), minted, 'not overwritten');
    const forced = await run(['admin', 'token', '--name', 'ci', '-o', 'ci.token', '--force']);
    assert.equal(forced.code, 0);
    assert.notEqual(readFileSync(file, 'utf8').trim(), minted);
    const bad = await run(['admin', 'token', '--name', 'no spaces']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--name no spaces: not a user name/);
  });
});
