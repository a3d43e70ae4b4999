/**
 * Spoofed headers (hardening spec, "Spoofed headers"): every header of the client-certificate family and
 * every header Gatehouse sets is removed from the client's request in EVERY spelling (any case, `_` for
 * `-`), because IIS/ASP.NET (CGI server variables: HTTP_X_ARR_CLIENTCERT) reads `X_ARR_ClientCert` and
 * `X-ARR-ClientCert` alike. The backend receives only Gatehouse's own values. Over HTTP/1.1 (http and
 * https bindings) and HTTP/2, with and without a client certificate; X-Forwarded-For (dash) is appended to,
 * its underscore spelling removed; X-Original-URL is on every proxied request and a client's copy replaced.
 * (The HTTP/2 tests assert Gatehouse's HTTP/1.1-only fallback on a node whose HTTP/2 it turns off.)
 */
import assert from 'node:assert/strict';
import { randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { ClientFiles } from '../support/test-pki.js';
import {
  cgiHeaderValues,
  cgiName,
  describeExchange,
  describeStream,
  h2Request,
  headerValues,
  hostileSuite,
  http2Test,
  rawExchange,
  request,
  show,
  SITE_HOST,
  type Hostile,
  type RecordedRequest,
} from './support.js';

/** The same as gh with a rule (respond 403 to /admin/*): a site with rules. */
let ghRules: Hostile;
/** gh: clientCertificates accept, no rules. */
const suite = hostileSuite({
  gatehouse: { clientCertificates: 'accept' },
  setup: async ({ launch }) => {
    ghRules = await launch({ clientCertificates: 'accept', denyAdmin: true });
  },
});

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The client-certificate family (every dialect) and every header Gatehouse sets itself. */
const PROTECTED = [
  'X-ARR-ClientCert',
  'Client-Cert',
  'Client-Cert-Chain',
  'X-Forwarded-Client-Cert',
  'X-SSL-Client-Cert',
  'X-Client-Cert',
  'X-Client-Certificate',
  'X-SSL-Cert',
  'X-SSL-Client-DER',
  'X-SSL-Client-Verify',
  'X-SSL-Client-S-DN',
  'X-SSL-Client-I-DN',
  'X-SSL-Client-SHA1',
  'X-SSL-Client-Serial',
  'SSL-Client-Cert',
  'SSL-Client-Verify',
  'X-Client-Verify',
  'X-Client-DN',
  'MS-ASPNETCORE-CLIENTCERT',
  'X-Forwarded-TLS-Client-Cert',
  'X-Forwarded-TLS-Client-Cert-Info',
  'X-ARR-SSL',
  'X-ARR-LOG-ID',
  'X-Forwarded-Proto',
  'X-Original-URL',
  'Max-Forwards',
  'X-Gatehouse-Signature',
  // What forwarded-headers middleware believes of its proxy; Gatehouse sets none of them.
  'Forwarded',
  'X-Forwarded-Host',
  'X-Forwarded-Port',
  'X-Forwarded-Prefix',
  'X-Forwarded-Server',
  'X-Forwarded-SSL',
  'X-Real-IP',
  'X-Client-IP',
  'True-Client-IP',
] as const;

/** Every spelling a CGI-style backend folds to the same name: as written, lower, upper, `_` for every or one `-`. */
function spellings(name: string, lowerOnly: boolean): string[] {
  const dashes = [...name].map((c, i) => (c === '-' ? i : -1)).filter((i) => i >= 0);
  const all = [name, name.toLowerCase(), name.toUpperCase(), name.replace(/-/g, '_'), name.toLowerCase().replace(/-/g, '_'), name.toUpperCase().replace(/-/g, '_')];
  for (const at of dashes) all.push(`${name.slice(0, at)}_${name.slice(at + 1)}`);
  const unique = [...new Set(lowerOnly ? all.map((s) => s.toLowerCase()) : all)];
  return unique;
}

/** The spec's own examples, each a separate field. */
const SPEC_EXAMPLES = ['X_ARR_ClientCert', 'X-ARR_ClientCert', 'x-forwarded_proto', 'Client_Cert', 'X_Original_URL', 'x_arr_ssl', 'X_Forwarded_For'];

/** Forged fields (name, value): every spelling of every protected header, plus the spec's examples and `X_Forwarded_For`. */
function forgedFields(lowerOnly: boolean): [string, string][] {
  const fields: [string, string][] = [];
  let n = 0;
  for (const name of PROTECTED) for (const spelling of spellings(name, lowerOnly)) fields.push([spelling, `forged-${n++}`]);
  for (const name of SPEC_EXAMPLES) fields.push([lowerOnly ? name.toLowerCase() : name, `forged-${n++}`]);
  for (const spelling of spellings('X-Forwarded-For', lowerOnly).filter((s) => s.includes('_'))) fields.push([spelling, `6.6.6.${n++ % 250}`]);
  return fields;
}

/** Fields in groups small enough for one request (well under the 100-field limit and node's 128 HTTP/2 pairs). */
function batches(fields: [string, string][], size = 80): [string, string][][] {
  const out: [string, string][][] = [];
  for (let i = 0; i < fields.length; i += size) out.push(fields.slice(i, i + size));
  return out;
}

interface Expectation {
  readonly isHttps: boolean;
  /** base64 DER of the client certificate presented, if any. */
  readonly certificate: string | undefined;
  readonly target: string;
  readonly clientPortSeen?: boolean;
}

/** What Gatehouse alone puts in a forwarded request, checked in every spelling the backend could fold. */
function assertOnlyGatehouseValues(received: RecordedRequest, expected: Expectation, what: string): void {
  const info = `${what}: backend head ${show(received.head, 4000)}`;
  assert.ok(!received.head.includes('forged'), `no forged value reaches the backend: ${info}`);
  assert.ok(!received.head.includes('6.6.6.'), `X_Forwarded_For (underscore) is removed: ${info}`);
  const names = received.headers.map(([n]) => cgiName(n));
  const values = (name: string) => cgiHeaderValues(received.headers, name);
  // Every spelling of a Gatehouse header at the backend is Gatehouse's own (dash) spelling.
  for (const [name] of received.headers) {
    if (name.includes('_') && PROTECTED.some((p) => cgiName(p) === cgiName(name))) assert.fail(`an underscore spelling of ${name} reached the backend: ${info}`);
  }
  assert.deepEqual(values('X-ARR-ClientCert'), expected.certificate === undefined ? [] : [expected.certificate], `X-ARR-ClientCert: only the real certificate: ${info}`);
  assert.equal(values('X-ARR-SSL').length, expected.isHttps ? 1 : 0, `X-ARR-SSL once on https, never on http: ${info}`);
  assert.deepEqual(values('X-Forwarded-Proto'), [expected.isHttps ? 'https' : 'http'], `X-Forwarded-Proto: Gatehouse's: ${info}`);
  assert.deepEqual(values('Max-Forwards'), ['10'], `Max-Forwards: Gatehouse's: ${info}`);
  const logIds = values('X-ARR-LOG-ID');
  assert.equal(logIds.length, 1, `one X-ARR-LOG-ID: ${info}`);
  assert.match(logIds[0] ?? '', GUID, info);
  assert.deepEqual(values('X-Original-URL'), [expected.target], `X-Original-URL: the client's target: ${info}`);
  for (const name of PROTECTED) {
    if (['X-ARR-ClientCert', 'X-ARR-SSL', 'X-Forwarded-Proto', 'Max-Forwards', 'X-ARR-LOG-ID', 'X-Original-URL'].includes(name)) continue;
    assert.deepEqual(values(name), [], `${name} in no spelling: ${info}`);
  }
  assert.equal(names.filter((n) => n === 'x-forwarded-for').length, 1, `one X-Forwarded-For: ${info}`);
}

function base64Der(client: ClientFiles): string {
  return new X509Certificate(readFileSync(client.certFile)).raw.toString('base64');
}

describe('HTTP/1.1: every spelling of every protected header is removed', () => {
  const cases: { name: string; target: () => Parameters<typeof rawExchange>[0]; expected: (path: string) => Expectation }[] = [
    { name: 'http binding', target: () => suite.gh.http, expected: (path) => ({ isHttps: false, certificate: undefined, target: path }) },
    { name: 'https binding, no client certificate', target: () => suite.gh.https, expected: (path) => ({ isHttps: true, certificate: undefined, target: path }) },
    {
      name: 'https binding, with a client certificate',
      target: () => suite.gh.httpsWith({ alpn: ['http/1.1'], clientCert: suite.pki.clients.valid }),
      expected: (path) => ({ isHttps: true, certificate: base64Der(suite.pki.clients.valid), target: path }),
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      // In requests of at most 80 fields: more than 100 is refused with 431 (Framing).
      for (const forged of batches(forgedFields(false))) {
        const path = `/spoof/${randomUUID()}?q=1`;
        const mark = suite.backend.mark();
        const exchange = await rawExchange(c.target(), request(`GET ${path} HTTP/1.1`, [`Host: ${SITE_HOST}`, 'X-Forwarded-For: 1.2.3.4', ...forged.map(([n, v]) => `${n}: ${v}`)]), { responses: 1 });
        assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
        const [received] = await suite.backend.waitForRequests(1, mark);
        assert.ok(received);
        assertOnlyGatehouseValues(received, c.expected(path), c.name);
        const xff = cgiHeaderValues(received.headers, 'X-Forwarded-For');
        assert.match(xff[0] ?? '', /^1\.2\.3\.4, 127\.0\.0\.1:\d+$/, `X-Forwarded-For (dash) is appended to: ${received.head}`);
      }
    });
  }

  test('each of the spec\'s examples alone (one field per request) never reaches the backend', async () => {
    for (const name of SPEC_EXAMPLES) {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(suite.gh.http, request(`GET /one/${name} HTTP/1.1`, [`Host: ${SITE_HOST}`, `${name}: forged-alone`]), { responses: 1 });
      assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
      const [received] = await suite.backend.waitForRequests(1, mark);
      assert.ok(!received?.head.includes('forged-alone'), `${name}: ${received?.head}`);
    }
  });

  test('a header named in Connection cannot remove what Gatehouse sets', async () => {
    const mark = suite.backend.mark();
    const path = '/connection-tokens';
    const exchange = await rawExchange(
      suite.gh.httpsWith({ alpn: ['http/1.1'], clientCert: suite.pki.clients.valid }),
      request(`GET ${path} HTTP/1.1`, [`Host: ${SITE_HOST}`, 'Connection: keep-alive, X-ARR-ClientCert, X-Forwarded-Proto, X-ARR-SSL, X-Forwarded-For, X-Original-URL, X-ARR-LOG-ID, Max-Forwards']),
      { responses: 1 },
    );
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.ok(received);
    const values = (name: string) => cgiHeaderValues(received.headers, name);
    assert.deepEqual(values('X-ARR-ClientCert'), [base64Der(suite.pki.clients.valid)], received.head);
    assert.equal(values('X-ARR-SSL').length, 1, received.head);
    assert.deepEqual(values('X-Forwarded-Proto'), ['https'], received.head);
    assert.deepEqual(values('Max-Forwards'), ['10'], received.head);
    assert.equal(values('X-ARR-LOG-ID').length, 1, received.head);
    assert.match(values('X-Forwarded-For')[0] ?? '', /^127\.0\.0\.1:\d+$/, received.head);
  });

  test('forged headers in chunked trailers never reach the backend', async () => {
    const mark = suite.backend.mark();
    const trailer = forgedFields(false).slice(0, 80).map(([n, v]) => `${n}: ${v}\r\n`).join('');
    const exchange = await rawExchange(suite.gh.http, `POST /trailers HTTP/1.1\r\nHost: ${SITE_HOST}\r\nTransfer-Encoding: chunked\r\nTrailer: X-ARR-ClientCert\r\n\r\n5\r\nhello\r\n0\r\n${trailer}\r\n`, { responses: 1 });
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    await suite.backend.waitForRequests(1, mark);
    await suite.backend.settle();
    assert.ok(!suite.backend.since(mark).text.includes('forged'), show(suite.backend.since(mark).text));
  });
});

