/**
 * Malformed HTTP/2 requests (RFC 9113 §8.1.1, §8.2, §8.3): frames written by hand over TLS with ALPN h2
 * (node:http2's client refuses to send most of these). A malformed request is refused (a 400 or a stream
 * reset, PROTOCOL_ERROR) and must never become an HTTP/1.1 request at the backend: no uppercase or
 * connection-specific header, no `te` other than trailers, no CR/LF/NUL smuggled into the HTTP/1.1 head
 * through a name, a value or a pseudo-header, no body past its content-length. On a node whose HTTP/2
 * Gatehouse turns off (support/http2.ts), each test asserts that fallback instead.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, type TestContext } from 'node:test';
import {
  describeStream,
  h2Frame,
  h2Request,
  H2,
  headerValues,
  hostileSuite,
  http2Test,
  isRefusedStream,
  show,
  type H2StreamResult,
  type RawH2,
  type RecordingBackend,
} from './support.js';

const suite = hostileSuite({ gatehouse: { bindings: ['https'] } });

/** Every test here speaks HTTP/2: on a node where Gatehouse turned it off, each asserts that fallback instead. */
const h2test = (name: string, fn: (t: TestContext) => Promise<void>): void => http2Test(name, () => suite.gh, fn);

/** A fresh connection per test: a refusal may end the whole connection (GOAWAY). */
async function client(t: { after(fn: () => unknown): void }): Promise<RawH2> {
  const c = await suite.gh.h2();
  t.after(() => c.close());
  return c;
}

function assertRefused(result: H2StreamResult, what: string): void {
  assert.ok(result.status === 400 || isRefusedStream(result), `${what}: refused (400 or a stream/connection error): ${describeStream(result)}`);
}

/** Refused, nothing at the backend, and the server still answers a normal request on a new connection. */
async function assertRefusedAndNothingForwarded(result: H2StreamResult, mark: ReturnType<RecordingBackend['mark']>, what: string): Promise<void> {
  await suite.backend.settle();
  assertRefused(result, what);
  const seen = suite.backend.since(mark);
  assert.equal(seen.bytes, 0, `${what}: nothing reaches the backend: ${show(seen.text)}`);
  const fresh = await suite.gh.h2();
  try {
    const ok = await fresh.request(h2Request(`/alive-${randomUUID()}`, suite.gh.authority));
    assert.equal(ok.status, 200, `${what}: Gatehouse still serves: ${describeStream(ok)}`);
  } finally {
    fresh.close();
  }
}

const path = () => `/h2-${randomUUID()}`;

/** A case's name, and the fields of its request for a path and an :authority. */
type RefusedRequest = [string, (p: string, authority: string) => [string, string][]];

/** One test per case, each on its own connection: the request is refused and nothing is forwarded. */
function testRefusedRequests(cases: readonly RefusedRequest[]): void {
  for (const [name, fields] of cases) {
    h2test(name, async (t) => {
      const c = await client(t);
      const mark = suite.backend.mark();
      const result = await c.request(fields(path(), suite.gh.authority));
      await assertRefusedAndNothingForwarded(result, mark, name);
    });
  }
}

