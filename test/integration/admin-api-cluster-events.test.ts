/**
 * The admin API's events with workers: 2, against the real command line (a primary and two worker
 * processes): GET /events answers (no longer 501); a drain and a health mark through the API appear once
 * (the admin event, and one state or health event: the change is applied alike in both workers); a SIGHUP
 * reload appears once as a reload event, with once the state change it made; a backend that stops fails
 * the URL health test in each worker: one health event per worker, naming it; a burst of 403.16 answers
 * spread over both workers is summarised by the primary with the summed count (no worker's count twice);
 * the primary's stream receives every event live, as GET /events lists them; and GET /client-certificates
 * merges both workers' inventories: each certificate once, its connections and refusals summed.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { GatehouseEvent } from '../../src/admin/events.js';
import { startBackend, type Backend } from '../support/backends.js';
import { send } from '../support/clients.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { startCluster, stopCluster, type RunningCluster } from './admin-api-cluster-helpers.js';
import { apiClient, makeToken } from './admin-api-helpers.js';
import { eventsConfig, StreamClient } from './admin-api-events-helpers.js';

let pki: TestPki;
let backends: Backend[];
let cluster: RunningCluster;
let configFile: string;
let operator: string;
let viewer: string;
let api: ReturnType<typeof apiClient>;
let stream: StreamClient;
let start = 0;
let twoClosed = false;

const NAMES = ['one', 'two', 'three'] as const;
const address = (name: (typeof NAMES)[number]) => (backends[NAMES.indexOf(name)] as Backend).address;
const serverPath = (name: (typeof NAMES)[number]) => `/api/v1/farms/web/servers/${encodeURIComponent(address(name))}`;

function configText(thirdState: string, tokenFiles: { ops: string; watcher: string }): string {
  const servers = `{ address: ${address('one')} }, { address: ${address('two')} }, { address: ${address('three')}, state: ${thirdState} }`;
  return eventsConfig(pki, tokenFiles, `    healthCheck: { url: /health, interval: 300ms, timeout: 2s }\n    servers: [${servers}]\n`, 'workers: 2\ndrainTimeout: 2s\n');
}

/** The events the stream received since the test began. */
const seen = (): GatehouseEvent[] => stream.events.filter((event) => event.id > start);

async function farmEtag(): Promise<string> {
  const farm = await api('GET', '/api/v1/farms/web', { token: operator });
  assert.equal(farm.status, 200, farm.text);
  return farm.headers.etag as string;
}

let writeFiles: (thirdState: string) => Promise<void>;

before(async () => {
  pki = await createTestPki();
  backends = await Promise.all(NAMES.map((name) => startBackend(name, (_req, res, backend) => res.end(backend.name))));
  const ops = await makeToken(pki.dir, 'ops');
  const watcher = await makeToken(pki.dir, 'watcher');
  operator = ops.token;
  viewer = watcher.token;
  configFile = join(pki.dir, 'cluster-events.yaml');
  writeFiles = (thirdState) => writeFile(configFile, configText(thirdState, { ops: ops.file, watcher: watcher.file }));
  await writeFiles('available');
  cluster = await startCluster(configFile, pki.dir);
  api = apiClient(() => cluster.adminUrl, pki.caFile);
});

after(async () => {
  stream?.close();
  await stopCluster(cluster?.cli);
  await Promise.all((backends ?? []).filter((backend) => !(twoClosed && backend.name === 'two')).map((backend) => backend.close()));
  await pki?.cleanup();
});

test('GET /events answers on the primary (no longer 501), and its stream opens', async () => {
  const listed = await api('GET', '/api/v1/events', { token: viewer });
  assert.equal(listed.status, 200, listed.text);
  start = listed.json.last;
  stream = new StreamClient(cluster.adminUrl, pki.caFile, { authorization: `Bearer ${viewer}` });
  await stream.until(() => stream.retry !== undefined, 10_000, 'the stream opens');
  assert.equal(stream.status, 200);
  assert.equal((await api('GET', '/api/v1/events')).status, 401);
});