describe('HTTP/2: every (lower-case) spelling of every protected header is removed', () => {
  for (const withCert of [false, true]) {
    http2Test(withCert ? 'with a client certificate' : 'without a client certificate', () => suite.gh, async (t) => {
      const client = await suite.gh.h2(withCert ? { clientCert: suite.pki.clients.valid } : {});
      t.after(() => client.close());
      for (const forged of batches(forgedFields(true))) {
        const path = `/spoof-h2/${randomUUID()}?q=1`;
        const mark = suite.backend.mark();
        const result = await client.request(h2Request(path, suite.gh.authority, 'GET', [['x-forwarded-for', '1.2.3.4'], ...forged]));
        assert.equal(result.status, 200, describeStream(result));
        const [received] = await suite.backend.waitForRequests(1, mark);
        assert.ok(received);
        assertOnlyGatehouseValues(received, { isHttps: true, certificate: withCert ? base64Der(suite.pki.clients.valid) : undefined, target: path }, `h2 ${withCert ? 'with' : 'without'} certificate`);
        assert.match(cgiHeaderValues(received.headers, 'X-Forwarded-For')[0] ?? '', /^1\.2\.3\.4, 127\.0\.0\.1:\d+$/, received.head);
      }
    });
  }

  http2Test('forged headers in HTTP/2 trailers never reach the backend', () => suite.gh, async (t) => {
    const client = await suite.gh.h2();
    t.after(() => client.close());
    const mark = suite.backend.mark();
    const id = client.nextStreamId();
    client.headers(id, h2Request('/h2-trailers', suite.gh.authority, 'POST'), false);
    client.data(id, 'hello', false);
    client.headers(id, forgedFields(true).slice(0, 100), true);
    const result = await client.waitForStream(id);
    assert.equal(result.status, 200, describeStream(result));
    await suite.backend.settle();
    assert.ok(!suite.backend.since(mark).text.includes('forged'), show(suite.backend.since(mark).text));
  });
});

