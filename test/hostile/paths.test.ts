/**
 * Path confusion (hardening spec, "Paths"): one normalisation of the request target before the rules, over
 * HTTP/1.1 and HTTP/2 (`:path`); the backend receives the normalised target, the query string unchanged.
 * The site has a rule answering 403 to /admin/*: every spelling a backend (IIS) could read as /admin/… is
 * denied or refused with 400, and never reaches the backend.
 */
import assert from 'node:assert/strict';
import { after, describe, test, type TestContext } from 'node:test';
import {
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
  type H2StreamResult,
  type RawH2,
} from './support.js';

let h2: RawH2;
// Registered before hostileSuite's after hook, so it starts first, and closing is synchronous: the connection is
// closed before Gatehouse stops.
after(() => h2?.close());
const suite = hostileSuite({ gatehouse: { denyAdmin: true } });

/** A test over HTTP/2: on a node where Gatehouse turned HTTP/2 off, it asserts that fallback instead. */
const h2test = (name: string, fn: (t: TestContext) => Promise<void>): void => http2Test(name, () => suite.gh, fn);

/** One HTTP/2 connection for the file, reopened when a refusal took it down. */
async function h2Client(): Promise<RawH2> {
  if (!h2 || h2.closed || h2.goaway) {
    h2?.close();
    h2 = await suite.gh.h2();
  }
  return h2;
}

/** Targets refused with 400 over both protocols. */
const REFUSED: readonly [string, string][] = [
  ['a fragment', '/pub/a#b'],
  ['a fragment after /admin', '/admin#/x'],
  ['a fragment with a traversal', '/pub/x#/../../admin/x'],
  ['a raw backslash', '/pub\\x'],
  ['a raw backslash as a separator', '/pub\\..\\admin\\x'],
  ['%5C', '/pub/%5Cx'],
  ['%5c', '/pub/..%5cadmin/x'],
  ['%2F', '/admin%2Fx'],
  ['%2f', '/admin%2fx'],
  ['%2f in a traversal', '/pub/..%2fadmin/x'],
  ['%2e%2e%2f', '/pub/%2e%2e%2fadmin/x'],
  ['%00', '/pub/x%00.txt'],
  ['%01', '/pub/%01'],
  ['%09 (tab)', '/pub/%09x'],
  ['%0d%0a (CRLF injection)', '/pub/%0d%0aX-ARR-ClientCert:%20forged'],
  ['%1F', '/pub/%1F'],
  ['%7F', '/pub/%7F'],
  ['a bad escape %zz', '/pub/%zz'],
  ['a short escape %4', '/pub/%4'],
  ['a lone % at the end', '/pub/%'],
  ['IIS %u escape', '/%u0061dmin/x'],
  ['IIS %u escape of dots', '/pub/%u002e%u002e/admin/x'],
  ['double escaping %252F', '/admin%252Fx'],
  ['double escaping %252e%252e', '/pub/%252e%252e/admin/x'],
  ['double escaping %2561', '/%2561dmin/x'],
  ['overlong UTF-8 / (%C0%AF)', '/pub/..%C0%AFadmin/x'],
  ['overlong UTF-8 . (%C0%AE)', '/pub/%C0%AE%C0%AE/admin/x'],
  ['overlong UTF-8 a (%C1%A1)', '/%C1%A1dmin/x'],
  ['3-byte overlong / (%E0%80%AF)', '/pub/..%E0%80%AFadmin/x'],
  ['%FF', '/pub/%FF'],
  ['a truncated UTF-8 sequence', '/pub/%C3'],
  ['a UTF-16 surrogate in UTF-8 (%ED%A0%80)', '/pub/%ED%A0%80'],
];

