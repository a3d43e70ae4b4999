/**
 * A binding's certificate, its revocation settings and the client-CA file, as the IIS importer writes them:
 * real PFX files made at test time (the profile Export-PfxCertificate files open with), checked to open and
 * to match the thumbprint HTTP.sys binds, and the output loaded by Gatehouse's own config loader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createCa, issueServer, toPfx, type Issued } from '../../src/pki/index.js';
import { bindingCertificate, clientCaFile, revocationOf, type CertificateOptions, type Where } from '../../src/import/iis/certificates.js';
import { parseSslCert, type SslCertEntry } from '../../src/import/iis/sslcert.js';
import { Report, formatReportLine } from '../../src/import/iis/report.js';
import { netshEntry, netshLine } from './import-iis-netsh-samples.js';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../support/temp.js';

const PASSPHRASE = 'Tr0ub4dor&3-not-printed';
const WHERE: Where = { file: 'applicationHost.config', line: 42, element: "site[@name='Default Web Site']/bindings/binding[@bindingInformation='*:443:']" };

const thumbprintOf = (issued: Issued): string => issued.cert.fingerprint.replace(/:/g, '');

interface Setup {
  readonly root: string;
  readonly certs: string;
  readonly out: string;
  readonly passFile: string;
  readonly ca: Issued;
  readonly server: Issued;
  readonly other: Issued;
}

async function setup(t: { after(fn: () => unknown): void }): Promise<Setup> {
  const root = await tempDir(t, 'gatehouse-iis-certs-');
  const certs = join(root, 'export');
  const out = join(root, 'out');
  await mkdir(certs);
  await mkdir(out);
  const ca = await createCa({ commonName: 'Contoso Issuing CA' });
  const server = await issueServer({ ca, dnsNames: ['www.example.com'] });
  const other = await issueServer({ ca, dnsNames: ['other.example.com'] });
  const passFile = join(root, 'pfx-passphrase.txt');
  await writeFile(passFile, `${PASSPHRASE}\r\n`, { mode: 0o600 });
  await writeFile(join(root, 'client-ca.pem'), ca.certPem);
  return { root, certs, out, passFile, ca, server, other };
}

/** A PFX as Windows' Export-PfxCertificate writes it by default: TripleDES-SHA1 bags, SHA-1 MAC, the issuing CA with the leaf. */
async function windowsStylePfx(dir: string, issued: Issued, ca: Issued, out: string): Promise<void> {
  const pem = join(dir, 'parts.pem');
  await writeFile(pem, `${ca.certPem}${issued.certPem}${issued.keyPem}`, { mode: 0o600 });
  await promisify(execFile)('openssl', ['pkcs12', '-export', '-in', pem, '-out', out, '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1', '-passout', `pass:${PASSPHRASE}`]);
}

const lines = (report: Report): string[] => report.lines.map(formatReportLine);
const noSecret = (report: Report): void => assert.ok(lines(report).every((line) => !line.includes(PASSPHRASE)), 'no report line holds the passphrase');

test('without --certificates: certificates/<THUMBPRINT>.pfx and the PowerShell line that exports it', async () => {
  const report = new Report();
  const hash = '5E7A1C3B9D2F4E6A8B0C1D2E3F4A5B6C7D8E9F01';
  const mapping = await bindingCertificate(hash.toLowerCase(), { outputDir: '/srv/gatehouse' }, WHERE, report);
  assert.deepEqual(mapping, { pfxFile: `certificates/${hash}.pfx`, passphraseFile: 'certificates/pfx-passphrase.txt' });
  const [line, ...rest] = lines(report);
  assert.deepEqual(rest, []);
  assert.ok(line?.startsWith(`applicationHost.config:42 ${WHERE.element}: `), line);
  assert.ok(line?.includes(`Get-ChildItem Cert:\\LocalMachine\\My, Cert:\\LocalMachine\\WebHosting | Where-Object Thumbprint -eq '${hash}' | Export-PfxCertificate -FilePath ${hash}.pfx -Password (Read-Host -AsSecureString 'PFX password')`), line);
  assert.ok(line?.includes('certificates/pfx-passphrase.txt'), line);
});

