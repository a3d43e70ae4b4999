/**
 * Hostile HTTP/1.x framing (hardening spec, "Framing"): request smuggling (CL.TE, TE.CL, TE.TE obfuscations),
 * header-line tricks (obs-fold, bare CR, NUL, whitespace before the colon), invalid chunk sizes, Host
 * confusion, absolute-form targets, header-count limits, and a server's own ambiguous framing.
 *
 * Every refused case is sent pipelined after a valid request in the same write, over the http binding and
 * over TLS without ALPN: the valid request's response must arrive whole first, then 400 with
 * `Connection: close`, then the close; the backend must have received the valid request and not one byte more.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import {
  assertLocal,
  assertRefusedAfter,
  clAndTeReply,
  describeExchange,
  headerValues,
  hostileSuite,
  RawConnection,
  rawExchange,
  rawReply,
  request,
  show,
  SITE_HOST,
  startRecordingBackend,
  type Hostile,
  type RawTarget,
  type RecordingBackend,
} from './support.js';

/** gh: http binding named site.example; https binding without a host name. */
const suite = hostileSuite({
  backend: {
    reply: (req) => {
      if (req.target.startsWith('/server-cl-te')) return clAndTeReply('SERVER-SECRET');
      if (req.target.startsWith('/server-two-cl')) return rawReply('HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Length: 5\r\n\r\nSERVER-SECRET');
      return undefined;
    },
  },
  gatehouse: { httpHostName: SITE_HOST },
});

const HOST = `Host: ${SITE_HOST}`;

function transports(): [string, () => RawTarget][] {
  return [
    ['http', () => suite.gh.http],
    ['https without ALPN', () => suite.gh.https],
  ];
}

/**
 * `bad` alone, or after a valid request in the same write (pipelined): [200,] then `status` + close; the
 * backend gets the valid request only, and not one byte of the refused one.
 */
async function assertPipelinedRefusal(target: RawTarget, bad: (tag: string) => string, what: string, status = 400, pipelined = true, at: RecordingBackend = suite.backend): Promise<void> {
  const tag = randomUUID().slice(0, 8);
  const mark = at.mark();
  const good = pipelined ? request(`GET /ok-${tag} HTTP/1.1`, [HOST]) : '';
  // A refusal comes at once on loopback; 1 s bounds the wait when it does not come at all.
  const exchange = await rawExchange(target, good + bad(tag), { refusalAt: pipelined ? 2 : 1, timeoutMs: 1_000 });
  await at.settle();
  const seen = at.since(mark);
  assertRefusedAfter(exchange, pipelined ? [200] : [], status, what);
  assert.deepEqual(
    seen.requests.map((r) => r.target),
    pipelined ? [`/ok-${tag}`] : [],
    `${what}: the backend receives the valid request only; it got ${show(seen.text)}`,
  );
  if (!pipelined) {
    assert.equal(seen.bytes, 0, `${what}: nothing reaches the backend: ${show(seen.text)}`);
    return;
  }
  for (const needle of [`/bad-${tag}`, 'smuggled', 'forged', 'X-Field-', 'X-F1']) {
    assert.ok(!seen.text.includes(needle), `${what}: no byte of the refused request reaches the backend (${needle}): ${show(seen.text)}`);
  }
  assert.equal(seen.text.indexOf('\r\n\r\n'), seen.text.length - 4, `${what}: nothing after the valid request's head reaches the backend: ${show(seen.text)}`);
}

/** The body a smuggler hides: a whole second request. */
const smuggled = (tag: string) => `GET /smuggled-${tag} HTTP/1.1\r\n${HOST}\r\nX-ARR-ClientCert: forged\r\n\r\n`;

interface BadCase {
  readonly name: string;
  readonly bytes: (tag: string) => string;
}

function post(tag: string, headers: readonly string[], body: string, version = 'HTTP/1.1'): string {
  return request(`POST /bad-${tag} ${version}`, [HOST, ...headers], body);
}

const chunkedSmuggle = (tag: string) => `0\r\n\r\n${smuggled(tag)}`;

