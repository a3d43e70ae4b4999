/**
 * Events through the admin API, against a real Gatehouse: a drain and a health mark through the API, a
 * reload that changes a server's state, a burst of 403.16 answers → GET /events lists them in order with
 * ids (`since` and `limit` filter), the Server-Sent Events stream gets them live, Last-Event-ID resumes
 * without loss or duplicates, the stream answers 401 without a token, and a client that stops reading is
 * dropped while another keeps receiving.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import type { EventBus, GatehouseEvent } from '../../src/admin/events.js';
import { MAX_STREAMS_PER_USER } from '../../src/admin/routes/events.js';
import { startBackend, type Backend } from '../support/backends.js';
import { send } from '../support/clients.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { within } from '../support/within.js';
import { apiClient, makeToken } from './admin-api-helpers.js';
import { eventsConfig, StreamClient as SseClient } from './admin-api-events-helpers.js';

let pki: TestPki;
let backends: Backend[];
let running: RunningGatehouse;
let operator: string;
let viewer: string;
let api: ReturnType<typeof apiClient>;
let yaml: (secondState: string) => string;

const bus = () => running.gatehouse.events as EventBus;
const adminUrl = () => (running.gatehouse.admin as { url: string }).url;

/** The SSE client on this Gatehouse's admin listener. */
class StreamClient extends SseClient {
  constructor(headers: Record<string, string>, onResponse?: (res: IncomingMessage) => void) {
    super(adminUrl(), pki.caFile, headers, onResponse);
  }
}

async function farmEtag(): Promise<string> {
  const farm = await api('GET', '/api/v1/farms/web', { token: operator });
  assert.equal(farm.status, 200, farm.text);
  return farm.headers.etag as string;
}

async function listEvents(query = ''): Promise<{ events: GatehouseEvent[]; last: number }> {
  const answer = await api('GET', `/api/v1/events${query}`, { token: viewer });
  assert.equal(answer.status, 200, answer.text);
  return answer.json;
}

before(async () => {
  pki = await createTestPki();
  backends = await Promise.all(['one', 'two'].map((name) => startBackend(name, (_req, res, backend) => res.end(backend.name))));
  const op = await makeToken(pki.dir, 'ops');
  const view = await makeToken(pki.dir, 'watcher');
  operator = op.token;
  viewer = view.token;
  yaml = (secondState) => eventsConfig(pki, { ops: op.file, watcher: view.file }, `    servers: [{ address: ${backends[0]?.address} }, { address: ${backends[1]?.address}, state: ${secondState} }]\n`);
  running = await startGatehouse(yaml('available'), pki.dir);
  api = apiClient(adminUrl, pki.caFile);
});

after(async () => {
  await running?.stop();
  await Promise.all((backends ?? []).map((b) => b.close()));
  await pki?.cleanup();
});

