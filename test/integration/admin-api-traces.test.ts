/**
 * Traces through the admin API, against a real Gatehouse: a site whose tracing rule keeps 403s; a request
 * without a client certificate (403.7) and one with an untrusted one (403.16) leave traces; GET /traces
 * lists them newest first (filters by site and status), GET /traces/{id} returns one parsed, the
 * Authorization and Cookie values the client sent appear nowhere, and ids that are not a trace file's
 * name (`..`, slashes, other files) are refused. A traced 200 carries the forwarded X-ARR-ClientCert decoded
 * (`clientCertificate`: subject, issuer, validity, thumbprints, checked against the client's own PEM); a
 * trace without one has null, and a value that does not parse gives `{ error }`, not a failed answer.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend, type Backend } from '../support/backends.js';
import { send } from '../support/clients.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { apiClient, makeToken } from './admin-api-helpers.js';

let pki: TestPki;
let backend: Backend;
let running: RunningGatehouse;
let viewer: string;
let api: ReturnType<typeof apiClient>;

const SECRET = 'Bearer s3cret-value-never-shown';
const COOKIE = 'session=cookie-value-never-shown';

async function flushTraces(): Promise<void> {
  await Promise.all(running.gatehouse.listeners.flatMap((l) => l.bindings.map((b) => b.site.tracer?.writer.flush())));
}

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('web-1');
  const view = await makeToken(pki.dir, 'watcher');
  viewer = view.token;
  running = await startGatehouse(
    `accessLog: off
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  users: [{ name: watcher, tokenFile: ${view.file}, role: viewer }]
sites:
  - name: badges
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: web
    tracing:
      rules: [{ path: /ok/*, statusCodes: '200' }, { statusCodes: '403' }]
  - name: open
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
    tracing:
      rules: [{ path: /missing/*, statusCodes: '404' }]
farms:
  - name: web
    servers: [{ address: ${backend.address} }]
`,
    pki.dir,
  );
  api = apiClient(() => (running.gatehouse.admin as { url: string }).url, pki.caFile);
});

after(async () => {
  await running?.stop();
  await backend?.close();
  await pki?.cleanup();
});

describe('traces', () => {
  test('a request without a client certificate leaves a trace: listed newest first, readable, secrets redacted', async () => {
    const empty = await api('GET', '/api/v1/traces', { token: viewer });
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual(empty.json.traces, []);

    const bare = await send(`${running.url('badges', 'https')}/payroll?month=11`, { ca: pki.root.certPem, headers: ['Authorization', SECRET, 'Cookie', COOKIE] });
    assert.equal(bare.status, 403);
    await flushTraces();
    const untrusted = await send(`${running.url('badges', 'https')}/second`, { ca: pki.root.certPem, clientCert: pki.clients.untrusted, headers: ['Authorization', SECRET] });
    assert.equal(untrusted.status, 403);
    await flushTraces();

    const listed = await api('GET', '/api/v1/traces', { token: viewer });
    assert.equal(listed.status, 200, listed.text);
    const traces = listed.json.traces as Record<string, unknown>[];
    assert.equal(traces.length, 2);
    const [newest, oldest] = traces as [Record<string, any>, Record<string, any>];
    assert.equal(oldest.id, 'fr000001.json');
    assert.equal(oldest.site, 'badges');
    assert.equal(oldest.url, '/payroll?month=11');
    assert.equal(oldest.method, 'GET');
    assert.match(oldest.status, /^403\.\d+$/);
    assert.equal(oldest.clientCertificate, null, 'no client certificate was presented');
    assert.equal(oldest.failureReason, 'STATUS_CODE');
    assert.equal(typeof oldest.outcome, 'string');
    assert.equal(typeof oldest.durationMs, 'number');
    assert.ok(!Number.isNaN(Date.parse(oldest.time)));
    assert.equal(newest.id, 'fr000002.json', 'newest first');
    assert.equal(newest.status, '403.16');
    assert.match(newest.clientCertificate, /CN=Mallory/);
    assert.ok(!listed.text.includes('s3cret') && !listed.text.includes('cookie-value'), 'no secret in the list');

    // Filters.
    const only = await api('GET', `/api/v1/traces?status=${encodeURIComponent(oldest.status)}`, { token: viewer });
    assert.deepEqual(only.json.traces.map((t: { id: string }) => t.id), ['fr000001.json']);
    const all403 = await api('GET', '/api/v1/traces?status=403&site=badges&limit=1', { token: viewer });
    assert.deepEqual(all403.json.traces.map((t: { id: string }) => t.id), ['fr000002.json']);
    const other = await api('GET', '/api/v1/traces?site=open', { token: viewer });
    assert.deepEqual(other.json.traces, []);
    const unknown = await api('GET', '/api/v1/traces?site=nowhere', { token: viewer });
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.detail, /badges, open/);
    const badStatus = await api('GET', '/api/v1/traces?status=forbidden', { token: viewer });
    assert.equal(badStatus.status, 422);
    assert.match(badStatus.json.detail, /status/);

    // One trace, as its file holds it.
    const shown = await api('GET', '/api/v1/traces/fr000001.json', { token: viewer });
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.json.id, 'fr000001.json');
    assert.equal(shown.json.site, 'badges');
    assert.equal(shown.json.format, 'gatehouse-trace/1');
    assert.equal(shown.json.statusCode, 403);
    assert.equal(shown.json.url, '/payroll?month=11');
    const headers = String(shown.json.events.find((e: { name: string }) => e.name === 'GENERAL_REQUEST_HEADERS')?.data.Headers);
    assert.match(headers, /^authorization: \[redacted\]$/im);
    assert.match(headers, /^cookie: \[redacted\]$/im);
    assert.ok(!shown.text.includes('s3cret') && !shown.text.includes('cookie-value'), 'the Authorization and Cookie values appear nowhere');
    const second = await api('GET', '/api/v1/traces/fr000002.json?site=badges', { token: viewer });
    assert.equal(second.status, 200);
    assert.ok(!second.text.includes('s3cret'));
  });

  test('ids that are not a trace file name are refused: no path traversal', async () => {
    // A file beside the traces that must never be served.
    await writeFile(join(pki.dir, 'traces', 'badges', 'notes.json'), '{"secret":"x"}');
    for (const id of ['..%2F..%2Fgatehouse.yaml', '..', '%2E%2E', 'fr000001.json%2F..', 'notes.json', 'fr1.json', 'fr000001.json.tmp']) {
      const answer = await api('GET', `/api/v1/traces/${id}`, { token: viewer });
      assert.ok(answer.status === 422 || answer.status === 404, `${id}: ${answer.status} ${answer.text}`);
      assert.ok(!answer.text.includes('secret'), id);
      if (answer.status === 422) assert.equal(answer.json.code, 'invalid_trace_id');
    }
    const dotdot = await api('GET', '/api/v1/traces/..', { token: viewer });
    assert.ok(dotdot.status === 422 || dotdot.status === 404);
    const missing = await api('GET', '/api/v1/traces/fr000099.json', { token: viewer });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'trace_not_found');
    const noToken = await api('GET', '/api/v1/traces', {});
    assert.equal(noToken.status, 401);
  });

  test('a traced 200: the forwarded X-ARR-ClientCert decoded as a certificate; none → null; a damaged value → { error }', async () => {
    const ok = await send(`${running.url('badges', 'https')}/ok/profile`, { ca: pki.root.certPem, clientCert: pki.clients.valid });
    assert.equal(ok.status, 200);
    await flushTraces();
    const listed = await api('GET', '/api/v1/traces?site=badges&status=200', { token: viewer });
    assert.equal(listed.status, 200, listed.text);
    const summary = (listed.json.traces as { id: string; url: string }[]).find((t) => t.url === '/ok/profile');
    assert.ok(summary, listed.text);
    const shown = await api('GET', `/api/v1/traces/${summary.id}`, { token: viewer });
    assert.equal(shown.status, 200, shown.text);
    const expected = new X509Certificate(pki.clients.valid.issued.certPem);
    const decoded = shown.json.clientCertificate as { header: string; subject: string; issuer: string; serialNumber: string; notBefore: string; notAfter: string; thumbprintSha1: string; thumbprintSha256: string };
    assert.equal(decoded.header, 'X-ARR-ClientCert');
    assert.match(decoded.subject, /CN=Alice Badge/);
    assert.match(decoded.subject, /O=Example Corp/);
    assert.match(decoded.issuer, /CN=Gatehouse Test Root/);
    const door = shown.json.events.find((e: { name: string }) => e.name === 'SSL_CLIENT_CERTIFICATE').data;
    assert.equal(decoded.subject, door.Subject, 'the same subject as the door saw');
    assert.equal(decoded.issuer, door.Issuer);
    assert.equal(decoded.thumbprintSha1, expected.fingerprint.replace(/:/g, ''));
    assert.equal(decoded.thumbprintSha256, expected.fingerprint256.replace(/:/g, ''));
    assert.equal(decoded.serialNumber, expected.serialNumber.toUpperCase());
    assert.equal(decoded.notBefore, new Date(expected.validFrom).toISOString());
    assert.equal(decoded.notAfter, new Date(expected.validTo).toISOString());
    // The base64 beside it is the DER of the client's certificate.
    const forwarded = shown.json.events.find((e: { name: string; data: { HeaderName?: string } }) => e.name === 'GENERAL_SET_REQUEST_HEADER' && e.data.HeaderName === 'X-ARR-ClientCert').data.HeaderValue;
    assert.deepEqual(Buffer.from(forwarded, 'base64'), expected.raw);

    // The answer's headers as the client got them.
    const answered = String(shown.json.events.find((e: { name: string }) => e.name === 'GENERAL_RESPONSE_HEADERS')?.data.Headers);
    assert.match(answered, /^content-type: /im, answered);
    assert.equal(ok.headers['content-type'], /^content-type: (.*)$/im.exec(answered)?.[1]);

    // A 403 (nothing forwarded): null.
    const refused = await api('GET', '/api/v1/traces/fr000002.json?site=badges', { token: viewer });
    assert.equal(refused.json.clientCertificate, null);

    // A trace file whose forwarded value was damaged (copied, then edited by hand): the answer says why, as data.
    const folder = join(pki.dir, 'traces', 'badges');
    const text = await readFile(join(folder, summary.id), 'utf8');
    await writeFile(join(folder, 'fr000900.json'), text.replace(forwarded, 'bm90IGEgY2VydGlmaWNhdGU='));
    const damaged = await api('GET', '/api/v1/traces/fr000900.json', { token: viewer });
    assert.equal(damaged.status, 200, damaged.text);
    assert.equal(damaged.json.clientCertificate.header, 'X-ARR-ClientCert');
    assert.match(damaged.json.clientCertificate.error, /X-ARR-ClientCert does not hold a base64Der certificate: /);
    assert.equal(damaged.json.clientCertificate.subject, undefined);
  });
});
