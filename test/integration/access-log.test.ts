/**
 * The access log through the real proxy: the lines match the traffic sent (W3C in a folder of IIS
 * files, JSON lines), every outcome (200, 400 unknown host, 502.3 with its sc-win32-status), and an
 * unwritable destination reported once while every request is still served.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Gatehouse } from '../../src/app.js';
import { DEFAULT_ACCESS_LOG_SETTINGS, type AccessLogSettings } from '../../src/config/access-log-schema.js';
import { loadConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { W3C_FIELDS } from '../../src/tracing/access-log-w3c.js';
import { eventLog } from '../../src/tracing/log.js';
import { echoHandler, startBackend, type Backend, type Handler } from '../support/backends.js';
import { startGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { FARM, gatehouseConfig, SITE, type GatehouseSpec } from './forwarding-helpers.js';
import { makeTempDir } from '../support/temp.js';
import { echoOf, rawValues, send, type ClientReply, type SendOptions } from '../support/clients.js';

let pki: TestPki;
let tmp: { dir: string; remove: () => Promise<void> };

before(async () => {
  pki = await createTestPki();
  tmp = await makeTempDir('gatehouse-access-log-');
});

after(async () => {
  await tmp?.remove();
  await pki?.cleanup();
});

const HOST = 'app.example.test';

/** The echo backend, except `/drop`: the connection is cut before any response (→ 502.3). */
const backendHandler: Handler = (req: IncomingMessage, res: ServerResponse, backend: Backend) => {
  if (req.url === '/drop') {
    req.socket.destroy();
    return;
  }
  echoHandler(req, res, backend);
};

/**
 * Gatehouse with given access log settings. Until load.ts produces AccessLogSettings, the loaded config's
 * `accessLog` is replaced: AccessLog takes the former target and the new settings alike.
 */
async function startWithAccessLog(t: TestContext, settings: AccessLogSettings) {
  const backend = await startBackend('b', backendHandler);
  t.after(() => backend.close());
  const spec: GatehouseSpec = { servers: [backend.address], clientCertificates: 'accept', bindings: [{ protocol: 'http', hostName: HOST }, 'https'] };
  const { config } = await loadConfigText(gatehouseConfig(pki, spec), join(tmp.dir, 'gatehouse.yaml'), tmp.dir);
  // Top level and sites alike, so the test holds before and after sites get settings of their own.
  const patched = { ...config, accessLog: settings, sites: config.sites.map((site) => ({ ...site, accessLog: settings })) };
  const gatehouse = await Gatehouse.start(patched as unknown as Config, { eventLog: { info: () => {}, warn: () => {}, error: () => {} } });
  t.after(() => gatehouse.stop(1000));
  const bound = gatehouse.bound;
  const listener = (protocol: 'http' | 'https') => bound.find((l) => l.protocol === protocol) as { url: string; port: number };
  return { backend, gatehouse, listener };
}

function request(url: string, options: SendOptions = {}): Promise<ClientReply> {
  return send(url, { ca: pki.root.certPem, timeoutMs: 30_000, ...options });
}

/** Four requests, one of each outcome, sent one after the other. */
async function traffic(listener: (protocol: 'http' | 'https') => { url: string }) {
  const startedMs = Date.now();
  const withCert = await request(`${listener('https').url}/orders/7?expand=lines`, { clientCert: pki.clients.valid, headers: ['User-Agent', 'curl/8.5.0 (x86_64 linux)', 'Referer', 'https://app.example.test/start'] });
  const post = await request(`${listener('http').url}/submit`, { method: 'POST', body: 'abc', headers: ['Host', HOST, 'Content-Type', 'text/plain'] });
  const unknownHost = await request(`${listener('http').url}/x?y=1`, { headers: ['Host', 'nobody.example.test'] });
  const dropped = await request(`${listener('https').url}/drop`);
  const endedMs = Date.now();
  assert.deepEqual([withCert.status, post.status, unknownHost.status, dropped.status], [200, 200, 400, 502]);
  return { withCert, post, unknownHost, dropped, startedMs, endedMs };
}

function thumbprintOfValidClient(): string {
  return createHash('sha1').update(pki.clients.valid.issued.cert.raw).digest('hex').toUpperCase();
}

