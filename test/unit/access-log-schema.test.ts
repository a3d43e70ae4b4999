/** The access log settings: the schema (string or mapping, top level and per site), normalizing with inheritance, conflicts. */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import {
  accessLogConflicts,
  accessLogSettingsOfTarget,
  DEFAULT_ACCESS_LOG_SETTINGS,
  normalizeAccessLogSettings,
  siteAccessLogSchema,
  topLevelAccessLogSchema,
  type AccessLogSettings,
} from '../../src/config/access-log-schema.js';
import { schemaProblems } from '../../src/config/schema-problems.js';

const DIR = resolve('/etc/gatehouse');
// The config's shape as far as the access log goes: a top-level default and per-site overrides.
const configLike = z.strictObject({ accessLog: topLevelAccessLogSchema, sites: z.array(z.strictObject({ name: z.string(), accessLog: siteAccessLogSchema })).default([]) });

function load(raw: unknown): { top: AccessLogSettings; sites: AccessLogSettings[] } {
  const declared = configLike.parse(raw);
  const top = normalizeAccessLogSettings(declared.accessLog, DIR);
  return { top, sites: declared.sites.map((s) => normalizeAccessLogSettings(s.accessLog, DIR, top)) };
}

function problemsOf(raw: unknown): string[] {
  const result = configLike.safeParse(raw, { reportInput: true });
  assert.equal(result.success, false);
  return schemaProblems(result.error?.issues ?? []).map((p) => `${[...p.path, ...(p.key === undefined ? [] : [p.key])].join('.')}: ${p.message}${p.expected ? ` (expected ${p.expected})` : ''}`);
}

describe('the former string form still works', () => {
  test('absent: stdout, W3C', () => {
    assert.deepEqual(load({}).top, DEFAULT_ACCESS_LOG_SETTINGS);
    assert.deepEqual(DEFAULT_ACCESS_LOG_SETTINGS, { kind: 'stdout', path: '', format: 'w3c', rollover: 'daily', maxSizeBytes: 10_240 * 1024, localTime: false });
  });

  test('stdout, stderr, off', () => {
    for (const kind of ['stdout', 'stderr', 'off'] as const) assert.deepEqual(load({ accessLog: kind }).top, { ...DEFAULT_ACCESS_LOG_SETTINGS, kind });
  });

  test('a path ending in .log: exactly that file (relative to the config), never rolled over', () => {
    const { top } = load({ accessLog: 'logs/Access.LOG' });
    assert.equal(top.kind, 'file');
    assert.equal(top.path, resolve(DIR, 'logs/Access.LOG'));
    assert.deepEqual(load({ accessLog: '/var/log/gatehouse.log' }).top.path, resolve('/var/log/gatehouse.log'));
  });

  test('any other path: a folder of IIS-style daily files', () => {
    const { top } = load({ accessLog: 'logs' });
    assert.deepEqual(top, { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'folder', path: resolve(DIR, 'logs'), rollover: 'daily' });
  });

  test('the former AccessLogTarget maps to the same settings', () => {
    assert.deepEqual(accessLogSettingsOfTarget({ kind: 'file', path: '/x/a.log' }), { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'file', path: '/x/a.log' });
    assert.deepEqual(accessLogSettingsOfTarget({ kind: 'off' }), { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'off' });
  });
});