const REFUSED: readonly BadCase[] = [
  // CL.TE / TE.CL
  { name: 'Content-Length and Transfer-Encoding: chunked (CL.TE)', bytes: (t) => post(t, [`Content-Length: ${chunkedSmuggle(t).length}`, 'Transfer-Encoding: chunked'], chunkedSmuggle(t)) },
  { name: 'Transfer-Encoding: chunked then Content-Length (TE.CL)', bytes: (t) => post(t, ['Transfer-Encoding: chunked', 'Content-Length: 4'], `${(smuggled(t).length).toString(16)}\r\n${smuggled(t)}\r\n0\r\n\r\n`) },
  { name: 'Content-Length: 0 with Transfer-Encoding: chunked', bytes: (t) => post(t, ['Content-Length: 0', 'Transfer-Encoding: chunked'], chunkedSmuggle(t)) },
  // Content-Length
  { name: 'two differing Content-Length fields', bytes: (t) => post(t, ['Content-Length: 5', 'Content-Length: 6'], `hello!${smuggled(t)}`) },
  { name: 'a Content-Length list of differing values (5, 6)', bytes: (t) => post(t, ['Content-Length: 5, 6'], `hello!${smuggled(t)}`) },
  { name: 'Content-Length with a sign (+5) [RFC 9112 §6.3]', bytes: (t) => post(t, ['Content-Length: +5'], `hello${smuggled(t)}`) },
  { name: 'Content-Length in hex (0x5) [RFC 9112 §6.3]', bytes: (t) => post(t, ['Content-Length: 0x5'], `hello${smuggled(t)}`) },
  { name: 'negative Content-Length (-1) [RFC 9112 §6.3]', bytes: (t) => post(t, ['Content-Length: -1'], `hello${smuggled(t)}`) },
  // Transfer-Encoding other than exactly one `chunked`
  ...['identity, chunked', 'chunked, chunked', 'gzip, chunked', 'chunked, identity', 'xchunked', 'chunked;q=1', '"chunked"', 'x-chunked', 'chunked x', 'identity'].map(
    (te): BadCase => ({ name: `Transfer-Encoding: ${te}`, bytes: (t) => post(t, [`Transfer-Encoding: ${te}`], chunkedSmuggle(t)) }),
  ),
  { name: 'two Transfer-Encoding fields (chunked, then Transfer-encoding: x)', bytes: (t) => post(t, ['Transfer-Encoding: chunked', 'Transfer-encoding: x'], chunkedSmuggle(t)) },
  { name: 'two Transfer-Encoding fields (chunked twice)', bytes: (t) => post(t, ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], chunkedSmuggle(t)) },
  { name: 'Transfer-Encoding : chunked (space before the colon)', bytes: (t) => post(t, ['Transfer-Encoding : chunked', `Content-Length: ${chunkedSmuggle(t).length}`], chunkedSmuggle(t)) },
  { name: 'Transfer-Encoding<TAB>: chunked (tab before the colon)', bytes: (t) => post(t, ['Transfer-Encoding\t: chunked'], chunkedSmuggle(t)) },
  { name: 'Transfer-Encoding with a vertical tab before chunked', bytes: (t) => post(t, ['Transfer-Encoding: \x0bchunked'], chunkedSmuggle(t)) },
  { name: 'Transfer-Encoding obs-folded (identity, then " chunked" on the next line)', bytes: (t) => post(t, ['Transfer-Encoding: identity', ' chunked'], chunkedSmuggle(t)) },
  { name: 'Transfer-Encoding on HTTP/1.0 (keep-alive), smuggled request after it', bytes: (t) => post(t, ['Transfer-Encoding: chunked', 'Connection: keep-alive'], chunkedSmuggle(t), 'HTTP/1.0') },
  // header lines
  { name: 'obs-fold (a header line starting with a space)', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [HOST, 'X-Folded: a', ' X-ARR-ClientCert: forged']) },
  { name: 'obs-fold (a header line starting with a tab)', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [HOST, 'X-Folded: a', '\tcontinued']) },
  { name: 'whitespace between the request line and the first header', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [` ${HOST}`, HOST]) },
  { name: 'bare CR inside a header value', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [HOST, 'X-Bare: a\rX-ARR-ClientCert: forged']) },
  { name: 'bare CR ending a header line', bytes: (t) => `GET /bad-${t} HTTP/1.1\r\n${HOST}\rX-ARR-ClientCert: forged\r\n\r\n` },
  { name: 'NUL in a header value', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [HOST, 'X-Nul: a\x00b']) },
  { name: 'NUL in a header name', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [HOST, 'X-N\x00ul: a']) },
  { name: 'whitespace before the colon (X-ARR-ClientCert : x)', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [HOST, 'X-ARR-ClientCert : x']) },
  // chunk framing
  ...[
    ['a non-hex chunk size (zz)', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a negative chunk size (-1)', '-1\r\nhello\r\n0\r\n\r\n'],
    ['a chunk size with 0x', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['a chunk size with a sign (+5)', '+5\r\nhello\r\n0\r\n\r\n'],
    ['a chunk size that overflows 64 bits', '10000000000000005\r\nhello\r\n0\r\n\r\n'],
    ['an empty chunk size line', '\r\nhello\r\n0\r\n\r\n'],
    ['a chunk extension ended by a bare LF', '5;ext=1\nhello\r\n0\r\n\r\n'],
    ['a chunk size line ended by a bare LF', '5\nhello\r\n0\r\n\r\n'],
    ['chunk data longer than its size', '3\r\nhello\r\n0\r\n\r\n'],
  ].map(([name, body]): BadCase => ({ name: `invalid chunked body: ${name as string}`, bytes: (t) => post(t, ['Transfer-Encoding: chunked'], `${body as string}${smuggled(t)}`) })),
  // Host
  { name: 'two Host fields', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [HOST, 'Host: other.example']) },
  { name: 'two identical Host fields', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, [HOST, HOST]) },
  { name: 'HTTP/1.1 without Host', bytes: (t) => request(`GET /bad-${t} HTTP/1.1`, ['X-Whatever: 1']) },
  // absolute-form naming no site
  { name: 'absolute-form target whose host selects no site (Host: site.example)', bytes: (t) => request(`GET http://other.example/bad-${t} HTTP/1.1`, [HOST]) },
  { name: 'absolute-form target with userinfo that looks like the site (http://site.example@other.example/)', bytes: (t) => request(`GET http://${SITE_HOST}@other.example/bad-${t} HTTP/1.1`, [HOST]) },
];

