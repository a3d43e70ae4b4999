/**
 * The buffered writer: one write in flight, batches gathered meanwhile, the 64 KB and 100 ms flushes,
 * the buffer cap with dropped lines counted and reported at most once a minute (injected clock), and
 * AccessLogs routing each site to its log.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULT_ACCESS_LOG_SETTINGS, type AccessLogSettings } from '../../src/config/access-log-schema.js';
import { AccessLog, AccessLogs, DROP_REPORT_INTERVAL_MS } from '../../src/tracing/access-log.js';
import { w3cLine } from '../../src/tracing/access-log-w3c.js';
import { capturedEvents, ManualSink, recordAt, T0 } from './access-log-fixtures.js';
import { tempDir } from '../support/temp.js';

const FOLDER: AccessLogSettings = { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'folder', rollover: 'daily' };
const FILE_SETTINGS: AccessLogSettings = { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'file', path: '/unused' };

function urlsOf(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(' ')[4] as string);
}

describe('buffered writing', () => {
  test('never more than one write in flight; the lines that arrive meanwhile go out in the next batch, in order', async () => {
    const sink = new ManualSink();
    const log = new AccessLog(FILE_SETTINGS, { sink, eventLog: capturedEvents(), now: () => T0 });
    for (let i = 0; i < 5; i++) log.write(recordAt(T0, { url: `/a${i}` }));
    log.flush();
    assert.equal(sink.inFlight, 1);
    for (let i = 0; i < 5; i++) log.write(recordAt(T0, { url: `/b${i}` }));
    log.flush();
    log.flush();
    assert.equal(sink.inFlight, 1, 'still one');
    const drained = log.drain();
    for (let i = 0; i < 10 && sink.release(); i++) await new Promise<void>((resolve) => setImmediate(resolve));
    await drained;
    assert.equal(sink.maxInFlight, 1);
    assert.equal(sink.written.length, 2, 'two batches');
    assert.deepEqual(urlsOf(sink.written.join('')), [...[0, 1, 2, 3, 4].map((i) => `/a${i}`), ...[0, 1, 2, 3, 4].map((i) => `/b${i}`)]);
    assert.equal(log.buffered, 0);
  });

  test('64 KB waiting starts a write at once, without the timer', () => {
    const sink = new ManualSink();
    const log = new AccessLog(FILE_SETTINGS, { sink, eventLog: capturedEvents(), flushBytes: 1000 });
    const lineLength = w3cLine(recordAt(T0)).length;
    const before = Math.floor(999 / lineLength);
    for (let i = 0; i < before; i++) log.write(recordAt(T0));
    assert.equal(sink.inFlight, 0);
    log.write(recordAt(T0));
    assert.equal(sink.inFlight, 1);
    sink.release();
  });

  test('100 ms after the first waiting line, the lines are written (mocked timers)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sink = new ManualSink();
    const log = new AccessLog(FILE_SETTINGS, { sink, eventLog: capturedEvents() });
    log.write(recordAt(T0));
    t.mock.timers.tick(99);
    log.write(recordAt(T0));
    assert.equal(sink.inFlight, 0);
    t.mock.timers.tick(1);
    assert.equal(sink.inFlight, 1);
    sink.release();
  });

  test('a destination slower than the traffic: the buffer stops at its cap, lines are dropped and counted, reported at most once a minute', async () => {
    const sink = new ManualSink();
    const events = capturedEvents();
    let clock = T0;
    const maxBufferBytes = 4000;
    const log = new AccessLog(FILE_SETTINGS, { sink, eventLog: events, now: () => clock, maxBufferBytes, flushBytes: 1000 });
    const lineLength = w3cLine(recordAt(T0, { url: '/000' })).length;
    const total = 100;
    for (let i = 0; i < total; i++) log.write(recordAt(T0, { url: `/${String(i).padStart(3, '0')}` }));
    assert.ok(log.buffered <= maxBufferBytes, `${log.buffered} buffered`);
    const accepted = Math.floor(maxBufferBytes / lineLength);
    assert.equal(log.dropped, total - accepted);
    assert.equal(events.lines.length, 1, events.lines.join('\n'));
    assert.match(events.lines[0] as string, /^warn access log manual: the destination is slower than the traffic; buffer full \(4 KB\): dropping lines$/);

    clock += DROP_REPORT_INTERVAL_MS - 1;
    log.write(recordAt(T0));
    assert.equal(events.lines.length, 1, 'not within the minute');
    clock += 1;
    log.write(recordAt(T0));
    assert.equal(events.lines.length, 2, events.lines.join('\n'));
    assert.equal(events.lines[1], `warn access log manual: ${total - accepted + 1} lines dropped (the destination is slower than the traffic)`);

    // The destination catches up: what was kept is written, in order.
    const drained = log.drain();
    for (let i = 0; i < 20 && sink.release(); i++) await new Promise<void>((resolve) => setImmediate(resolve));
    await drained;
    const urls = urlsOf(sink.written.join(''));
    assert.deepEqual(urls, Array.from({ length: accepted }, (_, i) => `/${String(i).padStart(3, '0')}`));
    log.write(recordAt(T0, { url: '/after' }));
    const closed = log.close();
    for (let i = 0; i < 5 && sink.release(); i++) await new Promise<void>((resolve) => setImmediate(resolve));
    await closed;
    assert.equal(urlsOf(sink.written.join('')).at(-1), '/after');
    assert.equal(log.dropped, total - accepted + 2);
  });

  test('close reports the lines dropped since the last report; writes after close are ignored', async () => {
    const sink = new ManualSink();
    const events = capturedEvents();
    const log = new AccessLog(FILE_SETTINGS, { sink, eventLog: events, now: () => T0, maxBufferBytes: 10 });
    log.write(recordAt(T0));
    log.write(recordAt(T0));
    await log.close();
    assert.deepEqual(events.lines.slice(1), ['warn access log manual: 2 lines dropped (the destination is slower than the traffic)']);
    log.write(recordAt(T0));
    assert.equal(log.dropped, 2);
    assert.equal(sink.inFlight, 0);
  });

  test('close does not hang on a destination that takes nothing: after closeTimeoutMs it reports what is lost (mocked timers)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const sink = new ManualSink();
    const events = capturedEvents();
    const log = new AccessLog(FILE_SETTINGS, { sink, eventLog: events, closeTimeoutMs: 2000 });
    log.write(recordAt(T0));
    log.flush();
    log.write(recordAt(T0));
    const closed = log.close();
    await new Promise<void>((resolve) => setImmediate(resolve));
    t.mock.timers.tick(2000);
    await closed;
    assert.equal(events.lines.length, 1, events.lines.join('\n'));
    assert.match(events.lines[0] as string, /^error access log manual: the destination took nothing for 2000 ms at stop; \d+ characters of lines not written$/);
    log.write(recordAt(T0));
    assert.equal(sink.inFlight, 1);
  });

  test('off: nothing is formatted or written', async () => {
    const log = new AccessLog({ ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'off' });
    assert.equal(log.enabled, false);
    log.write(recordAt(T0));
    assert.equal(log.buffered, 0);
    await log.close();
  });
});

describe('AccessLogs: one log per site', () => {
  test('a site without settings uses the top-level log, as do requests no site answered; same settings share a log; off is off', async (t) => {
    const dir = await tempDir(t);
    const events = capturedEvents();
    const top: AccessLogSettings = { ...FOLDER, path: join(dir, 'all') };
    const logs = new AccessLogs(
      top,
      [
        { name: 'a' },
        { name: 'b', accessLog: { ...FOLDER, path: join(dir, 'b'), format: 'json' } },
        { name: 'c', accessLog: { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'off' } },
        { name: 'd', accessLog: { ...top } },
      ],
      { eventLog: events, now: () => T0 },
    );
    assert.equal(logs.enabled, true);
    assert.deepEqual(['a', 'b', 'c', 'd', '', 'unknown'].map((s) => logs.enabledFor(s)), [true, true, false, true, true, true]);
    assert.equal(logs.logOf('d'), logs.logOf('a'), 'same destination, same writer');
    for (const site of ['a', 'b', 'c', 'd', '']) logs.write(recordAt(T0, { site, url: `/${site || 'none'}` }));
    await logs.close();
    assert.deepEqual(urlsOf(await readFile(join(dir, 'all', 'u_ex240305.log'), 'utf8')), ['/a', '/d', '/none']);
    const json = (await readFile(join(dir, 'b', 'u_ex240305.log'), 'utf8')).trim().split('\n');
    assert.deepEqual(json.map((l) => (JSON.parse(l) as { url: string }).url), ['/b']);
    assert.deepEqual((await readdir(dir)).sort(), ['all', 'b']);
    assert.deepEqual(events.lines, []);
  });

  test('the former target and everything off: not enabled', async () => {
    const logs = new AccessLogs({ kind: 'off' }, [{ name: 'a' }]);
    assert.equal(logs.enabled, false);
    logs.write(recordAt(T0, { site: 'a' }));
    await logs.close();
  });

  test('one destination with two different settings: the first apply, a warning says so', async (t) => {
    const dir = await tempDir(t);
    const events = capturedEvents();
    const logs = new AccessLogs({ ...FOLDER, path: dir }, [{ name: 'x', accessLog: { ...FOLDER, path: dir, format: 'json' } }], { eventLog: events });
    assert.equal(logs.logOf('x').settings.format, 'w3c');
    assert.equal(events.lines.length, 1);
    assert.match(events.lines[0] as string, /^warn access log .*: used with different settings/);
    await logs.close();
  });
});