test('a drain and a health mark through the API appear once: the admin event, and one state or health event by the user', async () => {
  const drained = await api('PUT', `${serverPath('one')}/state`, { token: operator, body: { state: 'drain' }, ifMatch: await farmEtag() });
  assert.equal(drained.status, 200, drained.text);
  await stream.until(() => seen().some((e) => e.type === 'admin' && e.action === 'setServerState'), 10_000, 'the drain\'s admin event');
  const marked = await api('POST', `${serverPath('one')}/health`, { token: operator, body: { healthy: false }, ifMatch: await farmEtag() });
  assert.equal(marked.status, 200, marked.text);
  await stream.until(() => seen().some((e) => e.type === 'admin' && e.action !== 'setServerState'), 10_000, 'the health mark\'s admin event');

  const events = seen();
  const admin = events.filter((e) => e.type === 'admin');
  assert.equal(admin.length, 2, `two admin writes, each once: ${JSON.stringify(admin)}`);
  assert.ok(admin.every((e) => e.type === 'admin' && e.who === 'token user ops' && e.result === 'applied' && e.worker === undefined));
  const states = events.filter((e) => e.type === 'state' && e.server === address('one'));
  assert.equal(states.length, 1, `the drain's state change once, not once per worker: ${JSON.stringify(states)}`);
  assert.deepEqual(
    states.map((e) => e.type === 'state' && [e.from, e.to, e.by, e.worker]),
    [['available', 'drain', 'token user ops', undefined]],
    'by the admin user: the worker applied it attributed',
  );
  const marks = events.filter((e) => e.type === 'health' && e.source === 'admin');
  assert.equal(marks.length, 1, `the mark once: ${JSON.stringify(marks)}`);
  assert.ok(marks[0]?.type === 'health' && !marks[0].healthy && marks[0].server === address('one') && /ops/.test(marks[0].reason));
  const index = (e: GatehouseEvent | undefined) => events.indexOf(e as GatehouseEvent);
  assert.ok(index(states[0]) < index(admin[0]) && index(admin[0]) < index(marks[0]) && index(marks[0]) < index(admin[1]), 'in the order they happened');
});

test('a SIGHUP reload appears once as a reload event, with once the state change it made', async () => {
  const from = cluster.cli.lines('stderr').length;
  await writeFiles('unavailable');
  cluster.cli.child.kill('SIGHUP');
  await cluster.cli.waitForLine('stderr', /^gatehouse: 2 workers reloaded from /, from, 30_000);
  await stream.until(() => seen().some((e) => e.type === 'reload'), 10_000, 'the reload event');
  const events = seen();
  const reloads = events.filter((e) => e.type === 'reload');
  assert.equal(reloads.length, 1, `one reload event for the cluster, not one per worker: ${JSON.stringify(reloads)}`);
  assert.ok(reloads[0]?.type === 'reload' && reloads[0].ok && reloads[0].file === configFile && reloads[0].problems.length === 0 && reloads[0].worker === undefined);
  const states = events.filter((e) => e.type === 'state' && e.server === address('three'));
  assert.equal(states.length, 1, `the reload's state change once: ${JSON.stringify(states)}`);
  assert.ok(states[0]?.type === 'state' && states[0].from === 'available' && states[0].to === 'unavailable' && states[0].by.startsWith('config reload'));
  assert.ok(events.indexOf(states[0] as GatehouseEvent) < events.indexOf(reloads[0] as GatehouseEvent), 'the state change, then the reload');
});

test('a server that stops fails the URL health test in each worker: one health event per worker, naming it', async () => {
  const two = backends[1] as Backend;
  twoClosed = true;
  await two.close();
  const failed = () => seen().filter((e) => e.type === 'health' && e.server === two.address && !e.healthy && e.source === 'urlTest');
  await stream.until(() => new Set(failed().map((e) => e.worker)).size >= 2, 20_000, 'both workers\' health events');
  assert.deepEqual([...new Set(failed().map((e) => e.worker))].sort(), [...cluster.workerPids].sort(), 'each worker\'s verdict, with its pid');
  const view = await api('GET', '/api/v1/farms/web', { token: viewer });
  assert.equal(view.json.servers.find((s: { address: string }) => s.address === two.address).health, 'unhealthy');
});