describe('access log through the proxy', () => {
  test('W3C, folder destination: u_exYYMMDD.log with the IIS header and one line per request, fields matching the traffic', async (t) => {
    const folder = join(tmp.dir, `w3c-${process.pid}`);
    const { backend, gatehouse, listener } = await startWithAccessLog(t, { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'folder', path: folder, rollover: 'daily' });
    const sent = await traffic(listener);
    await gatehouse.stop(1000);

    const files = (await readdir(folder)).sort();
    assert.ok(files.length >= 1 && files.every((f) => /^u_ex\d{6}\.log$/.test(f)), files.join(' '));
    const text = (await Promise.all(files.map((f) => readFile(join(folder, f), 'utf8')))).join('');
    assert.ok(text.startsWith('#Software: Gatehouse\n#Version: 1.0\n#Date: '), text);
    assert.ok(text.includes(`\n#Fields: ${W3C_FIELDS.join(' ')}\n`), text);
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.equal(lines.length, 4, lines.join('\n'));
    const rows = lines.map((line) => Object.fromEntries(line.split(' ').map((value, i) => [W3C_FIELDS[i] as string, value])) as Record<string, string>);
    for (const [i, row] of rows.entries()) {
      assert.equal(Object.keys(row).length, W3C_FIELDS.length, lines[i]);
      const loggedMs = Date.parse(`${row['date']}T${row['time']}Z`);
      assert.ok(loggedMs >= Math.floor(sent.startedMs / 1000) * 1000 && loggedMs <= sent.endedMs, `${row['date']} ${row['time']}`);
      assert.equal(files.includes(`u_ex${(row['date'] as string).slice(2).replace(/-/g, '')}.log`), true, 'in the file of its day');
      assert.equal(row['s-ip'], '127.0.0.1');
      assert.equal(row['c-ip'], '127.0.0.1');
      assert.equal(row['cs-username'], '-');
      assert.match(row['time-taken'] as string, /^\d+$/);
    }
    const [withCert, post, unknownHost, dropped] = rows as [Record<string, string>, Record<string, string>, Record<string, string>, Record<string, string>];
    const httpsPort = String(listener('https').port);
    const httpPort = String(listener('http').port);

    assert.deepEqual(
      [withCert['cs-method'], withCert['cs-uri-stem'], withCert['cs-uri-query'], withCert['s-port'], withCert['cs(User-Agent)'], withCert['cs(Referer)'], withCert['sc-status'], withCert['sc-substatus'], withCert['sc-win32-status']],
      ['GET', '/orders/7', 'expand=lines', httpsPort, 'curl/8.5.0+(x86_64+linux)', 'https://app.example.test/start', '200', '0', '0'],
    );
    assert.deepEqual(
      [withCert['s-sitename'], withCert['c-port'], withCert['x-farm'], withCert['x-server'], withCert['x-client-cert-thumbprint']],
      [SITE, String(sent.withCert.localPort), FARM, backend.address, thumbprintOfValidClient()],
    );
    assert.deepEqual([withCert['x-arr-log-id']], rawValues(echoOf(sent.withCert).rawHeaders, 'X-ARR-LOG-ID'));

    assert.deepEqual(
      [post['cs-method'], post['cs-uri-stem'], post['cs-uri-query'], post['s-port'], post['sc-status'], post['s-sitename'], post['c-port'], post['x-server'], post['x-client-cert-thumbprint']],
      ['POST', '/submit', '-', httpPort, '200', SITE, String(sent.post.localPort), backend.address, '-'],
    );
    assert.deepEqual([post['x-arr-log-id']], rawValues(echoOf(sent.post).rawHeaders, 'X-ARR-LOG-ID'));

    assert.deepEqual(
      [unknownHost['cs-uri-stem'], unknownHost['cs-uri-query'], unknownHost['sc-status'], unknownHost['sc-substatus'], unknownHost['sc-win32-status'], unknownHost['s-sitename'], unknownHost['x-arr-log-id'], unknownHost['x-farm'], unknownHost['x-server']],
      ['/x', 'y=1', '400', '0', '0', '-', '-', '-', '-'],
    );
    assert.equal(unknownHost['c-port'], String(sent.unknownHost.localPort));

    // The backend cut the connection before answering: 502.3, "connection aborted" as WinHTTP says it.
    assert.deepEqual(
      [dropped['cs-uri-stem'], dropped['sc-status'], dropped['sc-substatus'], dropped['sc-win32-status'], dropped['s-sitename'], dropped['x-farm'], dropped['x-server']],
      ['/drop', '502', '3', '12030', SITE, FARM, backend.address],
    );
    assert.match(dropped['x-arr-log-id'] as string, /^[0-9a-f-]{36}$/);
  });

  test('JSON lines: one object per request with every record field', async (t) => {
    const file = join(tmp.dir, `json-${process.pid}.log`);
    const { backend, gatehouse, listener } = await startWithAccessLog(t, { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'file', path: file, format: 'json' });
    const sent = await traffic(listener);
    await gatehouse.stop(1000);
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 4, lines.join('\n'));
    const [withCert, post, unknownHost, dropped] = lines.map((l) => JSON.parse(l) as Record<string, unknown>) as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    for (const entry of [withCert, post, unknownHost, dropped]) {
      const ms = Date.parse(entry['time'] as string);
      assert.ok(ms >= sent.startedMs && ms <= sent.endedMs, String(entry['time']));
      assert.equal(ms, Math.floor((entry['startEpochMs'] as number) + (entry['timeTakenMs'] as number)));
    }
    assert.equal(withCert['method'], 'GET');
    assert.equal(withCert['url'], '/orders/7?expand=lines');
    assert.equal(withCert['isHttps'], true);
    assert.equal(withCert['userAgent'], 'curl/8.5.0 (x86_64 linux)');
    assert.equal(withCert['status'], 200);
    assert.equal(withCert['clientPort'], sent.withCert.localPort);
    assert.equal(withCert['bytesSent'], sent.withCert.bodyBytes);
    assert.equal(withCert['thumbprint'], thumbprintOfValidClient());
    assert.match(withCert['certificateSubject'] as string, /CN=/);
    assert.equal(withCert['logId'], rawValues(echoOf(sent.withCert).rawHeaders, 'X-ARR-LOG-ID')[0]);
    assert.equal(withCert['server'], backend.address);
    assert.deepEqual([post['method'], post['isHttps'], post['host'], post['bytesReceived'], post['bytesSent']], ['POST', false, HOST, 3, sent.post.bodyBytes]);
    assert.deepEqual([unknownHost['status'], unknownHost['site'], unknownHost['host']], [400, '', 'nobody.example.test']);
    assert.match(unknownHost['reason'] as string, /answers for host 'nobody\.example\.test'/);
    assert.deepEqual([dropped['status'], dropped['subStatus'], dropped['site'], dropped['farm']], [502, 3, SITE, FARM]);
    assert.match(dropped['reason'] as string, /^ECONNABORTED the server closed the connection before answering/);
  });

  test('an unwritable destination (a path under a regular file) is reported once; every request is served', async (t) => {
    const blocker = join(tmp.dir, `blocker-${process.pid}`);
    await writeFile(blocker, 'a file, not a folder\n');
    const errors = t.mock.method(eventLog, 'error', () => {});
    const backend = await startBackend('b');
    t.after(() => backend.close());
    const running = await startGatehouse(gatehouseConfig(pki, { servers: [backend.address], bindings: ['http'], accessLog: join(blocker, 'logs', 'access.log') }), tmp.dir);
    t.after(() => running.stop());
    const url = running.url(SITE, 'http');
    for (let round = 0; round < 3; round++) {
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => request(`${url}/r${round}-${i}`)));
      for (const reply of replies) assert.equal(reply.status, 200, reply.error?.message);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await running.stop();
    assert.equal(backend.received.length, 30);
    // On Gatehouse's event log once app.ts passes it to the access log; on the default one until then.
    const reports = [...errors.mock.calls.map((c) => String(c.arguments[0])), ...running.events.map((e) => e.replace(/^\w+ /, ''))].filter((m) => m.startsWith('access log'));
    assert.equal(reports.length, 1, reports.join('\n'));
    assert.match(reports[0] as string, /ENOTDIR.*access logging to it stopped/);
  });

  test('per-site settings from the config file: a site inherits the top-level log, another has its own', async (t) => {
    const backend = await startBackend('b');
    t.after(() => backend.close());
    const dir = join(tmp.dir, `per-site-${process.pid}`);
    const config = JSON.parse(gatehouseConfig(pki, { servers: [backend.address], bindings: ['http'] })) as { accessLog: unknown; sites: Record<string, unknown>[] };
    const app = config.sites[0] as Record<string, unknown>;
    config.accessLog = { destination: join(dir, 'all'), rollover: 'size', maxSizeKB: 1024 };
    config.sites.push({ ...app, name: 'api', accessLog: { destination: join(dir, 'api'), format: 'json' } });
    const running = await startGatehouse(JSON.stringify(config), tmp.dir);
    t.after(() => running.stop());
    assert.equal((await request(`${running.url(SITE, 'http')}/to-app`)).status, 200);
    assert.equal((await request(`${running.url('api', 'http')}/to-api`)).status, 200);
    await running.stop();
    const read = async (folder: string) => (await Promise.all((await readdir(folder)).map((f) => readFile(join(folder, f), 'utf8')))).join('');
    const all = (await read(join(dir, 'all'))).split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(all.map((l) => l.split(' ').slice(4, 5).concat(l.split(' ').slice(15, 16))), [['/to-app', SITE]]);
    const api = (await read(join(dir, 'api'))).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { url: string; site: string });
    assert.deepEqual(api.map((r) => [r.url, r.site]), [['/to-api', 'api']]);
    assert.deepEqual(running.events.filter((e) => e.includes('access log')), []);
  });
});
