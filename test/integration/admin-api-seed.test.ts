/**
 * Issue 13's "done when", end to end with the clients a user has: the seed's four steps done with curl
 * against a running `gatehouse start` (the real command line), then ARR's Monitoring and Management actions
 * with the `gatehouse` CLI:
 *  1. Server Certificates → Create Self-Signed Certificate (POST /certificates/self-signed);
 *  2. Bindings → Add an https binding with it (POST /sites/{site}/bindings, `certificate: { id }`);
 *  3. SSL Settings → Require SSL + Require client certificates → Apply (PUT /sites/{site}/ssl);
 *  4. the farm was there from the start; curl with a client certificate gets 200 and the backend sees
 *     X-ARR-ClientCert, without one 403.7, over http 403.4;
 * then drain, make available, mark unhealthy / healthy, reset counters and status from the CLI, each
 * visible in real requests and in the audit log.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { curl, type CurlResult } from '../support/clients.js';
import { freePort } from '../support/door.js';
import { RunningCli } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { makeToken } from './admin-api-helpers.js';
import { runCli, type CliResult } from './cli-helpers.js';

let pki: TestPki;
let backends: Backend[];
let gatehouse: RunningCli;
let adminApi: string;
let httpUrl: string;
let httpsPort: number;
let certificateId: string;
const tokens = { admin: { token: '', file: '' }, operator: { token: '', file: '' } };

/** curl against the admin API with a token: `-X METHOD`, a JSON body and If-Match when given. */
async function api(method: string, path: string, options: { token?: string; body?: unknown; ifMatch?: string } = {}): Promise<CurlResult & { json: any }> {
  const headers = [`Authorization: Bearer ${options.token ?? tokens.admin.token}`];
  const extra = ['-X', method];
  if (options.body !== undefined) {
    headers.push('Content-Type: application/json');
    extra.push('--data-binary', JSON.stringify(options.body));
  }
  if (options.ifMatch !== undefined) headers.push(`If-Match: ${options.ifMatch}`);
  const result = await curl(`${adminApi}${path}`, { cacert: pki.caFile, headers, extra });
  let json: unknown;
  try {
    json = JSON.parse(result.body);
  } catch {
    json = undefined;
  }
  return { ...result, json };
}

/** `gatehouse ARGS` against this Gatehouse's admin listener, as the operator. */
function gh(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GATEHOUSE_ADMIN_')));
  return runCli(args, { cwd: pki.dir, env: { ...env, GATEHOUSE_ADMIN_URL: adminApi.replace(/\/api\/v1$/, ''), GATEHOUSE_ADMIN_CA: pki.caFile, GATEHOUSE_ADMIN_TOKEN_FILE: tokens.operator.file }, timeoutMs: 30_000 });
}

