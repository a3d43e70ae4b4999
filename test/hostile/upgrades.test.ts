/**
 * Upgrades (hardening spec, "Upgrades"): a WebSocket upgrade is spliced only after the server's 101 whose
 * Upgrade is websocket; any other answer (200, 400, 101 to another protocol) reaches the client as an
 * ordinary response with `Connection: close`, the connection closes, and no client byte written after the
 * request head reaches the server (a second request with a forged X-ARR-ClientCert right behind the upgrade
 * request is the attack). An upgrade with a body is refused. `Upgrade: h2c` and other tokens are dropped
 * and the request goes on as ordinary HTTP/1.1: the server never sees Upgrade, HTTP2-Settings or the
 * HTTP/2 preface. Over the http binding and over TLS without ALPN.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  assertLocal,
  cgiHeaderValues,
  describeExchange,
  headerValues,
  hostileSuite,
  rawExchange,
  rawReply,
  RawConnection,
  request,
  show,
  switchingReply,
  type RawTarget,
  type RecordedConnection,
} from './support.js';

const suite = hostileSuite({
  backend: {
    echoTunnel: true,
    reply: (req) => {
      if (req.target.startsWith('/ws-ok-case')) return switchingReply('WebSocket');
      if (req.target.startsWith('/ws-ok')) return switchingReply('websocket');
      if (req.target.startsWith('/ws-101-h2c')) return switchingReply('h2c');
      if (req.target.startsWith('/ws-400')) return rawReply('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 15\r\nConnection: keep-alive\r\n\r\nno upgrade here');
      return undefined; // 200, keep-alive
    },
  },
  gatehouse: { denyAdmin: true },
});

const HOST = 'Host: app.example';

function websocket(path: string, extra: readonly string[] = []): string {
  return request(`GET ${path} HTTP/1.1`, [HOST, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...extra]);
}

/** A second request an attacker writes right behind the upgrade request. */
const follower = (tag: string) => request(`GET /second-${tag} HTTP/1.1`, [HOST, 'X-ARR-ClientCert: forged', 'X_ARR_ClientCert: forged']);

/** The backend connection that received a request for `path`. */
function connectionOf(path: string): RecordedConnection | undefined {
  const request = suite.backend.requests.find((r) => r.target === path);
  return request === undefined ? undefined : suite.backend.connections[request.connection];
}

const transports: [string, () => RawTarget][] = [
  ['http', () => suite.gh.http],
  ['https without ALPN', () => suite.gh.https],
];