/** [target, expected backend target]; undefined: denied by the /admin/* rule (403). */
const NORMALISED: readonly [string, string | undefined][] = [
  ['/admin/x', undefined],
  ['/admin/', undefined],
  ['/ADMIN/x', undefined],
  ['/Admin/X', undefined],
  ['/%61dmin/x', undefined],
  ['/%41DMIN/x', undefined],
  ['/adm%69n/x', undefined],
  ['//admin/x', undefined],
  ['/public/../admin/x', undefined],
  ['/public/./../admin/x', undefined],
  ['/./admin/x', undefined],
  ['/../../admin/x', undefined],
  ['/%2e%2e/admin/x', undefined],
  ['/pub/%2e%2e/admin/x', undefined],
  ['/pub/.%2E/admin/x', undefined],
  ['/admin/%2e/x', undefined],
  ['/admin/x/..', undefined],
  ['/public/..;/admin/x', undefined],
  ['/public/..;jsessionid=1/admin/x', undefined],
  ['/admin;x/y', undefined],
  ['/admin;/y', undefined],
  ['/ADMIN;jsessionid=1/x', undefined],
  ['/%61bc/x', '/abc/x'],
  ['/pub/%7Euser/%41%2D%2E%5F', '/pub/~user/A-._'],
  ['//pub//x', '/pub/x'],
  ['/pub///x', '/pub/x'],
  ['/public/../pub/x', '/pub/x'],
  ['/./admin', '/admin'],
  ['/../../admin', '/admin'],
  ['/public/..;/pub/x', '/pub/x'],
  ['/pub;jsessionid=1/y', '/pub;jsessionid=1/y'],
  ['/pub/a/./b/../c?x=/../y', '/pub/a/c?x=/../y'],
  ['/pub/x?next=%2Fadmin%2Fx&a=..%2F', '/pub/x?next=%2Fadmin%2Fx&a=..%2F'],
  ['/%61bc/x?%61=%2e%2e', '/abc/x?%61=%2e%2e'],
];

describe('HTTP/1.1 paths', () => {
  for (const [name, target] of REFUSED) {
    test(`refused with 400: ${name} (${target})`, async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(suite.gh.http, request(`GET ${target} HTTP/1.1`, [`Host: ${SITE_HOST}`, 'Connection: close']));
      await suite.backend.settle();
      assert.equal(exchange.responses[0]?.status, 400, describeExchange(exchange));
      assert.equal(suite.backend.since(mark).bytes, 0, `nothing reaches the backend: ${show(suite.backend.since(mark).text)}`);
    });
  }

  for (const [name, target] of [
    ['raw overlong UTF-8 bytes', '/pub/..\xC0\xAFadmin/x'],
    ['a raw 0xFF byte', '/pub/\xFF'],
  ] as const) {
    test(`refused with 400: ${name}`, async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(suite.gh.http, request(`GET ${target} HTTP/1.1`, [`Host: ${SITE_HOST}`, 'Connection: close']));
      await suite.backend.settle();
      assert.equal(exchange.responses[0]?.status, 400, describeExchange(exchange));
      assert.equal(suite.backend.since(mark).bytes, 0, `nothing reaches the backend: ${show(suite.backend.since(mark).text)}`);
    });
  }

  for (const [target, expected] of NORMALISED) {
    test(expected === undefined ? `denied by the /admin/* rule: ${target}` : `normalised: ${target} → ${expected}`, async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(suite.gh.http, request(`GET ${target} HTTP/1.1`, [`Host: ${SITE_HOST}`]), { responses: 1 });
      if (expected === undefined) {
        await suite.backend.settle();
        assert.ok(exchange.responses[0]?.status === 403 || exchange.responses[0]?.status === 400, `403 (or 400): ${describeExchange(exchange)}`);
        assert.equal(suite.backend.since(mark).bytes, 0, `the backend never receives it: ${show(suite.backend.since(mark).text)}`);
        return;
      }
      assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
      const [received] = await suite.backend.waitForRequests(1, mark);
      assert.equal(received?.target, expected, received?.head);
    });
  }

  test('X-Original-URL carries the normalised target (a client copy replaced)', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(suite.gh.http, request('GET /public/./../%61bc//x?q=%2F HTTP/1.1', [`Host: ${SITE_HOST}`, 'X-Original-URL: /admin/x']), { responses: 1 });
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.equal(received?.target, '/abc/x?q=%2F', received?.head);
    assert.deepEqual(headerValues(received?.headers ?? [], 'X-Original-URL'), ['/abc/x?q=%2F'], received?.head);
  });

  test('valid UTF-8 is forwarded and reads the same at the backend', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(suite.gh.http, request('GET /pub/caf%C3%A9/x HTTP/1.1', [`Host: ${SITE_HOST}`]), { responses: 1 });
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.equal(decodeURIComponent(received?.target ?? ''), '/pub/café/x', received?.head);
  });

  // Beyond the spec: Windows drops trailing dots and spaces from a path segment, so IIS serves /admin./x and
  // /admin%20/x from the folder admin: rules see segment names as Windows does.
  for (const target of ['/admin./x', '/admin%20/x', '/admin%2e/x']) {
    test(`IIS reads ${target} as /admin/x: denied or refused`, async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(suite.gh.http, request(`GET ${target} HTTP/1.1`, [`Host: ${SITE_HOST}`]), { responses: 1 });
      await suite.backend.settle();
      assert.ok([400, 403].includes(exchange.responses[0]?.status ?? 0), describeExchange(exchange));
      assert.equal(suite.backend.since(mark).bytes, 0);
    });
  }
});