function expectExit(result: CliResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

/** A request over a new connection with the client certificate; the backend that answered. */
async function serverReached(): Promise<string> {
  const reply = await curl(`https://localhost:${httpsPort}/which`, { cacert: join(pki.dir, 'certificates', `${certificateId}.pem`), cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile });
  assert.equal(reply.status, 200, reply.stderr + reply.body);
  return (JSON.parse(reply.body) as { server: string }).server;
}

before(async () => {
  pki = await createTestPki();
  backends = await Promise.all(['one', 'two'].map((name) => startBackend(name)));
  tokens.admin = await makeToken(pki.dir, 'admin');
  tokens.operator = await makeToken(pki.dir, 'operator');
  httpsPort = await freePort();
  // The starting point: a site with an http binding and its farm; no certificate, no SSL settings yet.
  await writeFile(
    join(pki.dir, 'gatehouse.yaml'),
    `# The seed, before the four steps are done through the admin API.
accessLog: off
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  users:
    - { name: ci, tokenFile: admin.token, role: administrator }
    - { name: ops, tokenFile: operator.token, role: operator }
sites:
  - name: secure
    bindings:
      - { protocol: http, address: 127.0.0.1, port: 0 }
    farm: web
farms:
  - name: web
    servers:
      - address: ${backends[0]?.address}
      - address: ${backends[1]?.address}
`,
  );
  gatehouse = new RunningCli(undefined, ['start', '-c', 'gatehouse.yaml'], pki.dir);
  adminApi = `${(await gatehouse.waitFor('stdout', /listening (https:\/\/127\.0\.0\.1:\d+)\/metrics \(admin\)/))[1]}/api/v1`;
  httpUrl = (await gatehouse.waitFor('stdout', /listening (http:\/\/127\.0\.0\.1:\d+) \(site secure\)/))[1] as string;
});

after(async () => {
  await gatehouse?.kill();
  await Promise.all((backends ?? []).map((b) => b.close()));
  await pki?.cleanup();
});

describe("the seed's four steps with curl against a running Gatehouse", () => {
  test('1. Create Self-Signed Certificate: the store holds it (key 0600), GET /certificates lists it', async () => {
    const listing = await api('GET', '/certificates');
    assert.equal(listing.status, 200, listing.body);
    const created = await api('POST', '/certificates/self-signed', { body: { friendlyName: 'Seed site', hostNames: ['localhost', '127.0.0.1'] }, ifMatch: listing.headers.etag as string });
    assert.equal(created.status, 201, created.body);
    certificateId = created.json.id;
    assert.match(certificateId, /^[0-9A-F]{40}$/);
    const pem = readFileSync(join(pki.dir, 'certificates', `${certificateId}.pem`), 'utf8');
    assert.equal(new X509Certificate(pem).fingerprint.replace(/:/g, ''), certificateId);
    assert.equal(statSync(join(pki.dir, 'certificates', `${certificateId}.key`)).mode & 0o777, 0o600);
    assert.ok(!created.body.includes('PRIVATE KEY'));
    const after = await api('GET', '/certificates');
    assert.ok(after.json.certificates.some((c: { id: string; friendlyName: string }) => c.id === certificateId && c.friendlyName === 'Seed site'));
  });

  test('2. Bindings → Add: an https binding with that certificate, reloaded and listening', async () => {
    const site = await api('GET', '/sites/secure');
    assert.equal(site.status, 200, site.body);
    const added = await api('POST', '/sites/secure/bindings', { body: { protocol: 'https', address: '127.0.0.1', port: httpsPort, certificate: { id: certificateId } }, ifMatch: site.headers.etag as string });
    assert.equal(added.status, 200, added.body);
    assert.equal(added.json.config.reload.ok, true, added.body);
    // Before SSL Settings: https answers without a client certificate.
    const open = await curl(`https://localhost:${httpsPort}/`, { cacert: join(pki.dir, 'certificates', `${certificateId}.pem`) });
    assert.equal(open.status, 200, open.stderr + open.body);
  });

  test('3. SSL Settings: Require SSL + Require client certificates, Apply', async () => {
    const site = await api('GET', '/sites/secure');
    const applied = await api('PUT', '/sites/secure/ssl', { body: { requireSsl: true, clientCertificates: 'require', trustedCaFile: pki.caFile }, ifMatch: site.headers.etag as string });
    assert.equal(applied.status, 200, applied.body);
    assert.equal(applied.json.config.reload.ok, true, applied.body);
    assert.equal(applied.json.site.ssl.clientCertificates, 'require');
  });

  test('4. the farm behind it: with a client certificate 200 and X-ARR-ClientCert; without 403.7; over http 403.4', async () => {
    const ca = join(pki.dir, 'certificates', `${certificateId}.pem`);
    const withCert = await curl(`https://localhost:${httpsPort}/hello`, { cacert: ca, cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile });
    assert.equal(withCert.status, 200, withCert.stderr + withCert.body);
    const seen = JSON.parse(withCert.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-arr-clientcert'], pki.clients.valid.issued.certificate.rawData ? Buffer.from(pki.clients.valid.issued.certificate.rawData).toString('base64') : new X509Certificate(readFileSync(pki.clients.valid.certFile)).raw.toString('base64'));
    const without = await curl(`https://localhost:${httpsPort}/hello`, { cacert: ca });
    assert.equal(without.status, 403);
    assert.ok(without.body.includes('403.7'), without.body);
    const plain = await curl(`${httpUrl}/hello`);
    assert.equal(plain.status, 403);
    assert.ok(plain.body.includes('403.4'), plain.body);
  });
});

describe("ARR's Monitoring and Management with the gatehouse CLI", () => {
  const [one, two] = [0, 1];
  test('drain: new clients stop reaching the server; available again: they come back', async () => {
    const drained = backends[one]?.address as string;
    expectExit(await gh(['server', 'drain', 'web', drained]), 0, 'server drain');
    const reached = new Set<string>();
    for (let i = 0; i < 6; i++) reached.add(await serverReached());
    assert.deepEqual([...reached], [backends[two]?.name]);
    const shown = await gh(['farm', 'show', 'web', '--json']);
    expectExit(shown, 0, 'farm show');
    assert.equal(JSON.parse(shown.stdout).servers.find((s: { address: string }) => s.address === drained).state, 'drain');
    expectExit(await gh(['server', 'available', 'web', drained]), 0, 'server available');
    const back = new Set<string>();
    for (let i = 0; i < 6; i++) back.add(await serverReached());
    assert.equal(back.size, 2, `both servers reached again: ${[...back].join(', ')}`);
  });

  test('mark unhealthy / healthy, reset counters, status; the audit log holds each write with its user', async () => {
    const address = backends[two]?.address as string;
    expectExit(await gh(['server', 'unhealthy', 'web', address]), 0, 'server unhealthy');
    for (let i = 0; i < 4; i++) assert.equal(await serverReached(), backends[one]?.name);
    expectExit(await gh(['server', 'healthy', 'web', address]), 0, 'server healthy');
    const reset = await api('POST', '/farms/web/counters/reset', { token: tokens.operator.token, body: {}, ifMatch: (await api('GET', '/farms/web')).headers.etag as string });
    assert.equal(reset.status, 200, reset.body);
    assert.ok(reset.json.farm.servers.every((s: { totalRequests: number }) => s.totalRequests === 0));
    const status = await gh(['status', '--json']);
    expectExit(status, 0, 'status');
    assert.equal(JSON.parse(status.stdout).lastReload.ok, true);
    const audit = await api('GET', '/audit?limit=100');
    const results = (audit.json.entries as { phase: string; action: string; who: { user?: string }; result?: string }[]).filter((e) => e.phase === 'result');
    for (const action of ['createSelfSignedCertificate', 'addBinding', 'setSiteSsl', 'setServerState', 'markServerHealth', 'resetFarmCounters']) {
      assert.ok(results.some((e) => e.action === action && e.result === 'applied'), `${action} audited: ${JSON.stringify(results.map((e) => e.action))}`);
    }
    assert.ok(results.some((e) => e.action === 'setServerState' && e.who.user === 'ops'));
    assert.ok(!readFileSync(join(pki.dir, 'audit.log'), 'utf8').includes(tokens.operator.token));
  });
});