for (const [transport, target] of transports) {
  describe(`WebSocket upgrades over ${transport}`, () => {
    test('the server\'s 101 websocket: the tunnel carries bytes both ways, Connection/Upgrade reach the server', async (t) => {
      const path = `/ws-ok-${randomUUID()}`;
      const connection = await RawConnection.open(target());
      t.after(() => connection.destroy());
      connection.write(websocket(path));
      const parsed = await connection.waitForResponses(1);
      assert.equal(parsed.responses[0]?.status, 101, show(connection.data));
      assert.equal(parsed.responses[0]?.header('upgrade')?.toLowerCase(), 'websocket');
      connection.write('ping-through-the-tunnel');
      assert.ok(await connection.until(() => connection.data.toString('latin1').includes('PING-THROUGH-THE-TUNNEL')), `echo through the server: ${show(connection.data)}`);
      const received = suite.backend.requests.find((r) => r.target === path);
      assert.ok(received);
      assert.match(headerValues(received.headers, 'connection').join(','), /upgrade/i, received.head);
      assert.deepEqual(headerValues(received.headers, 'upgrade'), ['websocket'], received.head);
    });

    test('a 101 with Upgrade: WebSocket (other case) is accepted as websocket', async (t) => {
      const path = `/ws-ok-case-${randomUUID()}`;
      const connection = await RawConnection.open(target());
      t.after(() => connection.destroy());
      connection.write(websocket(path));
      const parsed = await connection.waitForResponses(1);
      assert.equal(parsed.responses[0]?.status, 101, show(connection.data));
      connection.write('abc');
      assert.ok(await connection.until(() => connection.data.toString('latin1').endsWith('ABC')), show(connection.data));
    });

    test('bytes written with the upgrade request reach the server only after its 101', async (t) => {
      const path = `/ws-ok-${randomUUID()}`;
      const connection = await RawConnection.open(target());
      t.after(() => connection.destroy());
      connection.write(websocket(path) + 'early-frame');
      const parsed = await connection.waitForResponses(1);
      assert.equal(parsed.responses[0]?.status, 101, show(connection.data));
      await suite.backend.waitFor(() => connectionOf(path)?.received().toString('latin1').includes('early-frame') === true, 'the early bytes at the server');
      const events = connectionOf(path)?.events ?? [];
      // Everything the server received before it wrote its 101 is the request head, nothing more.
      const firstOut = events.findIndex((e) => e.direction === 'out');
      const before = Buffer.concat(events.slice(0, firstOut).filter((e) => e.direction === 'in').map((e) => e.bytes)).toString('latin1');
      assert.ok(!before.includes('early-frame'), `no byte after the head before the server's 101: ${show(before)}`);
    });

    for (const [answer, path, status, local] of [
      ['200', '/ws-200', 200, undefined],
      ['400', '/ws-400', 400, undefined],
      ['101 with Upgrade: h2c', '/ws-101-h2c', 502, '502.3'],
    ] as const) {
      test(`the server answers ${answer}: the client gets it as an ordinary response with Connection: close, and nothing after the head reaches the server`, async () => {
        const tag = randomUUID();
        const mark = suite.backend.mark();
        const exchange = await rawExchange(target(), websocket(`${path}-${tag}`) + follower(tag) + 'tunnel-bytes', { refusalAt: 1 });
        await suite.backend.settle();
        const seen = suite.backend.since(mark);
        const response = exchange.responses[0];
        assert.equal(response?.status, status, describeExchange(exchange));
        if (local) assertLocal(response, local, answer);
        else assert.ok(response?.body.toString().includes(answer === '200' ? `ok GET ${path}-${tag}` : 'no upgrade here'), `the server's own body: ${describeExchange(exchange)}`);
        assert.ok(response?.complete, describeExchange(exchange));
        assert.ok(response?.hasConnectionClose, `Connection: close: ${describeExchange(exchange)}`);
        assert.ok(exchange.closed, `the connection closes: ${describeExchange(exchange)}`);
        assert.equal(exchange.responses.length, 1, describeExchange(exchange));
        assert.deepEqual(seen.requests.map((r) => r.target), [`${path}-${tag}`], `the server saw the upgrade request only: ${show(seen.text)}`);
        for (const needle of ['second-', 'forged', 'tunnel-bytes']) assert.ok(!seen.text.includes(needle), `no client byte after the head reaches the server (${needle}): ${show(seen.text)}`);
      });
    }

    for (const [name, extra, body] of [
      ['Content-Length: 5', ['Content-Length: 5'], 'hello'],
      ['Transfer-Encoding: chunked', ['Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n\r\n'],
    ] as const) {
      test(`an upgrade request with a body (${name}): 400, nothing at the server`, async () => {
        const mark = suite.backend.mark();
        const exchange = await rawExchange(target(), websocket(`/ws-ok-body-${randomUUID()}`, extra) + body, { refusalAt: 1 });
        await suite.backend.settle();
        assert.equal(exchange.responses[0]?.status, 400, describeExchange(exchange));
        assert.equal(suite.backend.since(mark).bytes, 0, show(suite.backend.since(mark).text));
      });
    }

    test('forged certificate headers (every spelling) on an upgrade request never reach the server', async (t) => {
      const path = `/ws-ok-${randomUUID()}`;
      const connection = await RawConnection.open(target());
      t.after(() => connection.destroy());
      connection.write(websocket(path, ['X-ARR-ClientCert: forged', 'X_ARR_ClientCert: forged', 'x-arr_clientcert: forged', 'X-Forwarded-Proto: forged', 'x_forwarded_proto: forged', 'X-ARR-SSL: forged', 'X_ARR_SSL: forged']));
      const parsed = await connection.waitForResponses(1);
      assert.equal(parsed.responses[0]?.status, 101, show(connection.data));
      const received = suite.backend.requests.find((r) => r.target === path);
      assert.ok(received && !received.head.includes('forged'), received?.head);
      assert.equal(cgiHeaderValues(received.headers, 'X-ARR-ClientCert').length, 0, received.head);
    });

    test('an upgrade to a path a rule denies: 403, nothing at the server', async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(target(), websocket('/admin/socket'), { refusalAt: 1 });
      await suite.backend.settle();
      assert.equal(exchange.responses[0]?.status, 403, describeExchange(exchange));
      assert.equal(suite.backend.since(mark).bytes, 0, show(suite.backend.since(mark).text));
    });
  });

  describe(`Upgrade: h2c and other tokens over ${transport}: an ordinary HTTP/1.1 request`, () => {
    const h2c = (path: string, extra: readonly string[] = []) =>
      request(`GET ${path} HTTP/1.1`, [HOST, 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA', ...extra]);

    for (const [name, bytes] of [
      ['Upgrade: h2c with HTTP2-Settings', (p: string) => h2c(p)],
      ['Upgrade: h2c without HTTP2-Settings', (p: string) => request(`GET ${p} HTTP/1.1`, [HOST, 'Connection: Upgrade', 'Upgrade: h2c'])],
      ['Upgrade: foo/1 (another token)', (p: string) => request(`GET ${p} HTTP/1.1`, [HOST, 'Connection: Upgrade', 'Upgrade: foo/1'])],
      ['Upgrade: TLS/1.2 (RFC 2817)', (p: string) => request(`GET ${p} HTTP/1.1`, [HOST, 'Connection: Upgrade', 'Upgrade: TLS/1.2'])],
    ] as const) {
      test(`${name}: the server gets no Upgrade/HTTP2-Settings, the connection stays keep-alive`, async (t) => {
        const tag = randomUUID();
        const mark = suite.backend.mark();
        const connection = await RawConnection.open(target());
        t.after(() => connection.destroy());
        connection.write(bytes(`/h2c-${tag}`) + request(`GET /after-${tag} HTTP/1.1`, [HOST]));
        const first = await connection.waitForResponses(2);
        assert.deepEqual(first.responses.map((r) => r.status), [200, 200], show(connection.data));
        assert.ok(!first.switched && first.responses.every((r) => !r.hasConnectionClose), show(connection.data));
        connection.write(request(`GET /third-${tag} HTTP/1.1`, [HOST]));
        const all = await connection.waitForResponses(3);
        assert.deepEqual(all.responses.map((r) => r.status), [200, 200, 200], `keep-alive goes on: ${show(connection.data)}`);
        const received = await suite.backend.waitForRequests(3, mark);
        assert.deepEqual(received.map((r) => r.target), [`/h2c-${tag}`, `/after-${tag}`, `/third-${tag}`], show(suite.backend.since(mark).text));
        for (const r of received) {
          assert.deepEqual(headerValues(r.headers, 'upgrade'), [], r.head);
          assert.deepEqual(headerValues(r.headers, 'http2-settings'), [], r.head);
          assert.ok(!/upgrade|http2-settings/i.test(headerValues(r.headers, 'connection').join(',')), r.head);
        }
        assert.equal(suite.backend.connections[received[0]?.connection ?? 0]?.tunnel, false, 'the server never switched');
      });
    }

    test('the HTTP/2 preface sent right after an h2c upgrade request never reaches the server', async () => {
      const tag = randomUUID();
      const mark = suite.backend.mark();
      const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
      const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
      const exchange = await rawExchange(target(), [h2c(`/h2c-preface-${tag}`) + preface, settings], { refusalAt: 2 });
      await suite.backend.settle();
      const seen = suite.backend.since(mark);
      assert.equal(exchange.responses[0]?.status, 200, `the h2c request is answered as HTTP/1.1: ${describeExchange(exchange)}`);
      assert.ok(!exchange.switched, describeExchange(exchange));
      assert.ok(!seen.text.includes('PRI * HTTP/2.0') && !seen.text.includes('SM\r\n'), `no preface byte at the server: ${show(seen.text)}`);
      assert.ok([400, 505].includes(exchange.responses[1]?.status ?? 0), `the preface is refused (400 or 505): ${describeExchange(exchange)}`);
      assert.ok(exchange.closed, describeExchange(exchange));
    });

    test('Upgrade without Connection: upgrade is not an upgrade; Upgrade never reaches the server', async () => {
      const mark = suite.backend.mark();
      const exchange = await rawExchange(target(), request('GET /no-connection-upgrade HTTP/1.1', [HOST, 'Upgrade: websocket']), { responses: 1 });
      assert.equal(exchange.responses[0]?.status, 200, describeExchange(exchange));
      const [received] = await suite.backend.waitForRequests(1, mark);
      assert.deepEqual(headerValues(received?.headers ?? [], 'upgrade'), [], received?.head);
    });
  });
}
