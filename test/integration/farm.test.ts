/**
 * Farm: how Gatehouse spreads requests over a farm's servers (smooth weighted round robin, disabled
 * servers), what it answers when servers fail (502.4, 502.3, the one safe retry, timeouts) and that it
 * keeps connections to servers alive.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { echoHandler, refusedAddress, startBackend, type Backend, type Handler } from '../support/backends.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { FARM, launch, SITE, type GatehouseSpec, type ServerSpec } from './forwarding-helpers.js';
import { makeTempDir } from '../support/temp.js';
import { echoOf, send, type SendOptions } from '../support/clients.js';

let pki: TestPki;
let tmp: { dir: string; remove: () => Promise<void> };

before(async () => {
  pki = await createTestPki();
  tmp = await makeTempDir('gatehouse-farm-');
});

after(async () => {
  await tmp?.remove();
  await pki?.cleanup();
});

async function backend(t: TestContext, name: string, handler: Handler = echoHandler): Promise<Backend> {
  const started = await startBackend(name, handler);
  t.after(() => started.close());
  return started;
}

async function farm(t: TestContext, servers: readonly ServerSpec[], spec: Omit<GatehouseSpec, 'servers'> = {}) {
  const running = await launch(t, pki, tmp.dir, { ...spec, servers });
  const urlOf = (protocol: 'http' | 'https', path = '/') => running.url(SITE, protocol) + path;
  return { running, urlOf };
}

function request(url: string, options: SendOptions = {}) {
  return send(url, { ca: pki.root.certPem, ...options });
}

/** `count` sequential GETs; the name of the backend that answered each. */
async function sequence(url: string, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(echoOf(await request(`${url}req/${i}`)).server);
  return names;
}

function countOf(names: readonly string[], name: string): number {
  return names.filter((n) => n === name).length;
}

function longestRun(names: readonly string[]): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < names.length; i++) {
    run = i > 0 && names[i] === names[i - 1] ? run + 1 : 1;
    longest = Math.max(longest, run);
  }
  return longest;
}

describe('weighted round robin', () => {
  test('100/100 alternates evenly over 40 requests', async (t) => {
    const a = await backend(t, 'a');
    const b = await backend(t, 'b');
    const { urlOf } = await farm(t, [{ address: a.address, weight: 100 }, { address: b.address, weight: 100 }]);
    const names = await sequence(urlOf('http'), 40);
    assert.equal(countOf(names, 'a'), 20);
    assert.equal(countOf(names, 'b'), 20);
    for (let i = 1; i < names.length; i++) assert.notEqual(names[i], names[i - 1], `requests ${i - 1} and ${i}: ${names.join(',')}`);
    assert.equal(a.received.length, 20);
    assert.equal(b.received.length, 20);
  });

  test('300/100 sends 30 of 40 to the heavy server, one in every 4 to the light one', async (t) => {
    const a = await backend(t, 'a');
    const b = await backend(t, 'b');
    const { urlOf } = await farm(t, [{ address: a.address, weight: 300 }, { address: b.address, weight: 100 }]);
    const names = await sequence(urlOf('https'), 40);
    assert.equal(countOf(names, 'a'), 30, names.join(','));
    assert.equal(countOf(names, 'b'), 10, names.join(','));
    for (let i = 0; i + 4 <= names.length; i++) assert.equal(countOf(names.slice(i, i + 4), 'b'), 1, `window at ${i}: ${names.join(',')}`);
  });

  test('200/100 is spread smoothly: 20/10 of 30, never 3 in a row', async (t) => {
    const a = await backend(t, 'a');
    const b = await backend(t, 'b');
    const { urlOf } = await farm(t, [{ address: a.address, weight: 200 }, { address: b.address, weight: 100 }]);
    const names = await sequence(urlOf('http'), 30);
    assert.equal(countOf(names, 'a'), 20, names.join(','));
    assert.equal(countOf(names, 'b'), 10, names.join(','));
    assert.ok(longestRun(names) <= 2, names.join(','));
  });

  test('default weights (100 each) over three servers: round robin', async (t) => {
    const servers = [await backend(t, 'a'), await backend(t, 'b'), await backend(t, 'c')];
    const { urlOf } = await farm(t, servers.map((s) => s.address));
    const names = await sequence(urlOf('http'), 30);
    for (const name of ['a', 'b', 'c']) assert.equal(countOf(names, name), 10, names.join(','));
    for (let i = 0; i + 3 <= names.length; i++) assert.equal(new Set(names.slice(i, i + 3)).size, 3, names.join(','));
  });
});

