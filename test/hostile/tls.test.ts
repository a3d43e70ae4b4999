/**
 * The TLS door under hostile use: plain HTTP to an https port (and TLS to an http port), SNI of one site
 * with the Host (or :authority) of another on a shared port (421), unknown or missing SNI, client
 * certificates that are untrusted, expired or missing on a `require` site (403.16 / 403.17 / 403.7, over
 * HTTP/1.1, HTTP/2 and upgrades, with forged certificate headers along), and requireSsl (403.4) that a
 * forged X-Forwarded-Proto cannot talk around. The backend receives nothing of any refused request.
 * Most of this holds today; the suite keeps it so. On a node whose HTTP/2 Gatehouse turns off, the HTTP/2
 * tests assert that fallback instead (support/http2.ts).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { assertHttp2Fallback } from '../support/http2.js';
import {
  assertLocal,
  describeExchange,
  describeStream,
  h2Request,
  headerValues,
  hostileSuite,
  http2Test,
  isRefusedStream,
  offersHttp2,
  rawExchange,
  RawConnection,
  RawH2,
  request,
  show,
  type Hostile,
  type RawTarget,
  type RecordingBackend,
} from './support.js';

const suite = hostileSuite();

/** Asserts that nothing at all reached the backend since `mark`. */
async function assertNothingForwarded(mark: ReturnType<RecordingBackend['mark']>, what: string): Promise<void> {
  await suite.backend.settle();
  const seen = suite.backend.since(mark);
  assert.equal(seen.bytes, 0, `${what}: nothing reaches the backend: ${show(seen.text)}`);
}

describe('protocol mismatches on a port', () => {
  let gh: Hostile;
  before(async () => {
    gh = await suite.launch();
  });
  after(() => gh?.stop());

  test('plain HTTP to the https port: no HTTP answer from the backend, the connection closes', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange({ port: gh.httpsPort }, request('GET /plain-to-tls HTTP/1.1', ['Host: localhost', 'X-ARR-ClientCert: forged']));
    assert.ok(exchange.closed || exchange.error, describeExchange(exchange));
    assert.ok(!exchange.data.toString('latin1').includes('200 OK'), describeExchange(exchange));
    await assertNothingForwarded(mark, 'plain HTTP to https');
  });

  test('the HTTP/2 preface in clear text to the https port: closed, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange({ port: gh.httpsPort }, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    assert.ok(exchange.closed || exchange.error, describeExchange(exchange));
    await assertNothingForwarded(mark, 'h2c prior knowledge to https');
  });

  test('a TLS handshake to the http port fails; nothing forwarded', async () => {
    const mark = suite.backend.mark();
    await assert.rejects(RawConnection.open({ port: gh.httpPort, tls: { ca: gh.ca, servername: 'localhost' } }));
    await assertNothingForwarded(mark, 'TLS to http');
  });

  http2Test('HTTP/1.1 bytes on a connection that negotiated h2: a connection error, nothing forwarded', () => gh, async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(gh.httpsWith({ alpn: ['h2'] }), request('GET /h1-on-h2 HTTP/1.1', ['Host: localhost']));
    assert.ok(!exchange.data.toString('latin1').includes('HTTP/1.1 200'), describeExchange(exchange));
    assert.ok(exchange.closed || exchange.error, describeExchange(exchange));
    await assertNothingForwarded(mark, 'h1 on h2');
  });

  test('ALPN http/1.1 on an h2 binding speaks HTTP/1.1 (control)', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(gh.httpsWith({ alpn: ['http/1.1'] }), request('GET /alpn-h1 HTTP/1.1', ['Host: localhost']), { responses: 1 });
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    await suite.backend.waitForRequests(1, mark);
  });
});