describe('the mapping form and inheritance', () => {
  test('every key', () => {
    const { top } = load({ accessLog: { destination: 'logs', format: 'json', rollover: 'size', maxSizeKB: 512, localTime: true } });
    assert.deepEqual(top, { kind: 'folder', path: resolve(DIR, 'logs'), format: 'json', rollover: 'size', maxSizeBytes: 512 * 1024, localTime: true });
  });

  test('a site overrides the top level key by key', () => {
    const { top, sites } = load({
      accessLog: { destination: 'logs', rollover: 'size', maxSizeKB: 100 },
      sites: [
        { name: 'same' },
        { name: 'json', accessLog: { format: 'json' } },
        { name: 'own', accessLog: 'site-logs' },
        { name: 'quiet', accessLog: 'off' },
        { name: 'one-file', accessLog: { destination: 'one.log' } },
      ],
    });
    const [same, json, own, quiet, oneFile] = sites;
    assert.equal(same, top);
    assert.deepEqual(json, { ...top, format: 'json' });
    assert.deepEqual(own, { ...top, path: resolve(DIR, 'site-logs') });
    assert.equal(quiet?.kind, 'off');
    assert.deepEqual([oneFile?.kind, oneFile?.path], ['file', resolve(DIR, 'one.log')]);
  });

  test('a folder under a stdout default still rolls daily; settings of a stream default carry to the sites', () => {
    const { sites } = load({ accessLog: { format: 'json', localTime: true }, sites: [{ name: 'a', accessLog: 'logs' }] });
    assert.deepEqual(sites[0], { kind: 'folder', path: resolve(DIR, 'logs'), format: 'json', rollover: 'daily', maxSizeBytes: 10_240 * 1024, localTime: true });
  });
});

describe('schema problems', () => {
  test('each with its key path and what was expected', () => {
    assert.deepEqual(problemsOf({ accessLog: { format: 'xml' } }), ['accessLog.format: \'xml\' is not allowed (expected one of: w3c, json)']);
    assert.deepEqual(problemsOf({ accessLog: { rollover: 'hourly' } }), ['accessLog.rollover: \'hourly\' is not allowed (expected one of: daily, size, none)']);
    assert.deepEqual(problemsOf({ accessLog: { destination: 'x', maxSizeKB: 0 } }), ['accessLog.maxSizeKB: 0 is too small (expected at least 1)']);
    assert.deepEqual(problemsOf({ accessLog: { folder: 'x' } }), ['accessLog.folder: unknown key (expected only the keys listed in docs/config-reference.md)']);
    assert.deepEqual(problemsOf({ accessLog: '' }), ['accessLog.destination: empty string (expected a non-empty value)']);
    assert.deepEqual(problemsOf({ accessLog: 5 }), ['accessLog: 5 has the wrong type (expected a mapping of keys)']);
    assert.deepEqual(problemsOf({ sites: [{ name: 'a', accessLog: { destination: 'a.log', rollover: 'daily' } }] }), [
      'sites.0.accessLog.rollover: \'daily\' is not possible for a destination that is one file (a.log) (expected `none`, or a folder as `destination`)',
    ]);
  });

  test('the reference documents the keys (a mapping with the string default)', () => {
    const json = z.toJSONSchema(configLike, { io: 'input', unrepresentable: 'any' }) as unknown as { properties: { accessLog: { type: string; default: unknown; properties: Record<string, unknown> } } };
    assert.equal(json.properties.accessLog.type, 'object');
    assert.equal(json.properties.accessLog.default, 'stdout');
    assert.deepEqual(Object.keys(json.properties.accessLog.properties), ['destination', 'format', 'rollover', 'maxSizeKB', 'localTime']);
  });
});

describe('conflicts', () => {
  test('one file or folder with two different settings is a problem; the same settings, streams and off are not', () => {
    const folder: AccessLogSettings = { ...DEFAULT_ACCESS_LOG_SETTINGS, kind: 'folder', path: '/logs' };
    const problems = accessLogConflicts([
      { path: ['accessLog'], settings: folder },
      { path: ['sites', 0, 'accessLog'], settings: { ...folder } },
      { path: ['sites', 1, 'accessLog'], settings: { ...folder, format: 'json' } },
      { path: ['sites', 2, 'accessLog'], settings: { ...folder, path: '/other', format: 'json' } },
      { path: ['sites', 3, 'accessLog'], settings: DEFAULT_ACCESS_LOG_SETTINGS },
      { path: ['sites', 4, 'accessLog'], settings: { ...DEFAULT_ACCESS_LOG_SETTINGS, format: 'json' } },
    ]);
    assert.equal(problems.length, 1);
    assert.deepEqual(problems[0]?.path, ['sites', 1, 'accessLog']);
    assert.match(problems[0]?.message ?? '', /writes to \/logs like accessLog, with other settings/);
  });
});