describe('events', () => {
  let firstStream: StreamClient;
  let start: number;

  test('a drain, a health mark, a reload and a 403.16 burst: GET /events lists them in order with ids, the stream gets them live', async () => {
    start = (await listEvents()).last;
    firstStream = new StreamClient({ authorization: `Bearer ${viewer}` });
    await firstStream.until(() => firstStream.status !== 0 && firstStream.retry !== undefined, 10_000, 'the stream opens');
    assert.equal(firstStream.status, 200);
    assert.match(String(firstStream.headers['content-type']), /^text\/event-stream/);
    assert.equal(firstStream.retry, 3000);
    assert.equal(firstStream.frames.length, 0, 'without Last-Event-ID: live events only');

    const [one, two] = backends as [Backend, Backend];
    const drained = await api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(one.address)}/state`, { token: operator, body: { state: 'drain' }, ifMatch: await farmEtag() });
    assert.equal(drained.status, 200, drained.text);
    const marked = await api('POST', `/api/v1/farms/web/servers/${encodeURIComponent(two.address)}/health`, { token: operator, body: { healthy: false }, ifMatch: await farmEtag() });
    assert.equal(marked.status, 200, marked.text);
    // A reload whose config changes the second server's state: a state event by the reload, then the reload.
    await writeFile(running.configFile, yaml('unavailable'));
    assert.equal(await running.gatehouse.reload(running.configFile), true);
    for (let i = 0; i < 5; i++) {
      const refused = await send(`${running.url('badges', 'https')}/`, { ca: pki.root.certPem, clientCert: pki.clients.untrusted });
      assert.equal(refused.status, 403);
      assert.match(refused.body.toString(), /403\.16/);
    }
    // The summary the 10 s timer publishes, read now (the counter is bumped as each answer ends: bounded retries).
    let counted = 0;
    for (let attempt = 0; attempt < 200 && counted < 5; attempt++) {
      await bus().summariseRejections();
      counted = (await listEvents(`?since=${start}`)).events.filter((e) => e.type === 'rejections').reduce((sum, e) => sum + (e.type === 'rejections' ? (e.counts.find((c) => c.site === 'badges' && c.status === '403.16')?.count ?? 0) : 0), 0);
      if (counted < 5) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(counted, 5, 'the five 403.16 answers are summarised');

    const { events, last } = await listEvents(`?since=${start}`);
    assert.equal(last, events[events.length - 1]?.id);
    assert.deepEqual(events.map((e) => e.id), events.map((_, i) => start + 1 + i), 'consecutive ids after since');
    for (const event of events) assert.ok(!Number.isNaN(Date.parse(event.time)), `ISO time: ${event.time}`);
    const at = (predicate: (e: GatehouseEvent) => boolean, what: string) => {
      const index = events.findIndex(predicate);
      assert.ok(index >= 0, `${what} missing: ${JSON.stringify(events)}`);
      return index;
    };
    const drain = at((e) => e.type === 'state' && e.server === one.address && e.from === 'available' && e.to === 'drain' && e.by === 'token user ops', 'the drain (state, by ops)');
    const drainAdmin = at((e) => e.type === 'admin' && e.action === 'setServerState' && e.who === 'token user ops' && e.result === 'applied' && e.operation['state'] === 'drain', 'the drain (admin)');
    const health = at((e) => e.type === 'health' && e.server === two.address && !e.healthy && /ops/.test(e.reason) && e.source === 'admin', 'the health mark');
    const byReload = at((e) => e.type === 'state' && e.server === two.address && e.to === 'unavailable' && e.by.startsWith('config reload'), 'the state the reload changed');
    const reload = at((e) => e.type === 'reload' && e.ok && e.file === running.configFile && e.problems.length === 0, 'the reload');
    const rejections = at((e) => e.type === 'rejections' && e.counts.some((c) => c.site === 'badges' && c.status === '403.16' && c.reason.length > 0), 'the rejections');
    assert.ok(drain < drainAdmin && drainAdmin < health && health < byReload && byReload < reload && reload < rejections, 'in the order they happened');

    // since and limit.
    const middle = events[health]?.id as number;
    const later = await listEvents(`?since=${middle}`);
    assert.deepEqual(later.events.map((e) => e.id), events.filter((e) => e.id > middle).map((e) => e.id));
    const two2 = await listEvents(`?since=${start}&limit=2`);
    assert.deepEqual(two2.events.map((e) => e.id), [start + 1, start + 2]);
    const bad = await api('GET', '/api/v1/events?since=-1', { token: viewer });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.code, 'invalid_body');
    assert.match(bad.json.detail, /since/);

    // The stream got the same events live, with id: and event: lines.
    await firstStream.until(() => (firstStream.frames.at(-1)?.id ?? 0) >= last, 10_000, 'the stream receives every event');
    assert.deepEqual(firstStream.frames.map((f) => f.id), events.map((e) => e.id));
    assert.deepEqual(firstStream.frames.map((f) => f.event), events.map((e) => e.type));
    assert.deepEqual(firstStream.events, events);
  });

  test('Last-Event-ID resumes where a client left: no event lost, none twice', async () => {
    const seen = firstStream.frames.map((f) => f.id as number);
    const lastSeen = seen.at(-1) as number;
    firstStream.close();
    await within(firstStream.closed, 10_000, 'the first stream closes');
    // Missed while away: two admin writes (state + admin events each).
    const [one] = backends as [Backend];
    for (const state of ['available', 'drain']) {
      const answer = await api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(one.address)}/state`, { token: operator, body: { state }, ifMatch: await farmEtag() });
      assert.equal(answer.status, 200, answer.text);
    }
    const missed = (await listEvents(`?since=${lastSeen}`)).events;
    assert.equal(missed.length, 4);
    const resumed = new StreamClient({ authorization: `Bearer ${viewer}`, 'last-event-id': String(lastSeen) });
    await resumed.until(() => resumed.frames.length >= missed.length, 10_000, 'the replay');
    assert.deepEqual(resumed.frames.map((f) => f.id), missed.map((e) => e.id), 'the missed events, replayed');
    // Then live: one more write.
    const answer = await api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(one.address)}/state`, { token: operator, body: { state: 'available' }, ifMatch: await farmEtag() });
    assert.equal(answer.status, 200, answer.text);
    const all = (await listEvents(`?since=${lastSeen}`)).events;
    await resumed.until(() => resumed.frames.length >= all.length, 10_000, 'the live events after the replay');
    const ids = resumed.frames.map((f) => f.id as number);
    assert.deepEqual(ids, all.map((e) => e.id), 'every event after Last-Event-ID once, in order');
    assert.equal(new Set([...seen, ...ids]).size, seen.length + ids.length, 'no duplicate across the reconnection');
    assert.equal(ids[0], lastSeen + 1, 'no gap across the reconnection');
    resumed.close();
    await within(resumed.closed, 10_000, 'the resumed stream closes');
  });

  test('an idle stream gets a heartbeat comment', async () => {
    const events = bus();
    events.heartbeatMs = 100;
    try {
      const idle = new StreamClient({ authorization: `Bearer ${viewer}` });
      await idle.until(() => idle.comments.filter((c) => c === 'heartbeat').length >= 2, 10_000, 'two heartbeats');
      assert.equal(idle.frames.length, 0, 'no event, only comments');
      idle.close();
      await within(idle.closed, 10_000, 'the idle stream closes');
    } finally {
      events.heartbeatMs = 15_000;
    }
  });

  test('the stream answers 401 without a token, 401 with an unknown one, 422 for a malformed Last-Event-ID', async () => {
    const none = new StreamClient({});
    await within(none.closed, 10_000, 'the 401 answer');
    assert.equal(none.status, 401);
    assert.match(String(none.headers['content-type']), /application\/problem\+json/);
    const unknown = new StreamClient({ authorization: 'Bearer not-a-token' });
    await within(unknown.closed, 10_000, 'the 401 answer');
    assert.equal(unknown.status, 401);
    const malformed = new StreamClient({ authorization: `Bearer ${viewer}`, 'last-event-id': 'yesterday' });
    await within(malformed.closed, 10_000, 'the 422 answer');
    assert.equal(malformed.status, 422);
    const doc = await api('GET', '/api/v1/openapi.json', { token: viewer });
    assert.ok(doc.json.paths['/events/stream'].get.responses['200'].content['text/event-stream'], 'documented as text/event-stream');
    assert.ok(doc.json.paths['/events'].get.responses['200'].content['application/json']);
  });

  test(`one user holds at most ${MAX_STREAMS_PER_USER} streams: the next is 429 too_many_streams with Retry-After, another user is not affected, and a closed one frees its place`, async () => {
    const events = bus();
    const before = events.subscribers;
    const held: StreamClient[] = [];
    try {
      for (let i = 0; i < MAX_STREAMS_PER_USER; i++) held.push(new StreamClient({ authorization: `Bearer ${viewer}` }));
      for (const stream of held) await stream.until(() => stream.retry !== undefined, 10_000, 'a stream opens');
      const refused = new StreamClient({ authorization: `Bearer ${viewer}` });
      await within(refused.closed, 10_000, 'the 429 answer');
      assert.equal(refused.status, 429);
      assert.match(String(refused.headers['content-type']), /application\/problem\+json/);
      assert.equal(refused.headers['retry-after'], '3');
      const other = new StreamClient({ authorization: `Bearer ${operator}` });
      held.push(other);
      await other.until(() => other.retry !== undefined, 10_000, "another user's stream opens");
      const first = held.shift() as StreamClient;
      first.close();
      await within(first.closed, 10_000, 'the closed stream ends');
      for (let i = 0; i < 500 && events.subscribers > before + MAX_STREAMS_PER_USER; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(events.subscribers, before + MAX_STREAMS_PER_USER, 'the server saw the stream close');
      const again = new StreamClient({ authorization: `Bearer ${viewer}` });
      held.push(again);
      await again.until(() => again.status !== 0, 10_000, 'the answer');
      assert.equal(again.status, 200);
    } finally {
      for (const stream of held) stream.close();
      await Promise.all(held.map((stream) => within(stream.closed, 10_000, 'a stream closes')));
      for (let i = 0; i < 500 && events.subscribers > before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(events.subscribers, before, 'every closed stream unsubscribed');
  });

  test('a client that stops reading is dropped (logged), another keeps receiving everything; a closed stream unsubscribes', async () => {
    const events = bus();
    const before = events.subscribers;
    events.maxStreamBufferBytes = 64 * 1024;
    try {
      const fast = new StreamClient({ authorization: `Bearer ${viewer}` });
      const slow = new StreamClient({ authorization: `Bearer ${viewer}` }, (res) => res.pause());
      await fast.until(() => fast.retry !== undefined, 10_000, 'the reading stream opens');
      await slow.until(() => slow.status === 200, 10_000, 'the stalled stream opens');
      for (let i = 0; i < 100 && events.subscribers < before + 2; i++) await turn();
      assert.equal(events.subscribers, before + 2);
      // Large events (as a worker's could be forwarded through publish) until the stalled client is dropped:
      // the kernel's socket buffers fill first, then Gatehouse's bound is passed. Bounded: at most 48 MB.
      const first = events.last + 1;
      const problem = 'p'.repeat(32 * 1024);
      let dropped = false;
      for (let i = 0; i < 1500 && !dropped; i++) {
        const { id } = events.publish({ type: 'reload', ok: false, problems: [problem], file: `synthetic-${i}` });
        // The reading client keeps up (each event arrives before the next is sent); the stalled one falls behind.
        await fast.until(() => (fast.frames.at(-1)?.id ?? 0) >= id, 10_000, `the reading client receives event ${id}`);
        dropped = running.events.some((line) => /events stream of token user watcher dropped: it does not read/.test(line));
      }
      assert.ok(dropped, 'the stalled client was dropped and logged');
      assert.equal(events.subscribers, before + 1, 'the dropped client is unsubscribed');
      const last = events.last;
      await fast.until(() => (fast.frames.at(-1)?.id ?? 0) >= last, 60_000, 'the reading client receives every event');
      assert.deepEqual(fast.frames.map((f) => f.id), Array.from({ length: last - first + 1 }, (_, i) => first + i));
      // Reading again, the stalled client gets what the kernel held, then the end: not every event.
      slow.response?.resume();
      await within(slow.closed, 30_000, 'the dropped connection closes');
      assert.ok((slow.frames.at(-1)?.id ?? 0) < last, `the dropped client stopped receiving (${slow.frames.length} events of ${last - first + 1})`);
      fast.close();
      await within(fast.closed, 10_000, 'the reading client closes');
      for (let i = 0; i < 500 && events.subscribers > before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(events.subscribers, before, 'a closed connection unsubscribes');
    } finally {
      events.maxStreamBufferBytes = 1024 * 1024;
    }
  });
});