describe('a port shared by two sites (SNI)', () => {
  let running: RunningGatehouse;
  let port: number;
  const APP = 'app.example.test';
  const OTHER = 'other.example.test';

  before(async () => {
    port = await freePort();
    const binding = (hostName: string, cert: { certFile: string; keyFile: string }) => ({ protocol: 'https', address: '127.0.0.1', port, hostName, certificate: { certFile: cert.certFile, keyFile: cert.keyFile } });
    running = await startGatehouse(
      JSON.stringify({
        accessLog: 'off',
        drainTimeout: 1,
        sites: [
          { name: 'app', bindings: [binding(APP, suite.pki.server)], farm: 'web' },
          { name: 'other', bindings: [binding(OTHER, suite.pki.otherServer)], ssl: { clientCertificates: 'require', trustedCaFile: suite.pki.caFile }, farm: 'web' },
        ],
        farms: [{ name: 'web', servers: [{ address: suite.backend.address }] }],
      }),
      suite.dir,
    );
  });
  after(() => running?.stop());

  const target = (servername: string, extra: { clientCert?: typeof suite.pki.clients.valid; alpn?: string[] } = {}): RawTarget => ({
    port,
    tls: { ca: suite.pki.root.certPem, servername, alpn: extra.alpn ?? ['http/1.1'], ...(extra.clientCert ? { clientCert: extra.clientCert } : {}) },
  });

  test('SNI of one site, Host of the other (HTTP/1.1): 421, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(target(APP), request('GET /misdirected HTTP/1.1', [`Host: ${OTHER}:${port}`, 'Connection: close']));
    assertLocal(exchange.responses[0], '421.0', describeExchange(exchange));
    await assertNothingForwarded(mark, '421 h1');
  });

  test('SNI of one site, Host of the other, pipelined after a valid request: 200 then 421; only the first forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(target(APP), request('GET /own HTTP/1.1', [`Host: ${APP}`]) + request('GET /misdirected-2 HTTP/1.1', [`Host: ${OTHER}`, 'Connection: close']));
    assert.deepEqual(exchange.responses.map((r) => r.status), [200, 421], describeExchange(exchange));
    await suite.backend.settle();
    assert.deepEqual(suite.backend.since(mark).requests.map((r) => r.target), ['/own']);
  });

  test('SNI of the require site with a valid badge, Host of the other site: 421', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(target(OTHER, { clientCert: suite.pki.clients.valid }), request('GET /misdirected-3 HTTP/1.1', [`Host: ${APP}`, 'Connection: close']));
    assertLocal(exchange.responses[0], '421.0', describeExchange(exchange));
    await assertNothingForwarded(mark, '421 reverse');
  });

  test('SNI of one site, :authority of the other (HTTP/2): 421, nothing forwarded', async (t) => {
    if (!offersHttp2) return assertHttp2Fallback(t, { port, ca: suite.pki.root.certPem, servername: APP, log: () => running.events });
    const client = await RawH2.open(port, { ca: suite.pki.root.certPem, servername: APP });
    t.after(() => client.close());
    const mark = suite.backend.mark();
    const result = await client.request(h2Request('/misdirected-h2', `${OTHER}:${port}`));
    assert.equal(result.status, 421, describeStream(result));
    assert.match(result.data.toString(), /HTTP Error 421\.0/);
    await assertNothingForwarded(mark, '421 h2');
  });

  test('the require site without a badge (SNI other): 403.7, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(target(OTHER), request('GET /no-badge HTTP/1.1', [`Host: ${OTHER}`, 'X-ARR-ClientCert: forged', 'Connection: close']));
    assertLocal(exchange.responses[0], '403.7', describeExchange(exchange));
    await assertNothingForwarded(mark, '403.7');
  });

  test('an SNI no binding answers: no HTTP answer, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    try {
      const exchange = await rawExchange(target('nowhere.example.test'), request('GET /unknown-sni HTTP/1.1', ['Host: nowhere.example.test']));
      assert.ok(!exchange.data.toString('latin1').includes('HTTP/1.1 200'), describeExchange(exchange));
      assert.ok(exchange.closed || exchange.error, describeExchange(exchange));
    } catch {
      // the handshake itself failed: as good
    }
    await assertNothingForwarded(mark, 'unknown SNI');
  });

  test('no SNI at all (connecting by IP) where every binding has a host name: closed, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    try {
      const exchange = await rawExchange({ port, tls: { ca: suite.pki.root.certPem, alpn: ['http/1.1'] } }, request('GET /no-sni HTTP/1.1', [`Host: ${APP}`]));
      assert.ok(!exchange.data.toString('latin1').includes('HTTP/1.1 200'), describeExchange(exchange));
    } catch {
      // the handshake failed (no certificate for the IP): as good
    }
    await assertNothingForwarded(mark, 'no SNI');
  });
});

