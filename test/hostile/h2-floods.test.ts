/**
 * HTTP/2 floods (issue 12): rapid reset (CVE-2023-44487), CONTINUATION floods (CVE-2024-27316 family),
 * SETTINGS floods and header lists over the limit, each from a raw HTTP/2 client. The abusive connection is
 * cut (rapid reset: GOAWAY ENHANCE_YOUR_CALM), nothing of it reaches the backend, the event log names it,
 * and a second client's requests keep being answered meanwhile. (On a node whose HTTP/2 Gatehouse turns
 * off, each test asserts that fallback instead: support/http2.ts.)
 */
import assert from 'node:assert/strict';
import { describe, type TestContext } from 'node:test';
import { once } from 'node:events';
import { MAX_CONTROL_FRAMES } from '../../src/proxy/http2-guard.js';
import { H2, h2Frame, h2Request, hostileSuite, hpackLiteralBlock, http2Test, type RawH2 } from './support.js';
import { within } from '../support/within.js';

const suite = hostileSuite({ gatehouse: { bindings: ['https'], limits: { maxRequestHeadersBytes: 4096 } } });

/** Every test here speaks HTTP/2: on a node where Gatehouse turned it off, each asserts that fallback instead. */
const h2test = (name: string, fn: (t: TestContext) => Promise<void>): void => http2Test(name, () => suite.gh, fn);

const ENHANCE_YOUR_CALM = 0xb;

/** Requests from a well-behaved second client, one after another, until `stop()`; every status seen. */
function keepAsking(h2: RawH2): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 200; i++) statuses.push((await h2.request(h2Request(`/good-${i}`, suite.gh.authority))).status ?? 0);
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return statuses;
    },
  };
}

/** Resolves true once the server closed the connection (its socket's 'close'), false after `ms`. */
async function closedWithin(h2: RawH2, ms = 5000): Promise<boolean> {
  if (h2.closed) return true;
  return within(once(h2.socket, 'close').then(() => true), ms, 'the connection to close').catch(() => false);
}

describe('floods: the abusive connection is cut, the others served', () => {
  h2test('rapid reset: 3000 streams opened and reset at once → GOAWAY ENHANCE_YOUR_CALM; nothing forwarded; a second client keeps getting 200', async () => {
    const mark = suite.backend.mark();
    const good = await suite.gh.h2();
    const asking = keepAsking(good);
    const bad = await suite.gh.h2();
    const frames: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const id = 1 + 2 * i;
      frames.push(h2Frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, id, hpackLiteralBlock(h2Request(`/reset-${i}`, suite.gh.authority))));
      frames.push(h2Frame(H2.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
    }
    bad.write(Buffer.concat(frames));
    assert.ok(await closedWithin(bad), 'the abusive connection is closed');
    const codes = bad.frames.filter((f) => f.type === H2.GOAWAY).map((f) => f.payload.readUInt32BE(4));
    assert.equal(codes[0], ENHANCE_YOUR_CALM, `GOAWAY codes ${codes.join(', ')}`);
    const statuses = await asking.stop();
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `the other client: ${statuses.join(',')}`);
    good.close();
    const forwarded = suite.backend.since(mark).requests.filter((r) => r.target.startsWith('/reset-')).length;
    assert.ok(forwarded <= 200, `at most the resets allowed reached the backend (${forwarded})`);
    assert.ok(suite.gh.running.events.some((e) => /^warn HTTP\/2 connection from 127\.0\.0\.1:\d+ closed \(rapid_reset\)/.test(e)), suite.gh.running.events.join('\n'));
  });

  h2test('CONTINUATION flood: a header block that never ends → the connection is closed, nothing forwarded, logged', async () => {
    const mark = suite.backend.mark();
    const bad = await suite.gh.h2();
    const frames = [h2Frame(H2.HEADERS, 0, 1, hpackLiteralBlock(h2Request('/continuation', suite.gh.authority)))];
    for (let i = 0; i < 20_000; i++) frames.push(h2Frame(H2.CONTINUATION, 0, 1, hpackLiteralBlock([[`x-c${i % 10}`, 'v']])));
    bad.write(Buffer.concat(frames));
    assert.ok(await closedWithin(bad), 'closed');
    assert.equal(suite.backend.since(mark).requests.filter((r) => r.target === '/continuation').length, 0);
    const good = await suite.gh.h2();
    assert.equal((await good.request(h2Request('/after-continuation', suite.gh.authority))).status, 200);
    good.close();
    assert.ok(suite.gh.running.events.some((e) => /closed \(protocol_flood\): .*CONTINUATION/.test(e)), suite.gh.running.events.join('\n'));
  });

  h2test('a SETTINGS burst: 100,000 frames in one write → the connection is closed (node ends it before a GOAWAY can leave) and logged; others served', async () => {
    const bad = await suite.gh.h2();
    const settings = h2Frame(H2.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]));
    bad.write(Buffer.concat(Array.from({ length: 100_000 }, () => settings)));
    assert.ok(await closedWithin(bad), 'closed');
    const good = await suite.gh.h2();
    assert.equal((await good.request(h2Request('/after-settings', suite.gh.authority))).status, 200);
    good.close();
    assert.ok(suite.gh.running.events.some((e) => /closed \(protocol_flood\): .*(Flooding|SETTINGS and PING)/.test(e)), suite.gh.running.events.join('\n'));
  });

  for (const [kind, frame] of [
    ['SETTINGS', h2Frame(H2.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]))],
    ['PING', h2Frame(H2.PING, 0, 0, Buffer.alloc(8))],
  ] as const) {
    h2test(`a sustained ${kind} flood (50 frames a write) → GOAWAY ENHANCE_YOUR_CALM past ${MAX_CONTROL_FRAMES} in 10 s, logged; others served`, async () => {
      const bad = await suite.gh.h2();
      const burst = Buffer.concat(Array.from({ length: 50 }, () => frame));
      for (let i = 0; i < 40 && !bad.closed; i++) {
        bad.write(burst);
        await new Promise((resolve) => setImmediate(resolve)); // one write per turn: the server reads between them
      }
      assert.ok(await closedWithin(bad), 'closed');
      const codes = bad.frames.filter((f) => f.type === H2.GOAWAY).map((f) => f.payload.readUInt32BE(4));
      assert.equal(codes[0], ENHANCE_YOUR_CALM, `GOAWAY codes ${codes.join(', ')}`);
      const good = await suite.gh.h2();
      assert.equal((await good.request(h2Request(`/after-${kind}`, suite.gh.authority))).status, 200);
      good.close();
      assert.ok(suite.gh.running.events.some((e) => new RegExp(`closed \\(protocol_flood\\): more than ${MAX_CONTROL_FRAMES} SETTINGS and PING frames .*\\(${kind}\\)`).test(e)), suite.gh.running.events.join('\n'));
    });
  }

  h2test('a header list over the limit (an HPACK bomb\'s result): refused, nothing forwarded; the connection serves on or is closed, never the request', async () => {
    const mark = suite.backend.mark();
    const h2 = await suite.gh.h2();
    const fields = [...h2Request('/bomb', suite.gh.authority), ...Array.from({ length: 40 }, (_, i) => [`x-bomb-${i}`, 'b'.repeat(400)] as [string, string])];
    const result = await h2.request(fields);
    assert.notEqual(result.status, 200, 'not answered as a forwarded request');
    assert.equal(suite.backend.since(mark).requests.filter((r) => r.target === '/bomb').length, 0);
    h2.close();
  });
});