describe('malformed HTTP/2 header fields: refused, nothing forwarded', () => {
  const cases: RefusedRequest[] = [
    ['an uppercase header name (X-Foo)', (p, a) => h2Request(p, a, 'GET', [['X-Foo', 'bar']])],
    ['an uppercase X-ARR-ClientCert', (p, a) => h2Request(p, a, 'GET', [['X-ARR-ClientCert', 'forged']])],
    ['connection: keep-alive', (p, a) => h2Request(p, a, 'GET', [['connection', 'keep-alive']])],
    ['connection naming a header', (p, a) => h2Request(p, a, 'GET', [['connection', 'x-arr-clientcert']])],
    ['keep-alive', (p, a) => h2Request(p, a, 'GET', [['keep-alive', 'timeout=5']])],
    ['proxy-connection', (p, a) => h2Request(p, a, 'GET', [['proxy-connection', 'keep-alive']])],
    ['transfer-encoding: chunked', (p, a) => h2Request(p, a, 'GET', [['transfer-encoding', 'chunked']])],
    ['upgrade: websocket', (p, a) => h2Request(p, a, 'GET', [['upgrade', 'websocket']])],
    ['te: gzip', (p, a) => h2Request(p, a, 'GET', [['te', 'gzip']])],
    ['te: trailers, gzip', (p, a) => h2Request(p, a, 'GET', [['te', 'trailers, gzip']])],
  ];
  testRefusedRequests(cases);

  // Invalid characters in a regular field: nghttp2 (node's HTTP/2 layer) drops such a field and lets the
  // request through without it. Either way (refused, or forwarded without the field) nothing is injected.
  const injections: [string, [string, string]][] = [
    ['a value with CR LF (header injection)', ['x-foo', 'a\r\nx-arr-clientcert: forged']],
    ['a value with a bare LF', ['x-foo', 'a\nx-arr-clientcert: forged']],
    ['a value with a bare CR', ['x-foo', 'a\rx-arr-clientcert: forged']],
    ['a value with NUL', ['x-foo', 'forged\0b']],
    ['a name with a space', ['x-arr-clientcert x', 'forged']],
    ['a name with a colon', ['x-foo:x-arr-clientcert', 'forged']],
    ['a name with CR LF', ['x-foo\r\nx-arr-clientcert', 'forged']],
    ['an empty name', ['', 'forged']],
  ];
  for (const [name, field] of injections) {
    h2test(`${name}: refused, or forwarded without the field; nothing injected`, async (t) => {
      const c = await client(t);
      const mark = suite.backend.mark();
      const p = path();
      const result = await c.request(h2Request(p, suite.gh.authority, 'GET', [field]));
      await suite.backend.settle();
      const seen = suite.backend.since(mark);
      if (result.status === 200) {
        const [received] = seen.requests;
        assert.equal(seen.requests.length, 1, show(seen.text));
        assert.equal(received?.target, p, show(seen.text));
        assert.ok(!seen.text.includes('forged'), `nothing of the field reaches the backend: ${show(seen.text)}`);
        assert.deepEqual(headerValues(received?.headers ?? [], 'x-arr-clientcert'), [], show(seen.text));
      } else {
        assertRefused(result, name);
        assert.equal(seen.bytes, 0, `${name}: nothing reaches the backend: ${show(seen.text)}`);
      }
    });
  }

  h2test('te: trailers is allowed and not forwarded (hop-by-hop)', async (t) => {
    const c = await client(t);
    const mark = suite.backend.mark();
    const result = await c.request(h2Request('/te-trailers', suite.gh.authority, 'GET', [['te', 'trailers']]));
    assert.equal(result.status, 200, describeStream(result));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.deepEqual(headerValues(received?.headers ?? [], 'te'), [], received?.head);
  });
});