describe('enabled: false', () => {
  test('a disabled server gets nothing', async (t) => {
    const a = await backend(t, 'a');
    const off = await backend(t, 'off');
    const c = await backend(t, 'c');
    const { urlOf } = await farm(t, [a.address, { address: off.address, enabled: false }, c.address]);
    const names = await sequence(urlOf('http'), 20);
    assert.equal(countOf(names, 'a'), 10);
    assert.equal(countOf(names, 'c'), 10);
    assert.equal(off.received.length, 0);
  });

  test('all servers disabled: 502.4, and an event log line naming the farm', async (t) => {
    const a = await backend(t, 'a');
    const b = await backend(t, 'b');
    const { urlOf, running } = await farm(t, [{ address: a.address, enabled: false }, { address: b.address, enabled: false }]);
    for (const protocol of ['http', 'https'] as const) {
      const reply = await request(urlOf(protocol, '/nobody'));
      assert.equal(reply.status, 502, protocol);
      assert.match(reply.body.toString(), /502\.4/);
      // Asked for HTML, the same sub-status.
      const html = await request(urlOf(protocol, '/nobody'), { headers: ['Accept', 'text/html'] });
      assert.equal(html.status, 502);
      assert.match(html.body.toString(), /502\.4/);
    }
    assert.equal(a.received.length + b.received.length, 0);
    const lines = running.events.filter((e) => e.includes('502.4'));
    assert.equal(lines.length, 4, running.events.join('\n'));
    for (const line of lines) assert.match(line, new RegExp(`farm ${FARM}\\b`));
  });
});

