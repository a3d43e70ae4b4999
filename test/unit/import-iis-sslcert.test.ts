/**
 * The `netsh http show sslcert` reader: samples as Windows Server 2019/2022 print them (English), with CRLF
 * line endings, and as PowerShell's `>` saves them (UTF-16LE with a BOM).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSslCertBytes, findSslCert, parseSslCert, sourceOf, type SslCertEntry } from '../../src/import/iis/sslcert.js';
import { Report, formatReportLine } from '../../src/import/iis/report.js';
import { netshEntry, netshLine } from './import-iis-netsh-samples.js';

const crlf = (lines: readonly string[]): string => lines.join('\r\n');

/** Four entries: every IPv4 address, every IPv6 address, an SNI host name, and the Central Certificate Store. */
const SAMPLE = crlf([
  '',
  'SSL Certificate bindings:',
  '-------------------------',
  '',
  ...netshEntry('IP:port', '0.0.0.0:443'),
  '    Extended Properties:',
  netshLine('PropertyId', '0'),
  netshLine('Receive Window', '1048576'),
  '',
  ...netshEntry('IP:port', '[::]:443', { 'Verify Client Certificate Revocation': 'Disabled' }, 12),
  '',
  ...netshEntry(
    'Hostname:port',
    'www.example.com:443',
    {
      'Certificate Hash': 'a1 b2 c3 d4 e5 f6 07 18 29 3a 4b 5c 6d 7e 8f 90 a1 b2 c3 d4',
      'Certificate Store Name': 'WebHosting',
      'Verify Revocation Using Cached Client Certificate Only': 'Enabled',
      'Revocation Freshness Time': '3600',
      'URL Retrieval Timeout': '10000',
      'Ctl Identifier': 'PartnerCAs',
      'Ctl Store Name': 'Root',
      'Negotiate Client Certificate': 'Enabled',
      'Disable HTTP2': 'Set',
    },
    14,
  ),
  '',
  ...netshEntry('Central Certificate Store', '8443', { 'Certificate Hash': '(null)', 'Certificate Store Name': '(null)' }, 8),
  '',
  '',
]);

function parse(text: string): { entries: SslCertEntry[]; report: Report } {
  const report = new Report();
  return { entries: parseSslCert(text, 'sslcert.txt', report), report };
}

test('every entry kind, its line and its fields are read from CRLF text', () => {
  const { entries, report } = parse(SAMPLE);
  assert.deepEqual(report.lines.map(formatReportLine), []);
  assert.deepEqual(
    entries.map((entry) => [entry.key, entry.line]),
    [
      [{ kind: 'ip', address: '0.0.0.0', port: 443 }, 5],
      [{ kind: 'ip', address: '[::]', port: 443 }, 32],
      [{ kind: 'hostname', host: 'www.example.com', port: 443 }, 46],
      [{ kind: 'ccs', port: 8443 }, 62],
    ],
  );
  const [v4, v6, sni, ccs] = entries as [SslCertEntry, SslCertEntry, SslCertEntry, SslCertEntry];
  assert.equal(v4.certificateHash, '5E7A1C3B9D2F4E6A8B0C1D2E3F4A5B6C7D8E9F01');
  assert.equal(v4.storeName, 'MY');
  assert.equal(v4.verifyClientCertRevocation, true);
  assert.equal(v4.verifyRevocationUsingCachedOnly, false);
  assert.equal(v4.revocationFreshnessTimeSeconds, 0);
  assert.equal(v4.urlRetrievalTimeoutMs, 0);
  assert.equal(v4.negotiateClientCertificate, false);
  assert.equal(v4.fields['Application ID'], '{4dc3e181-e14b-4a21-b022-59fc669b0914}');
  assert.equal(v4.fields['IP:port'], '0.0.0.0:443');
  assert.equal(v4.fields['Disable HTTP2'], 'Not Set');
  assert.equal(v4.fields['Receive Window'], '1048576');
  assert.equal(v6.verifyClientCertRevocation, false);
  assert.equal(sni.certificateHash, 'A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4', 'the spaced hash of older netsh output, joined');
  assert.equal(sni.storeName, 'WebHosting');
  assert.equal(sni.verifyRevocationUsingCachedOnly, true);
  assert.equal(sni.revocationFreshnessTimeSeconds, 3600);
  assert.equal(sni.urlRetrievalTimeoutMs, 10000);
  assert.equal(sni.negotiateClientCertificate, true);
  assert.equal(sni.fields['Ctl Identifier'], 'PartnerCAs');
  assert.equal(ccs.certificateHash, undefined, '(null) is no hash');
  assert.equal(ccs.storeName, undefined);
  assert.equal(sourceOf(sni)?.file, 'sslcert.txt');
  assert.equal(sourceOf(sni)?.fieldLines.get('Ctl Identifier'), 55);
});

test('a UTF-16LE file with a BOM (PowerShell `>`) reads the same, decoded or read as UTF-8 by mistake', () => {
  const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SAMPLE, 'utf16le')]);
  const expected = parse(SAMPLE).entries.map((entry) => ({ ...entry }));
  const decoded = decodeSslCertBytes(bytes);
  assert.equal(decoded, SAMPLE);
  assert.deepEqual(parse(decoded).entries.map((entry) => ({ ...entry })), expected);
  const misread = parse(bytes.toString('utf8'));
  assert.deepEqual(misread.report.lines, []);
  assert.deepEqual(misread.entries.map((entry) => ({ ...entry })), expected);
  assert.deepEqual(parse(bytes.toString('latin1')).entries.map((entry) => ({ ...entry })), expected);
  assert.equal(decodeSslCertBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SAMPLE, 'utf8')])), SAMPLE, 'UTF-8 with a BOM');
  assert.equal(decodeSslCertBytes(Buffer.from(SAMPLE, 'utf8')), SAMPLE, 'plain UTF-8 / ASCII');
  assert.equal(decodeSslCertBytes(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(SAMPLE, 'utf16le').swap16()])), SAMPLE, 'UTF-16BE with a BOM');
});

