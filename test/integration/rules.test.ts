/**
 * Routing rules through the real proxy: one site whose rules send requests to three farms of echo
 * backends (by path with a rewrite, host, header, client certificate), redirect, answer 403 themselves,
 * chain with stopProcessing false; and a site without a farm of its own, whose unmatched requests get 404.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend, type Backend, type EchoReply } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import type { Trace } from '../../src/shared/trace.js';
import { echoOf, rawValues, send, type ClientReply, type SendOptions } from '../support/clients.js';

let pki: TestPki;
let web: Backend;
let api: Backend;
let admin: Backend;
let running: RunningGatehouse;

/**
 * The farms of the rules need their states: app.ts should call SiteRuntime.bindFarms (one line); until it
 * does, the test binds them through the running Gatehouse. A no-op once app.ts binds them.
 */
function bindRuleFarms(gatehouse: RunningGatehouse['gatehouse']): void {
  for (const listener of gatehouse.listeners) for (const binding of listener.bindings) if (!binding.site.isBound) binding.site.bindFarms(gatehouse.farms);
}

before(async () => {
  pki = await createTestPki();
  [web, api, admin] = await Promise.all([startBackend('web'), startBackend('api'), startBackend('admin')]);
  const https = `{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }`;
  running = await startGatehouse(
    `accessLog: off
sites:
  - name: app
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }, ${https}]
    ssl: { clientCertificates: accept, trustedCaFile: ${pki.caFile} }
    farm: web
    tracing:
      maxFiles: 200
      rules: [{ path: '*' }]
    rules:
      - name: api v1
        match: { path: /api/* }
        action: { type: route, farm: api, rewrite: '/v1/{R:1}' }
      - name: admin host
        match: { host: 'admin.*' }
        action: { type: route, farm: admin }
      - name: tenant blue
        match: { headers: { X-Tenant: blue } }
        action: { type: route, farm: admin, rewrite: '/blue{R:0}' }
      - name: badge holders
        match: { path: /secure/*, clientCertificate: { present: true, issuer: '*O=Gatehouse Tests' } }
        action: { type: route, farm: admin }
      - name: old site
        match: { path: /old/* }
        action: { type: redirect, url: 'https://{HTTP_HOST}/new/{R:1}', status: 301 }
      - name: private
        match: { pathPattern: '^/private(/|$)' }
        action: { type: respond, status: 403, subStatus: 502, body: "Private: keep out\\n" }
      - name: chain
        match: { pathPattern: '^/chain/(.*)$' }
        action: { type: route, farm: api, rewrite: '/v2/{R:1}' }
        stopProcessing: false
      - name: v2 reports
        match: { path: /v2/reports/* }
        action: { type: route, farm: admin, rewrite: '/reports/{R:1}' }
      - name: first
        match: { path: /dup/* }
        action: { type: route, farm: api }
      - name: second
        match: { path: /dup/* }
        action: { type: route, farm: admin }
  - name: bare
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    rules:
      - name: only api
        match: { path: /api/* }
        action: { type: route, farm: api }
farms:
  - name: web
    servers: [{ address: ${web.address} }]
  - name: api
    servers: [{ address: ${api.address} }]
  - name: admin
    servers: [{ address: ${admin.address} }]
    protocol: { clientCertFormat: rfc9440 }
`,
    pki.dir,
  );
  bindRuleFarms(running.gatehouse);
});

after(async () => {
  await running?.stop();
  await Promise.all([web?.close(), api?.close(), admin?.close()]);
  await pki?.cleanup();
});

function get(path: string, options: SendOptions & { protocol?: 'http' | 'https'; site?: string } = {}): Promise<ClientReply> {
  return send(running.url(options.site ?? 'app', options.protocol ?? 'http') + path, { ca: pki.root.certPem, ...options });
}

/** Which backend answered, what URL it saw, and its X-Original-URL values. */
async function routed(path: string, options: SendOptions & { protocol?: 'http' | 'https'; site?: string } = {}): Promise<{ server: string; url: string; originalUrl: string[]; received: EchoReply }> {
  const received = echoOf(await get(path, options));
  return { server: received.server, url: received.url, originalUrl: rawValues(received.rawHeaders, 'X-Original-URL'), received };
}