/**
 * Each transport has its own backend and Gatehouse, so the two run side by side (a refusal that never
 * comes costs its bounded wait once per case, not twice in a row). Within a transport the tests run one
 * at a time (node:test passes `concurrency` down to nested suites unless they set their own).
 */
describe('framing, per transport', { concurrency: true }, () => {
  for (const transport of ['http', 'https without ALPN'] as const) {
    let own: { backend: RecordingBackend; gh: Hostile } | undefined;
    const fixture = () => {
      assert.ok(own, 'the fixture of this transport');
      return own;
    };
    const target = () => (transport === 'http' ? fixture().gh.http : fixture().gh.https);
    const at = () => fixture().backend;

    describe(`framing over ${transport}`, { concurrency: 1 }, () => {
      before(async () => {
        const ownBackend = await startRecordingBackend();
        own = { backend: ownBackend, gh: await suite.launch({ backend: ownBackend, httpHostName: SITE_HOST }) };
      });
      after(async () => {
        await own?.gh.stop();
        await own?.backend.close();
      });

      describe(`framing over ${transport}: refused with 400 + close after the responses owed, nothing at the backend`, { concurrency: 1 }, () => {
        for (const bad of REFUSED) {
          test(bad.name, async () => {
            await assertPipelinedRefusal(target(), bad.bytes, `${bad.name} (${transport})`, 400, false, at());
          });
          test(`${bad.name}, pipelined after a valid request`, async () => {
            await assertPipelinedRefusal(target(), bad.bytes, `${bad.name}, pipelined (${transport})`, 400, true, at());
          });
        }

        const hundredAndOne = (t: string) => request(`GET /bad-${t} HTTP/1.1`, [HOST, ...Array.from({ length: 100 }, (_, i) => `X-Field-${i}: ${i}`)]);
        test('more than 100 header fields: 431 + close, nothing at the backend', async () => {
          await assertPipelinedRefusal(target(), hundredAndOne, `101 header fields (${transport})`, 431, false, at());
        });
        test('more than 100 header fields, pipelined after a valid request: 200, then 431 + close', async () => {
          await assertPipelinedRefusal(target(), hundredAndOne, `101 header fields, pipelined (${transport})`, 431, true, at());
        });

        test('a Content-Length after the 1000th header line: 431, the body is never lost or smuggled', async () => {
          const fields = Array.from({ length: 1000 }, (_, i) => `X-F${i}: v`);
          await assertPipelinedRefusal(target(), (t) => request(`POST /bad-${t} HTTP/1.1`, [HOST, ...fields, `Content-Length: ${smuggled(t).length}`], smuggled(t)), `CL after 1000 fields (${transport})`, 431, false, at());
        });
      });

      describe(`framing over ${transport}: what is valid still goes through`, { concurrency: 1 }, () => {
        test('exactly 100 header fields are forwarded', async () => {
          const mark = at().mark();
          const fields = Array.from({ length: 99 }, (_, i) => `X-Field-${i}: ${i}`);
          const exchange = await rawExchange(target(), request('GET /hundred HTTP/1.1', [HOST, ...fields]), { responses: 1 });
          assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
          const [received] = await at().waitForRequests(1, mark);
          assert.equal(headerValues(received?.headers ?? [], 'X-Field-98')[0], '98');
        });

        for (const te of ['chunked', 'Chunked', 'CHUNKED']) {
          test(`Transfer-Encoding: ${te} (one token, any case) is forwarded with its body`, async () => {
            const mark = at().mark();
            const exchange = await rawExchange(target(), post('te', [`Transfer-Encoding: ${te}`], '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'), { responses: 1 });
            assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
            const [received] = await at().waitForRequests(1, mark);
            assert.equal(received?.body.toString(), 'hello world');
            assert.equal(headerValues(received?.headers ?? [], 'content-length').length + headerValues(received?.headers ?? [], 'transfer-encoding').length, 1, `one framing header at the backend: ${received?.head}`);
          });
        }

        test('Content-Length body and a pipelined request: both forwarded, in order, framed as sent', async () => {
          const mark = at().mark();
          const exchange = await rawExchange(target(), post('cl', ['Content-Length: 5'], 'hello') + request('GET /second HTTP/1.1', [HOST]), { responses: 2 });
          assert.deepEqual(exchange.responses.map((r) => r.status), [200, 200], describeExchange(exchange));
          const received = await at().waitForRequests(2, mark);
          assert.deepEqual(received.map((r) => [r.target, r.body.toString()]), [['/bad-cl', 'hello'], ['/second', '']]);
        });
      });
    });
  }
});

