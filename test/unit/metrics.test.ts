/**
 * The metrics collector through its public methods (no sockets but the admin listener's): counters read at
 * scrape time, the response-time histogram, bounded rejection and handshake reasons, the expiring client
 * certificates, process metrics on the collector's own registry, the admin listener's answers and the
 * `admin` config key.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { describe, test } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { AdminListenError, MAX_ADMIN_CONNECTIONS, MAX_ADMIN_CONNECTIONS_PER_ADDRESS, startAdminServer } from '../../src/admin/admin-server.js';
import { adminSchema, checkAdmin, isLoopbackAddress, normalizeAdmin } from '../../src/config/admin-schema.js';
import type { Problem } from '../../src/config/problem.js';
import { CERTIFICATE_REQUIRED, EXPIRED, NOT_YET_VALID, REVOKED, verdictForVerifyError } from '../../src/tls/verdict.js';
import { GatehouseMetrics, rejectionReason, type MetricsCounters, type MetricsFarm } from '../../src/tracing/metrics.js';
import { handshakeFailureReason, observeTlsHandshakes } from '../../src/tracing/metrics-tls.js';
import type { RequestRecord } from '../../src/tracing/request-record.js';
import { farmFailureOutcome, OUTCOMES, OUTCOME_CODES } from '../../src/shared/outcome.js';
import { parseExposition, type Exposition } from '../integration/metrics-exposition.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2030, 0, 1);

interface FakeServer {
  address: string;
  isAvailable?: boolean;
  isSelectable?: boolean;
  counters: { -readonly [K in keyof MetricsCounters]: number };
}

function server(address: string, extra: { isAvailable?: boolean; isSelectable?: boolean; state?: string; isHealthy?: boolean } = {}): FakeServer {
  return { address, counters: { totalRequests: 0, currentRequests: 0, failedRequests: 0, bytesSent: 0, bytesReceived: 0 }, ...extra };
}

function farmsOf(...farms: MetricsFarm[]): Map<string, MetricsFarm> {
  return new Map(farms.map((f) => [f.name, f]));
}

function record(fields: Partial<RequestRecord>): RequestRecord {
  return {
    startEpochMs: NOW,
    timeTakenMs: 12,
    clientIp: '127.0.0.1',
    clientPort: 50000,
    localIp: '127.0.0.1',
    localPort: 443,
    site: 'app',
    isHttps: true,
    method: 'GET',
    url: '/',
    host: 'localhost',
    userAgent: '',
    referer: '',
    status: 200,
    subStatus: 0,
    outcome: 'forwarded',
    reason: '',
    bytesSent: 10,
    bytesReceived: 0,
    farm: '',
    server: '',
    logId: '',
    thumbprint: '',
    certificateSubject: '',
    certificateNotAfterMs: 0,
    retriedFrom: '',
    ...fields,
  };
}

async function scrapeOf(metrics: GatehouseMetrics): Promise<Exposition> {
  return parseExposition(await metrics.scrape());
}

describe('farm server counters', () => {
  test('are read from FarmServer.counters at scrape time, per farm and server', async () => {
    const a = server('10.0.0.1:80');
    const b = server('10.0.0.2:80');
    const c = server('10.0.0.1:80');
    const metrics = new GatehouseMetrics(farmsOf({ name: 'web', servers: [a, b] }, { name: 'api', servers: [c] }), { processMetrics: false });
    let text = await scrapeOf(metrics);
    assert.equal(text.value('gatehouse_farm_server_requests_total', { farm: 'web', server: '10.0.0.1:80' }), 0, 'every server is exported from the start');
    assert.equal(text.types.get('gatehouse_farm_server_requests_total'), 'counter');
    assert.equal(text.types.get('gatehouse_farm_server_current_requests'), 'gauge');
    Object.assign(a.counters, { totalRequests: 7, currentRequests: 2, failedRequests: 1, bytesSent: 300, bytesReceived: 4000 });
    Object.assign(c.counters, { totalRequests: 3, bytesReceived: 5 });
    text = await scrapeOf(metrics);
    const web = { farm: 'web', server: '10.0.0.1:80' };
    assert.equal(text.value('gatehouse_farm_server_requests_total', web), 7);
    assert.equal(text.value('gatehouse_farm_server_current_requests', web), 2);
    assert.equal(text.value('gatehouse_farm_server_failed_requests_total', web), 1);
    assert.equal(text.value('gatehouse_farm_server_sent_bytes_total', web), 300);
    assert.equal(text.value('gatehouse_farm_server_received_bytes_total', web), 4000);
    assert.equal(text.value('gatehouse_farm_server_requests_total', { farm: 'api', server: '10.0.0.1:80' }), 3, 'the same address in two farms: two series');
    assert.equal(text.value('gatehouse_farm_server_received_bytes_total', { farm: 'api' }), 5);
    assert.equal(text.value('gatehouse_farm_server_requests_total', { farm: 'web', server: '10.0.0.2:80' }), 0);
    assert.equal(text.find('gatehouse_farm_server_requests_total').length, 3, 'one series per farm server, no more');
    a.counters.totalRequests = 8;
    assert.equal((await scrapeOf(metrics)).value('gatehouse_farm_server_requests_total', web), 8, 'a later scrape reads the new value');
  });

  test('availability, health and state, with state and isHealthy read when a server has them', async () => {
    const plain = server('a:1');
    const off = server('b:1', { isSelectable: false });
    const draining = server('c:1', { state: 'drain', isHealthy: true });
    const sick = server('d:1', { isSelectable: false, isHealthy: false, state: 'unavailable' });
    const odd = server('e:1', { state: 'quarantined' });
    const unselectable = server('f:1', { isSelectable: false, state: 'available', isHealthy: false });
    const metrics = new GatehouseMetrics(farmsOf({ name: 'web', servers: [plain, off, draining, sick, odd, unselectable] }), { processMetrics: false });
    const text = await scrapeOf(metrics);
    const at = (address: string) => ({ farm: 'web', server: address });
    assert.equal(text.value('gatehouse_farm_server_available', at('a:1')), 1);
    assert.equal(text.value('gatehouse_farm_server_available', at('b:1')), 0);
    assert.equal(text.value('gatehouse_farm_server_healthy', at('a:1')), 1, 'no health test: healthy');
    assert.equal(text.value('gatehouse_farm_server_healthy', at('d:1')), 0);
    assert.equal(text.value('gatehouse_farm_server_available', at('f:1')), 0, 'not selectable (unhealthy) even when its state is available');
    assert.equal(text.value('gatehouse_farm_server_healthy', at('f:1')), 0);
    const stateOf = (address: string) => text.find('gatehouse_farm_server_state', at(address)).filter((s) => s.value === 1).map((s) => s.labels['state']);
    assert.deepEqual(stateOf('a:1'), ['available']);
    assert.deepEqual(stateOf('b:1'), ['unavailable'], 'without a state property: from isSelectable');
    assert.deepEqual(stateOf('c:1'), ['drain']);
    assert.deepEqual(stateOf('d:1'), ['unavailable']);
    assert.deepEqual(stateOf('e:1'), ['quarantined'], 'a state the metrics do not know is still shown');
    assert.equal(text.find('gatehouse_farm_server_state', at('a:1')).length, 3, 'every known state, 0 or 1');
  });
});

describe('response-time histogram', () => {
  test('observes each forwarded request in seconds under its farm and server; local answers are not observed', async () => {
    const metrics = new GatehouseMetrics(farmsOf({ name: 'web', servers: [server('a:1'), server('b:1')] }), { processMetrics: false });
    metrics.requestEnded(record({ farm: 'web', server: 'a:1', timeTakenMs: 3 }));
    metrics.requestEnded(record({ farm: 'web', server: 'a:1', timeTakenMs: 200 }));
    metrics.requestEnded(record({ farm: 'web', server: 'b:1', timeTakenMs: 70_000 }));
    metrics.requestEnded(record({ status: 403, subStatus: 7, outcome: 'certificate_required', reason: CERTIFICATE_REQUIRED.reason, timeTakenMs: 1 }));
    metrics.requestEnded(record({ farm: 'other', server: 'z:9', timeTakenMs: 1 })); // a farm the collector was not given
    const text = await scrapeOf(metrics);
    const a = { farm: 'web', server: 'a:1' };
    assert.equal(text.types.get('gatehouse_farm_server_response_time_seconds'), 'histogram');
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_count', a), 2);
    assert.ok(Math.abs((text.value('gatehouse_farm_server_response_time_seconds_sum', a) ?? 0) - 0.203) < 1e-9);
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_bucket', { ...a, le: '0.005' }), 1);
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_bucket', { ...a, le: '0.25' }), 2);
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_bucket', { farm: 'web', server: 'b:1', le: '60' }), 0);
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_bucket', { farm: 'web', server: 'b:1', le: '+Inf' }), 1);
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_count', { farm: 'other', server: 'z:9' }), 1);
    assert.equal(text.value('gatehouse_farm_server_response_time_seconds_count'), 4, 'the 403 is not a server response');
  });
});

describe('rejections', () => {
  test('every door verdict carries its outcome code, whatever its text says', () => {
    assert.equal(CERTIFICATE_REQUIRED.outcome, 'certificate_required');
    assert.equal(REVOKED.outcome, 'revoked');
    assert.equal(EXPIRED.outcome, 'expired');
    assert.equal(NOT_YET_VALID.outcome, 'not_yet_valid');
    assert.equal(verdictForVerifyError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY').outcome, 'untrusted');
    assert.equal(verdictForVerifyError('SELF_SIGNED_CERT_IN_CHAIN').outcome, 'untrusted');
    assert.equal(verdictForVerifyError('CERT_SIGNATURE_FAILURE').outcome, 'bad_signature');
    assert.equal(verdictForVerifyError('INVALID_PURPOSE').outcome, 'wrong_usage');
    assert.equal(verdictForVerifyError('SOMETHING_NEW').outcome, 'certificate_invalid');
  });

  test('the reason label is the outcome code, only for answers Gatehouse gave itself', () => {
    assert.equal(rejectionReason({ status: 403, outcome: 'ssl_required' }), 'ssl_required');
    assert.equal(rejectionReason({ status: 502, outcome: 'connect_refused' }), 'connect_refused');
    assert.equal(rejectionReason({ status: 502, outcome: 'forwarded' }), undefined, "a farm server's own 502 is not Gatehouse's answer");
    assert.equal(rejectionReason({ status: 200, outcome: 'response_aborted' }), undefined, 'a response cut after it began is not an answer of Gatehouse');
    assert.equal(rejectionReason({ status: 200, outcome: 'forwarded' }), undefined);
    assert.equal(rejectionReason({ status: 302, outcome: 'rule_redirect' }), undefined);
    assert.equal(rejectionReason({ status: 404, outcome: 'no_route' }), 'no_route');
    for (const code of OUTCOME_CODES) assert.match(code, /^[a-z][a-z0-9_]{1,39}$/, 'a label value');
  });

  test("a farm failure's code comes from the error's code and whether the response had begun, never from text", () => {
    assert.equal(farmFailureOutcome('ECONNREFUSED', false), 'connect_refused');
    assert.equal(farmFailureOutcome('ERR_CONNECT_TIMEOUT', false), 'connect_timeout');
    assert.equal(farmFailureOutcome('ERR_HEADERS_TIMEOUT', false), 'response_timeout');
    assert.equal(farmFailureOutcome('ERR_BODY_TIMEOUT', true), 'response_timeout');
    assert.equal(farmFailureOutcome('ERR_POOL_TIMEOUT', false), 'pool_timeout');
    assert.equal(farmFailureOutcome('ECONNRESET', false), 'server_reset');
    assert.equal(farmFailureOutcome('ECONNABORTED', false), 'server_reset');
    assert.equal(farmFailureOutcome('ECONNRESET', true), 'response_aborted');
    assert.equal(farmFailureOutcome('EHOSTUNREACH', false), 'server_unreachable');
    assert.equal(farmFailureOutcome('ENOTFOUND', false), 'server_not_resolved');
    assert.equal(farmFailureOutcome('HPE_INVALID_CONSTANT', false), 'bad_response');
    assert.equal(farmFailureOutcome(undefined, false), 'bad_response');
    assert.equal(OUTCOMES.connect_refused.win32Status, 12029);
    assert.equal(OUTCOMES.client_aborted.win32Status, 64);
  });

  test('are counted by site, status, sub-status and reason; the free text never becomes a label', async () => {
    const metrics = new GatehouseMetrics(farmsOf({ name: 'web', servers: [server('a:1')] }), { processMetrics: false });
    for (let i = 0; i < 3; i++) metrics.requestEnded(record({ status: 403, subStatus: 7, outcome: 'certificate_required', reason: `worded differently each time ${i}` }));
    metrics.requestEnded(record({ status: 403, subStatus: 16, outcome: 'untrusted', reason: verdictForVerifyError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY').reason }));
    metrics.requestEnded(record({ site: 'other', status: 403, subStatus: 7, outcome: 'certificate_required', reason: CERTIFICATE_REQUIRED.reason }));
    metrics.requestEnded(record({ status: 502, subStatus: 4, outcome: 'no_server', reason: 'no server available in farm web' }));
    for (let i = 0; i < 2; i++) metrics.requestEnded(record({ status: 502, subStatus: 3, outcome: 'bad_response', reason: `weird failure number ${i}`, farm: 'web', server: 'a:1' }));
    metrics.requestEnded(record({ status: 502, subStatus: 3, outcome: 'forwarded', reason: '', farm: 'web', server: 'a:1' })); // the server's own 502
    metrics.requestEnded(record({ site: '', status: 400, subStatus: 0, outcome: 'unknown_host', reason: "no site answers for host 'evil'", isHttps: false }));
    const text = await scrapeOf(metrics);
    assert.equal(text.value('gatehouse_rejections_total', { site: 'app', status: '403', substatus: '7', reason: 'certificate_required' }), 3);
    assert.equal(text.value('gatehouse_rejections_total', { site: 'other', status: '403', substatus: '7' }), 1);
    assert.equal(text.value('gatehouse_rejections_total', { site: 'app', status: '403', substatus: '16', reason: 'untrusted' }), 1);
    assert.equal(text.value('gatehouse_rejections_total', { site: 'app', status: '502', substatus: '4', reason: 'no_server' }), 1);
    assert.equal(text.value('gatehouse_rejections_total', { site: 'app', status: '502', substatus: '3', reason: 'bad_response' }), 2);
    assert.equal(text.value('gatehouse_rejections_total', { site: '', status: '400', reason: 'unknown_host' }), 1);
    assert.equal(text.value('gatehouse_rejections_total'), 9);
    assert.equal(text.find('gatehouse_rejections_total').length, 6, 'six series');
  });
});

describe('client certificates expiring', () => {
  test('counts the distinct certificates seen that expire within 30 days, not later ones, not expired or rejected ones', async () => {
    let now = NOW;
    const metrics = new GatehouseMetrics([], { processMetrics: false, now: () => now });
    const seen = (thumbprint: string, notAfterMs: number, status = 200) => metrics.requestEnded(record({ thumbprint, certificateNotAfterMs: notAfterMs, status, subStatus: status === 403 ? 17 : 0, outcome: status === 403 ? 'expired' : 'forwarded', reason: status === 403 ? EXPIRED.reason : '' }));
    seen('AA', NOW + 10 * DAY);
    seen('AA', NOW + 10 * DAY); // the same certificate again
    seen('BB', NOW + 300 * DAY);
    seen('CC', NOW + 29 * DAY);
    seen('DD', NOW - DAY, 403); // rejected (expired): not a certificate in use
    seen('EE', NOW + 5 * DAY, 403);
    let text = await scrapeOf(metrics);
    assert.equal(text.value('gatehouse_client_certificates_seen'), 3);
    assert.equal(text.value('gatehouse_client_certificates_expiring'), 2, '10 and 29 days, not 300');
    assert.equal(text.value('gatehouse_client_certificate_soonest_expiry_seconds'), 10 * 86_400);
    now = NOW + 11 * DAY; // AA has expired: it leaves the set; BB is still far
    text = await scrapeOf(metrics);
    assert.equal(text.value('gatehouse_client_certificates_seen'), 2);
    assert.equal(text.value('gatehouse_client_certificates_expiring'), 1);
    assert.equal(text.value('gatehouse_client_certificate_soonest_expiry_seconds'), 18 * 86_400);
    now = NOW + 280 * DAY;
    assert.equal(metrics.expiringCertificates().count, 1, 'BB now expires within 30 days');
  });

  test('the set is bounded: past its capacity the oldest certificate is forgotten', async () => {
    const metrics = new GatehouseMetrics([], { processMetrics: false, now: () => NOW, certificateCapacity: 100 });
    for (let i = 0; i < 250; i++) metrics.requestEnded(record({ thumbprint: `T${i}`, certificateNotAfterMs: NOW + (i < 200 ? 5 : 100) * DAY }));
    const text = await scrapeOf(metrics);
    assert.equal(text.value('gatehouse_client_certificates_seen'), 100);
    assert.equal(text.value('gatehouse_client_certificates_expiring'), 50, 'T150…T199 expire soon; T0…T149 were forgotten');
  });

  test('no certificate seen: the soonest expiry is +Inf (an alert on "< 7 days" stays quiet)', async () => {
    const text = await scrapeOf(new GatehouseMetrics([], { processMetrics: false }));
    assert.equal(text.value('gatehouse_client_certificates_expiring'), 0);
    assert.equal(text.value('gatehouse_client_certificate_soonest_expiry_seconds'), Infinity);
  });
});

describe('TLS handshakes', () => {
  test('are counted by site and full/resumed; failures by a bounded reason', async () => {
    const metrics = new GatehouseMetrics([], { processMetrics: false });
    metrics.tlsHandshakeCompleted('app', false);
    metrics.tlsHandshakeCompleted('app', false);
    metrics.tlsHandshakeCompleted('app', true);
    metrics.tlsHandshakeCompleted('api', false);
    metrics.tlsHandshakeFailed('plain_http', 'app');
    metrics.tlsHandshakeFailed('free text from somewhere' as never, 'app');
    const text = await scrapeOf(metrics);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'app', type: 'full' }), 2);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'app', type: 'resumed' }), 1);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'api', type: 'full' }), 1);
    assert.equal(text.value('gatehouse_tls_handshake_failures_total', { site: 'app', reason: 'plain_http' }), 1);
    assert.equal(text.value('gatehouse_tls_handshake_failures_total', { site: 'app', reason: 'other' }), 1);
  });

  test("Node's handshake errors map to short reasons", () => {
    const error = (code?: string) => Object.assign(new Error('x'), code === undefined ? {} : { code });
    assert.equal(handshakeFailureReason(error('ECONNRESET')), 'client_closed');
    assert.equal(handshakeFailureReason(error('ERR_SSL_HTTP_REQUEST')), 'plain_http');
    assert.equal(handshakeFailureReason(error('ERR_SSL_UNSUPPORTED_PROTOCOL')), 'protocol_version');
    assert.equal(handshakeFailureReason(error('ERR_SSL_WRONG_VERSION_NUMBER')), 'protocol_version');
    assert.equal(handshakeFailureReason(error('ERR_SSL_NO_SHARED_CIPHER')), 'no_shared_cipher');
    assert.equal(handshakeFailureReason(error('ERR_TLS_HANDSHAKE_TIMEOUT')), 'timeout');
    assert.equal(handshakeFailureReason(error('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')), 'client_alert');
    assert.equal(handshakeFailureReason(error('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE')), 'client_alert');
    assert.equal(handshakeFailureReason(error('ERR_SSL_SOMETHING_ELSE')), 'tls_error');
    assert.equal(handshakeFailureReason(error()), 'other');
    assert.equal(handshakeFailureReason(undefined), 'other');
  });

  test('observeTlsHandshakes reports a listener server\'s events with the site the listener picks', async () => {
    const metrics = new GatehouseMetrics([], { processMetrics: false });
    const site = (name: string) => ({ site: { name } });
    const bindings = [site('a'), site('b')];
    const listener = { isHttps: true, bindings, bindingFor: (name: string | false | undefined | null) => (name === 'a.test' ? bindings[0] : name === 'b.test' ? bindings[1] : undefined) };
    const emitter = new EventEmitter();
    observeTlsHandshakes(emitter, listener, metrics);
    const socket = (servername: string | undefined, reused = false) => ({ servername, isSessionReused: () => reused }) as unknown as TLSSocket;
    emitter.emit('secureConnection', socket('a.test'));
    emitter.emit('secureConnection', socket('b.test', true));
    emitter.emit('secureConnection', socket(undefined)); // no SNI and no default binding: the listener ends it
    emitter.emit('tlsClientError', Object.assign(new Error('http request'), { code: 'ERR_SSL_HTTP_REQUEST' }), socket(undefined));
    emitter.emit('tlsClientError', new Error('no binding for host name c.test'), socket('c.test'));
    emitter.emit('tlsClientError', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), socket('a.test'));
    const plain = new EventEmitter();
    observeTlsHandshakes(plain, { ...listener, isHttps: false }, metrics);
    assert.equal(plain.listenerCount('secureConnection'), 0, 'nothing to watch on http');
    const text = await scrapeOf(metrics);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'a', type: 'full' }), 1);
    assert.equal(text.value('gatehouse_tls_handshakes_total', { site: 'b', type: 'resumed' }), 1);
    assert.equal(text.value('gatehouse_tls_handshake_failures_total', { site: '', reason: 'unknown_server_name' }), 2);
    assert.equal(text.value('gatehouse_tls_handshake_failures_total', { site: '', reason: 'plain_http' }), 1);
    assert.equal(text.value('gatehouse_tls_handshake_failures_total', { site: 'a', reason: 'client_closed' }), 1);
  });
});

describe('registry', () => {
  test("process metrics are there with the gatehouse_ prefix, on the collector's registry, never on prom-client's global one", async () => {
    const first = new GatehouseMetrics([]);
    const second = new GatehouseMetrics([]); // a second collector (a reload, another test) does not throw
    for (const metrics of [first, second]) {
      const text = await scrapeOf(metrics);
      assert.ok(text.value('gatehouse_process_cpu_user_seconds_total') !== undefined, 'process CPU');
      assert.ok(text.value('gatehouse_nodejs_heap_size_used_bytes') !== undefined, 'heap');
      assert.ok(text.find('gatehouse_nodejs_eventloop_lag_seconds').length > 0, 'event loop lag');
      assert.ok(text.samples.every((s) => s.name.startsWith('gatehouse_')), 'every name is prefixed');
    }
    assert.equal(globalRegistry.getMetricsAsArray().length, 0, 'the global registry stays empty');
  });

  test('every metric has a HELP line and a TYPE', async () => {
    const text = await scrapeOf(new GatehouseMetrics(farmsOf({ name: 'web', servers: [server('a:1')] }), { processMetrics: false }));
    const families = ['gatehouse_farm_server_requests_total', 'gatehouse_farm_server_current_requests', 'gatehouse_farm_server_failed_requests_total', 'gatehouse_farm_server_sent_bytes_total', 'gatehouse_farm_server_received_bytes_total', 'gatehouse_farm_server_response_time_seconds', 'gatehouse_farm_server_available', 'gatehouse_farm_server_healthy', 'gatehouse_farm_server_state', 'gatehouse_rejections_total', 'gatehouse_tls_handshakes_total', 'gatehouse_tls_handshake_failures_total', 'gatehouse_client_certificates_seen', 'gatehouse_client_certificates_expiring', 'gatehouse_client_certificate_soonest_expiry_seconds'];
    for (const name of families) {
      assert.ok(text.types.has(name), `TYPE of ${name}`);
      assert.ok((text.help.get(name) ?? '').length > 10, `HELP of ${name}`);
    }
  });
});

describe('admin listener', () => {
  test('GET and HEAD /metrics; 404 elsewhere; 405 for other methods', async (t) => {
    const metrics = new GatehouseMetrics(farmsOf({ name: 'web', servers: [server('a:1')] }), { processMetrics: false });
    const admin = await startAdminServer({ address: '127.0.0.1', port: 0 }, metrics);
    t.after(() => admin.close());
    assert.match(admin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const ok = await fetch(`${admin.url}/metrics`);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(parseExposition(await ok.text()).value('gatehouse_farm_server_requests_total'), 0);
    const query = await fetch(`${admin.url}/metrics?name[]=x`);
    assert.equal(query.status, 200, 'a query string is ignored');
    await query.arrayBuffer();
    const head = await fetch(`${admin.url}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    for (const path of ['/', '/metrics/', '/metricsx', '/admin/metrics', '/favicon.ico']) {
      const res = await fetch(`${admin.url}${path}`);
      assert.equal(res.status, 404, path);
      await res.arrayBuffer();
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await fetch(`${admin.url}/metrics`, { method, ...(method === 'POST' || method === 'PUT' ? { body: 'x' } : {}) });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
      await res.arrayBuffer();
    }
    await admin.close();
    await admin.close(); // idempotent
    await assert.rejects(fetch(`${admin.url}/metrics`), 'nothing listens after close');
  });

  /** Connections to `port` from `localAddress` (a loopback address: the whole 127/8 is this machine's), each once connected. */
  async function holdConnections(port: number, count: number, localAddress: string, into: Socket[]): Promise<void> {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve());
        socket.once('error', reject);
        into.push(socket);
      });
    }
  }

  /** GET /metrics from `localAddress` on a connection of its own (Connection: close): the answer's bytes, 0 when closed without one. */
  function answerFrom(port: number, localAddress: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect({ host: '127.0.0.1', port, localAddress }, () => socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => {});
      const timer = setTimeout(() => reject(new Error(`the connection from ${localAddress} was not closed within 10 s`)), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('latin1'));
      });
    });
  }

  /** The connections the server holds: the count after the last close it has read (asked, bounded, until `expected`). */
  async function heldBy(server: { getConnections(cb: (error: Error | null, count: number) => void): void }, expected: number): Promise<number> {
    const count = () => new Promise<number>((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
    let now = await count();
    for (let i = 0; i < 200 && now !== expected; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      now = await count();
    }
    return now;
  }

  test(`one client address holds at most ${MAX_ADMIN_CONNECTIONS_PER_ADDRESS} connections; the next is closed, other addresses are answered`, async (t) => {
    const admin = await startAdminServer({ address: '127.0.0.1', port: 0 }, new GatehouseMetrics([], { processMetrics: false }));
    const sockets: Socket[] = [];
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await admin.close();
    });
    await holdConnections(admin.port, MAX_ADMIN_CONNECTIONS_PER_ADDRESS, '127.0.0.1', sockets);
    assert.equal(await answerFrom(admin.port, '127.0.0.1'), '', 'the next from that address is closed without an answer');
    assert.match(await answerFrom(admin.port, '127.0.0.2'), /^HTTP\/1\.1 200 /, 'another address is answered');
    await new Promise((resolve) => (sockets.shift() as Socket).destroy().once('close', resolve));
    assert.equal(await heldBy(admin.server, MAX_ADMIN_CONNECTIONS_PER_ADDRESS - 1), MAX_ADMIN_CONNECTIONS_PER_ADDRESS - 1);
    assert.match(await answerFrom(admin.port, '127.0.0.1'), /^HTTP\/1\.1 200 /, 'a place freed by a close is taken again');
  });

  test(`the listener holds at most ${MAX_ADMIN_CONNECTIONS} connections in all: the next is closed at once, and /metrics answers again once one closes`, async (t) => {
    const admin = await startAdminServer({ address: '127.0.0.1', port: 0 }, new GatehouseMetrics([], { processMetrics: false }));
    const sockets: Socket[] = [];
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await admin.close();
    });
    const addresses = MAX_ADMIN_CONNECTIONS / MAX_ADMIN_CONNECTIONS_PER_ADDRESS;
    for (let i = 0; i < addresses; i++) await holdConnections(admin.port, MAX_ADMIN_CONNECTIONS_PER_ADDRESS, `127.0.1.${i + 1}`, sockets);
    assert.equal(await answerFrom(admin.port, '127.0.2.1'), '', 'closed without an answer');
    await new Promise((resolve) => (sockets[0] as Socket).destroy().once('close', resolve));
    assert.equal(await heldBy(admin.server, MAX_ADMIN_CONNECTIONS - 1), MAX_ADMIN_CONNECTIONS - 1);
    assert.match(await answerFrom(admin.port, '127.0.2.1'), /^HTTP\/1\.1 200 /);
  });

  test('a port in use fails with a clear error and leaves nothing listening', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(startAdminServer({ address: '127.0.0.1', port }, new GatehouseMetrics([], { processMetrics: false })), (error: unknown) => {
        assert.ok(error instanceof AdminListenError);
        assert.equal(error.code, 'ERR_LISTEN');
        assert.match(error.message, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(admin\\): the address is already in use`));
        return true;
      });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  test('a failing collection answers 500', async (t) => {
    const admin = await startAdminServer({ address: '127.0.0.1', port: 0 }, { registry: { contentType: 'text/plain', metrics: () => Promise.reject(new Error('boom')) } });
    t.after(() => admin.close());
    const res = await fetch(`${admin.url}/metrics`);
    assert.equal(res.status, 500);
    await res.arrayBuffer();
  });
});

describe('the admin config key', () => {
  test('127.0.0.1 by default; the port is required; the address must be an IP address', () => {
    assert.deepEqual(adminSchema.parse({ port: 9100 }), { address: '127.0.0.1', port: 9100 });
    assert.deepEqual(normalizeAdmin(adminSchema.parse({ address: '[::1]', port: 0 })), { address: '::1', port: 0 });
    assert.equal(normalizeAdmin(undefined), undefined, 'no key: no admin listener');
    assert.equal(adminSchema.safeParse({}).success, false);
    assert.equal(adminSchema.safeParse({ port: 70000 }).success, false);
    assert.equal(adminSchema.safeParse({ address: 'localhost', port: 1 }).success, false);
    assert.equal(adminSchema.safeParse({ port: 1, path: '/x' }).success, false, 'unknown keys are refused');
  });

  test('loopback addresses', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(address), true, address);
    for (const address of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.1', '::ffff:10.0.0.1', 'fe80::1']) assert.equal(isLoopbackAddress(address), false, address);
  });

  test('a non-loopback address is a warning; a port shared with a binding is a problem', () => {
    const check = (admin: { address: string; port: number } | undefined, bindings: { address: string; port: number }[] = []) => {
      const problems: Problem[] = [];
      const warnings: Problem[] = [];
      checkAdmin(admin, bindings, problems, warnings);
      return { problems, warnings };
    };
    assert.deepEqual(check(undefined), { problems: [], warnings: [] });
    assert.deepEqual(check({ address: '127.0.0.1', port: 9100 }, [{ address: '0.0.0.0', port: 443 }]), { problems: [], warnings: [] });
    const open = check({ address: '0.0.0.0', port: 9100 });
    assert.equal(open.warnings.length, 1);
    assert.deepEqual(open.warnings[0]?.path, ['admin', 'address']);
    assert.match(open.warnings[0]?.message ?? '', /without authentication/);
    const clash = check({ address: '127.0.0.1', port: 8443 }, [{ address: '0.0.0.0', port: 8443 }]);
    assert.deepEqual(clash.problems[0]?.path, ['admin', 'port']);
    assert.equal(check({ address: '127.0.0.1', port: 8443 }, [{ address: '127.0.0.2', port: 8443 }]).problems.length, 0, 'another address');
    assert.equal(check({ address: '127.0.0.1', port: 0 }, [{ address: '127.0.0.1', port: 0 }]).problems.length, 0, 'port 0 never clashes');
  });
});
