/**
 * The Prometheus metrics through the real proxy: traffic of every kind goes through Gatehouse (valid
 * client certificates, 403.4, 403.7, 403.16, 403.17, a 502.4 farm, a 502.3 farm, failed handshakes, a
 * resumed session) while the admin listener is scraped with fetch, and each counter must equal what the
 * test sent. The collector is added to a running Gatehouse with addObserver (metrics-helpers.ts) until
 * app.ts does it from the `admin` key; the last describe runs through that wiring once it exists.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.js';
import { issueClient } from '../../src/pki/index.js';
import { GatehouseMetrics } from '../../src/tracing/metrics.js';
import { echoHandler, refusedAddress, startBackend, type Backend, type EchoReply } from '../support/backends.js';
import { connectTls, tlsFetch } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';
import { addObserver, scrape, type Exposition } from './metrics-helpers.js';
import { send, type ClientReply } from '../support/clients.js';

const DAY_S = 86_400;

let pki: TestPki;
let soon: ClientFiles; // expires in 10 days
let later: ClientFiles; // expires in 300 days

before(async () => {
  pki = await createTestPki();
  const write = async (name: string, issued: ClientFiles['issued']): Promise<ClientFiles> => {
    const certFile = join(pki.dir, `${name}.pem`);
    const keyFile = join(pki.dir, `${name}.key`);
    await writeFile(certFile, issued.certPem);
    await writeFile(keyFile, issued.keyPem, { mode: 0o600 });
    return { issued, certFile, keyFile };
  };
  soon = await write('metrics-soon', await issueClient({ ca: pki.root, commonName: 'Soon Sam', days: 10 }));
  later = await write('metrics-later', await issueClient({ ca: pki.root, commonName: 'Later Lou', days: 300 }));
});

after(async () => {
  await pki?.cleanup();
});

/** A backend that holds every request under /hold/ until `release()`, and echoes the others. */
interface HoldingBackend {
  readonly backend: Backend;
  readonly held: number;
  release(): void;
}

function holding(onHeld: () => void): (name: string) => Promise<HoldingBackend> {
  return async (name) => {
    const waiting: (() => void)[] = [];
    const backend = await startBackend(name, (req, res, self) => {
      if (!req.url?.startsWith('/hold/')) return echoHandler(req, res, self);
      req.resume();
      waiting.push(() => res.end('released'));
      onHeld();
    });
    return {
      backend,
      get held() {
        return waiting.length;
      },
      release: () => {
        for (const finish of waiting.splice(0)) finish();
      },
    };
  };
}

const WEB = 'web';