test('without a thumbprint: certificates/<site>-<port>.pfx, and the report says --sslcert would give it', async () => {
  const report = new Report();
  const mapping = await bindingCertificate(undefined, { outputDir: '/srv/gatehouse', pfxPassphraseFile: '/srv/gatehouse/secrets/pfx.txt' }, WHERE, report);
  assert.deepEqual(mapping, { pfxFile: 'certificates/default-web-site-443.pfx', passphraseFile: 'secrets/pfx.txt' });
  assert.equal(report.size, 1);
  assert.match(lines(report)[0] as string, /no certificate thumbprint known for this https binding \(give --sslcert/);
  const odd = new Report();
  const bare = await bindingCertificate(undefined, { outputDir: '/o' }, { file: 'a.config', line: 7, element: 'binding' }, odd);
  assert.equal(bare.pfxFile, 'certificates/binding-line7.pfx');
  const v6 = await bindingCertificate(undefined, { outputDir: '/o' }, { file: 'a.config', line: 9, element: 'site[@name="Shop (EU)"]/bindings/binding[@bindingInformation="[2001:db8:0:0::5]:8443:shop.example.com"]' }, odd);
  assert.equal(v6.pfxFile, 'certificates/shop-eu-8443.pfx');
});

test('--certificates DIR: the PFX opens with the passphrase and holds the bound certificate; the output loads', async (t) => {
  const s = await setup(t);
  const hash = thumbprintOf(s.server);
  await writeFile(join(s.certs, `${hash}.pfx`), toPfx({ issued: s.server, password: PASSPHRASE }), { mode: 0o600 });
  const options: CertificateOptions = { outputDir: s.out, certificatesDir: s.certs, pfxPassphraseFile: s.passFile, clientCaFile: join(s.root, 'client-ca.pem') };
  const report = new Report();
  const mapping = await bindingCertificate(hash.toLowerCase(), options, WHERE, report);
  assert.deepEqual(lines(report), []);
  assert.deepEqual(mapping, { pfxFile: `../export/${hash}.pfx`, passphraseFile: '../pfx-passphrase.txt' });
  const trustedCaFile = clientCaFile(options, WHERE, report);
  assert.equal(trustedCaFile, '../client-ca.pem');
  assert.deepEqual(lines(report), []);
  const entry = parseSslCert(['IP:port : 0.0.0.0:443', `Certificate Hash : ${hash}`, 'Verify Client Certificate Revocation : Enabled', 'Revocation Freshness Time : 7200', 'URL Retrieval Timeout : 15000'].join('\r\n'), 'sslcert.txt', report)[0] as SslCertEntry;
  const revocation = revocationOf(entry, WHERE, report);
  assert.deepEqual(revocation, { check: 'chain', online: true, freshness: '2h', fetchTimeout: '15s' });
  assert.deepEqual(lines(report), []);
  const config = join(s.out, 'gatehouse.yaml');
  await writeFile(config, stringify({ sites: [{ name: 'default-web-site', bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: mapping }], ssl: { clientCertificates: 'require', trustedCaFile, revocation }, farm: 'web' }], farms: [{ name: 'web', servers: [{ address: '127.0.0.1:9001' }] }] }));
  const loaded = await loadConfig(config);
  assert.equal(loaded.config.sites[0]?.bindings[0]?.certificate?.leaf.fingerprint, s.server.cert.fingerprint, 'Gatehouse opens the PFX the mapping names');
});

