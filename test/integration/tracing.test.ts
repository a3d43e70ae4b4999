/**
 * Failed request tracing, the operator's story: a badge holder with an expired certificate gets 403.17,
 * the trace file says why and `gatehouse traces show` prints it; a 502.3 trace names the server, the
 * retry and the upstream error; requests no rule keeps leave no file.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { refusedAddress, startBackend, type Backend } from '../support/backends.js';
import { curl, run } from '../support/clients.js';
import { BIN, type RunningGatehouse, startGatehouse } from '../support/gatehouse.js';
import { assertHttp2Fallback, offersHttp2 } from '../support/http2.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import type { Trace } from '../../src/shared/trace.js';

let pki: TestPki;
let backend: Backend;
let refused: string;
let running: RunningGatehouse;

async function tracesOf(site: string): Promise<{ name: string; trace: Trace }[]> {
  await Promise.all(running.gatehouse.listeners.flatMap((l) => l.bindings.map((b) => b.site.tracer?.writer.flush())));
  const dir = join(pki.dir, 'traces', site);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^fr\d{6}\.json$/.test(n)).sort();
  return Promise.all(names.map(async (name) => ({ name, trace: JSON.parse(await readFile(join(dir, name), 'utf8')) as Trace })));
}

function event(trace: Trace, name: string): Record<string, unknown> {
  const found = trace.events.find((e) => e.name === name);
  assert.ok(found, `${name} missing; events: ${trace.events.map((e) => e.name).join(', ')}`);
  return found.data;
}

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('web-1');
  refused = await refusedAddress();
  running = await startGatehouse(
    `accessLog: off
sites:
  - name: badges
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile} }
    farm: web
    tracing:
      maxFiles: 5
      redactHeaders: [X-Api-Key]
      rules:
        - path: /ok/*
          statusCodes: '403.16'
        - path: '*'
          statusCodes: 403.13,403.16,403.17,500-599
  - name: broken
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: flaky
    tracing:
      rules: [{ statusCodes: '502' }]
farms:
  - name: web
    servers: [{ address: ${backend.address} }]
  - name: flaky
    servers: [{ address: ${refused} }, { address: ${refused.replace('127.0.0.1', '127.0.0.2')} }]
`,
    pki.dir,
  );
});

after(async () => {
  await running?.stop();
  await backend?.close();
  await pki?.cleanup();
});

describe('failed request tracing', () => {
  test('an expired badge: 403.17, a trace with the certificate, the verdict and why; traces show prints it', async (t) => {
    const result = await curl(`${running.url('badges')}/payroll?month=11`, { cacert: pki.caFile, cert: pki.clients.expired.certFile, key: pki.clients.expired.keyFile, headers: ['Authorization: Bearer secret-token', 'X-Api-Key: k-123', 'Cookie: session=abc'] });
    assert.equal(result.status, 403);
    assert.match(result.body, /403\.17/);
    const traces = await tracesOf('badges');
    assert.equal(traces.length, 1, 'one trace kept');
    const [{ name, trace }] = traces as [{ name: string; trace: Trace }];
    assert.equal(name, 'fr000001.json');
    assert.equal(trace.statusCode, 403);
    assert.equal(trace.subStatusCode, 17);
    assert.equal(trace.failureReason, 'STATUS_CODE');
    assert.equal(trace.url, '/payroll?month=11');
    const cert = event(trace, 'SSL_CLIENT_CERTIFICATE');
    const expired = new X509Certificate(readFileSync(pki.clients.expired.certFile));
    assert.equal(cert['Thumbprint'], expired.fingerprint.replace(/:/g, ''));
    assert.match(String(cert['Subject']), /CN=Expired Ed/);
    assert.equal(cert['Verdict'], '403.17');
    assert.match(String(cert['Reason']), /expired/);
    assert.equal(cert['VerifyCode'], 'CERT_HAS_EXPIRED');
    assert.equal(new Date(String(cert['NotAfter'])).getTime(), new Date(expired.validTo).getTime());
    const tls = event(trace, 'SSL_CONNECTION_INFORMATION');
    assert.match(String(tls['Protocol']), /^TLSv1\.[23]$/);
    // curl speaks HTTP/2 when offered (ALPN), so header names arrive in lower case, after the pseudo-headers.
    // Where this node's HTTP/2 is off (support/http2.ts), Gatehouse offers http/1.1 only: curl speaks
    // HTTP/1.1 and the names arrive as it sent them.
    const headers = String(event(trace, 'GENERAL_REQUEST_HEADERS')['Headers']);
    if (offersHttp2) {
      assert.equal(tls['Alpn'], 'h2');
      assert.match(headers, /^:method: GET$/m);
    } else {
      await assertHttp2Fallback(t, { port: running.port('badges'), ca: pki.root.certPem, log: () => running.events });
      assert.equal(tls['Alpn'], 'http/1.1');
      assert.doesNotMatch(headers, /^:/m, 'no pseudo-headers over HTTP/1.1');
    }
    for (const name of ['Authorization', 'X-Api-Key', 'Cookie']) assert.match(headers, new RegExp(`^${offersHttp2 ? name.toLowerCase() : name}: \\[redacted\\]$`, 'm'));
    assert.ok(!headers.includes('secret-token') && !headers.includes('k-123') && !headers.includes('session=abc'), headers);
    const status = event(trace, 'MODULE_SET_RESPONSE_ERROR_STATUS');
    assert.equal(status['HttpSubStatus'], 17);
    assert.equal((await stat(join(pki.dir, 'traces', 'badges', name))).mode & 0o777, 0o600);
    assert.equal(backend.received.length, 0, 'the backend never saw it');

    const shown = await run(process.execPath, [BIN, 'traces', 'show', '1', '-c', running.configFile, '--site', 'badges']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /GET \/payroll\?month=11 {2}site badges {2}→ {2}403\.17/);
    assert.match(shown.stdout, /SSL_CLIENT_CERTIFICATE\s+Subject=.*CN=Expired Ed.*Verdict=403\.17\s+Reason=client certificate expired/);
    const listed = await run(process.execPath, [BIN, 'traces', 'list', '-c', running.configFile]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^\s+1 {2}\S+ {2}badges {2}403\.17 .* GET \/payroll\?month=11 {2}\(STATUS_CODE\)$/m);
  });

  test('a successful request matches no rule and leaves no trace; the first matching rule decides', async () => {
    const before = (await tracesOf('badges')).length;
    const ok = await curl(`${running.url('badges')}/ok/page`, { cacert: pki.caFile, cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile });
    assert.equal(ok.status, 200);
    // /ok/* is claimed by rule 1 (403.16 only): a 403.17 there is not kept by rule 2.
    const expired = await curl(`${running.url('badges')}/ok/other`, { cacert: pki.caFile, cert: pki.clients.expired.certFile, key: pki.clients.expired.keyFile });
    assert.equal(expired.status, 403);
    const untrusted = await curl(`${running.url('badges')}/ok/x`, { cacert: pki.caFile, cert: pki.clients.untrusted.certFile, key: pki.clients.untrusted.keyFile });
    assert.equal(untrusted.status, 403);
    const traces = await tracesOf('badges');
    assert.equal(traces.length, before + 1);
    assert.equal(traces[traces.length - 1]?.trace.subStatusCode, 16);
    assert.equal(traces[traces.length - 1]?.trace.rule, 0);
  });

  test('a 502.3 trace names the farm, both servers, the retry and the upstream error', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${running.url('broken', 'http')}/api/orders`, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 502);
    const traces = await tracesOf('broken');
    assert.equal(traces.length, 1);
    const trace = (traces[0] as { trace: Trace }).trace;
    assert.equal(trace.statusCode, 502);
    assert.equal(trace.subStatusCode, 3);
    const routed = trace.events.filter((e) => e.name === 'ARR_REQUEST_ROUTED');
    assert.equal(routed.length, 2, 'routed twice: the first server, then the retry');
    assert.equal(routed[0]?.data['WebFarm'], 'flaky');
    assert.equal(routed[1]?.data['RoutingReason'], 'Retry');
    const retry = event(trace, 'ARR_REQUEST_RETRY');
    assert.match(String(retry['Cause']), /ECONNREFUSED/);
    assert.notEqual(retry['FailedServer'], retry['NextServer']);
    assert.match(String(event(trace, 'ARR_RESPONSE_ERROR')['Error']), /ECONNREFUSED/);
    const set = trace.events.filter((e) => e.name === 'GENERAL_SET_REQUEST_HEADER').map((e) => e.data['HeaderName']);
    for (const name of ['Max-Forwards', 'X-Forwarded-For', 'X-ARR-LOG-ID', 'X-Forwarded-Proto']) assert.ok(set.includes(name), `${name} not in ${set.join(', ')}`);
    const shown = await run(process.execPath, [BIN, 'traces', 'show', '1', '-c', running.configFile, '--site', 'broken']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /ARR_REQUEST_RETRY\s+FailedServer=127\.0\.0\.\d:\d+\s+Cause=ECONNREFUSED/);
  });

  test('the forwarded certificate appears in full among the headers set, and maxFiles keeps the newest', async () => {
    const path = '/boom';
    backend.server.removeAllListeners('request');
    backend.server.on('request', (_req, res) => {
      res.writeHead(500);
      res.end('boom');
    });
    for (let i = 0; i < 6; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(`${running.url('badges')}${path}`, { ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile) }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 500);
    }
    const traces = await tracesOf('badges');
    assert.equal(traces.length, 5, 'maxFiles: 5');
    const newest = (traces[traces.length - 1] as { trace: Trace }).trace;
    const cert = newest.events.find((e) => e.name === 'GENERAL_SET_REQUEST_HEADER' && e.data['HeaderName'] === 'X-ARR-ClientCert');
    assert.equal(cert?.data['HeaderValue'], new X509Certificate(readFileSync(pki.clients.valid.certFile)).raw.toString('base64'));
    assert.ok(!traces.some((t) => t.name === 'fr000001.json'), 'the oldest was removed');
  });
});