describe('metrics of a running Gatehouse, scraped while traffic flows', () => {
  let running: RunningGatehouse;
  let admin: AdminServer;
  let metrics: GatehouseMetrics;
  let a: HoldingBackend;
  let b: HoldingBackend;
  let dead: string;
  let metricsUrl: string;
  let heldTotal = 0;
  let onHeld: (() => void) | undefined;
  /** What the test sent to farm web, by the server that answered (the echo's name). */
  const sent = { requests: new Map<string, number>(), bodyBytes: new Map<string, number>(), replyBytes: new Map<string, number>() };
  const add = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);
  const addressOf = (name: string) => (name === 'a' ? a.backend.address : b.backend.address);
  const secureUrl = () => running.url('secure', 'https');
  const tlsOf = (client: ClientFiles) => ({ cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) });
  const request = (url: string, client: ClientFiles | undefined, options: { body?: Buffer; method?: string } = {}) =>
    send(url, { ca: pki.root.certPem, ...(client ? { clientCert: client } : {}), ...(options.body ? { body: options.body, method: 'POST' } : {}), ...(options.method ? { method: options.method } : {}) });
  /** A request to farm web that must be answered by an echo server: recorded in `sent`. */
  const forwarded = async (client: ClientFiles, path: string, body?: Buffer): Promise<EchoReply> => {
    const reply = await request(`${secureUrl()}${path}`, client, body ? { body } : {});
    const echo = echoOf(reply);
    add(sent.requests, echo.server, 1);
    add(sent.bodyBytes, echo.server, body?.length ?? 0);
    add(sent.replyBytes, echo.server, reply.bodyBytes);
    return echo;
  };
  let handshakes = { secureFull: 0, secureResumed: 0, nofarmFull: 0 };
  const rejected = { r4037: 0, r4034: 0, r40316: 0, r40317: 0, r5024: 0, r5023: 0 };
  let afterTraffic: Exposition;

  before(async () => {
    const make = holding(() => {
      heldTotal++;
      onHeld?.();
    });
    a = await make('a');
    b = await make('b');
    dead = await refusedAddress();
    const https = { protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } };
    const config = {
      accessLog: 'off',
      drainTimeout: 1,
      sites: [
        { name: 'secure', bindings: [https, { protocol: 'http', address: '127.0.0.2', port: 0 }], ssl: { requireSsl: true, clientCertificates: 'require', trustedCaFile: pki.caFile }, farm: WEB },
        { name: 'nofarm', bindings: [https], farm: 'empty' },
        { name: 'refused', bindings: [{ protocol: 'http', address: '127.0.0.1', port: 0 }], farm: 'dead' },
      ],
      farms: [
        { name: WEB, servers: [{ address: a.backend.address }, { address: b.backend.address }] },
        { name: 'empty', enabled: false, servers: [{ address: a.backend.address }] },
        { name: 'dead', servers: [{ address: dead }] },
      ],
    };
    running = await startGatehouse(JSON.stringify(config, null, 2), pki.dir);
    metrics = new GatehouseMetrics(running.gatehouse.farms);
    addObserver(running, metrics);
    admin = await startAdminServer({ address: '127.0.0.1', port: 0 }, metrics);
    metricsUrl = `${admin.url}/metrics`;

    // Before any traffic: every farm server is there, at zero.
    const empty = await scrape(metricsUrl);
    assert.equal(empty.value('gatehouse_farm_server_requests_total'), 0);
    assert.equal(empty.find('gatehouse_farm_server_requests_total').length, 4, 'web a and b, empty a, dead');

    // Valid certificates, with request bodies, interleaved with scrapes.
    for (let i = 0; i < 6; i++) {
      await forwarded(pki.clients.valid, `/valid/${i}`, Buffer.alloc(1000 + i * 100, i));
      handshakes.secureFull++;
      if (i % 2 === 0) await scrape(metricsUrl);
    }
    await forwarded(soon, '/soon/1');
    await forwarded(soon, '/soon/2');
    await forwarded(later, '/later/1');
    handshakes.secureFull += 3;
    // A full handshake then a resumed one.
    const options = { host: '127.0.0.1', port: running.port('secure'), ca: readFileSync(pki.caFile), ...tlsOf(pki.clients.valid) };
    const full = await tlsFetch({ ...options, path: '/full', wantSession: true });
    const resumed = await tlsFetch({ ...options, path: '/resumed', session: full.session as Buffer });
    assert.equal(resumed.reused, true, 'the second connection resumed the session');
    for (const result of [full, resumed]) {
      const echo = JSON.parse(result.body) as EchoReply;
      add(sent.requests, echo.server, 1);
      add(sent.bodyBytes, echo.server, 0);
      add(sent.replyBytes, echo.server, Buffer.byteLength(result.body));
    }
    handshakes.secureFull++;
    handshakes.secureResumed++;

    // 403.7 (no certificate), 403.17 (expired), 403.16 (untrusted), 403.4 (http on a requireSsl site).
    for (let i = 0; i < 3; i++) assertStatus(await request(`${secureUrl()}/none/${i}`, undefined), 403, '403.7');
    rejected.r4037 += 3;
    for (let i = 0; i < 2; i++) assertStatus(await request(`${secureUrl()}/expired/${i}`, pki.clients.expired), 403, '403.17');
    rejected.r40317 += 2;
    assertStatus(await request(`${secureUrl()}/untrusted`, pki.clients.untrusted), 403, '403.16');
    rejected.r40316 += 1;
    handshakes.secureFull += 6;
    for (let i = 0; i < 2; i++) assertStatus(await request(`${running.url('secure', 'http')}/plain/${i}`, undefined), 403, '403.4');
    rejected.r4034 += 2;
    // 502.4: the farm is disabled. 502.3: the only server refuses connections.
    for (let i = 0; i < 2; i++) assertStatus(await request(`${running.url('nofarm', 'https')}/x/${i}`, undefined), 502, '502.4');
    rejected.r5024 += 2;
    handshakes.nofarmFull += 2;
    for (let i = 0; i < 3; i++) assertStatus(await request(`${running.url('refused', 'http')}/x/${i}`, undefined), 502, '502.3');
    rejected.r5023 += 3;

    // Failed handshakes: plain http on the https port, and a TLS 1.1-only client.
    const secureServer = running.gatehouse.listeners.find((l) => l.isHttps && l.bindings.some((bnd) => bnd.site.name === 'secure'))?.server as Server;
    let failed = once(secureServer, 'tlsClientError');
    const plain = await send(`http://127.0.0.1:${running.port('secure')}/`, { timeoutMs: 5000 });
    assert.notEqual(plain.status, 200);
    await failed;
    failed = once(secureServer, 'tlsClientError');
    await assert.rejects(connectTls({ host: '127.0.0.1', port: running.port('secure'), minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false }));
    await failed;

    afterTraffic = await scrape(metricsUrl);
  });

  after(async () => {
    a?.release();
    b?.release();
    await admin?.close();
    await running?.stop();
    await a?.backend.close();
    await b?.backend.close();
  });

  test('farm server counters equal what the test sent, per server', () => {
    const text = afterTraffic;
    let total = 0;
    for (const name of ['a', 'b']) {
      const labels = { farm: WEB, server: addressOf(name) };
      const backend = name === 'a' ? a.backend : b.backend;
      assert.equal(text.value('gatehouse_farm_server_requests_total', labels), sent.requests.get(name), `requests to ${name}`);
      assert.equal(text.value('gatehouse_farm_server_requests_total', labels), backend.received.length, `what ${name} received`);
      assert.equal(text.value('gatehouse_farm_server_sent_bytes_total', labels), sent.bodyBytes.get(name), `request body bytes to ${name}`);
      assert.equal(text.value('gatehouse_farm_server_received_bytes_total', labels), sent.replyBytes.get(name), `response body bytes from ${name}`);
      assert.equal(text.value('gatehouse_farm_server_failed_requests_total', labels), 0);
      assert.equal(text.value('gatehouse_farm_server_current_requests', labels), 0);
      assert.equal(text.value('gatehouse_farm_server_available', labels), 1);
      assert.equal(text.value('gatehouse_farm_server_healthy', labels), 1);
      assert.equal(text.value('gatehouse_farm_server_state', { ...labels, state: 'available' }), 1);
      total += sent.requests.get(name) ?? 0;
    }
    assert.equal(total, 11, '6 valid + 2 soon + 1 later + full + resumed');
    assert.equal(text.value('gatehouse_farm_server_requests_total', { farm: WEB }), 11);
    assert.equal(sent.requests.get('a'), 6, 'round robin: half each');
    const deadLabels = { farm: 'dead', server: dead };
    assert.equal(text.value('gatehouse_farm_server_requests_total', deadLabels), 3);
    assert.equal(text.value('gatehouse_farm_server_failed_requests_total', deadLabels), 3);
    assert.equal(text.value('gatehouse_farm_server_requests_total', { farm: 'empty' }), 0, 'a disabled farm gets nothing');
  });

  test('the response-time histogram counts every request a server answered', () => {
    const text = afterTraffic;
    for (const name of ['a', 'b']) {
      const labels = { farm: WEB, server: addressOf(name) };
      assert.equal(text.value('gatehouse_farm_server_response_time_seconds_count', labels), sent.requests.get(name));
      assert.equal(text.value('gatehouse_farm_server_response_time_seconds_bucket', { ...labels, le: '+Inf' }), sent.requests.get(name));
      const sum = text.value('gatehouse_farm_server_response_time_seconds_sum', labels) ?? -1;
      assert.ok(sum > 0 && sum < 60, `sum of seconds: ${sum}`);
    }
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_count', { farm: 'dead', server: dead }), 3, '502.3 took time at its server too');
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_count', { farm: 'empty' }), 0);
  });

  test('403.x and 502.x rejections by site and reason', () => {
    const text = afterTraffic;
    const r = (site: string, status: string, substatus: string, reason: string) => text.value('gatehouse_rejections_total', { site, status, substatus, reason });
    assert.equal(r('secure', '403', '7', 'certificate_required'), rejected.r4037);
    assert.equal(r('secure', '403', '17', 'expired'), rejected.r40317);
    assert.equal(r('secure', '403', '16', 'untrusted'), rejected.r40316);
    assert.equal(r('secure', '403', '4', 'ssl_required'), rejected.r4034);
    assert.equal(r('nofarm', '502', '4', 'no_server'), rejected.r5024);
    assert.equal(r('refused', '502', '3', 'connect_refused'), rejected.r5023);
    const all = Object.values(rejected).reduce((x, y) => x + y, 0);
    assert.equal(text.value('gatehouse_rejections_total'), all, 'nothing else was counted as a rejection');
    assert.equal(text.find('gatehouse_rejections_total').length, 6);
  });

  test('TLS handshakes by site, full and resumed, and failures by reason', () => {
    const text = afterTraffic;
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'secure', type: 'full' }), handshakes.secureFull);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'secure', type: 'resumed' }), handshakes.secureResumed);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'nofarm', type: 'full' }), handshakes.nofarmFull);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'refused' }), undefined, 'an http site has no handshakes');
    assert.equal(text.value('gatehouse_tls_handshake_failures_total', { site: 'secure', reason: 'plain_http' }), 1);
    assert.equal(text.value('gatehouse_tls_handshake_failures_total', { site: 'secure', reason: 'protocol_version' }), 1);
    assert.equal(text.value('gatehouse_tls_handshake_failures_total'), 2);
  });

  test('client certificates expiring within 30 days: the 10-day one, not the 300-day one', () => {
    const text = afterTraffic;
    assert.equal(text.value('gatehouse_client_certificates_seen'), 3, 'alice, soon and later (the expired and untrusted ones were rejected)');
    assert.equal(text.value('gatehouse_client_certificates_expiring'), 1);
    const soonest = text.value('gatehouse_client_certificate_soonest_expiry_seconds') ?? 0;
    assert.ok(soonest > 9.9 * DAY_S && soonest <= 10 * DAY_S, `soonest expiry in ${soonest / DAY_S} days`);
  });

  test('process metrics are served too, with the gatehouse_ prefix', () => {
    assert.ok(afterTraffic.value('gatehouse_process_resident_memory_bytes') !== undefined || afterTraffic.value('gatehouse_nodejs_heap_size_used_bytes') !== undefined);
    assert.ok(afterTraffic.samples.every((s) => s.name.startsWith('gatehouse_')));
  });

  test('requests in flight show in current_requests while scrapes run, and every counter adds up after', async () => {
    const previous = afterTraffic;
    const webLabels = (name: string) => ({ farm: WEB, server: addressOf(name) });
    const total = (text: Exposition, metric: string, name: string) => text.value(metric, webLabels(name)) ?? 0;
    const heldBefore = heldTotal;
    const allHeld = new Promise<void>((resolve) => {
      onHeld = () => {
        if (heldTotal - heldBefore === 4) resolve();
      };
    });
    const inFlight = [0, 1, 2, 3].map((i) => request(`${secureUrl()}/hold/${i}`, pki.clients.valid));
    await allHeld;
    const during = await scrape(metricsUrl);
    assert.equal(during.value('gatehouse_farm_server_current_requests', { farm: WEB }), 4);
    assert.equal(total(during, 'gatehouse_farm_server_current_requests', 'a'), a.held);
    assert.equal(total(during, 'gatehouse_farm_server_current_requests', 'b'), b.held);
    assert.equal(during.value('gatehouse_farm_server_requests_total', { farm: WEB }), 15, 'counted when sent');
    assert.equal(during.value('gatehouse_farm_server_response_time_seconds_count', { farm: WEB }), 11, 'observed when ended');
    // More traffic and scrapes at the same time, then let the held requests go.
    const burst = Array.from({ length: 8 }, (_, i) => forwarded(pki.clients.valid, `/burst/${i}`, Buffer.alloc(50, 1)));
    const scrapes = Array.from({ length: 4 }, () => scrape(metricsUrl));
    await Promise.all([...burst, ...scrapes]);
    const held = { a: a.held, b: b.held };
    assert.equal(held.a + held.b, 4);
    a.release();
    b.release();
    const replies = await Promise.all(inFlight);
    for (const reply of replies) assertStatus(reply, 200, 'released');
    const done = await scrape(metricsUrl);
    assert.equal(done.value('gatehouse_farm_server_current_requests', { farm: WEB }), 0);
    assert.equal(done.value('gatehouse_farm_server_requests_total', { farm: WEB }), 11 + 4 + 8);
    assert.equal(done.value('gatehouse_farm_server_response_time_seconds_count', { farm: WEB }), 11 + 4 + 8);
    assert.equal(
      (done.value('gatehouse_farm_server_sent_bytes_total', { farm: WEB }) ?? 0) - (previous.value('gatehouse_farm_server_sent_bytes_total', { farm: WEB }) ?? 0),
      8 * 50,
    );
    const releasedBytes = replies.reduce((sum, r) => sum + r.bodyBytes, 0);
    assert.equal(releasedBytes, 4 * 'released'.length);
    for (const name of ['a', 'b'] as const) {
      assert.equal(total(done, 'gatehouse_farm_server_received_bytes_total', name), (sent.replyBytes.get(name) ?? 0) + held[name] * 'released'.length, `response body bytes from ${name}`);
      assert.equal(total(done, 'gatehouse_farm_server_requests_total', name), (sent.requests.get(name) ?? 0) + held[name], `requests to ${name}`);
    }
    assert.equal(
      done.value('gatehouse_farm_server_received_bytes_total', { farm: WEB }),
      [...sent.replyBytes.values()].reduce((x, y) => x + y, 0) + releasedBytes,
      'every response body byte the clients received',
    );
    assert.equal(done.value('gatehouse_tls_handshakes_total', { site: 'secure', type: 'full' }), handshakes.secureFull + 4 + 8);
  });

  test('the admin listener answers 404 on other paths and 405 on other methods', async () => {
    for (const path of ['/', '/metric', '/metrics/x']) {
      const res = await fetch(`${admin.url}${path}`);
      assert.equal(res.status, 404, path);
      await res.arrayBuffer();
    }
    const post = await fetch(metricsUrl, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.arrayBuffer();
  });
});