describe('client certificates on a require site', () => {
  let gh: Hostile;
  before(async () => {
    gh = await suite.launch({ clientCertificates: 'require', denyAdmin: true });
  });
  after(() => gh?.stop());

  const forged = ['X-ARR-ClientCert: forged', 'X_ARR_ClientCert: forged', 'Client-Cert: :Zm9yZ2Vk:', 'X-Forwarded-Client-Cert: Hash=forged'];

  for (const [name, status] of [
    ['an untrusted certificate', '403.16'],
    ['an expired certificate', '403.17'],
    ['no certificate', '403.7'],
  ] as const) {
    /** The certificate to present (read when the test runs: the PKI is made in `before`). */
    const files = () => (status === '403.16' ? suite.pki.clients.untrusted : status === '403.17' ? suite.pki.clients.expired : undefined);

    test(`${name} (HTTP/1.1, pipelined, with forged certificate headers): ${status} for each, nothing forwarded`, async () => {
      const mark = suite.backend.mark();
      const certificate = files();
      const exchange = await rawExchange(
        gh.httpsWith({ alpn: ['http/1.1'], ...(certificate ? { clientCert: certificate } : {}) }),
        request('GET /door-1 HTTP/1.1', ['Host: localhost', ...forged]) + request('GET /door-2 HTTP/1.1', ['Host: localhost', ...forged, 'Connection: close']),
      );
      assert.ok(exchange.responses.length >= 1, describeExchange(exchange));
      for (const response of exchange.responses) assertLocal(response, status, describeExchange(exchange));
      await assertNothingForwarded(mark, `${status} h1`);
    });

    test(`${name} (HTTP/2): ${status}, nothing forwarded`, async (t) => {
      const certificate = files();
      if (!offersHttp2) return gh.http2Fallback(t, certificate ? { clientCert: certificate } : {});
      const client2 = await gh.h2(certificate ? { clientCert: certificate } : {});
      t.after(() => client2.close());
      const mark = suite.backend.mark();
      const result = await client2.request(h2Request('/door-h2', gh.authority, 'GET', [['x-arr-clientcert', 'forged'], ['x_arr_clientcert', 'forged']]));
      assert.equal(result.status, 403, describeStream(result));
      assert.match(result.data.toString(), new RegExp(`HTTP Error ${status.replace('.', '\\.')}`), describeStream(result));
      await assertNothingForwarded(mark, `${status} h2`);
    });

    test(`${name} (WebSocket upgrade): ${status}, nothing forwarded`, async () => {
      const certificate = files();
      const mark = suite.backend.mark();
      const exchange = await rawExchange(
        gh.httpsWith({ alpn: ['http/1.1'], ...(certificate ? { clientCert: certificate } : {}) }),
        request('GET /door-ws HTTP/1.1', ['Host: localhost', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...forged]) + 'tunnel-bytes',
      );
      assertLocal(exchange.responses[0], status, describeExchange(exchange));
      assert.ok(exchange.closed, describeExchange(exchange));
      await assertNothingForwarded(mark, `${status} upgrade`);
    });
  }

  test('a valid badge: 200, the backend gets the real certificate and none of the forged ones', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(gh.httpsWith({ alpn: ['http/1.1'], clientCert: suite.pki.clients.valid }), request('GET /door-ok HTTP/1.1', ['Host: localhost', ...forged]), { responses: 1 });
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.ok(received && !received.head.includes('forged') && !received.head.includes('Zm9yZ2Vk'), received?.head);
    assert.deepEqual(headerValues(received.headers, 'X-ARR-ClientCert'), [suite.pki.clients.valid.issued.cert.raw.toString('base64')], received.head);
  });

  test('a valid badge does not open a path a rule denies: 403, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(gh.httpsWith({ alpn: ['http/1.1'], clientCert: suite.pki.clients.valid }), request('GET /admin/x HTTP/1.1', ['Host: localhost', 'Connection: close']));
    assert.equal(exchange.responses[0]?.status, 403, describeExchange(exchange));
    await assertNothingForwarded(mark, 'admin with badge');
  });
});

describe('client certificates on an accept site', () => {
  let gh: Hostile;
  before(async () => {
    gh = await suite.launch({ clientCertificates: 'accept' });
  });
  after(() => gh?.stop());

  test('an untrusted certificate with a forged X-ARR-ClientCert: 403.16, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(gh.httpsWith({ alpn: ['http/1.1'], clientCert: suite.pki.clients.untrusted }), request('GET /accept-untrusted HTTP/1.1', ['Host: localhost', 'X-ARR-ClientCert: forged', 'Connection: close']));
    assertLocal(exchange.responses[0], '403.16', describeExchange(exchange));
    await assertNothingForwarded(mark, 'accept untrusted');
  });

  test('no certificate with a forged X-ARR-ClientCert: forwarded without any X-ARR-ClientCert', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(gh.httpsWith({ alpn: ['http/1.1'] }), request(`GET /accept-none-${randomUUID()} HTTP/1.1`, ['Host: localhost', 'X-ARR-ClientCert: forged']), { responses: 1 });
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.deepEqual(headerValues(received?.headers ?? [], 'X-ARR-ClientCert'), [], received?.head);
  });
});

describe('requireSsl', () => {
  let gh: Hostile;
  before(async () => {
    gh = await suite.launch({ requireSsl: true });
  });
  after(() => gh?.stop());

  test('a request on the http binding: 403.4 even with a forged X-Forwarded-Proto: https; nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(gh.http, request('GET /ssl-required HTTP/1.1', ['Host: localhost', 'X-Forwarded-Proto: https', 'X_Forwarded_Proto: https', 'X-ARR-SSL: forged', 'Connection: close']));
    assertLocal(exchange.responses[0], '403.4', describeExchange(exchange));
    await assertNothingForwarded(mark, '403.4');
  });

  test('an upgrade on the http binding: 403.4, nothing forwarded', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(gh.http, request('GET /ssl-ws HTTP/1.1', ['Host: localhost', 'Connection: Upgrade', 'Upgrade: websocket']) + 'tunnel');
    assertLocal(exchange.responses[0], '403.4', describeExchange(exchange));
    await assertNothingForwarded(mark, '403.4 upgrade');
  });

  http2Test('HTTP/2 on the https binding still works (control)', () => gh, async (t) => {
    const client = await gh.h2();
    t.after(() => client.close());
    const result = await client.request(h2Request('/ssl-ok', gh.authority));
    assert.ok(result.status === 200 && !isRefusedStream(result), describeStream(result));
  });
});