describe('a chunked body whose error arrives in a later write', () => {
  // The head and the first chunk may have been forwarded before the bad chunk size arrived (a streaming proxy
  // cannot refuse what it has not read yet): then the backend must never see a whole request, the connection
  // that carried the start must be closed, and nothing written after the error may reach the backend.
  for (const [transport, target] of transports()) {
    test(`an invalid chunk size after a valid chunk: 400 + close; no whole request and no smuggled bytes at the backend (${transport})`, async (t) => {
      const tag = randomUUID().slice(0, 8);
      const mark = suite.backend.mark();
      const connection = await RawConnection.open(target());
      t.after(() => connection.destroy());
      connection.write(post(tag, ['Transfer-Encoding: chunked'], '5\r\nhello\r\n'));
      await suite.backend.settle();
      connection.write(`zz\r\nworld\r\n0\r\n\r\n${smuggled(tag)}`);
      await connection.waitForClose(1_500);
      const { responses } = connection.parsed();
      assert.equal(responses[0]?.status, 400, show(connection.data));
      assert.ok(responses[0]?.hasConnectionClose && connection.closed, show(connection.data));
      await suite.backend.settle();
      const seen = suite.backend.since(mark);
      assert.deepEqual(seen.requests.map((r) => r.target), [], `no whole request at the backend: ${show(seen.text)}`);
      assert.ok(!seen.text.includes('smuggled') && !seen.text.includes('world'), `nothing after the error reaches the backend: ${show(seen.text)}`);
      const carrying = suite.backend.connections.find((c) => c.received().toString('latin1').includes(`/bad-${tag}`));
      if (carrying) await suite.backend.waitFor(() => carrying.closed, 'the backend connection with the unfinished request to close');
    });
  }
});

