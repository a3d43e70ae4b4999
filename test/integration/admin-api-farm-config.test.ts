/**
 * Farm edits that write the config file, over real https: add and remove servers, change the algorithm,
 * health test and affinity, take the farm offline and back (each guarded by the farm's ETag, reloaded);
 * the servers that stay keep their counters and run-time state; `persist: true` on a server state change
 * applies it now and writes `state:` into the file, which a restart reads back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { send } from '../support/clients.js';
import { startAdminRig, type AdminRig } from './admin-config-support.js';

let rig: AdminRig;

before(async () => {
  rig = await startAdminRig(3, (backends) => `sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [{ address: ${backends[0]!.address} }, { address: ${backends[1]!.address} }]
`);
});

after(async () => {
  await rig?.close();
});

const farm = async () => (await rig.api('GET', '/api/v1/farms/web', { token: rig.tokens.viewer })).json;
const webUrl = () => rig.running().gatehouse.bound.find((l) => l.protocol === 'http' && l.sites.includes('web'))!.url;
const declaredServers = () => (parse(readFileSync(rig.configFile(), 'utf8')) as { farms: { servers: { address: string; state?: string; weight?: number; enabled?: boolean }[] }[] }).farms[0]!.servers;
const address = (i: number) => rig.backends[i]!.address;
const server = (view: { servers: { address: string }[] }, i: number) => view.servers.find((s) => s.address === address(i)) as { address: string; state: string; totalRequests: number; health: string };

async function traffic(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const reply = await send(`${webUrl()}/r${i}`);
    assert.equal(reply.status, 200, reply.body.toString());
  }
}

describe('servers added and removed through the config file', () => {
  test('POST a server: 201, reloaded; the servers that stay keep their counters and run-time state', async () => {
    await traffic(6);
    const drained = await rig.api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(address(1))}/state`, { token: rig.tokens.operator, body: { state: 'drain' }, ifMatch: (await farm()).etag });
    assert.equal(drained.status, 200, drained.text);
    const before = await farm();
    const counted = server(before, 0).totalRequests + server(before, 1).totalRequests;
    assert.equal(counted, 6);
    const body = { address: address(2), weight: 50 };
    assert.equal((await rig.api('POST', '/api/v1/farms/web/servers', { token: rig.tokens.operator, body, ifMatch: before.etag })).status, 403, 'administrator only');
    assert.equal((await rig.api('POST', '/api/v1/farms/web/servers', { token: rig.tokens.admin, body, ifMatch: '"stale"' })).status, 412);
    const answer = await rig.api('POST', '/api/v1/farms/web/servers', { badge: rig.badge, body, ifMatch: before.etag });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.json.config.reload.ok, true, JSON.stringify(answer.json.config.reload));
    assert.equal(answer.headers.etag, answer.json.farm.etag);
    assert.equal(answer.json.after.length, 3);
    assert.deepEqual(declaredServers()[2], { address: address(2), weight: 50 });
    const now = await farm();
    assert.equal(now.servers.length, 3);
    assert.equal(server(now, 0).totalRequests, server(before, 0).totalRequests, 'counters kept');
    assert.equal(server(now, 1).totalRequests, server(before, 1).totalRequests, 'counters kept');
    assert.equal(server(now, 1).state, 'drain', 'run-time state kept across the reload');
    await traffic(4);
    assert.ok(rig.backends[2]!.received.length > 0, 'the new server takes requests');
  });

  test('DELETE a server: reloaded; an unknown one 404; the last one refused with the validate problem', async () => {
    const unknown = await rig.api('DELETE', `/api/v1/farms/web/servers/${encodeURIComponent('127.0.0.1:1')}`, { token: rig.tokens.admin, ifMatch: (await farm()).etag });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'server_not_found');
    const gone = await rig.api('DELETE', `/api/v1/farms/web/servers/${encodeURIComponent(address(2))}`, { token: rig.tokens.admin, ifMatch: (await farm()).etag });
    assert.equal(gone.status, 200, gone.text);
    assert.deepEqual((await farm()).servers.map((s: { address: string }) => s.address), [address(0), address(1)]);
    assert.equal(gone.json.config.reload.ok, true);
    const removeTwo = await rig.api('DELETE', `/api/v1/farms/web/servers/${encodeURIComponent(address(1))}`, { token: rig.tokens.admin, ifMatch: (await farm()).etag });
    assert.equal(removeTwo.status, 200);
    const last = await rig.api('DELETE', `/api/v1/farms/web/servers/${encodeURIComponent(address(0))}`, { token: rig.tokens.admin, ifMatch: (await farm()).etag });
    assert.equal(last.status, 422, last.text);
    assert.ok(last.json.errors.some((e: { field: string }) => e.field === 'farms[0].servers'), last.text);
    const back = await rig.api('POST', '/api/v1/farms/web/servers', { token: rig.tokens.admin, body: { address: address(1) }, ifMatch: (await farm()).etag });
    assert.equal(back.status, 201, back.text);
  });
});

describe('PATCH /farms/{farm}', () => {
  test('algorithm, health test and affinity change in the file and in force; counters stay; a bad combination is 422 naming the key', async () => {
    const before = await farm();
    const answer = await rig.api('PATCH', '/api/v1/farms/web', { token: rig.tokens.admin, body: { algorithm: 'leastRequests', healthTest: { maxLiveTrafficFailures: 5 }, affinity: { useCookie: true } }, ifMatch: before.etag });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.farm.algorithm, 'leastRequests');
    assert.equal(answer.json.farm.healthTest.maxLiveTrafficFailures, 5);
    assert.equal(answer.json.farm.affinity?.by, 'cookie', 'cookie affinity in force');
    assert.deepEqual(answer.json.after.loadBalancing, { algorithm: 'leastRequests' });
    assert.equal(server(answer.json.farm, 0).totalRequests, server(before, 0).totalRequests, 'counters kept');
    const bad = await rig.api('PATCH', '/api/v1/farms/web', { token: rig.tokens.admin, body: { affinity: { by: 'serverVariable' } }, ifMatch: answer.json.farm.etag });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.json.code, 'invalid_config');
    assert.ok(bad.json.errors.some((e: { field: string }) => e.field.startsWith('farms[0].affinity')), bad.text);
    const badBody = await rig.api('PATCH', '/api/v1/farms/web', { token: rig.tokens.admin, body: { algorithm: 'fastest' }, ifMatch: answer.json.farm.etag });
    assert.equal(badBody.status, 422);
    assert.equal(badBody.json.errors[0].field, 'algorithm');
    const reset = await rig.api('PATCH', '/api/v1/farms/web', { token: rig.tokens.admin, body: { affinity: { useCookie: null } }, ifMatch: answer.json.farm.etag });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.json.farm.affinity, null, 'no affinity once useCookie is removed');
  });

  test("enabled: false takes the farm offline (ARR's Take Farm Offline: 502.4); enabled: true brings it back", async () => {
    const offline = await rig.api('PATCH', '/api/v1/farms/web', { token: rig.tokens.admin, body: { enabled: false }, ifMatch: (await farm()).etag });
    assert.equal(offline.status, 200, offline.text);
    assert.equal(offline.json.farm.enabled, false);
    const refused = await send(`${webUrl()}/offline`);
    assert.equal(refused.status, 502);
    assert.match(refused.body.toString(), /502\.4/);
    const online = await rig.api('PATCH', '/api/v1/farms/web', { token: rig.tokens.admin, body: { enabled: true }, ifMatch: offline.json.farm.etag });
    assert.equal(online.status, 200);
    assert.equal((await send(`${webUrl()}/online`)).status, 200);
  });
});

describe('PATCH /farms/{farm}/servers/{address}', () => {
  const path = (i: number) => `/api/v1/farms/web/servers/${encodeURIComponent(address(i))}`;
  const received = () => rig.backends.map((b) => b.received.length);

  test('weight: administrator only, guarded by the farm\'s ETag, written into the file, reloaded; the distribution follows; counters stay', async () => {
    const before = await farm();
    assert.equal((await rig.api('PATCH', path(0), { token: rig.tokens.operator, body: { weight: 300 }, ifMatch: before.etag })).status, 403, 'administrator only');
    assert.equal((await rig.api('PATCH', path(0), { token: rig.tokens.admin, body: { weight: 300 }, ifMatch: '"stale"' })).status, 412);
    assert.equal((await rig.api('PATCH', path(0), { token: rig.tokens.admin, body: { weight: 300 } })).status, 428, 'If-Match required');
    const answer = await rig.api('PATCH', path(0), { badge: rig.badge, body: { weight: 300 }, ifMatch: before.etag });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.operation.type, 'farm.setServer');
    assert.equal(answer.json.config.reload.ok, true, JSON.stringify(answer.json.config.reload));
    assert.equal(answer.headers.etag, answer.json.farm.etag);
    assert.notEqual(answer.json.farm.etag, before.etag);
    assert.equal(declaredServers().find((s) => s.address === address(0))?.weight, 300);
    const now = await farm();
    assert.equal((now.servers.find((s: { address: string }) => s.address === address(0)) as { weight: number }).weight, 300);
    assert.equal(server(now, 0).totalRequests, server(before, 0).totalRequests, 'counters kept');
    const start = received();
    await traffic(8);
    const got = received().map((n, i) => n - (start[i] ?? 0));
    assert.equal((got[0] ?? 0) + (got[1] ?? 0), 8);
    assert.equal(got[0], 6, `weighted round robin 300:100 over 8 requests: ${JSON.stringify(got)}`);
  });

  test('enabled: false takes the server out (no new requests), true brings it back; the audit names the change', async () => {
    const off = await rig.api('PATCH', path(1), { token: rig.tokens.admin, body: { enabled: false }, ifMatch: (await farm()).etag });
    assert.equal(off.status, 200, off.text);
    assert.equal((off.json.farm.servers.find((s: { address: string }) => s.address === address(1)) as { enabled: boolean }).enabled, false);
    assert.equal(declaredServers().find((s) => s.address === address(1))?.enabled, false);
    const start = received();
    await traffic(4);
    assert.equal(rig.backends[1]!.received.length - (start[1] ?? 0), 0, 'a disabled server gets no requests');
    const on = await rig.api('PATCH', path(1), { token: rig.tokens.admin, body: { enabled: true, weight: 100 }, ifMatch: off.json.farm.etag });
    assert.equal(on.status, 200, on.text);
    const back = await rig.api('PATCH', path(0), { token: rig.tokens.admin, body: { weight: 100 }, ifMatch: on.json.farm.etag });
    assert.equal(back.status, 200, back.text);
    const audit = await rig.api('GET', '/api/v1/audit', { token: rig.tokens.viewer });
    assert.equal(audit.status, 200);
    assert.ok(JSON.stringify(audit.json).includes('farm.setServer'), 'audited');
  });

  test('bad input: an unknown server 404, a weight out of range or an empty body 422 naming the field', async () => {
    const etag = (await farm()).etag;
    const unknown = await rig.api('PATCH', `/api/v1/farms/web/servers/${encodeURIComponent('127.0.0.1:1')}`, { token: rig.tokens.admin, body: { weight: 5 }, ifMatch: etag });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'server_not_found');
    const zero = await rig.api('PATCH', path(0), { token: rig.tokens.admin, body: { weight: 0 }, ifMatch: etag });
    assert.equal(zero.status, 422, zero.text);
    assert.equal(zero.json.errors[0].field, 'weight');
    const empty = await rig.api('PATCH', path(0), { token: rig.tokens.admin, body: {}, ifMatch: etag });
    assert.equal(empty.status, 422, empty.text);
    assert.match(empty.json.errors[0].message, /weight or enabled/);
    const extra = await rig.api('PATCH', path(0), { token: rig.tokens.admin, body: { state: 'drain' }, ifMatch: etag });
    assert.equal(extra.status, 422);
    assert.equal(extra.json.errors[0].field, 'state');
  });
});

describe('persist: true', () => {
  test('applies the state now, writes state: into the config file, and a restart reads it back', async () => {
    const before = await farm();
    const answer = await rig.api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(address(0))}/state`, { token: rig.tokens.operator, body: { state: 'unavailable', persist: true }, ifMatch: before.etag });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.operation.persist, true);
    assert.equal(answer.json.after.persisted, 'unavailable');
    assert.equal(answer.json.config.reload.ok, true);
    assert.equal(answer.headers.etag, answer.json.farm.etag);
    assert.equal(server(answer.json.farm, 0).state, 'unavailable');
    assert.equal(declaredServers().find((s) => s.address === address(0))?.state, 'unavailable');
    const stale = await rig.api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(address(0))}/state`, { token: rig.tokens.operator, body: { state: 'available', persist: true }, ifMatch: before.etag });
    assert.equal(stale.status, 412);
    await rig.restart();
    const restarted = await farm();
    assert.equal(server(restarted, 0).state, 'unavailable', 'the state survived a restart');
    assert.equal(server(restarted, 0).totalRequests, 0, 'a new process');
  });
});