test('specific addresses, LF-only text and lines it cannot read', () => {
  const text = [
    'SSL Certificate bindings:',
    '-------------------------',
    '    Certificate Hash             : 00112233445566778899aabbccddeeff00112233',
    '    IP:port                      : 10.0.0.5:8443',
    '    Certificate Hash             : 00112233445566778899aabbccddeeff00112233',
    '    Verify Client Certificate Revocation : Maybe',
    '    URL Retrieval Timeout        : soon',
    'garbage without a separator',
    '    IP:port                      : [FE80::1]:443',
    '    Certificate Hash             : not-a-hash',
    '    IP:port                      : 10.0.0.6:99999',
    '    Certificate Hash             : 00112233445566778899aabbccddeeff00112233',
  ].join('\n');
  const { entries, report } = parse(text);
  assert.deepEqual(
    entries.map((entry) => entry.key),
    [
      { kind: 'ip', address: '10.0.0.5', port: 8443 },
      { kind: 'ip', address: '[fe80::1]', port: 443 },
    ],
  );
  assert.equal(entries[0]?.verifyClientCertRevocation, undefined);
  assert.equal(entries[0]?.urlRetrievalTimeoutMs, undefined);
  assert.equal(entries[1]?.certificateHash, undefined);
  const lines = report.lines.map(formatReportLine);
  assert.equal(lines.length, 6, lines.join('\n'));
  assert.match(lines[0] as string, /^sslcert\.txt:3 sslcert\/@certhash: a field before any IP:port/);
  assert.match(lines[1] as string, /^sslcert\.txt:6 sslcert\[ipport=10\.0\.0\.5:8443\]\/@verifyclientcertrevocation: "Maybe" is neither Enabled nor Disabled/);
  assert.match(lines[2] as string, /^sslcert\.txt:7 sslcert\[ipport=10\.0\.0\.5:8443\]\/@urlretrievaltimeout: "soon" is not a number of milliseconds/);
  assert.match(lines[3] as string, /^sslcert\.txt:8 sslcert: "garbage without a separator" is not a "Label : value" line/);
  assert.match(lines[4] as string, /^sslcert\.txt:10 sslcert\[ipport=\[fe80::1\]:443\]\/@certhash: "not-a-hash" is not a SHA-1 thumbprint/);
  assert.match(lines[5] as string, /^sslcert\.txt:11 sslcert\/@ipport: "10\.0\.0\.6:99999" is not an address:port; this entry is ignored/);
});

test('text with no entry gets one report line saying what was expected', () => {
  const { entries, report } = parse('Die SSL-Zertifikatbindungen:\r\n---\r\n');
  assert.deepEqual(entries, []);
  const lines = report.lines.map(formatReportLine);
  assert.equal(lines.length, 1);
  assert.match(lines[0] as string, /^sslcert\.txt:0 sslcert: no SSL certificate binding found: expected the English output of `netsh http show sslcert`/);
});

test('findSslCert picks the entry HTTP.sys would use', () => {
  const { entries } = parse(
    SAMPLE +
      crlf([
        '    IP:port                      : 10.0.0.5:443',
        '    Certificate Hash             : 00112233445566778899aabbccddeeff00112233',
        '',
        '    IP:port                      : [::]:8080',
        '    Certificate Hash             : 00112233445566778899aabbccddeeff44556677',
        '',
      ]),
  );
  const find = (address: string, port: number, hostName: string | null, sni: boolean): string | undefined => {
    const entry = findSslCert(entries, { address, port, hostName, sni });
    return entry === undefined ? undefined : entry.key.kind === 'ip' ? `ip ${entry.key.address}:${entry.key.port}` : entry.key.kind === 'hostname' ? `host ${entry.key.host}` : `ccs ${entry.key.port}`;
  };
  assert.equal(find('*', 443, null, false), 'ip 0.0.0.0:443');
  assert.equal(find('*', 443, 'www.example.com', false), 'ip 0.0.0.0:443', 'a host name without SNI uses the IP binding');
  assert.equal(find('*', 443, 'WWW.Example.com', true), 'host www.example.com', 'SNI: the host name entry, in any case');
  assert.equal(find('10.0.0.5', 443, null, false), 'ip 10.0.0.5:443');
  assert.equal(find('10.0.0.9', 443, null, false), 'ip 0.0.0.0:443', 'no entry for the address: the wildcard');
  assert.equal(find('[::]', 443, null, false), 'ip [::]:443');
  assert.equal(find('::', 443, null, false), 'ip [::]:443');
  assert.equal(find('*', 8080, null, false), 'ip [::]:8080', 'only an IPv6 wildcard on that port');
  assert.equal(find('*', 8443, 'shop.example.com', true), 'ccs 8443', 'SNI name without its own entry: the Central Certificate Store');
  assert.equal(find('*', 8443, null, false), 'ccs 8443');
  assert.equal(find('*', 9443, null, false), undefined);
  assert.equal(find('*', 443, 'other.example.com', true), 'ip 0.0.0.0:443', 'SNI name without an entry falls back to the IP binding');
});