describe('routing rules', () => {
  test('/api/* goes to farm api rewritten to /v1/{R:1}, with X-Original-URL (a client copy replaced)', async () => {
    const r = await routed('/api/users/7?x=1', { headers: ['X-Original-URL', '/evil'] });
    assert.deepEqual([r.server, r.url, r.originalUrl], ['api', '/v1/users/7?x=1', ['/api/users/7?x=1']]);
  });

  test('what no rule matches goes to the site\'s farm, unchanged, with X-Original-URL (a client copy replaced)', async () => {
    const r = await routed('/', { headers: ['X-Original-URL', '/admin'] });
    assert.deepEqual([r.server, r.url, r.originalUrl], ['web', '/', ['/']]);
    const other = await routed('/shop/cart?id=3');
    assert.deepEqual([other.server, other.url, other.originalUrl], ['web', '/shop/cart?id=3', ['/shop/cart?id=3']]);
  });

  test('a host wildcard rule (admin.*, any port)', async () => {
    const r = await routed('/dashboard', { headers: ['Host', 'admin.example.test:8080'] });
    assert.deepEqual([r.server, r.url, r.originalUrl], ['admin', '/dashboard', ['/dashboard']]);
    assert.equal((await routed('/dashboard', { headers: ['Host', 'www.example.test'] })).server, 'web');
  });

  test('a header rule (X-Tenant: blue), with {R:0}', async () => {
    const r = await routed('/docs?page=2', { headers: ['X-Tenant', 'Blue'] });
    assert.deepEqual([r.server, r.url, r.originalUrl], ['admin', '/blue/docs?page=2', ['/docs?page=2']]);
    assert.equal((await routed('/docs', { headers: ['X-Tenant', 'green'] })).server, 'web');
  });

  test('a client-certificate rule on https; each farm gets the certificate in its own format', async () => {
    const withBadge = await routed('/secure/vault', { protocol: 'https', clientCert: pki.clients.valid });
    assert.equal(withBadge.server, 'admin');
    const leaf = pki.clients.valid.issued.cert.raw.toString('base64');
    assert.deepEqual(rawValues(withBadge.received.rawHeaders, 'Client-Cert'), [`:${leaf}:`], 'farm admin speaks rfc9440');
    assert.deepEqual(rawValues(withBadge.received.rawHeaders, 'X-ARR-ClientCert'), []);
    const without = await routed('/secure/vault', { protocol: 'https' });
    assert.equal(without.server, 'web', 'no certificate: the rule does not match');
    assert.deepEqual(rawValues(without.received.rawHeaders, 'X-ARR-ClientCert'), []);
    const home = await routed('/', { protocol: 'https', clientCert: pki.clients.valid });
    assert.equal(home.server, 'web');
    assert.deepEqual(rawValues(home.received.rawHeaders, 'X-ARR-ClientCert'), [leaf], 'farm web speaks base64Der');
    assert.deepEqual(rawValues(home.received.rawHeaders, 'Client-Cert'), []);
    const overHttp = await routed('/secure/vault');
    assert.equal(overHttp.server, 'web', 'http: never a certificate');
  });

  test('a redirect with a capture and {HTTP_HOST}; no farm is asked', async () => {
    const before = api.received.length + web.received.length + admin.received.length;
    const reply = await get('/old/a/b?q=1');
    const host = new URL(running.url('app', 'http')).host;
    assert.equal(reply.status, 301);
    assert.equal(reply.headers.location, `https://${host}/new/a/b?q=1`);
    assert.match(reply.body.toString(), /Object Moved/);
    assert.equal(api.received.length + web.received.length + admin.received.length, before);
  });

  test('a respond rule: 403 with the custom body; HEAD gets the head only', async () => {
    const reply = await get('/private/plans');
    assert.equal(reply.status, 403);
    assert.equal(reply.body.toString(), 'Private: keep out\n');
    assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal((await get('/private')).status, 403);
    assert.equal((await get('/privateer')).status, 200, 'the pattern stops at the segment');
    const head = await get('/private/plans', { method: 'HEAD' });
    assert.deepEqual([head.status, head.bodyBytes], [403, 0]);
  });

  test('rule order: the first match decides; stopProcessing false lets a later rule see the rewrite and override', async () => {
    assert.equal((await routed('/dup/x')).server, 'api');
    const reports = await routed('/chain/reports/q1?y=2024');
    assert.deepEqual([reports.server, reports.url, reports.originalUrl], ['admin', '/reports/q1?y=2024', ['/chain/reports/q1?y=2024']]);
    const users = await routed('/chain/users');
    assert.deepEqual([users.server, users.url, users.originalUrl], ['api', '/v2/users', ['/chain/users']]);
  });

  test('a site without a farm: what no rule matches gets 404 in IIS\'s style', async () => {
    assert.equal((await routed('/api/x', { site: 'bare' })).server, 'api');
    const reply = await get('/other', { site: 'bare' });
    assert.equal(reply.status, 404);
    assert.match(reply.body.toString(), /^HTTP Error 404\.0 - Not Found\n/);
    const html = await get('/other', { site: 'bare', headers: ['Accept', 'text/html'] });
    assert.match(html.body.toString(), /<h1>HTTP Error 404\.0 - Not Found<\/h1>/);
    assert.ok(running.events.some((e) => /warn 404\.0 .* site bare GET \/other: no rule matched and the site has no farm/.test(e)), running.events.join('\n'));
  });

  test('the trace names the matched rule and the farm it routed to', async () => {
    await routed('/api/trace-me');
    await get('/private/trace-me');
    await Promise.all(running.gatehouse.listeners.flatMap((l) => l.bindings.map((b) => b.site.tracer?.writer.flush())));
    const dir = join(pki.dir, 'traces', 'app');
    const traces = await Promise.all((await readdir(dir)).filter((n) => n.endsWith('.json')).map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as Trace));
    const routedTrace = traces.find((t) => t.url === '/api/trace-me');
    assert.ok(routedTrace, 'trace of /api/trace-me');
    const matched = routedTrace.events.find((e) => e.name === 'URL_REWRITE_RULE_MATCHED');
    assert.deepEqual(matched?.data, { Rule: 'api v1', RuleIndex: 0, Action: 'Route to farm', StopProcessing: true, WebFarm: 'api', RewriteURL: '/v1/trace-me' });
    assert.equal(routedTrace.events.find((e) => e.name === 'ARR_REQUEST_ROUTED')?.data['WebFarm'], 'api');
    const sent = routedTrace.events.filter((e) => e.name === 'GENERAL_SET_REQUEST_HEADER').map((e) => e.data['HeaderName']);
    assert.ok(sent.includes('X-Original-URL'), sent.join(', '));
    const answered = traces.find((t) => t.url === '/private/trace-me');
    assert.ok(answered);
    assert.deepEqual(answered.events.find((e) => e.name === 'URL_REWRITE_RULE_MATCHED')?.data, { Rule: 'private', RuleIndex: 5, Action: 'CustomResponse', StopProcessing: true, StatusCode: 403, SubStatusCode: 502 });
    assert.equal(answered.events.find((e) => e.name === 'MODULE_SET_RESPONSE_ERROR_STATUS')?.data['ModuleName'], 'RewriteModule');
  });
});
