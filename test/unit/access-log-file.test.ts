/**
 * Access log files: IIS names, daily rollover by the logged time (no sleeps: the records carry the time
 * and the header clock is injected), size rollover, append-only with mode 0640, and a folder that cannot
 * be written (under a regular file, so permissions do not matter, root or not) reported once.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { DEFAULT_ACCESS_LOG_SETTINGS, type AccessLogSettings } from '../../src/config/access-log-schema.js';
import { iisFileName } from '../../src/tracing/access-log-file.js';
import { StreamSink } from '../../src/tracing/access-log-sink.js';
import { AccessLog } from '../../src/tracing/access-log.js';
import { w3cHeader } from '../../src/tracing/access-log-w3c.js';
import { capturedEvents, DAY, recordAt, T0 } from './access-log-fixtures.js';
import { tempDir } from '../support/temp.js';

function folder(path: string, more: Partial<AccessLogSettings> = {}): AccessLogSettings {
  return { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'folder', path, rollover: 'daily', ...more };
}

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
}

const HEADER_LINES = 4;

describe('file names', () => {
  test('u_exYYMMDD.log, u_exYYMMDD_N.log, u_extend1.log', () => {
    assert.equal(iisFileName('daily', Date.UTC(2024, 2, 5), false, 0), 'u_ex240305.log');
    assert.equal(iisFileName('size', Date.UTC(2031, 11, 31), false, 0), 'u_ex311231.log');
    assert.equal(iisFileName('size', Date.UTC(2024, 0, 9), false, 12), 'u_ex240109_12.log');
    assert.equal(iisFileName('none', Date.UTC(2024, 0, 9), false, 0), 'u_extend1.log');
  });
});

describe('daily rollover', () => {
  test('a new file per UTC day of the logged request, each with the header; lines of two days in one batch are split', async (t) => {
    const dir = await tempDir(t);
    const events = capturedEvents();
    let clock = T0;
    const log = new AccessLog(folder(join(dir, 'logs')), { eventLog: events, now: () => clock });
    log.write(recordAt(T0, { url: '/one' }));
    log.write(recordAt(T0 + 1000, { url: '/two' }));
    await log.drain();
    clock = T0 + DAY;
    log.write(recordAt(T0 + DAY, { url: '/three' }));
    await log.drain();
    // Two days in one batch: 23:59:59.5 on the 7th and 00:00:00.5 on the 8th.
    const midnight = Date.UTC(2024, 2, 8);
    log.write(recordAt(midnight - 500, { url: '/before-midnight' }));
    log.write(recordAt(midnight + 500, { url: '/after-midnight' }));
    await log.close();

    assert.deepEqual((await readdir(join(dir, 'logs'))).sort(), ['u_ex240305.log', 'u_ex240306.log', 'u_ex240307.log', 'u_ex240308.log']);
    const first = await lines(join(dir, 'logs', 'u_ex240305.log'));
    assert.deepEqual(first.slice(0, HEADER_LINES), w3cHeader(T0).trimEnd().split('\n'));
    assert.deepEqual(first.slice(HEADER_LINES).map((l) => l.split(' ')[4]), ['/one', '/two']);
    const second = await lines(join(dir, 'logs', 'u_ex240306.log'));
    assert.equal(second[2], '#Date: 2024-03-06 06:07:08', 'the header time is the clock\'s');
    assert.deepEqual(second.slice(HEADER_LINES).map((l) => l.split(' ')[4]), ['/three']);
    assert.deepEqual((await lines(join(dir, 'logs', 'u_ex240307.log'))).slice(HEADER_LINES).map((l) => l.split(' ')[4]), ['/before-midnight']);
    assert.deepEqual((await lines(join(dir, 'logs', 'u_ex240308.log'))).slice(HEADER_LINES).map((l) => l.split(' ')[4]), ['/after-midnight']);
    assert.deepEqual(events.lines, []);
  });

  test('a request logged late with an earlier time stays in the current file (the day never goes back)', async (t) => {
    const dir = await tempDir(t);
    const log = new AccessLog(folder(dir), { eventLog: capturedEvents(), now: () => T0 });
    log.write(recordAt(T0 + DAY, { url: '/new-day' }));
    log.write(recordAt(T0, { url: '/late' }));
    await log.close();
    assert.deepEqual(await readdir(dir), ['u_ex240306.log']);
    assert.deepEqual((await lines(join(dir, 'u_ex240306.log'))).slice(HEADER_LINES).map((l) => l.split(' ')[4]), ['/new-day', '/late']);
  });

  test('localTime: file names and the rollover follow the local day; the date and time fields stay UTC', async (t) => {
    const savedTz = process.env.TZ;
    process.env.TZ = 'Asia/Tokyo'; // UTC+9, no daylight saving time
    t.after(() => {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
    });
    const dir = await tempDir(t);
    const at = Date.UTC(2024, 2, 5, 20, 0, 0); // 2024-03-06 05:00 in Tokyo
    const local = new AccessLog(folder(join(dir, 'local'), { localTime: true }), { eventLog: capturedEvents(), now: () => at });
    const utc = new AccessLog(folder(join(dir, 'utc')), { eventLog: capturedEvents(), now: () => at });
    for (const log of [local, utc]) {
      log.write(recordAt(at));
      await log.close();
    }
    assert.deepEqual(await readdir(join(dir, 'local')), ['u_ex240306.log']);
    assert.deepEqual(await readdir(join(dir, 'utc')), ['u_ex240305.log']);
    const [line] = (await lines(join(dir, 'local', 'u_ex240306.log'))).slice(HEADER_LINES);
    assert.deepEqual(line?.split(' ').slice(0, 2), ['2024-03-05', '20:00:00']);
  });
});

describe('files', () => {
  test('appended, never truncated: an existing file keeps its lines and gets the header again (as IIS on restart)', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'u_ex240305.log'), '#Software: Gatehouse\nold line\n');
    const log = new AccessLog(folder(dir), { eventLog: capturedEvents(), now: () => T0 });
    log.write(recordAt(T0));
    await log.close();
    const all = await lines(join(dir, 'u_ex240305.log'));
    assert.deepEqual(all.slice(0, 2), ['#Software: Gatehouse', 'old line']);
    assert.equal(all[2], '#Software: Gatehouse');
    assert.equal(all.length, 2 + HEADER_LINES + 1);
  });

  test('created with mode 0640 in a folder created when missing; a log without lines creates no file', async (t) => {
    const dir = await tempDir(t);
    const idle = new AccessLog(folder(join(dir, 'idle')), { eventLog: capturedEvents() });
    await idle.close();
    await assert.rejects(stat(join(dir, 'idle')), { code: 'ENOENT' });
    const log = new AccessLog(folder(join(dir, 'a', 'b')), { eventLog: capturedEvents(), now: () => T0 });
    log.write(recordAt(T0));
    await log.close();
    const mode = (await stat(join(dir, 'a', 'b', 'u_ex240305.log'))).mode & 0o777;
    assert.equal(mode, 0o640 & ~process.umask());
  });

  test('rollover none: one file, u_extend1.log; a .log destination: exactly that file', async (t) => {
    const dir = await tempDir(t);
    const none = new AccessLog(folder(join(dir, 'none'), { rollover: 'none' }), { eventLog: capturedEvents(), now: () => T0 });
    none.write(recordAt(T0));
    none.write(recordAt(T0 + 3 * DAY));
    await none.close();
    assert.deepEqual(await readdir(join(dir, 'none')), ['u_extend1.log']);
    assert.equal((await lines(join(dir, 'none', 'u_extend1.log'))).length, HEADER_LINES + 2);

    const file = join(dir, 'sub', 'access.log');
    const single = new AccessLog({ ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'file', path: file, rollover: 'daily' }, { eventLog: capturedEvents(), now: () => T0 });
    single.write(recordAt(T0));
    single.write(recordAt(T0 + DAY));
    await single.close();
    assert.deepEqual(await readdir(join(dir, 'sub')), ['access.log']);
    assert.equal((await lines(file)).length, HEADER_LINES + 2);
  });

  test('the former target form: `{ kind: file, path }` is one W3C file', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'legacy.log');
    const log = new AccessLog({ kind: 'file', path: file }, { eventLog: capturedEvents(), now: () => T0 });
    assert.equal(log.enabled, true);
    log.write(recordAt(T0));
    await log.close();
    const all = await lines(file);
    assert.equal(all[0], '#Software: Gatehouse');
    assert.equal(all.length, HEADER_LINES + 1);
    assert.equal(new AccessLog({ kind: 'off' }).enabled, false);
  });

  test('JSON files have no header', async (t) => {
    const dir = await tempDir(t);
    const log = new AccessLog(folder(dir, { format: 'json' }), { eventLog: capturedEvents(), now: () => T0 });
    log.write(recordAt(T0, { url: '/j' }));
    await log.close();
    const all = await lines(join(dir, 'u_ex240305.log'));
    assert.equal(all.length, 1);
    assert.equal((JSON.parse(all[0] as string) as { url: string }).url, '/j');
  });
});

describe('size rollover', () => {
  test('whole lines, no file over maxSize, each file with its header: u_exYYMMDD.log, _1, _2, …; a new day starts over', async (t) => {
    const dir = await tempDir(t);
    const maxSizeBytes = 1024;
    const settings = folder(dir, { rollover: 'size', maxSizeBytes });
    const log = new AccessLog(settings, { eventLog: capturedEvents(), now: () => T0 });
    const count = 20;
    for (let i = 0; i < count; i++) log.write(recordAt(T0 + i, { url: `/n${i}` }));
    await log.drain();
    log.write(recordAt(T0 + DAY, { url: '/next-day' }));
    await log.close();

    const indexOf = (name: string) => Number(/_(\d+)\.log$/.exec(name)?.[1] ?? 0);
    const names = (await readdir(dir)).sort((a, b) => a.slice(0, 10).localeCompare(b.slice(0, 10)) || indexOf(a) - indexOf(b));
    const day1 = names.filter((n) => n.startsWith('u_ex240305'));
    assert.ok(day1.length >= 3, names.join(' '));
    assert.deepEqual(day1, day1.map((_, i) => (i === 0 ? 'u_ex240305.log' : `u_ex240305_${i}.log`)));
    const urls: string[] = [];
    for (const name of day1) {
      const size = (await stat(join(dir, name))).size;
      assert.ok(size <= maxSizeBytes, `${name}: ${size} bytes`);
      const all = await lines(join(dir, name));
      assert.equal(all[0], '#Software: Gatehouse', name);
      urls.push(...all.filter((l) => !l.startsWith('#')).map((l) => l.split(' ')[4] as string));
    }
    assert.deepEqual(urls, Array.from({ length: count }, (_, i) => `/n${i}`), 'every line once, in order');
    assert.ok(names.includes('u_ex240306.log'), names.join(' '));

    // A restart goes on after the full files, and a line larger than maxSize gets a file of its own.
    const again = new AccessLog(settings, { eventLog: capturedEvents(), now: () => T0 });
    again.write(recordAt(T0, { url: `/${'x'.repeat(2000)}` }));
    again.write(recordAt(T0, { url: '/small' }));
    await again.close();
    const after = (await readdir(dir)).filter((n) => n.startsWith('u_ex240305'));
    assert.ok(after.length >= day1.length + 1, after.join(' '));
    for (const name of day1.slice(0, -1)) assert.ok((await stat(join(dir, name))).size <= maxSizeBytes, name);
  });
});

describe('failures', () => {
  test('an unwritable folder (under a regular file: ENOTDIR, for any user) is reported once; writing goes on without effect', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'a-file'), 'not a folder\n');
    const events = capturedEvents();
    const log = new AccessLog(folder(join(dir, 'a-file', 'logs')), { eventLog: events, now: () => T0 });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) assert.doesNotThrow(() => log.write(recordAt(T0 + i)));
      await log.drain();
    }
    await log.close();
    assert.equal(log.failed, true);
    assert.equal(events.lines.length, 1, events.lines.join('\n'));
    assert.match(events.lines[0] as string, /^error access log .*a-file[\\/]logs: ENOTDIR\b.*; access logging to it stopped/);
    assert.equal(log.buffered, 0, 'nothing kept after the failure');
  });

  test('a single file that cannot be opened (a folder in its place) is reported once', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'taken.log'));
    const events = capturedEvents();
    const log = new AccessLog({ kind: 'file', path: join(dir, 'taken.log') }, { eventLog: events });
    log.write(recordAt(T0));
    await log.drain();
    log.write(recordAt(T0));
    await log.close();
    assert.equal(events.lines.length, 1, events.lines.join('\n'));
    assert.match(events.lines[0] as string, /EISDIR/);
  });
});

describe('streams', () => {
  test('stdout/stderr: the W3C header once at start, then the lines', async (t) => {
    const stream = new PassThrough();
    let out = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const log = new AccessLog({ ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'stdout' }, { eventLog: capturedEvents(), now: () => T0, sink: new StreamSink(stream, 'stdout') });
    log.write(recordAt(T0, { url: '/a' }));
    await log.drain();
    log.write(recordAt(T0 + DAY, { url: '/b' }));
    await log.close();
    t.after(() => stream.destroy());
    const all = out.split('\n').filter(Boolean);
    assert.deepEqual(all.slice(0, HEADER_LINES), w3cHeader(T0).trimEnd().split('\n'));
    assert.deepEqual(all.slice(HEADER_LINES).map((l) => l.split(' ')[4]), ['/a', '/b']);
    assert.equal(all.filter((l) => l.startsWith('#Fields')).length, 1);
  });

  test('a stream that fails (EPIPE) is reported once and does not crash', async () => {
    const stream = new PassThrough();
    const events = capturedEvents();
    const log = new AccessLog({ ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'stderr', format: 'json' }, { eventLog: events, sink: new StreamSink(stream, 'stderr') });
    stream.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    log.write(recordAt(T0));
    await log.drain();
    log.write(recordAt(T0));
    await log.close();
    assert.equal(events.lines.length, 1, events.lines.join('\n'));
    assert.match(events.lines[0] as string, /^error access log stderr: .*EPIPE/);
  });
});