describe('pseudo-header tricks: refused, nothing forwarded', () => {
  const cases: RefusedRequest[] = [
    ['two :path', (p, a) => [...h2Request(p, a), [':path', '/admin/x']]],
    ['two :method', (p, a) => [[':method', 'GET'], ...h2Request(p, a)]],
    ['a pseudo-header after a regular header', (p, a) => [[':method', 'GET'], [':scheme', 'https'], [':authority', a], ['x-foo', 'bar'], [':path', p]]],
    ['no :method', (p, a) => [[':scheme', 'https'], [':authority', a], [':path', p]]],
    ['no :scheme', (p, a) => [[':method', 'GET'], [':authority', a], [':path', p]]],
    ['no :path', (_p, a) => [[':method', 'GET'], [':scheme', 'https'], [':authority', a]]],
    ['an unknown pseudo-header (:foo)', (p, a) => [...h2Request(p, a), [':foo', 'bar']]],
    ['a response pseudo-header (:status) in a request', (p, a) => [...h2Request(p, a), [':status', '200']]],
    ['an uppercase pseudo-header (:PATH)', (p, a) => [[':method', 'GET'], [':scheme', 'https'], [':authority', a], [':PATH', p]]],
    // Extended CONNECT (RFC 8441) is offered for WebSockets; :protocol on any other method is malformed.
    [':protocol on a GET (only an extended CONNECT carries it)', (p, a) => [...h2Request(p, a, 'GET'), [':protocol', 'websocket']]],
    ['a :method with a space (request-line injection)', (p, a) => [[':method', `GET ${p} HTTP/1.1\r\nx-arr-clientcert: forged\r\n\r\nGET`], [':scheme', 'https'], [':authority', a], [':path', p]]],
    ['a :path with a space (request-line injection)', (p, a) => h2Request(`${p} HTTP/1.1\r\nX-ARR-ClientCert: forged\r\nX:`, a)],
    ['a :path with a bare space', (p, a) => h2Request(`${p} x`, a)],
    ['an :authority with CR LF', (p, a) => h2Request(p, `${a}\r\nX-ARR-ClientCert: forged`)],
    ['a :scheme of http on TLS with a space', (p, a) => [[':method', 'GET'], [':scheme', 'http s'], [':authority', a], [':path', p]]],
  ];
  testRefusedRequests(cases);

  h2test('an :authority with userinfo (RFC 9113 §8.3.1): refused, nothing forwarded', async (t) => {
    const c = await client(t);
    const mark = suite.backend.mark();
    const result = await c.request(h2Request(path(), `user:pass@${suite.gh.authority}`));
    await assertRefusedAndNothingForwarded(result, mark, 'userinfo in :authority');
  });

  h2test('host and :authority that differ: the backend receives one Host, the :authority', async (t) => {
    const c = await client(t);
    const mark = suite.backend.mark();
    const result = await c.request(h2Request('/two-hosts', suite.gh.authority, 'GET', [['host', 'evil.example']]));
    await suite.backend.settle();
    if (result.status !== 200) return assertRefused(result, 'host != :authority');
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.deepEqual(headerValues(received?.headers ?? [], 'host'), [suite.gh.authority], received?.head);
    assert.ok(!suite.backend.since(mark).text.includes('evil.example'), suite.backend.since(mark).text);
  });

  h2test('HEADERS on an even (server-initiated) stream id: a connection error, nothing forwarded', async (t) => {
    const c = await client(t);
    const mark = suite.backend.mark();
    c.write(h2Frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, 2, Buffer.alloc(0)));
    c.headers(2, h2Request(path(), suite.gh.authority), true);
    const result = await c.waitForStream(2);
    await assertRefusedAndNothingForwarded(result, mark, 'even stream id');
  });
});

describe('content-length that does not match the DATA frames', () => {
  for (const [name, length, data] of [
    ['more DATA than content-length', 5, ['hello world']],
    ['less DATA than content-length', 20, ['hello']],
    ['content-length: 0 with DATA', 0, ['smuggled']],
    ['content-length on a request without DATA', 5, []],
  ] as const) {
    h2test(`${name}: refused, no byte past the length reaches the backend, and the next request is not desynchronised`, async (t) => {
      const c = await client(t);
      const tag = randomUUID();
      const mark = suite.backend.mark();
      const id = c.nextStreamId();
      c.headers(id, h2Request(`/cl-${tag}`, suite.gh.authority, 'POST', [['content-length', String(length)]]), data.length === 0);
      data.forEach((part, i) => c.data(id, part, i === data.length - 1));
      const result = await c.waitForStream(id);
      assertRefused(result, name);
      // A request on another connection arrives as a request of its own (not as the rest of a body).
      const fresh = await suite.gh.h2();
      t.after(() => fresh.close());
      const after = await fresh.request(h2Request(`/after-${tag}`, suite.gh.authority));
      assert.equal(after.status, 200, describeStream(after));
      await suite.backend.settle();
      const seen = suite.backend.since(mark);
      assert.ok(seen.requests.some((r) => r.target === `/after-${tag}`), `the next request is its own: ${show(seen.text)}`);
      assert.ok(!seen.text.includes(' world') && !seen.text.includes('smuggled'), `no byte past the content-length: ${show(seen.text)}`);
      // Streaming, the head may have left before the DATA proved it malformed; then the backend got at most
      // the declared length (a whole request only when what arrived fits it), or an unfinished request whose
      // connection is closed and never reused.
      const forwarded = seen.requests.find((r) => r.target === `/cl-${tag}`);
      if (forwarded) assert.ok(forwarded.body.length <= length && Buffer.from(data.join('')).subarray(0, forwarded.body.length).equals(forwarded.body), show(seen.text));
      const partial = suite.backend.connections.find((conn) => conn.received().toString('latin1').includes(`/cl-${tag}`));
      if (partial && !forwarded) {
        await suite.backend.waitFor(() => partial.closed, 'the backend connection of the refused request to close');
        assert.ok(!partial.received().toString('latin1').includes(`/after-${tag}`), 'the next request did not travel on it');
      }
    });
  }
});