test('a burst of 403.16 answers over both workers is summarised once by the primary, with the summed count', async () => {
  const burst = 6;
  const url = `${cluster.siteUrls.get('badges')}/`;
  // At once, each on a new connection: the primary hands connections to the workers in turn.
  const answers = await Promise.all(Array.from({ length: burst }, () => send(url, { ca: pki.root.certPem, clientCert: pki.clients.untrusted })));
  for (const answer of answers) {
    assert.equal(answer.status, 403);
    assert.match(answer.body.toString(), /403\.16/);
  }
  const counted = () =>
    seen()
      .filter((e) => e.type === 'rejections')
      .reduce((sum, e) => sum + (e.type === 'rejections' ? e.counts.filter((c) => c.site === 'badges' && c.status === '403.16').reduce((n, c) => n + c.count, 0) : 0), 0);
  // The primary's summary timer reads the workers' counters every 10 s.
  await stream.until(() => counted() >= burst, 30_000, 'the rejections summary');
  const summaries = seen().filter((e) => e.type === 'rejections');
  assert.equal(counted(), burst, `every answer counted once across the workers: ${JSON.stringify(summaries)}`);
  assert.ok(summaries.every((e) => e.worker === undefined), 'summarised by the primary, none forwarded by a worker');
  // One summary, unless the burst happened to straddle the timer's tick.
  assert.ok(summaries.length >= 1 && summaries.length <= 2, JSON.stringify(summaries));
  const both = await api('GET', '/metrics', {});
  const total = [...both.text.matchAll(/^gatehouse_rejections_total\{([^}]*)\} (\d+)$/gm)].filter((m) => /site="badges"/.test(m[1] as string) && /substatus="16"/.test(m[1] as string)).reduce((n, m) => n + Number(m[2]), 0);
  assert.equal(total, burst, '/metrics sums the same counter over the workers');
});

test('GET /client-certificates merges both workers: each certificate once, connections and refusals summed', async () => {
  // A server to answer them (one is drained and was marked unhealthy, two stopped, three unavailable): one is back.
  const back = await api('PUT', `${serverPath('one')}/state`, { token: operator, body: { state: 'available' }, ifMatch: await farmEtag() });
  assert.equal(back.status, 200, back.text);
  const healthy = await api('POST', `${serverPath('one')}/health`, { token: operator, body: { healthy: true }, ifMatch: await farmEtag() });
  assert.equal(healthy.status, 200, healthy.text);
  // The rejections test sent 6 connections with the untrusted certificate; now 4 with a valid one, each new.
  const url = `${cluster.siteUrls.get('badges')}/`;
  const accepted = await Promise.all(Array.from({ length: 4 }, () => send(url, { ca: pki.root.certPem, clientCert: pki.clients.valid })));
  assert.deepEqual(accepted.map((answer) => answer.status), [200, 200, 200, 200]);
  const answer = await api('GET', '/api/v1/client-certificates', { token: viewer });
  assert.equal(answer.status, 200, answer.text);
  const entries = answer.json.clientCertificates as { subject: string; connections: number; requests: number; lastVerdict: string; rejections: Record<string, number>; sites: string[]; thumbprintSha256: string }[];
  assert.equal(entries.length, 2, `each certificate once, not once per worker: ${answer.text}`);
  assert.equal(new Set(entries.map((entry) => entry.thumbprintSha256)).size, 2);
  const alice = entries.find((entry) => entry.subject.includes('CN=Alice Badge'));
  const mallory = entries.find((entry) => entry.subject === 'CN=Mallory');
  assert.ok(alice && mallory, answer.text);
  assert.deepEqual([alice.connections, alice.requests, alice.lastVerdict, alice.rejections, alice.sites], [4, 4, 'accepted', {}, ['badges']], 'the connections of both workers, summed');
  assert.deepEqual([mallory.connections, mallory.lastVerdict, mallory.rejections, mallory.sites], [6, 'untrusted', { '403.16': 6 }, ['badges']]);
  assert.equal(entries[0]?.subject, alice.subject, 'most recently seen first');
});

test('the primary\'s stream received every event live, as GET /events lists them', async () => {
  const listed = await api('GET', `/api/v1/events?since=${start}`, { token: viewer });
  assert.equal(listed.status, 200, listed.text);
  const events = listed.json.events as GatehouseEvent[];
  assert.deepEqual(events.map((e) => e.id), events.map((_, i) => start + 1 + i), 'consecutive ids, given by the primary');
  await stream.until(() => (stream.frames.at(-1)?.id ?? 0) >= listed.json.last, 10_000, 'the stream has every event');
  assert.deepEqual(seen().slice(0, events.length), events);
  assert.deepEqual(stream.frames.filter((f) => (f.id ?? 0) > start).slice(0, events.length).map((f) => f.event), events.map((e) => e.type));
});