test('--certificates DIR: a PFX in the profile Export-PfxCertificate writes (3DES, SHA-1 MAC, with its CA) is read and matched', async (t) => {
  const s = await setup(t);
  const hash = thumbprintOf(s.other);
  await windowsStylePfx(s.root, s.other, s.ca, join(s.certs, `${hash}.pfx`));
  const report = new Report();
  const mapping = await bindingCertificate(hash, { outputDir: s.certs, certificatesDir: s.certs, pfxPassphraseFile: s.passFile }, WHERE, report);
  assert.deepEqual(lines(report), []);
  assert.deepEqual(mapping, { pfxFile: `${hash}.pfx`, passphraseFile: '../pfx-passphrase.txt' });
});

test('--certificates DIR: a lower-case name is used and reported; missing, unreadable, wrong passphrase, not a PFX and another certificate are reported naming the file', async (t) => {
  const s = await setup(t);
  const options: CertificateOptions = { outputDir: s.out, certificatesDir: s.certs, pfxPassphraseFile: s.passFile };
  const pfx = toPfx({ issued: s.server, password: PASSPHRASE });
  const hash = thumbprintOf(s.server);

  await writeFile(join(s.certs, `${hash.toLowerCase()}.pfx`), pfx);
  let report = new Report();
  let mapping = await bindingCertificate(hash, options, WHERE, report);
  assert.equal(mapping.pfxFile, `../export/${hash.toLowerCase()}.pfx`);
  assert.deepEqual(lines(report), [`applicationHost.config:42 ${WHERE.element}: ${join(s.certs, `${hash.toLowerCase()}.pfx`)} is named in lower case (an Export-PfxCertificate loop names it ${hash}.pfx); used as it is`]);

  const missing = thumbprintOf(s.ca);
  report = new Report();
  mapping = await bindingCertificate(missing, options, WHERE, report);
  assert.equal(mapping.pfxFile, `../export/${missing}.pfx`);
  assert.equal(report.size, 1);
  assert.ok(lines(report)[0]?.includes(`${join(s.certs, `${missing}.pfx`)} does not exist: export it with \`Get-ChildItem`), lines(report)[0]);

  const other = thumbprintOf(s.other);
  await writeFile(join(s.certs, `${other}.pfx`), toPfx({ issued: s.other, password: 'another passphrase' }));
  report = new Report();
  mapping = await bindingCertificate(other, options, WHERE, report);
  assert.equal(mapping.pfxFile, `../export/${other}.pfx`);
  assert.deepEqual(lines(report), [`applicationHost.config:42 ${WHERE.element}: the passphrase in ${s.passFile} does not open ${join(s.certs, `${other}.pfx`)} (wrong passphrase); Gatehouse will refuse to start until they match`]);

  const swapped = '00112233445566778899AABBCCDDEEFF00112233';
  await writeFile(join(s.certs, `${swapped}.pfx`), pfx);
  report = new Report();
  mapping = await bindingCertificate(swapped, options, WHERE, report);
  assert.equal(mapping.pfxFile, `../export/${swapped}.pfx`, 'still points to the file');
  assert.equal(report.size, 1);
  assert.ok(lines(report)[0]?.includes(`${join(s.certs, `${swapped}.pfx`)} holds the certificate ${hash} (CN=www.example.com), not ${swapped} that HTTP.sys binds`), lines(report)[0]);

  const junk = 'FFEEDDCCBBAA99887766554433221100FFEEDDCC';
  await writeFile(join(s.certs, `${junk}.pfx`), '-----BEGIN CERTIFICATE-----\nnot a pfx\n');
  report = new Report();
  await bindingCertificate(junk, options, WHERE, report);
  assert.match(lines(report)[0] as string, new RegExp(`${junk}\\.pfx is not a PFX file Gatehouse can open`));

  const folder = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  await mkdir(join(s.certs, `${folder}.pfx`));
  report = new Report();
  await bindingCertificate(folder, options, WHERE, report);
  assert.match(lines(report)[0] as string, new RegExp(`${folder}\\.pfx cannot be read \\(EISDIR\\)`));

  report = new Report();
  mapping = await bindingCertificate(hash, { ...options, pfxPassphraseFile: join(s.root, 'nope.txt') }, WHERE, report);
  assert.equal(mapping.passphraseFile, '../nope.txt');
  assert.match(lines(report).at(-1) as string, /is not checked: --pfx-passphrase-file .*nope\.txt cannot be read \(ENOENT\)/);

  report = new Report();
  mapping = await bindingCertificate(hash, { outputDir: s.out, certificatesDir: s.certs }, WHERE, report);
  assert.deepEqual(mapping, { pfxFile: `../export/${hash.toLowerCase()}.pfx`, passphraseFile: 'certificates/pfx-passphrase.txt' });
  assert.match(lines(report).at(-1) as string, /is not checked: no --pfx-passphrase-file/);

  report = new Report();
  mapping = await bindingCertificate('not hex', options, WHERE, report);
  assert.equal(mapping.pfxFile, '../export/default-web-site-443.pfx');
  assert.match(lines(report)[0] as string, /certificate hash "not hex" is not a SHA-1 thumbprint/);
  noSecret(report);
});

