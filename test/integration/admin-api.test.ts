/**
 * The admin API over real https: admin client certificates (badges) made at test time and real bearer
 * tokens; 401 and 403 per role as problem+json; status, farms with ARR's Monitoring columns and ETags;
 * server state, health marks and counters reset with If-Match (428, 412, concurrent writers), 415 and 422
 * naming the field (persist: true is in admin-api-farm-config.test.ts); the audit log (0600, attempt before result, token users named, never
 * tokens); run-time state across a reload; the OpenAPI document against the handlers.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { issueClient } from '../../src/pki/index.js';
import { ROUTES } from '../../src/admin/routes/index.js';
import { startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { within } from '../support/within.js';
import { apiClient, makeToken, type Badge } from './admin-api-helpers.js';

let pki: TestPki;
let backends: Backend[];
let running: RunningGatehouse;
let yaml: (extra: string) => string;
const tokens: Record<'viewer' | 'operator' | 'admin', string> = { viewer: '', operator: '', admin: '' };
let alice: Badge; // administrator by subject
let otto: Badge; // operator by thumbprint
let nobody: Badge; // trusted CA, not a user
let api: ReturnType<typeof apiClient>;
let auditFile: string;

async function writeBadge(name: string, commonName: string): Promise<Badge> {
  const issued = await issueClient({ ca: pki.root, commonName, organization: 'Example' });
  const certFile = join(pki.dir, `${name}-badge.pem`);
  const keyFile = join(pki.dir, `${name}-badge.key`);
  await writeFile(certFile, issued.certPem);
  await writeFile(keyFile, issued.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}

before(async () => {
  pki = await createTestPki();
  backends = await Promise.all(['one', 'two'].map((name) => startBackend(name)));
  alice = await writeBadge('alice', 'Alice Admin');
  otto = await writeBadge('otto', 'Otto Operator');
  nobody = await writeBadge('nobody', 'Nobody Special');
  const ottoThumbprint = new X509Certificate(readFileSync(otto.certFile)).fingerprint; // AB:CD:… (colons allowed)
  const viewer = await makeToken(pki.dir, 'viewer');
  const operator = await makeToken(pki.dir, 'operator');
  const admin = await makeToken(pki.dir, 'admin');
  tokens.viewer = viewer.token;
  tokens.operator = operator.token;
  tokens.admin = admin.token;
  auditFile = join(pki.dir, 'admin-audit.log');
  yaml = (servers: string) => `accessLog: off
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  trustedCaFile: ${pki.caFile}
  auditLog: admin-audit.log
  users:
    - { subject: "CN=Alice Admin, O=Example", role: administrator }
    - { thumbprint: "${ottoThumbprint}", role: operator }
    - { name: viewer-bot, tokenFile: ${viewer.file}, role: viewer }
    - { name: operator-bot, tokenFile: ${operator.file}, role: operator }
    - { name: ci, tokenFile: ${admin.file}, role: administrator }
sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [${servers}]
    loadBalancing: { algorithm: weightedRoundRobin }
`;
  running = await startGatehouse(yaml(backends.map((b) => `{ address: ${b.address} }`).join(', ')), pki.dir);
  api = apiClient(() => (running.gatehouse.admin as { url: string }).url, pki.caFile);
});

after(async () => {
  await running?.stop();
  await Promise.all(backends.map((b) => b.close()));
  await pki?.cleanup();
});

const farmPath = '/api/v1/farms/web';
const statePath = (address: string) => `${farmPath}/servers/${encodeURIComponent(address)}/state`;
const etagOf = async (token = tokens.viewer) => (await api('GET', farmPath, { token })).headers.etag as string;

describe('authentication and roles', () => {
  test('the admin listener speaks https; without credentials only /metrics answers (401 problem+json elsewhere)', async () => {
    assert.match((running.gatehouse.admin as { url: string }).url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const metrics = await api('GET', '/metrics');
    assert.equal(metrics.status, 200, 'metrics: open is the default');
    const paths = [...ROUTES.map((route) => ({ method: route.method, path: route.path.replace('{farm}', 'web').replace('{address}', encodeURIComponent(backends[0]!.address)) })), { method: 'GET', path: '/openapi.json' }, { method: 'GET', path: '/nothing-here' }];
    for (const { method, path } of paths) {
      const answer = await api(method, `/api/v1${path}`, method === 'GET' ? {} : { body: {} });
      assert.equal(answer.status, 401, `${method} ${path}`);
      assert.equal(answer.headers['content-type'], 'application/problem+json');
      assert.equal(answer.json.code, 'unauthenticated', `${method} ${path}`);
      assert.equal(answer.json.status, 401);
      assert.match(answer.headers['www-authenticate'] as string, /^Bearer/);
    }
  });

  test('403 per role on every route: a viewer may write nothing, an operator no administrator route; nothing changes', async () => {
    const configBefore = readFileSync(running.configFile);
    const farmBefore = await etagOf();
    const rank = { viewer: 0, operator: 1, administrator: 2 } as const;
    const callers = [{ role: 'viewer', who: { token: tokens.viewer } }, { role: 'operator', who: { badge: otto } }, { role: 'operator', who: { token: tokens.operator } }] as const;
    let checked = 0;
    for (const route of ROUTES) {
      const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'farm' ? 'web' : name === 'address' ? encodeURIComponent(backends[0]!.address) : name === 'site' ? 'web' : 'X'));
      for (const { role, who } of callers) {
        if (rank[role] >= rank[route.role]) continue;
        const answer = await api(route.method, `/api/v1${path}`, { ...who, ...(route.method === 'GET' ? {} : { body: {}, ifMatch: '*' }) });
        assert.equal(answer.status, 403, `${role} ${route.method} ${route.path}: ${answer.text}`);
        assert.equal(answer.json.code, 'forbidden');
        assert.match(answer.json.detail, new RegExp(`this needs ${route.role}`));
        checked++;
      }
    }
    assert.ok(checked >= 20, `${checked} refusals checked`);
    assert.deepEqual(readFileSync(running.configFile), configBefore, 'the config file is unchanged');
    assert.equal(await etagOf(), farmBefore, 'the farm is unchanged');
  });

  test('401 for an unknown token, a malformed Authorization, an untrusted or expired certificate, a trusted certificate of no user', async () => {
    const unknown = await api('GET', '/api/v1/status', { token: 'x'.repeat(43) });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.code, 'invalid_token');
    assert.doesNotMatch(unknown.text, /xxxxxxxx/, 'the token is not echoed');
    const basic = await api('GET', '/api/v1/status', { headers: { authorization: 'Basic YTpi' } });
    assert.equal(basic.json.code, 'invalid_token');
    for (const badge of [pki.clients.untrusted, pki.clients.expired]) {
      const answer = await api('GET', '/api/v1/status', { badge });
      assert.equal(answer.status, 401);
      assert.equal(answer.json.code, 'certificate_not_trusted');
    }
    const stranger = await api('GET', '/api/v1/status', { badge: nobody });
    assert.equal(stranger.status, 401);
    assert.equal(stranger.json.code, 'unauthenticated');
    assert.match(stranger.json.detail, /Nobody Special/);
  });

  test('badges by subject and by thumbprint, and tokens, each with its role; 403 forbidden below it', async () => {
    for (const who of [{ badge: alice }, { badge: otto }, { token: tokens.viewer }, { token: tokens.operator }, { token: tokens.admin }]) {
      const status = await api('GET', '/api/v1/status', who);
      assert.equal(status.status, 200, JSON.stringify(Object.keys(who)));
    }
    const address = backends[0]!.address;
    const forbidden = await api('PUT', statePath(address), { token: tokens.viewer, body: { state: 'drain' }, ifMatch: await etagOf() });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.headers['content-type'], 'application/problem+json');
    assert.equal(forbidden.json.code, 'forbidden');
    assert.match(forbidden.json.detail, /viewer-bot has the role viewer; this needs operator/);
    for (const who of [{ badge: otto }, { token: tokens.operator }, { badge: alice }, { token: tokens.admin }]) {
      const etag = await etagOf();
      const drained = await api('PUT', statePath(address), { ...who, body: { state: 'drain' }, ifMatch: etag });
      assert.equal(drained.status, 200, drained.text);
      const back = await api('PUT', statePath(address), { ...who, body: { state: 'available' }, ifMatch: drained.headers.etag as string });
      assert.equal(back.status, 200, back.text);
      assert.equal(back.json.farm.servers[0].state, 'available');
    }
  });
});

describe('reads', () => {
  test('GET /status: version, node, uptime, workers, config file, last reload', async () => {
    const status = await api('GET', '/api/v1/status', { token: tokens.viewer });
    assert.equal(status.status, 200);
    assert.match(status.json.version, /^\d+\.\d+\.\d+/);
    assert.equal(status.json.node, process.version);
    assert.equal(typeof status.json.uptimeSeconds, 'number');
    assert.equal(status.json.workers, 1);
    assert.equal(status.json.configFile, running.configFile);
    assert.ok('lastReload' in status.json);
  });

  test("GET /farms and /farms/{farm}: ARR's Monitoring columns, settings and the ETag; 404 problem for an unknown farm", async () => {
    const res = await fetch(`${running.url('web', 'http')}/`);
    await res.arrayBuffer();
    const list = await api('GET', '/api/v1/farms', { badge: otto });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.farms.map((f: { name: string }) => f.name), ['web']);
    const farm = await api('GET', farmPath, { token: tokens.viewer });
    assert.equal(farm.status, 200);
    assert.equal(farm.headers.etag, farm.json.etag);
    assert.equal(farm.json.algorithm, 'weightedRoundRobin');
    assert.ok(farm.json.healthTest && typeof farm.json.healthTest === 'object');
    assert.equal(farm.json.affinity, null);
    const columns = ['address', 'state', 'health', 'healthReason', 'healthSince', 'currentRequests', 'totalRequests', 'failedRequests', 'requestsPerSecond', 'responseTimeMs', 'bytesSent', 'bytesReceived', 'affinityClients'];
    for (const server of farm.json.servers) for (const column of columns) assert.ok(column in server, column);
    assert.deepEqual(farm.json.servers.map((s: { address: string }) => s.address), backends.map((b) => b.address));
    assert.ok(farm.json.servers.reduce((sum: number, s: { totalRequests: number }) => sum + s.totalRequests, 0) >= 1);
    const missing = await api('GET', '/api/v1/farms/nope', { token: tokens.viewer });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'farm_not_found');
    const unknownPath = await api('GET', '/api/v1/nothing', { token: tokens.viewer });
    assert.equal(unknownPath.status, 404);
    assert.equal(unknownPath.json.code, 'not_found');
    const wrongMethod = await api('DELETE', '/api/v1/status', { token: tokens.viewer });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'GET, HEAD');
  });
});

describe('writes', () => {
  const address = () => backends[1]!.address;

  test('415 without application/json, 428 without If-Match, 412 with a stale ETag, 404 for an unknown server', async () => {
    const etag = await etagOf();
    const text = await api('PUT', statePath(address()), { token: tokens.operator, raw: 'state=drain', contentType: 'application/x-www-form-urlencoded', ifMatch: etag });
    assert.equal(text.status, 415);
    assert.equal(text.json.code, 'unsupported_media_type');
    const none = await api('PUT', statePath(address()), { token: tokens.operator, body: { state: 'drain' } });
    assert.equal(none.status, 428);
    assert.equal(none.json.code, 'precondition_required');
    const stale = await api('PUT', statePath(address()), { token: tokens.operator, body: { state: 'drain' }, ifMatch: '"stale"' });
    assert.equal(stale.status, 412);
    assert.equal(stale.json.code, 'precondition_failed');
    const server = await api('PUT', statePath('127.0.0.1:1'), { token: tokens.operator, body: { state: 'drain' }, ifMatch: etag });
    assert.equal(server.status, 404);
    assert.equal(server.json.code, 'server_not_found');
    const farm = await api('GET', farmPath, { token: tokens.viewer });
    assert.equal(farm.json.servers[1].state, 'available', 'nothing was applied');
    assert.equal(farm.headers.etag, etag);
  });

  test('422 for bad bodies, naming the field; 400 for a body that is not JSON', async () => {
    const etag = await etagOf();
    const cases: [unknown, string, RegExp][] = [
      [{ state: 'sleeping' }, 'state', /^expected one of: "available", "drain", "unavailable"$/],
      [{}, 'state', /^required/],
      [{ state: 'drain', colour: 'red' }, 'colour', /unknown field/],
      [{ state: 'drain', persist: 'yes' }, 'persist', /^Invalid input: expected boolean/],
    ];
    for (const [body, field, message] of cases) {
      const answer = await api('PUT', statePath(address()), { token: tokens.operator, body, ifMatch: etag });
      assert.equal(answer.status, 422, JSON.stringify(body));
      assert.equal(answer.json.code, 'invalid_body');
      assert.equal(answer.json.errors[0].field, field, JSON.stringify(body));
      assert.match(answer.json.errors[0].message, message);
    }
    const health = await api('POST', `${farmPath}/servers/${encodeURIComponent(address())}/health`, { token: tokens.operator, body: { healthy: 'no' }, ifMatch: etag });
    assert.equal(health.status, 422);
    assert.equal(health.json.errors[0].field, 'healthy');
    const broken = await api('PUT', statePath(address()), { token: tokens.operator, raw: '{"state":', ifMatch: etag });
    assert.equal(broken.status, 400);
    assert.equal(broken.json.code, 'invalid_json');
    assert.equal(await etagOf(), etag, 'nothing was applied');
  });

  test('413 for a body larger than the endpoint takes, answered (not a reset) whether its length is declared or not', async () => {
    const etag = await etagOf();
    const big = JSON.stringify({ state: 'drain', padding: 'x'.repeat(70 * 1024) });
    const declared = await api('PUT', statePath(address()), { token: tokens.operator, raw: big, ifMatch: etag });
    assert.equal(declared.status, 413, declared.text);
    assert.equal(declared.json.code, 'body_too_large');
    assert.match(declared.json.detail, /65536 bytes/);
    const chunked = await api('PUT', statePath(address()), { token: tokens.operator, raw: big, ifMatch: etag, headers: { 'transfer-encoding': 'chunked' } });
    assert.equal(chunked.status, 413, chunked.text);
    assert.equal(await etagOf(), etag, 'nothing was applied');
  });

  test('concurrent writers with the same ETag: one is applied, the others get 412', async () => {
    const etag = await etagOf();
    const answers = await Promise.all(
      (['drain', 'unavailable', 'drain', 'unavailable'] as const).map((state, i) => api('PUT', statePath(address()), { ...(i % 2 ? { token: tokens.operator } : { badge: otto }), body: { state }, ifMatch: etag })),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 412, 412, 412]);
    const winner = answers.find((a) => a.status === 200)!;
    const farm = await api('GET', farmPath, { token: tokens.viewer });
    assert.equal(farm.json.servers[1].state, winner.json.after.state);
    const reset = await api('PUT', statePath(address()), { token: tokens.operator, body: { state: 'available' }, ifMatch: farm.headers.etag as string });
    assert.equal(reset.status, 200);
  });

  test("health marks (ARR's Mark as Healthy / Unhealthy) and counters reset", async () => {
    const path = `${farmPath}/servers/${encodeURIComponent(address())}/health`;
    const down = await api('POST', path, { badge: otto, body: { healthy: false }, ifMatch: await etagOf() });
    assert.equal(down.status, 200, down.text);
    const server = down.json.farm.servers[1];
    assert.equal(server.health, 'unhealthy');
    assert.match(server.healthReason, /marked unhealthy by CN=Otto Operator, O=Example/);
    assert.ok(Date.parse(server.healthSince) > Date.now() - 60_000);
    assert.deepEqual(down.json.before, { health: 'healthy', healthReason: null });
    const up = await api('POST', path, { token: tokens.operator, body: { healthy: true }, ifMatch: down.headers.etag as string });
    assert.equal(up.json.farm.servers[1].health, 'healthy');
    assert.match(up.json.farm.servers[1].healthReason, /token user operator-bot/);
    for (let i = 0; i < 4; i++) await (await fetch(`${running.url('web', 'http')}/`)).arrayBuffer();
    const before = await api('GET', farmPath, { token: tokens.viewer });
    assert.ok(before.json.servers.some((s: { totalRequests: number }) => s.totalRequests > 0));
    const reset = await api('POST', `${farmPath}/counters/reset`, { token: tokens.operator, body: {}, ifMatch: before.headers.etag as string });
    assert.equal(reset.status, 200, reset.text);
    for (const s of reset.json.farm.servers) assert.equal(s.totalRequests, 0);
    assert.notEqual(reset.headers.etag, before.headers.etag, 'a reset changes the ETag');
  });

  test('the audit log: 0600, every write (attempt before result, with who), refusals as failed, never a token; GET /audit', async () => {
    assert.equal(statSync(auditFile).mode & 0o777, 0o600);
    const text = readFileSync(auditFile, 'utf8');
    for (const token of Object.values(tokens)) assert.equal(text.includes(token), false, 'no token in the audit log');
    const lines = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    const applied = lines.filter((l) => l.phase === 'result' && l.result === 'applied');
    assert.ok(applied.length >= 10, `${applied.length} applied writes`);
    for (const result of applied) {
      const attempt = lines.findIndex((l) => l.id === result.id && l.phase === 'attempt');
      assert.ok(attempt >= 0 && attempt < lines.indexOf(result), 'the attempt is written before the result');
      assert.ok(lines[attempt]!.before !== undefined);
      assert.ok(result.after !== undefined);
    }
    assert.ok(lines.some((l) => l.who.user === 'operator-bot' && l.who.via === 'token'));
    assert.ok(lines.some((l) => l.who.subject === 'CN=Otto Operator, O=Example' && /^[0-9A-F]{40}$/.test(l.who.thumbprint)));
    assert.ok(lines.some((l) => l.result === 'failed' && /^403 forbidden/.test(l.reason) && l.who.user === 'viewer-bot'), 'a refused write is audited');
    assert.ok(lines.some((l) => l.result === 'failed' && /^412 precondition_failed/.test(l.reason)));
    const read = await api('GET', '/api/v1/audit?limit=5', { token: tokens.viewer });
    assert.equal(read.status, 200);
    assert.equal(read.json.entries.length, 5);
    assert.deepEqual(read.json.entries.at(-1), lines.at(-1));
    const bad = await api('GET', '/api/v1/audit?limit=0', { token: tokens.viewer });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.errors[0].field, 'limit');
  });

  test('run-time state survives a reload that changes the farm (server identity is its address)', async () => {
    const first = backends[0]!.address;
    const drained = await api('PUT', statePath(first), { token: tokens.operator, body: { state: 'drain' }, ifMatch: await etagOf() });
    assert.equal(drained.status, 200);
    const marked = await api('POST', `${farmPath}/servers/${encodeURIComponent(address())}/health`, { token: tokens.operator, body: { healthy: false }, ifMatch: drained.headers.etag as string });
    assert.equal(marked.status, 200);
    for (let i = 0; i < 3; i++) await (await fetch(`${running.url('web', 'http')}/`)).arrayBuffer();
    const before = await api('GET', farmPath, { token: tokens.viewer });
    // The farm changes (a weight) and gains a server: the staying servers keep state, health and counters.
    const extra = await startBackend('three');
    try {
      await writeFile(running.configFile, yaml(`{ address: ${first}, weight: 2 }, { address: ${address()} }, { address: ${extra.address} }`));
      assert.equal(await running.gatehouse.reload(running.configFile), true, running.events.join('\n'));
      const after = await api('GET', farmPath, { token: tokens.viewer });
      assert.notEqual(after.headers.etag, before.headers.etag, 'the config changed');
      const [a, b, c] = after.json.servers;
      assert.equal(a.state, 'drain');
      assert.equal(a.weight, 2);
      assert.equal(b.health, 'unhealthy');
      assert.equal(b.healthReason, before.json.servers[1].healthReason);
      assert.equal(a.totalRequests, before.json.servers[0].totalRequests);
      assert.equal(b.totalRequests, before.json.servers[1].totalRequests);
      assert.equal(c.state, 'available');
      const status = await api('GET', '/api/v1/status', { token: tokens.viewer });
      assert.equal(status.json.lastReload.ok, true);
      // Back to the original farm, all available and healthy.
      await writeFile(running.configFile, yaml(backends.map((be) => `{ address: ${be.address} }`).join(', ')));
      assert.equal(await running.gatehouse.reload(running.configFile), true);
      const back = await api('PUT', statePath(first), { token: tokens.operator, body: { state: 'available' }, ifMatch: await etagOf() });
      assert.equal(back.status, 200);
      const healthy = await api('POST', `${farmPath}/servers/${encodeURIComponent(address())}/health`, { token: tokens.operator, body: { healthy: true }, ifMatch: back.headers.etag as string });
      assert.equal(healthy.status, 200);
    } finally {
      await extra.close();
    }
  });
});

describe('the OpenAPI document', () => {
  test('every route is in it, with its role; a viewer may read it', async () => {
    const doc = await api('GET', '/api/v1/openapi.json', { token: tokens.viewer });
    assert.equal(doc.status, 200);
    assert.equal(doc.json.openapi, '3.1.0');
    for (const route of ROUTES) {
      const operation = doc.json.paths[route.path]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${route.path}`);
      assert.equal(operation['x-gatehouse-role'], route.role);
      assert.equal(Boolean(operation.requestBody), route.body !== undefined, `${route.method} ${route.path} body`);
      for (const name of route.path.match(/\{(\w+)\}/g) ?? []) assert.ok(operation.parameters.some((p: { name: string; in: string }) => p.in === 'path' && `{${p.name}}` === name));
    }
  });

  test("the document's request schemas reject exactly what the handlers reject", async () => {
    const doc = (await api('GET', '/api/v1/openapi.json', { token: tokens.viewer })).json;
    const samples: Record<string, unknown[]> = {
      setServerState: [{ state: 'drain' }, { state: 'available', persist: false }, { state: 'sleeping' }, {}, { state: 'drain', extra: 1 }, { state: 1 }, { state: 'drain', persist: 'no' }, [], 'drain', null],
      markServerHealth: [{ healthy: true }, { healthy: false }, { healthy: 'yes' }, {}, { healthy: true, why: 'x' }, null],
      resetFarmCounters: [{}, { now: true }, [], 3],
    };
    for (const route of ROUTES.filter((r) => r.body)) {
      const operation = doc.paths[route.path][route.method.toLowerCase()];
      const schema = z.fromJSONSchema(operation.requestBody.content['application/json'].schema);
      const path = `/api/v1${route.path.replace('{farm}', 'web').replace('{address}', encodeURIComponent(backends[0]!.address))}`;
      for (const body of samples[route.operationId] ?? []) {
        const accepted = schema.safeParse(body).success;
        // A stale If-Match: a body the handler accepts gets 412 (nothing applied), one it rejects 422.
        const answer = await api(route.method, path, { token: tokens.admin, raw: JSON.stringify(body), ifMatch: '"stale"' });
        assert.ok(answer.status === 412 || answer.status === 422, `${route.operationId} ${JSON.stringify(body)}: ${answer.status} ${answer.text}`);
        assert.equal(answer.status === 412, accepted, `${route.operationId} ${JSON.stringify(body)}: the document says ${accepted ? 'valid' : 'invalid'}, the handler answered ${answer.status}`);
      }
    }
  });
});

describe('the admin listener against a client that does not finish its TLS handshake', () => {
  test('a connection that sends nothing is dropped after the 10 s handshake timeout (node would wait 120 s)', async () => {
    const { port } = new URL((running.gatehouse.admin as { url: string }).url);
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.on('error', () => {});
    await within(new Promise((resolve) => socket.once('close', resolve)), 30_000, 'the silent connection is dropped');
  });
});
