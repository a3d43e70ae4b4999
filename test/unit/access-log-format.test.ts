/** The access log formats: IIS's W3C extended format (exact lines, escaping, IPv6, sc-win32-status) and JSON lines. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jsonLine } from '../../src/tracing/access-log-json.js';
import { W3C_FIELDS, w3cField, w3cHeader, w3cLine } from '../../src/tracing/access-log-w3c.js';
import type { OutcomeCode } from '../../src/shared/outcome.js';
import { record, T0 } from './access-log-fixtures.js';

describe('W3C extended format', () => {
  test('the header is IIS\'s four lines; the fields are IIS\'s defaults in IIS\'s order, then Gatehouse\'s', () => {
    assert.equal(
      w3cHeader(T0),
      '#Software: Gatehouse\n' +
        '#Version: 1.0\n' +
        '#Date: 2024-03-05 06:07:08\n' +
        '#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken s-sitename c-port x-arr-log-id x-farm x-server x-client-cert-thumbprint\n',
    );
  });

  test('the exact line of a proxied request', () => {
    assert.equal(
      w3cLine(record()),
      '2024-03-05 06:07:08 10.0.0.1 GET /orders/42 expand=lines&x=1 443 - 192.0.2.10 Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) https://app.example.test/home 200 0 0 12 app 51234 7d4f3a2e-1b2c-4d5e-8f90-a1b2c3d4e5f6 web 10.0.1.5:8080 A1B2C3D4E5F60718293A4B5C6D7E8F9012345678\n',
    );
  });

  test('a request no site answered: `-` for every empty field, no query without `?`', () => {
    const line = w3cLine(record({ site: '', url: '/', userAgent: '', referer: '', status: 400, reason: "no site on 0.0.0.0:80 answers for host 'x'", farm: '', server: '', logId: '', thumbprint: '', timeTakenMs: 0.4, startEpochMs: T0 }));
    assert.equal(line, '2024-03-05 06:07:08 10.0.0.1 GET / - 443 - 192.0.2.10 - - 400 0 0 0 - 51234 - - - -\n');
    assert.equal(w3cLine(record({ url: '/x?' })).split(' ')[5], '-', 'an empty query');
  });

  test('spaces become `+`; quotes, CR, LF, tabs, controls and Unicode line separators are %-encoded; other UTF-8 stays', () => {
    assert.equal(w3cField('a b'), 'a+b');
    assert.equal(w3cField('say "hi"'), 'say+%22hi%22');
    assert.equal(w3cField('x\r\ny\tz\x00\x7f'), 'x%0D%0Ay%09z%00%7F');
    assert.equal(w3cField('a\u2028b\u2029c\u0085d'), 'a%E2%80%A8b%E2%80%A9c%C2%85d');
    assert.equal(w3cField('café/日本'), 'café/日本');
    assert.equal(w3cField(''), '-');
    const line = w3cLine(record({ userAgent: 'evil\r\n2024-01-01 00:00:00 forged "line"', referer: 'https://x/?q=a b', url: '/p a"th?q=1 2' }));
    assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
    assert.equal(line.split(' ').length, W3C_FIELDS.length, 'as many fields as #Fields names');
    const fields = line.trimEnd().split(' ');
    assert.equal(fields[4], '/p+a%22th');
    assert.equal(fields[5], 'q=1+2');
    assert.equal(fields[9], 'evil%0D%0A2024-01-01+00:00:00+forged+%22line%22');
    assert.equal(fields[10], 'https://x/?q=a+b');
  });

  test('IPv6 addresses as they are (no brackets, the port in its own field); IPv4-mapped ones as IPv4', () => {
    const v6 = w3cLine(record({ clientIp: '2001:db8::5', clientPort: 40000, localIp: '::1', localPort: 8443 })).trimEnd().split(' ');
    assert.equal(v6[2], '::1');
    assert.equal(v6[6], '8443');
    assert.equal(v6[8], '2001:db8::5');
    assert.equal(v6[16], '40000');
    const mapped = w3cLine(record({ clientIp: '::ffff:192.0.2.7', localIp: '::ffff:10.0.0.1' })).trimEnd().split(' ');
    assert.equal(mapped[2], '10.0.0.1');
    assert.equal(mapped[8], '192.0.2.7');
  });

  test('time-taken is whole milliseconds; date and time are when the request ended, UTC', () => {
    const fields = w3cLine(record({ startEpochMs: Date.UTC(2024, 11, 31, 23, 59, 59, 900), timeTakenMs: 1500.6 })).split(' ');
    assert.deepEqual(fields.slice(0, 2), ['2025-01-01', '00:00:01']);
    assert.equal(fields[14], '1501');
  });

  test('sc-win32-status comes from the outcome code: 64 when the client went away, WinHTTP errors of a failed forward, 0 otherwise', () => {
    const cases: [OutcomeCode, number][] = [
      ['forwarded', 0],
      ['ssl_required', 0],
      ['client_aborted', 64],
      ['response_timeout', 12002],
      ['connect_timeout', 12002],
      ['server_not_resolved', 12007],
      ['connect_refused', 12029],
      ['server_unreachable', 12029],
      ['response_aborted', 12030],
      ['server_reset', 12030],
      ['no_server', 0],
    ];
    for (const [outcome, status] of cases) assert.equal(w3cLine(record({ outcome })).split(' ')[13], String(status), outcome);
    assert.equal(w3cLine(record({ status: 502, subStatus: 3, outcome: 'connect_refused', reason: 'worded any way at all' })).split(' ').slice(11, 14).join(' '), '502 3 12029');
  });
});

describe('JSON lines', () => {
  test('one object per line: `time` (ISO, when the request ended) and every RequestRecord field, round-trip', () => {
    const r = record({ userAgent: 'a "quoted"\nnew line\u2028sep', url: '/a b?c="d"', clientIp: '::1', retriedFrom: '10.0.1.6:8080' });
    const line = jsonLine(r);
    assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    const { time, ...rest } = parsed;
    assert.equal(time, new Date(r.startEpochMs + r.timeTakenMs).toISOString());
    assert.equal(time, '2024-03-05T06:07:08.009Z');
    assert.deepEqual(rest, { ...r });
    assert.deepEqual(Object.keys(parsed), ['time', ...Object.keys(r)]);
  });
});