describe('HTTP/1.0 without Host: forwarded with the binding\'s host name, or the address:port the client connected to', () => {
  test('http binding named site.example: the backend receives Host: site.example', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(suite.gh.http, request('GET /ten-named HTTP/1.0', ['X-Test: 1']));
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.deepEqual(headerValues(received?.headers ?? [], 'host'), [SITE_HOST], received?.head);
  });

  test('https binding without a host name: the backend receives Host: 127.0.0.1:<port>', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange(suite.gh.https, request('GET /ten-bare HTTP/1.0', ['X-Test: 1']));
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.deepEqual(headerValues(received?.headers ?? [], 'host'), [`127.0.0.1:${suite.gh.httpsPort}`], received?.head);
  });

  test('http binding without a host name: the backend receives Host: 127.0.0.1:<port>', async (t) => {
    const plain = await suite.launch({ bindings: ['http'] });
    t.after(() => plain.stop());
    const mark = suite.backend.mark();
    const exchange = await rawExchange(plain.http, request('GET /ten-plain HTTP/1.0', []));
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.deepEqual(headerValues(received?.headers ?? [], 'host'), [`127.0.0.1:${plain.httpPort}`], received?.head);
  });
});

describe('absolute-form request targets', () => {
  let shared: RunningGatehouse;
  let port: number;

  before(async () => {
    port = await freePort();
    const bind = (hostName: string) => ({ protocol: 'http', address: '127.0.0.1', port, hostName });
    shared = await startGatehouse(
      JSON.stringify({
        accessLog: 'off',
        drainTimeout: 1,
        sites: [
          { name: 'site', bindings: [bind(SITE_HOST)], farm: 'web' },
          { name: 'other', bindings: [bind('other.example')], farm: 'web' },
        ],
        farms: [{ name: 'web', servers: [{ address: suite.backend.address }] }],
      }),
      suite.dir,
    );
  });

  after(() => shared?.stop());

  test('a target naming another site than Host: 400 + close, nothing at the backend', async () => {
    await assertPipelinedRefusal({ port }, (t) => request(`GET http://other.example/bad-${t} HTTP/1.1`, [HOST]), 'absolute-form for another site');
    await assertPipelinedRefusal({ port }, (t) => request(`GET http://${SITE_HOST}/bad-${t} HTTP/1.1`, ['Host: other.example']), 'absolute-form for another site (reversed)');
  });

  test('a target naming no site: 400 + close', async () => {
    await assertPipelinedRefusal({ port }, (t) => request(`GET http://nowhere.example/bad-${t} HTTP/1.1`, [HOST]), 'absolute-form for no site');
  });

  for (const form of [`http://${SITE_HOST}/x?q=1`, `http://${SITE_HOST.toUpperCase()}/x?q=1`]) {
    test(`the same site (${form}): the backend receives origin-form GET /x?q=1 HTTP/1.1`, async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange({ port }, request(`GET ${form} HTTP/1.1`, [HOST]), { responses: 1 });
      assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
      const [received] = await suite.backend.waitForRequests(1, mark);
      assert.equal(received?.head.split('\r\n')[0], 'GET /x?q=1 HTTP/1.1');
      assert.deepEqual(headerValues(received?.headers ?? [], 'host'), [SITE_HOST]);
    });
  }

  test('the same site with the port in the target: origin-form at the backend', async () => {
    const mark = suite.backend.mark();
    const exchange = await rawExchange({ port }, request(`GET http://${SITE_HOST}:${port}/y HTTP/1.1`, [`Host: ${SITE_HOST}:${port}`]), { responses: 1 });
    assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
    const [received] = await suite.backend.waitForRequests(1, mark);
    assert.equal(received?.head.split('\r\n')[0], 'GET /y HTTP/1.1');
  });
});

describe('a server response with ambiguous framing', () => {
  for (const [transport, target] of transports()) {
    test(`both Content-Length and Transfer-Encoding: the client gets a local 502.3, never the server's bytes (${transport})`, async () => {
      const exchange = await rawExchange(target(), request('GET /server-cl-te HTTP/1.1', [HOST, 'Connection: close']));
      const response = exchange.responses[0];
      assert.equal(response?.status, 502, describeExchange(exchange));
      assertLocal(response, '502.3', 'CL + TE from the server');
      assert.ok(!exchange.data.toString('latin1').includes('SERVER-SECRET'), `none of the server's body reaches the client: ${describeExchange(exchange)}`);
      assert.equal(exchange.responses.length, 1, describeExchange(exchange));
    });

    test(`two differing Content-Length values: a local 502.3 [RFC 9112 §6.3] (${transport})`, async () => {
      const exchange = await rawExchange(target(), request('GET /server-two-cl HTTP/1.1', [HOST, 'Connection: close']));
      assertLocal(exchange.responses[0], '502.3', 'two CL from the server');
      assert.ok(!exchange.data.toString('latin1').includes('SERVER'), describeExchange(exchange));
    });
  }
});