/** A 400 answer, or the stream reset by the HTTP/2 layer (nghttp2 refuses some :path values itself). */
function assertH2Refused(result: H2StreamResult, what: string): void {
  assert.ok(result.status === 400 || (result.status === undefined && result.rstCode !== undefined), `${what}: 400 or a stream reset: ${describeStream(result)}`);
}

describe('HTTP/2 :path', () => {
  for (const [name, target] of REFUSED) {
    h2test(`refused with 400: ${name} (${target})`, async () => {
      const client = await h2Client();
      const mark = suite.backend.mark();
      const result = await client.request(h2Request(target, suite.gh.authority));
      await suite.backend.settle();
      assertH2Refused(result, target);
      assert.equal(suite.backend.since(mark).bytes, 0, `nothing reaches the backend: ${show(suite.backend.since(mark).text)}`);
    });
  }

  for (const [name, path, method] of [
    ['no leading slash', 'admin/x', 'GET'],
    ['no leading slash (pub)', 'pub', 'GET'],
    ['an absolute URI', `https://${SITE_HOST}/admin/x`, 'GET'],
    ['* with GET', '*', 'GET'],
    ['empty', '', 'GET'],
  ] as const) {
    h2test(`refused: a :path with ${name} (${JSON.stringify(path)})`, async () => {
      const client = await h2Client();
      const mark = suite.backend.mark();
      const result = await client.request(h2Request(path, suite.gh.authority, method));
      await suite.backend.settle();
      assertH2Refused(result, path);
      assert.equal(suite.backend.since(mark).bytes, 0, `nothing reaches the backend: ${show(suite.backend.since(mark).text)}`);
    });
  }

  h2test('OPTIONS * is allowed', async () => {
    const client = await h2Client();
    const mark = suite.backend.mark();
    const result = await client.request(h2Request('*', suite.gh.authority, 'OPTIONS'));
    assert.equal(result.status, 200, describeStream(result));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.equal(received?.head.split('\r\n')[0], 'OPTIONS * HTTP/1.1');
  });

  for (const [target, expected] of NORMALISED) {
    h2test(expected === undefined ? `denied by the /admin/* rule: ${target}` : `normalised: ${target} → ${expected}`, async () => {
      const client = await h2Client();
      const mark = suite.backend.mark();
      const result = await client.request(h2Request(target, suite.gh.authority));
      if (expected === undefined) {
        await suite.backend.settle();
        assert.ok(result.status === 403 || result.status === 400, `403 (or 400): ${describeStream(result)}`);
        assert.equal(suite.backend.since(mark).bytes, 0, `the backend never receives it: ${show(suite.backend.since(mark).text)}`);
        return;
      }
      assert.equal(result.status, 200, describeStream(result));
      const [received] = await suite.backend.waitForRequests(1, mark);
      assert.equal(received?.target, expected, received?.head);
    });
  }
});