test('revocationOf: HTTP.sys revocation settings become ssl.revocation, the rest of the entry report lines', () => {
  const report = new Report();
  const text = [
    ...netshEntry('IP:port', '0.0.0.0:443', {}, 14),
    '',
    ...netshEntry('IP:port', '[::]:443', { 'Verify Client Certificate Revocation': 'Disabled', 'Revocation Freshness Time': '600' }, 7),
    '',
    ...netshEntry(
      'Hostname:port',
      'www.example.com:443',
      {
        'Verify Revocation Using Cached Client Certificate Only': 'Enabled',
        'Usage Check': 'Disabled',
        'Revocation Freshness Time': '86400',
        'URL Retrieval Timeout': '30',
        'Ctl Identifier': 'PartnerCAs',
        'Ctl Store Name': 'Root',
        'DS Mapper Usage': 'Enabled',
        'Negotiate Client Certificate': 'Enabled',
        'Reject Connections': 'Enabled',
        'Disable HTTP2': 'Set',
        'Disable TLS1.2': 'Set',
      },
      17,
    ),
    '',
    netshLine('Central Certificate Store', '8443'),
    netshLine('Certificate Hash', '(null)'),
    netshLine('URL Retrieval Timeout', '120000'),
    netshLine('Disable TLS1.3', 'Set'),
  ].join('\r\n');
  const [defaults, off, sni, ccs] = parseSslCert(text, 'sslcert.txt', report) as [SslCertEntry, SslCertEntry, SslCertEntry, SslCertEntry];
  assert.equal(report.size, 0);

  assert.deepEqual(revocationOf(defaults, WHERE, report), { check: 'chain', online: true });
  assert.equal(report.size, 0, 'HTTP.sys defaults map exactly');

  assert.deepEqual(revocationOf(off, WHERE, report), { check: 'off' });
  assert.deepEqual(lines(report), [`sslcert.txt:21 sslcert[ipport=[::]:443]/@verifyclientcertrevocation: HTTP.sys did not check whether client certificates are revoked: a revoked certificate was let in. Gatehouse does the same with ssl.revocation.check: off (CRLs in crlFile are read but not used); set check: chain to refuse revoked certificates (403.13) (for ${WHERE.element}, applicationHost.config:42)`]);

  const sniReport = new Report();
  assert.deepEqual(revocationOf(sni, WHERE, sniReport), { check: 'chain', online: true, cachedOnly: true, freshness: '1d', fetchTimeout: '100ms' });
  const sniLines = lines(sniReport).map((line) => line.replace(/ \(for .*\)$/, ''));
  const expected: [number, string, RegExp][] = [
    [32, 'usagecheck', /Gatehouse always does \(OpenSSL's sslclient purpose/],
    [34, 'urlretrievaltimeout', /30 ms is outside what Gatehouse allows for one fetch \(100 ms to 60 s\): fetchTimeout 100ms/],
    [35, 'sslctlidentifier', /only the issuers listed in the certificate trust list "PartnerCAs" \(store Root\): put exactly those CAs in the site's ssl.trustedCaFile/],
    [37, 'dsmapperusage', /Gatehouse maps none/],
    [38, 'clientcertnegotiation', /Gatehouse does so for every site whose ssl.clientCertificates is accept or require/],
    [39, 'rejectconnections', /leave the binding out/],
    [40, 'disablehttp2', /set http2: false on the binding/],
    [42, 'disabletls12', /tls: \{ minVersion: TLSv1.3 \}/],
  ];
  assert.equal(sniLines.length, expected.length, sniLines.join('\n'));
  expected.forEach(([line, attribute, pattern], i) => {
    assert.ok(sniLines[i]?.startsWith(`sslcert.txt:${line} sslcert[hostnameport=www.example.com:443]/@${attribute}: `), sniLines[i]);
    assert.match(sniLines[i] as string, pattern);
  });

  const ccsReport = new Report();
  assert.equal(revocationOf(ccs, WHERE, ccsReport), undefined, 'no revocation field printed: Gatehouse defaults');
  const ccsLines = lines(ccsReport);
  assert.equal(ccsLines.length, 2, ccsLines.join('\n'));
  assert.match(ccsLines[0] as string, /^sslcert\.txt:45 sslcert\[ccs=8443\]: HTTP.sys takes this port's certificates from the IIS Central Certificate Store/);
  assert.match(ccsLines[1] as string, /^sslcert\.txt:48 sslcert\[ccs=8443\]\/@disabletls13: .*maxVersion: TLSv1.2/);

  const made: SslCertEntry = { key: { kind: 'ip', address: '0.0.0.0', port: 443 }, line: 3, fields: { 'URL Retrieval Timeout': '120000' }, verifyClientCertRevocation: true, urlRetrievalTimeoutMs: 120000 };
  const madeReport = new Report();
  assert.deepEqual(revocationOf(made, WHERE, madeReport), { check: 'chain', online: true, fetchTimeout: '60s' });
  assert.deepEqual(lines(madeReport), [`applicationHost.config:42 ${WHERE.element}/@urlretrievaltimeout: 120000 ms is outside what Gatehouse allows for one fetch (100 ms to 60 s): fetchTimeout 60s`], 'an entry not from parseSslCert: the line points at the binding');
});

test('clientCaFile: --client-ca relative to the output, checked to hold PEM; without it the placeholder and how to export', async (t) => {
  const s = await setup(t);
  const report = new Report();
  assert.equal(clientCaFile({ outputDir: s.root, clientCaFile: join(s.root, 'client-ca.pem') }, WHERE, report), 'client-ca.pem');
  assert.equal(report.size, 0);
  await writeFile(join(s.root, 'root.cer'), s.ca.cert.raw);
  assert.equal(clientCaFile({ outputDir: s.out, clientCaFile: join(s.root, 'root.cer') }, WHERE, report), '../root.cer');
  assert.match(lines(report)[0] as string, /root\.cer holds no PEM certificate: convert each DER \.cer with `openssl x509 -inform der -in CA\.cer`/);
  const missing = new Report();
  clientCaFile({ outputDir: s.out, clientCaFile: join(s.root, 'gone.pem') }, WHERE, missing);
  assert.match(lines(missing)[0] as string, /gone\.pem cannot be read \(ENOENT\)/);
  const placeholder = new Report();
  assert.equal(clientCaFile({ outputDir: s.out }, WHERE, placeholder), 'certificates/client-ca.pem');
  const [line] = lines(placeholder);
  assert.ok(line?.startsWith(`applicationHost.config:42 ${WHERE.element}: IIS trusts the client-certificate CAs of the Windows store`), line);
  assert.ok(line?.includes('Export-Certificate -Cert $_ -FilePath "$($_.Thumbprint).cer" -Type CERT'), line);
  assert.ok(line?.includes('openssl x509 -inform der -in THUMBPRINT.cer >> certificates/client-ca.pem'), line);
});