function echoOf(reply: ClientReply): EchoReply {
  assertStatus(reply, 200, 'echo');
  return JSON.parse(reply.body.toString('utf8')) as EchoReply;
}

function assertStatus(reply: ClientReply, status: number, what: string): void {
  assert.equal(reply.status, status, `${what}: ${reply.status} ${reply.body.toString().slice(0, 200)} ${reply.error?.message ?? ''}`);
}

/** The servers listening in this process now (node's handle list: a closed server is not `listening`). */
function listeningServers(): Set<NetServer> {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return new Set(handles.filter((h): h is NetServer => h instanceof NetServer && h.listening));
}

/** The servers that started listening since `before`. */
function newListeners(before: Set<NetServer>): NetServer[] {
  return [...listeningServers()].filter((s) => !before.has(s));
}


describe('the admin key (through app.ts)', () => {
  const configWith = (backend: Backend, admin?: Record<string, unknown>) =>
    JSON.stringify({
      accessLog: 'off',
      drainTimeout: 1,
      sites: [{ name: 'secure', bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }], ssl: { clientCertificates: 'require', trustedCaFile: pki.caFile }, farm: 'web' }],
      farms: [{ name: 'web', servers: [{ address: backend.address }] }],
      ...(admin ? { admin } : {}),
    });

  test('no admin key: nothing but the site listeners listens', async (t) => {
    const backend = await startBackend('one');
    t.after(() => backend.close());
    const listening = listeningServers();
    const running = await startGatehouse(configWith(backend), pki.dir);
    t.after(() => running.stop());
    const siteServers = running.gatehouse.listeners.map((l) => l.server);
    assert.equal(siteServers.length, 1);
    assert.deepEqual(newListeners(listening), siteServers, 'the site listener and nothing else');
    assert.equal((running.gatehouse.config as { admin?: unknown }).admin, undefined);
    assert.equal((running.gatehouse as { admin?: unknown }).admin, undefined);
  });

  test('admin: { port: 0 } serves /metrics on 127.0.0.1 for the real request path', async (t) => {
    const backend = await startBackend('one');
    t.after(() => backend.close());
    const listening = listeningServers();
    const running = await startGatehouse(configWith(backend, { port: 0 }), pki.dir);
    t.after(() => running.stop());
    const wired = running.gatehouse as unknown as { admin?: { url: string; server: NetServer } };
    const opened = newListeners(listening);
    assert.equal(opened.length, 2, 'the site listener and the admin listener');
    assert.ok(wired.admin && opened.includes(wired.admin.server));
    assert.deepEqual((wired.admin.server.address() as AddressInfo).address, '127.0.0.1', 'on loopback by default');
    assert.match(wired.admin?.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    const url = `${wired.admin?.url}/metrics`;
    for (let i = 0; i < 3; i++) assertStatus(await send(`${running.url('secure')}/ok/${i}`, { ca: pki.root.certPem, clientCert: soon }), 200, 'valid');
    assertStatus(await send(`${running.url('secure')}/none`, { ca: pki.root.certPem }), 403, '403.7');
    const text = await scrape(url);
    assert.equal(text.value('gatehouse_farm_server_requests_total', { farm: 'web', server: backend.address }), 3);
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_count', { farm: 'web', server: backend.address }), 3);
    assert.equal(text.value('gatehouse_rejections_total', { site: 'secure', status: '403', substatus: '7', reason: 'certificate_required' }), 1);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'secure', type: 'full' }), 4);
    assert.equal(text.value('gatehouse_client_certificates_expiring'), 1);
    await running.stop();
    await assert.rejects(fetch(url), 'the admin listener closes with Gatehouse');
  });
});