describe('502.3', () => {
  test('one server refusing, one healthy: every GET succeeds, retried on the healthy one', async (t) => {
    const refused = await refusedAddress();
    const healthy = await backend(t, 'healthy');
    const { urlOf, running } = await farm(t, [refused, healthy.address]);
    for (let i = 0; i < 10; i++) {
      const reply = await request(urlOf(i % 2 ? 'https' : 'http', `/r/${i}`));
      assert.equal(reply.status, 200, `request ${i}: ${reply.body.toString()}`);
      assert.equal(echoOf(reply).server, 'healthy');
    }
    assert.equal(healthy.received.length, 10);
    assert.deepEqual(running.events.filter((e) => e.includes('502')), []);
  });

  test('all servers refusing: 502.3, and an event log line naming the farm and the server', async (t) => {
    const first = await refusedAddress();
    const second = await refusedAddress();
    const { urlOf, running } = await farm(t, [first, second]);
    for (const protocol of ['http', 'https'] as const) {
      const reply = await request(urlOf(protocol, `/down-${protocol}`));
      assert.equal(reply.status, 502, protocol);
      assert.match(reply.body.toString(), /502\.3/);
    }
    const lines = running.events.filter((e) => e.includes('502.3'));
    assert.equal(lines.length, 2, running.events.join('\n'));
    for (const line of lines) {
      assert.match(line, new RegExp(`farm ${FARM}\\b`));
      assert.ok(line.includes(`server ${first}`) || line.includes(`server ${second}`), line);
      assert.match(line, /ECONNREFUSED/);
    }
  });

  test('a server that accepts and never answers: 502.3 after the farm timeout (1 s)', async (t) => {
    const held: Array<() => void> = [];
    const silent = await backend(t, 'silent', (req, res) => {
      req.resume();
      held.push(() => res.destroy());
    });
    t.after(() => held.forEach((release) => release()));
    const { urlOf, running } = await farm(t, [silent.address], { protocol: { timeout: 1 } });
    const reply = await request(urlOf('http', '/slow'), { timeoutMs: 15_000 });
    t.diagnostic(`answered after ${reply.elapsedMs.toFixed(0)} ms`);
    assert.equal(reply.status, 502, reply.error?.message);
    assert.match(reply.body.toString(), /502\.3/);
    assert.ok(reply.elapsedMs >= 900, `${reply.elapsedMs} ms`);
    assert.ok(reply.elapsedMs < 10_000, `${reply.elapsedMs} ms`);
    assert.equal(held.length, 1, 'the request reached the server once');
    assert.ok(running.events.some((e) => e.includes('502.3') && e.includes(`farm ${FARM}`) && e.includes(`server ${silent.address}`)), running.events.join('\n'));
  });

  test('a POST whose body reached a server that then resets is not retried: 502.3', async (t) => {
    const resetter = await backend(t, 'resetter', (req) => {
      req.resume();
      req.on('end', () => req.socket.resetAndDestroy());
    });
    const other = await backend(t, 'other');
    // Equal weights: the first request of a fresh farm goes to the first server.
    const { urlOf, running } = await farm(t, [resetter.address, other.address]);
    const body = Buffer.alloc(64 * 1024, 0x62);
    const reply = await request(urlOf('http', '/orders'), { method: 'POST', body, headers: ['Content-Type', 'application/octet-stream', 'Content-Length', String(body.length)] });
    assert.equal(reply.status, 502, reply.error?.message);
    assert.match(reply.body.toString(), /502\.3/);
    assert.deepEqual(other.received, []);
    assert.ok(running.events.some((e) => e.includes('502.3') && e.includes(`farm ${FARM}`) && e.includes(`server ${resetter.address}`) && !e.includes('after a retry')), running.events.join('\n'));
  });

  test('a chunked POST to a server that resets is not retried either', async (t) => {
    const resetter = await backend(t, 'resetter', (req) => {
      req.resume();
      req.on('end', () => req.socket.resetAndDestroy());
    });
    const other = await backend(t, 'other');
    const { urlOf } = await farm(t, [resetter.address, other.address]);
    const reply = await request(urlOf('https', '/orders'), { method: 'POST', body: 'a small chunked body', headers: ['Transfer-Encoding', 'chunked'] });
    assert.equal(reply.status, 502, reply.error?.message);
    assert.match(reply.body.toString(), /502\.3/);
    assert.deepEqual(other.received, []);
  });

  test('a GET to a server that resets before answering is retried once on the other server', async (t) => {
    let resets = 0;
    const resetter = await backend(t, 'resetter', (req) => {
      resets++;
      req.socket.resetAndDestroy();
    });
    const other = await backend(t, 'other');
    const { urlOf, running } = await farm(t, [resetter.address, other.address]);
    const reply = await request(urlOf('http', '/item/1'));
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(echoOf(reply).server, 'other');
    assert.equal(resets, 1);
    assert.equal(other.received.length, 1);
    assert.deepEqual(running.events.filter((e) => e.includes('502')), []);
  });
});

describe('keep-alive to servers', () => {
  test('50 sequential requests reuse at most 2 upstream connections', async (t) => {
    const a = await backend(t, 'a');
    let connections = 0;
    a.server.on('connection', () => connections++);
    const { urlOf } = await farm(t, [a.address]);
    for (let i = 0; i < 50; i++) {
      const reply = await request(urlOf(i % 2 ? 'https' : 'http', `/k/${i}`));
      assert.equal(reply.status, 200);
    }
    assert.equal(a.received.length, 50);
    t.diagnostic(`${connections} upstream connection(s) for 50 requests`);
    assert.ok(connections >= 1 && connections <= 2, `${connections} connections`);
  });
});