describe('X-Original-URL is on every proxied request; a client copy is always replaced', () => {
  const cases: [string, () => Hostile][] = [
    ['a site without rules', () => suite.gh],
    ['a site with rules', () => ghRules],
  ];
  for (const [name, instance] of cases) {
    test(`${name}, HTTP/1.1`, async () => {
      for (const [sent, expected] of [
        ['/plain?q=1', '/plain?q=1'],
        ['/a/../pub/x?next=%2Fhome', '/pub/x?next=%2Fhome'],
      ] as const) {
        const mark = suite.backend.mark();
        const exchange = await rawExchange(instance().http, request(`GET ${sent} HTTP/1.1`, [`Host: ${SITE_HOST}`, 'X-Original-URL: /admin/forged', 'x_original_url: /admin/forged']), { responses: 1 });
        assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
        const [received] = await suite.backend.waitForRequests(1, mark);
        assert.deepEqual(cgiHeaderValues(received?.headers ?? [], 'X-Original-URL'), [expected], `${sent}: ${received?.head}`);
      }
    });

    http2Test(`${name}, HTTP/2`, instance, async (t) => {
      const client = await instance().h2();
      t.after(() => client.close());
      const mark = suite.backend.mark();
      const result = await client.request(h2Request('/h2-original?x=1', instance().authority, 'GET', [['x-original-url', '/admin/forged']]));
      assert.equal(result.status, 200, describeStream(result));
      const [received] = await suite.backend.waitForRequests(1, mark);
      assert.deepEqual(headerValues(received?.headers ?? [], 'X-Original-URL'), ['/h2-original?x=1'], received?.head);
    });
  }
});
