/**
 * `gatehouse import iis` end to end, from issue 15's contract: the real CLI on realistic
 * applicationHost.config files (test/fixtures/iis), its exit codes, report, summary and generated YAML,
 * then the generated config validated, started in front of local backends and checked by behaviour:
 * host-name routing, weights, a disabled server, client certificates required / accepted,
 * X-ARR-ClientCert, health tests, affinity cookie, request limits.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { createCa, issueServer } from '../../src/pki/index.js';
import { parseDuration } from '../../src/config/duration.js';
import { send, type ClientReply } from '../support/clients.js';
import { startCli, type RunningCli } from '../support/gatehouse.js';
import { makeTempDir, tempDir, type TempDir } from '../support/temp.js';
import type { EchoReply } from '../support/backends.js';
import { validate } from './cli-helpers.js';
import {
  asList,
  assertReportForm,
  base64Der,
  bindingsOf,
  commentAbove,
  describeRun,
  exportPfxFiles,
  farmNamed,
  fixturePath,
  fixtureText,
  hashesIn,
  importIis,
  makeIisCertificates,
  nonReportLines,
  onlyLineOf,
  placeFixture,
  reportOf,
  runnable,
  serverByHost,
  siteWith,
  sslcertFor,
  startFarmServer,
  thumbprintOf,
  until,
  type FarmServer,
  type IisCertificates,
  type Plain,
  type ReportEntry,
} from './import-iis-support.js';

const INPUT = 'applicationHost.config';

function lineOrLineWord(output: string, file: string, line: number): boolean {
  return new RegExp(`${file.replace(/\./g, '\\.')}:${line}\\b|\\bline ${line}\\b`, 'i').test(output);
}

describe('gatehouse import iis: input that cannot be imported (exit 1)', () => {
  test('a file that cannot be read: exit 1, the message names it, nothing written', async (t) => {
    const dir = await tempDir(t, 'gatehouse-iis-');
    const result = await importIis(dir, 'no-such-applicationHost.config');
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stdout + result.stderr, /no-such-applicationHost\.config/, describeRun(result));
    await assert.rejects(stat(join(dir, 'gatehouse.yaml')), 'no gatehouse.yaml');
  });

  /** Imports a fixture that is not an IIS configuration: exit 1, the message names the line, nothing written. */
  async function refused(t: { after(fn: () => unknown): void }, fixture: string, needle: string | undefined): Promise<void> {
    const dir = await tempDir(t, 'gatehouse-iis-');
    const text = await placeFixture(dir, fixture);
    const line = needle === undefined ? 1 : onlyLineOf(text, needle);
    const result = await importIis(dir, INPUT);
    assert.equal(result.code, 1, describeRun(result));
    assert.ok(lineOrLineWord(result.stdout + result.stderr, INPUT, line), `names ${INPUT} line ${line}: ${describeRun(result)}`);
    await assert.rejects(stat(join(dir, 'gatehouse.yaml')), 'no gatehouse.yaml');
  }

  test('not XML (appsettings.json given by mistake): exit 1 naming line 1', (t) => refused(t, 'appsettings.json.config', undefined));

  test('malformed XML (a damaged copy): exit 1 naming the line where it breaks', (t) => refused(t, 'truncated.config', '</system.applicationHost>'));

  test('XML that is not an IIS configuration (a .csproj): exit 1 naming the line of its root element', (t) => refused(t, 'not-iis.csproj.xml', '<Project '));
});

describe('gatehouse import iis: a configuration that maps completely (fabrikam-simple)', () => {
  let temp: TempDir;
  let result: Awaited<ReturnType<typeof importIis>>;
  let yamlText: string;
  before(async () => {
    temp = await makeTempDir('gatehouse-iis-');
    await placeFixture(temp.dir, 'fabrikam-simple.config');
    result = await importIis(temp.dir, INPUT);
    yamlText = await readFile(join(temp.dir, 'gatehouse.yaml'), 'utf8').catch(() => '');
  });
  after(() => temp?.remove());

  test('exit 0 and no report line: the stock IIS sections (application pools, modules, handlers, default log settings) are nothing to report on an ARR server', () => {
    assert.deepEqual(
      reportOf(result, [INPUT]).map((e) => e.raw),
      [],
      'no report line',
    );
    assert.equal(result.code, 0, describeRun(result));
  });

  test('writes ./gatehouse.yaml by default; the site name with spaces becomes a slug listed in the summary; httpPort is the server port', () => {
    assert.ok(result.code === 0 || result.code === 2, describeRun(result));
    const config = parse(yamlText) as Plain;
    const site = siteWith(config, 'the *:80 binding', (b) => Number(b['port']) === 80);
    const name = String(site['name']);
    assert.doesNotMatch(name, /\s/, 'a name Gatehouse accepts');
    assert.match(name, /^default[-_.]?web[-_.]?site$/i, 'a slug of "Default Web Site"');
    assert.ok(nonReportLines(result, [INPUT]).some((line) => line.includes('Default Web Site') && line.includes(name)), `the summary lists the rename to ${name}: ${describeRun(result)}`);
    const farm = farmNamed(config, 'fabrikamFarm');
    assert.equal(serverByHost(farm, 'fab-web01')['address'], 'fab-web01:8081', 'httpPort becomes the port');
  });

  test('the output validates and, started, the global rule routes every request to the farm, round robin', async (t) => {
    const checked = await validate(temp.dir, 'gatehouse.yaml');
    assert.equal(checked.code, 0, `gatehouse validate accepts the output: ${describeRun(checked)}`);
    const web01 = await startFarmServer('fab-web01');
    const web02 = await startFarmServer('fab-web02');
    t.after(() => Promise.all([web01.backend.close(), web02.backend.close()]));
    const { text, ports } = await runnable(yamlText, new Map([['fab-web01', web01.backend], ['fab-web02', web02.backend]]));
    await writeFile(join(temp.dir, 'run.yaml'), text);
    const cli = startCli(t, temp.dir, 'run.yaml');
    const port = ports.get(80) as number;
    await cli.waitForLine('stdout', new RegExp(`listening http://127\\.0\\.0\\.1:${port}\\b`));
    for (let i = 0; i < 4; i += 1) {
      const reply = await send(`http://127.0.0.1:${port}/orders/${i}?x=1`, { headers: ['Host', 'shop.fabrikam.com'] });
      assert.equal(reply.status, 200, `${reply.status} ${reply.body.toString()} ${reply.error?.message ?? ''}`);
    }
    assert.equal(web01.backend.received.length, 2, 'weighted round robin 100/100 alternates');
    assert.equal(web02.backend.received.length, 2, 'weighted round robin 100/100 alternates');
    assert.equal(web01.backend.received[0]?.url, '/orders/0?x=1', 'the path and query reach the server unchanged ({R:0}, appendQueryString)');
  });
});

describe('gatehouse import iis: the output file', () => {
  test('never overwrites without --force; -o names another file', async (t) => {
    const dir = await tempDir(t, 'gatehouse-iis-');
    await placeFixture(dir, 'fabrikam-simple.config');
    await writeFile(join(dir, 'gatehouse.yaml'), '# the config already running here\n');
    const refused = await importIis(dir, INPUT);
    assert.equal(refused.code, 1, describeRun(refused));
    assert.match(refused.stdout + refused.stderr, /--force/, `says how to overwrite: ${describeRun(refused)}`);
    assert.equal(await readFile(join(dir, 'gatehouse.yaml'), 'utf8'), '# the config already running here\n', 'left as it was');

    await mkdir(join(dir, 'out'));
    const other = await importIis(dir, INPUT, '-o', 'out/imported.yaml');
    assert.ok(other.code === 0 || other.code === 2, describeRun(other));
    assert.ok(asList((parse(await readFile(join(dir, 'out', 'imported.yaml'), 'utf8')) as Plain)['farms']).length > 0, 'written to the -o file');
    assert.equal(await readFile(join(dir, 'gatehouse.yaml'), 'utf8'), '# the config already running here\n', 'the default file untouched');

    const forced = await importIis(dir, INPUT, '--force');
    assert.ok(forced.code === 0 || forced.code === 2, describeRun(forced));
    const written = parse(await readFile(join(dir, 'gatehouse.yaml'), 'utf8')) as Plain;
    farmNamed(written, 'fabrikamFarm');
  });
});

describe('gatehouse import iis: the Contoso ARR server, report and YAML (no certificates given)', () => {
  let temp: TempDir;
  let text: string;
  let yamlText: string;
  let config: Plain;
  let result: Awaited<ReturnType<typeof importIis>>;
  let report: ReportEntry[];

  before(async () => {
    temp = await makeTempDir('gatehouse-iis-');
    text = await placeFixture(temp.dir, 'contoso-arr.config');
    result = await importIis(temp.dir, INPUT, '-o', 'gatehouse.yaml');
    yamlText = await readFile(join(temp.dir, 'gatehouse.yaml'), 'utf8').catch(() => '');
    config = (parse(yamlText) ?? {}) as Plain;
    report = result.code === 1 ? [] : reportOf(result, [INPUT]);
  });
  after(() => temp?.remove());

  const linesFor = (line: number) => report.filter((entry) => entry.line === line);

  test('exit 2: the output is written and the report has lines, each FILE:LINE element/@attribute: text', () => {
    assert.equal(result.code, 2, describeRun(result));
    assertReportForm(result, [INPUT]);
    assert.ok(report.length > 0, 'report lines');
    assert.ok(report.every((entry) => entry.file === INPUT), 'named as given on the command line');
    const sorted = [...report].sort((a, b) => a.line - b.line);
    assert.deepEqual(report.map((e) => e.line), sorted.map((e) => e.line), 'in line order');
  });

  test('elements with no equivalent are reported at their line: diskCache, the rule with an IsFile condition', () => {
    const disk = onlyLineOf(text, '<diskCache>');
    assert.ok(linesFor(disk).some((e) => /diskCache/.test(e.element)), `diskCache at line ${disk}:\n${report.map((e) => e.raw).join('\n')}`);
    const maintenance = onlyLineOf(text, '<rule name="Maintenance page"');
    const isFile = onlyLineOf(text, 'matchType="IsFile"');
    assert.ok([...linesFor(maintenance), ...linesFor(isFile)].some((e) => /rule|conditions|add/.test(e.element)), `the IsFile rule at line ${maintenance} or its condition at ${isFile}:\n${report.map((e) => e.raw).join('\n')}`);
  });

  test('the canonical-host Redirect rule and the CustomResponse rule are mapped, not reported: Default Web Site has them in IIS order, before the farm', () => {
    const redirect = onlyLineOf(text, '<rule name="Canonical host name"');
    const closed = onlyLineOf(text, '<rule name="Legacy application closed"');
    for (const line of [redirect, redirect + 5, closed, closed + 2]) assert.deepEqual(linesFor(line).map((e) => e.raw), [], `nothing reported at line ${line}`);
    const plain = siteWith(config, 'the *:80 binding', (b) => Number(b['port']) === 80 && !b['hostName']);
    const rules = asList(plain['rules']);
    const names = rules.map((r) => r['name']);
    assert.deepEqual(names.filter((n) => n === 'Canonical host name' || n === 'Legacy application closed'), ['Canonical host name', 'Legacy application closed'], JSON.stringify(rules));
    assert.ok(names.indexOf('Canonical host name') < names.indexOf('ARR_IntranetFarm_loadbalance'), 'the redirect before the host routes, as in IIS');
    assert.deepEqual(rules.find((r) => r['name'] === 'Canonical host name'), { name: 'Canonical host name', match: { host: 'contoso.com' }, action: { type: 'redirect', url: 'https://www.contoso.com{R:0}', status: 301 }, stopProcessing: true });
    assert.deepEqual(rules.find((r) => r['name'] === 'Legacy application closed'), { name: 'Legacy application closed', match: { pathPattern: '^/legacy/' }, action: { type: 'respond', status: 503, body: 'The legacy application is closed for maintenance' }, stopProcessing: true });
    assert.equal(plain['farm'], 'WebFarm');
    assert.match(commentAbove(yamlText, 'Canonical host name'), new RegExp(`rule\\[@name='Canonical host name'\\].*:${redirect}\\b`), 'the comment names the IIS rule and its line');
  });

  test('without --sslcert each https binding has a report line saying where its certificate comes from', () => {
    for (const needle of ['bindingInformation="*:443:" sslFlags="0"', 'bindingInformation="*:443:intranet.contoso.com"', 'bindingInformation="*:8443:partners.contoso.com"']) {
      const line = onlyLineOf(text, needle);
      assert.ok(linesFor(line).some((e) => /binding/.test(e.element)), `https binding at line ${line} reported:\n${report.map((e) => e.raw).join('\n')}`);
    }
    assert.ok(!linesFor(onlyLineOf(text, 'bindingInformation="*:80:" />')).some((e) => /certificate/i.test(e.text)), 'an http binding has no certificate line');
  });

  test('client-certificate sites name certificates/client-ca.pem and the report says how to export the CAs', () => {
    const intranet = siteWith(config, 'intranet.contoso.com', (b) => b['hostName'] === 'intranet.contoso.com');
    const partners = siteWith(config, 'port 8443', (b) => Number(b['port']) === 8443);
    for (const site of [intranet, partners]) assert.equal((site['ssl'] as Plain | undefined)?.['trustedCaFile'], 'certificates/client-ca.pem', JSON.stringify(site['ssl']));
    assert.ok(report.some((e) => /client-ca\.pem/.test(e.text)), `a report line about certificates/client-ca.pem:\n${report.map((e) => e.raw).join('\n')}`);
  });

  test('a comment above each generated farm and site names its IIS element and line', () => {
    for (const farm of ['WebFarm', 'IntranetFarm', 'PartnerFarm', 'ApiFarm', 'LegacyFarm']) {
      const line = onlyLineOf(text, `<webFarm name="${farm}"`);
      const comment = commentAbove(yamlText, farm);
      assert.match(comment, /webFarm/i, `names the element, above farm ${farm}: ${JSON.stringify(comment)}`);
      assert.match(comment, new RegExp(`\\b${line}\\b`), `names line ${line}, above farm ${farm}: ${JSON.stringify(comment)}`);
    }
    for (const [iisName, pick] of [
      ['Default Web Site', (b: Plain) => Number(b['port']) === 80 && !b['hostName']],
      ['Contoso Intranet', (b: Plain) => b['hostName'] === 'intranet.contoso.com'],
      ['Partner Portal', (b: Plain) => Number(b['port']) === 8443],
    ] as const) {
      const line = onlyLineOf(text, `<site name="${iisName}"`);
      const site = siteWith(config, iisName, pick);
      const comment = commentAbove(yamlText, String(site['name']));
      assert.match(comment, /site/i, `names the element, above site ${iisName}: ${JSON.stringify(comment)}`);
      assert.match(comment, new RegExp(`\\b${line}\\b`), `names line ${line}, above site ${iisName}: ${JSON.stringify(comment)}`);
    }
  });

  test('site names with spaces become slugs, and the summary lists each rename', () => {
    const others = nonReportLines(result, [INPUT]);
    for (const [iisName, pick] of [
      ['Default Web Site', (b: Plain) => Number(b['port']) === 80 && !b['hostName']],
      ['Contoso Intranet', (b: Plain) => b['hostName'] === 'intranet.contoso.com'],
      ['Partner Portal', (b: Plain) => Number(b['port']) === 8443],
    ] as const) {
      const name = String(siteWith(config, iisName, pick)['name']);
      assert.doesNotMatch(name, /\s/);
      assert.ok(others.some((line) => line.includes(iisName) && line.includes(name)), `the summary lists ${iisName} → ${name}:\n${others.join('\n')}`);
    }
  });

  test('farms: servers with httpPort, weights, a disabled server, algorithms (any letter case), health test, affinity, proxy defaults', () => {
    const web = farmNamed(config, 'WebFarm');
    assert.equal(serverByHost(web, 'web01.contoso.local')['address'], 'web01.contoso.local:80', 'httpPort default 80');
    assert.equal((web['loadBalancing'] as Plain)['algorithm'], 'leastRequests');

    const intranet = farmNamed(config, 'IntranetFarm');
    assert.equal(serverByHost(intranet, 'intra-web01.contoso.local')['address'], 'intra-web01.contoso.local:8080');
    assert.equal(Number(serverByHost(intranet, 'intra-web01.contoso.local')['weight']), 300);
    assert.equal(Number(serverByHost(intranet, 'intra-web02.contoso.local')['weight'] ?? 100), 100);
    assert.equal(serverByHost(intranet, 'intra-web03.contoso.local')['enabled'], false);
    assert.equal((intranet['loadBalancing'] as Plain | undefined)?.['algorithm'] ?? 'weightedRoundRobin', 'weightedRoundRobin', 'weightedroundrobin read in any letter case');
    assert.deepEqual({ useCookie: (intranet['affinity'] as Plain)['useCookie'], cookieName: (intranet['affinity'] as Plain)['cookieName'] }, { useCookie: true, cookieName: 'IntranetSession' });
    // system.webServer/proxy: its attributes are every farm's defaults; the farm's own protocol wins.
    assert.equal(parseDuration((intranet['protocol'] as Plain | undefined)?.['timeout']), 150_000, 'proxy timeout 00:02:30 as the farm default');
    assert.equal((intranet['protocol'] as Plain | undefined)?.['includePortInXForwardedFor'], false, 'proxy includePortInXForwardedFor');

    const partner = farmNamed(config, 'PartnerFarm');
    assert.equal(parseDuration((partner['protocol'] as Plain)['timeout']), 90_000, "the farm's own protocol timeout wins");
    const balancing = partner['loadBalancing'] as Plain;
    assert.equal(balancing['algorithm'], 'queryStringHash', 'RequestHash + queryStringNames');
    assert.deepEqual([balancing['queryStringNames']].flat().join(',').split(/\s*,\s*/), ['tenant', 'region']);
    const health = partner['healthCheck'] as Plain;
    assert.equal(health['url'], 'http://partners.contoso.com/probe/ready.aspx');
    assert.equal(parseDuration(health['interval']), 1000);
    assert.equal(parseDuration(health['timeout']), 5000);
    assert.equal(health['statusCodeMatch'], '200-299');
    assert.equal(health['responseMatch'], 'READY');

    const api = farmNamed(config, 'ApiFarm');
    assert.deepEqual({ algorithm: (api['loadBalancing'] as Plain)['algorithm'], hashServerVariable: (api['loadBalancing'] as Plain)['hashServerVariable'] }, { algorithm: 'serverVariableHash', hashServerVariable: 'HTTP_X_TENANT' });

    assert.equal(farmNamed(config, 'LegacyFarm')['enabled'], false);
  });

  test('tracing: each site keeps the rules left after <clear/> and <remove/>, with its limits', () => {
    const intranet = siteWith(config, 'intranet.contoso.com', (b) => b['hostName'] === 'intranet.contoso.com');
    const iRules = asList((intranet['tracing'] as Plain | undefined)?.['rules']);
    assert.equal(iRules.length, 1, `<clear/> drops the server-level rule: ${JSON.stringify(intranet['tracing'])}`);
    assert.equal(iRules[0]?.['path'], '*.aspx');
    assert.match(String(iRules[0]?.['statusCodes']), /403\.16/);
    assert.match(String(iRules[0]?.['statusCodes']), /500-599/);
    assert.equal(parseDuration(iRules[0]?.['timeTaken']), 5000);
    assert.equal(Number((intranet['tracing'] as Plain)['maxFiles']), 200, 'traceFailedRequestsLogging maxLogFiles');

    const partners = siteWith(config, 'port 8443', (b) => Number(b['port']) === 8443);
    const pRules = asList((partners['tracing'] as Plain | undefined)?.['rules']);
    assert.deepEqual(pRules.map((r) => r['path']), ['*.ashx'], `<remove path="*"/> drops the server-level rule: ${JSON.stringify(partners['tracing'])}`);
    assert.match(String(pRules[0]?.['statusCodes']), /403\.7/);

    const plain = siteWith(config, 'the *:80 binding', (b) => Number(b['port']) === 80 && !b['hostName']);
    assert.equal(asList((plain['tracing'] as Plain | undefined)?.['rules']).length, 0, 'Default Web Site does not log failed requests (traceFailedRequestsLogging not enabled)');
  });

  test('with --sslcert but no --certificates: bindings name certificates/<THUMBPRINT>.pfx and the report gives the export line', async () => {
    const dir = join(temp.dir, 'with-sslcert');
    await mkdir(dir);
    await placeFixture(dir, 'contoso-arr.config');
    await placeFixture(dir, 'sslcert-contoso.txt', 'sslcert.txt');
    const run = await importIis(dir, INPUT, '--sslcert', 'sslcert.txt');
    assert.equal(run.code, 2, describeRun(run));
    const lines = reportOf(run, [INPUT, 'sslcert.txt']);
    const out = parse(await readFile(join(dir, 'gatehouse.yaml'), 'utf8')) as Plain;
    const expected: [string, (b: Plain) => boolean, string][] = [
      ['bindingInformation="*:443:" sslFlags="0"', (b) => b['protocol'] === 'https' && Number(b['port']) === 443 && !b['hostName'], '3b7e0a1c9d2f4e5a6b7c8d9e0f1a2b3c4d5e6f70'],
      ['bindingInformation="*:443:intranet.contoso.com"', (b) => b['protocol'] === 'https' && b['hostName'] === 'intranet.contoso.com', 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'],
      ['bindingInformation="*:8443:partners.contoso.com"', (b) => b['protocol'] === 'https' && Number(b['port']) === 8443, 'c0ffee00deadbeef0123456789abcdef01234567'],
    ];
    for (const [needle, pick, hash] of expected) {
      const thumbprint = hash.toUpperCase();
      const site = siteWith(out, needle, pick);
      const binding = bindingsOf(site).find(pick) as Plain;
      assert.equal((binding['certificate'] as Plain | undefined)?.['pfxFile'], `certificates/${thumbprint}.pfx`, JSON.stringify(binding));
      const line = onlyLineOf(text, needle);
      assert.ok(
        lines.some((e) => e.line === line && /Export-PfxCertificate/.test(e.text) && e.text.toUpperCase().includes(thumbprint)),
        `the binding's line ${line} gives the PowerShell export of ${thumbprint}:\n${lines.map((e) => e.raw).join('\n')}`,
      );
      const waiting = nonReportLines(run, [INPUT, 'sslcert.txt']).find((l) => l.includes('validates once these files exist')) ?? '';
      assert.ok(waiting.includes(join(dir, 'certificates', `${thumbprint}.pfx`)), `the summary names certificates/${thumbprint}.pfx among the files to export: ${waiting}`);
    }
    assertReportForm(run, [INPUT, 'sslcert.txt']);
  });
});

describe('gatehouse import iis: the Contoso ARR server with its certificates, started in front of local farm servers', () => {
  let temp: TempDir;
  let text: string;
  let certs: IisCertificates;
  let result: Awaited<ReturnType<typeof importIis>>;
  let yamlText: string;
  let config: Plain;
  let cli: RunningCli | undefined;
  const cleanups: (() => unknown)[] = [];
  const servers = new Map<string, FarmServer>();
  let ports = new Map<number, number>();

  before(async () => {
    temp = await makeTempDir('gatehouse-iis-');
    text = await placeFixture(temp.dir, 'contoso-arr.config');
    const sslcert = await fixtureText('sslcert-contoso.txt');
    certs = await makeIisCertificates(join(temp.dir, 'pki'), sslcert);
    cleanups.push(() => certs.close());
    await writeFile(join(temp.dir, 'sslcert.txt'), sslcertFor(sslcert, certs));
    await exportPfxFiles(join(temp.dir, 'exported'), certs);
    result = await importIis(temp.dir, INPUT, '--sslcert', 'sslcert.txt', '--certificates', 'exported', '--pfx-passphrase-file', certs.passphraseFile, '--client-ca', certs.clientCaFile, '-o', 'gatehouse.yaml');
    yamlText = await readFile(join(temp.dir, 'gatehouse.yaml'), 'utf8').catch(() => '');
    config = (parse(yamlText) ?? {}) as Plain;
    if (result.code !== 2 && result.code !== 0) return;

    const probe = '/probe/ready.aspx';
    for (const [host, probePath] of [
      ['web01.contoso.local', undefined],
      ['web02.contoso.local', undefined],
      ['intra-web01.contoso.local', undefined],
      ['intra-web02.contoso.local', undefined],
      ['intra-web03.contoso.local', undefined],
      ['partner-app01.contoso.local', probe],
      ['partner-app02.contoso.local', probe],
      ['api01.contoso.local', undefined],
      ['api02.contoso.local', undefined],
    ] as const) {
      const server = await startFarmServer(host, probePath);
      servers.set(host, server);
      cleanups.push(() => server.backend.close());
    }
    (servers.get('partner-app02.contoso.local') as FarmServer).healthy = false;
    const made = await runnable(yamlText, new Map([...servers].map(([host, s]) => [host, s.backend])));
    ports = made.ports;
    await writeFile(join(temp.dir, 'run.yaml'), made.text);
    const checked = await validate(temp.dir, 'run.yaml');
    assert.equal(checked.code, 0, `the runnable copy validates: ${describeRun(checked)}\n${made.text}`);
    cli = startCli({ after: (fn) => cleanups.push(fn) }, temp.dir, 'run.yaml');
    for (const port of ports.values()) await cli.waitForLine('stdout', new RegExp(`listening https?://127\\.0\\.0\\.1:${port}\\b`));
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await temp?.remove();
  });

  const farm = (host: string) => servers.get(host) as FarmServer;
  const http = (host: string, path: string, headers: string[] = []) => send(`http://127.0.0.1:${ports.get(80)}${path}`, { headers: ['Host', host, ...headers] });
  const https = (iisPort: number, host: string, path: string, options: { clientCert?: boolean; revoked?: boolean; method?: string; headers?: string[]; body?: Buffer | AsyncIterable<Buffer> } = {}) =>
    send(`https://127.0.0.1:${ports.get(iisPort)}${path}`, {
      headers: ['Host', host, ...(options.headers ?? [])],
      ca: certs.serverCa.certPem,
      tls: { servername: host },
      ...(options.clientCert ? { clientCert: certs.client } : options.revoked ? { clientCert: certs.revokedClient } : {}),
      ...(options.method ? { method: options.method } : {}),
      ...(options.body ? { body: options.body } : {}),
    });
  const echo = (reply: ClientReply): EchoReply => {
    assert.equal(reply.status, 200, `${reply.status} ${reply.body.toString()} ${reply.error?.message ?? ''}`);
    return JSON.parse(reply.body.toString('utf8')) as EchoReply;
  };
  const receivedBy = (host: string, path: string) => farm(host).backend.received.filter((r) => r.url.startsWith(path));

  test('the import exits 2 (elements with no equivalent remain), uses the exported PFX files and the client CA, and the output validates', async () => {
    assert.equal(result.code, 2, describeRun(result));
    const report = reportOf(result, [INPUT, 'sslcert.txt']);
    assertReportForm(result, [INPUT, 'sslcert.txt']);
    assert.ok(!report.some((e) => /Export-PfxCertificate/.test(e.text)), `no export line when the PFX files are given:\n${report.map((e) => e.raw).join('\n')}`);
    for (const [hash, issued] of certs.byFixtureHash) {
      if (hash.startsWith('9f1e')) continue; // WMSvc's 0.0.0.0:8172: no IIS site binds it
      const thumbprint = thumbprintOf(issued);
      const using = asList(config['sites']).flatMap(bindingsOf).filter((b) => {
        const pfx = (b['certificate'] as Plain | undefined)?.['pfxFile'];
        return typeof pfx === 'string' && resolve(temp.dir, pfx) === join(temp.dir, 'exported', `${thumbprint}.pfx`);
      });
      assert.equal(using.length, 1, `one https binding uses exported/${thumbprint}.pfx: ${JSON.stringify(config['sites'])}`);
      assert.equal(resolve(temp.dir, String((using[0]?.['certificate'] as Plain)['passphraseFile'])), certs.passphraseFile, 'with the passphrase file');
    }
    for (const site of asList(config['sites'])) {
      const ssl = site['ssl'] as Plain | undefined;
      if (ssl?.['clientCertificates'] === 'accept' || ssl?.['clientCertificates'] === 'require') assert.equal(resolve(temp.dir, String(ssl['trustedCaFile'])), certs.clientCaFile, `--client-ca for ${String(site['name'])}`);
    }
    const checked = await validate(temp.dir, 'gatehouse.yaml');
    assert.equal(checked.code, 0, `gatehouse validate accepts the output as written: ${describeRun(checked)}`);
  });

  test('host-name routing: each global rule sends its host to its farm; the catch-all rule takes the rest', async () => {
    const intranet = echo(await http('intranet.contoso.com', '/routing/intranet'));
    assert.match(intranet.server, /^intra-web0[12]\./);
    assert.equal(intranet.headers['host'], 'intranet.contoso.com', 'the farm keeps the Host header (preserveHostHeader, farm default true)');
    assert.equal(intranet.headers['x-forwarded-for'], '127.0.0.1', 'system.webServer/proxy includePortInXForwardedFor="false" applies to the farm');
    assert.match(echo(await http('api.contoso.com', '/routing/api')).server, /^api0[12]\./);
    assert.match(echo(await http('www.contoso.com', '/routing/www')).server, /^web0[12]\./);
    assert.match(echo(await https(443, 'intranet.contoso.com', '/routing/intranet-tls')).server, /^intra-web0[12]\./, 'https, SNI binding of Contoso Intranet');
    assert.match(echo(await https(443, 'www.contoso.com', '/routing/www-tls')).server, /^web0[12]\./, 'https binding of Default Web Site');
    assert.match(echo(await https(8443, 'partners.contoso.com', '/routing/partners', { clientCert: true })).server, /^partner-app0[12]\./);
  });

  test('the canonical-host redirect: the old host name gets a 301 to www with the path and query; the custom response answers 503 with its text; neither reaches a farm', async () => {
    const before = [...servers.values()].reduce((n, s) => n + s.backend.received.length, 0);
    const moved = await http('contoso.com', '/products/42?color=red');
    assert.equal(moved.status, 301, `${moved.status} ${moved.body.toString()} ${moved.error?.message ?? ''}`);
    assert.equal(moved.headers['location'], 'https://www.contoso.com/products/42?color=red', '{R:1} of (.*) is the path, appendQueryString keeps the query');
    const root = await http('CONTOSO.COM', '/');
    assert.equal(root.status, 301);
    assert.equal(root.headers['location'], 'https://www.contoso.com/', 'the host is matched in any letter case, as IIS does');
    const closed = await http('www.contoso.com', '/legacy/report.aspx');
    assert.equal(closed.status, 503, `${closed.status} ${closed.body.toString()}`);
    assert.equal(closed.body.toString(), 'The legacy application is closed for maintenance');
    const closedTls = await https(443, 'www.contoso.com', '/LEGACY/');
    assert.equal(closedTls.status, 503, 'on the https binding too, and the path in any letter case (ignoreCase)');
    assert.equal([...servers.values()].reduce((n, s) => n + s.backend.received.length, 0), before, 'no farm server got these requests');
    assert.match(echo(await http('intranet.contoso.com', '/legacy/intranet')).server, /^intra-web0[12]\./, 'the intranet host rule comes first in IIS order, so its /legacy/ is routed');
    assert.match(echo(await http('www.contoso.com', '/legacyish')).server, /^web0[12]\./, 'a path the pattern does not match goes to the farm');
  });

  test('weights 300/100: about three requests in four go to intra-web01; the disabled intra-web03 gets nothing', async () => {
    const before1 = receivedBy('intra-web01.contoso.local', '/weights/').length;
    const before2 = receivedBy('intra-web02.contoso.local', '/weights/').length;
    const total = 80;
    for (let i = 0; i < total; i += 1) echo(await http('intranet.contoso.com', `/weights/${i}`));
    const one = receivedBy('intra-web01.contoso.local', '/weights/').length - before1;
    const two = receivedBy('intra-web02.contoso.local', '/weights/').length - before2;
    assert.equal(one + two, total);
    assert.ok(one / total >= 0.65 && one / total <= 0.85, `intra-web01 got ${one} of ${total} (weight 300 of 400)`);
    assert.equal(farm('intra-web03.contoso.local').backend.received.length + farm('intra-web03.contoso.local').probes.length, 0, 'the disabled server receives nothing');
  });

  test('affinity: the cookie has the configured name (IntranetSession), and a client that sends it stays on its server', async () => {
    const first = await http('intranet.contoso.com', '/affinity/first');
    const server = echo(first).server;
    const cookie = [first.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('IntranetSession='));
    assert.ok(cookie, `Set-Cookie IntranetSession=…: ${JSON.stringify(first.headers['set-cookie'])}`);
    const pair = cookie.split(';')[0] as string;
    for (let i = 0; i < 8; i += 1) assert.equal(echo(await http('intranet.contoso.com', `/affinity/${i}`, ['Cookie', pair])).server, server, 'stays with the cookie');
  });

  test('Partner Portal requires a client certificate (Ssl, SslNegotiateCert, SslRequireCert): 403.7 without, 200 with; the farm gets X-ARR-ClientCert', async () => {
    const without = await https(8443, 'partners.contoso.com', '/cert/none');
    assert.equal(without.status, 403, `${without.status} ${without.body.toString()} ${without.error?.message ?? ''}`);
    assert.match(without.body.toString(), /403\.7\b/);
    assert.equal([...servers.values()].flatMap((s) => s.backend.received).filter((r) => r.url === '/cert/none').length, 0, 'nothing forwarded');
    const withCert = echo(await https(8443, 'partners.contoso.com', '/cert/with', { clientCert: true }));
    assert.equal(withCert.headers['x-arr-clientcert'], base64Der(certs.client.issued), 'X-ARR-ClientCert is the base64 DER of the client certificate');
  });

  test('Partner Portal\'s HTTP.sys binding verifies revocation (Verify Client Certificate Revocation: Enabled): a revoked certificate gets 403.13', async () => {
    const reply = await https(8443, 'partners.contoso.com', '/revoked/partner', { revoked: true });
    assert.equal(reply.status, 403, `${reply.status} ${reply.body.toString()} ${reply.error?.message ?? ''}`);
    assert.match(reply.body.toString(), /403\.13\b/);
    assert.equal([...servers.values()].flatMap((s) => s.backend.received).filter((r) => r.url === '/revoked/partner').length, 0, 'nothing forwarded');
  });

  test('Contoso Intranet\'s binding does not verify revocation (Disabled): the revoked certificate is let in, as HTTP.sys lets it in', async () => {
    const reply = echo(await https(443, 'intranet.contoso.com', '/revoked/intranet', { revoked: true }));
    assert.equal(reply.headers['x-arr-clientcert'], base64Der(certs.revokedClient.issued));
  });

  test('Contoso Intranet accepts client certificates (SslNegotiateCert only): a request without one goes through', async () => {
    const reply = echo(await https(443, 'intranet.contoso.com', '/accept/none'));
    assert.match(reply.server, /^intra-web0[12]\./);
    assert.equal(reply.headers['x-arr-clientcert'], undefined);
    const withCert = echo(await https(443, 'intranet.contoso.com', '/accept/with', { clientCert: true }));
    assert.equal(withCert.headers['x-arr-clientcert'], base64Der(certs.client.issued), 'an accepted certificate is forwarded');
    const plain = echo(await http('intranet.contoso.com', '/accept/http'));
    assert.match(plain.server, /^intra-web0[12]\./, 'no Ssl flag: plain http is served');
  });

  test('health test: GET of the URL path with its Host on each server; the unhealthy partner-app02 gets no requests', async () => {
    await until(() => farm('partner-app01.contoso.local').probes.length >= 2 && farm('partner-app02.contoso.local').probes.length >= 2, 20_000, 'two health tests of each PartnerFarm server (interval 1 s)');
    for (const host of ['partner-app01.contoso.local', 'partner-app02.contoso.local']) {
      const probe = farm(host).probes[0];
      assert.equal(probe?.url, '/probe/ready.aspx', 'the path of healthCheck/@url');
      assert.equal(probe?.host, 'partners.contoso.com', 'the host of healthCheck/@url');
    }
    for (let i = 0; i < 24; i += 1) echo(await https(8443, 'partners.contoso.com', `/health/${i}?tenant=t${i}&region=eu`, { clientCert: true }));
    assert.equal(receivedBy('partner-app02.contoso.local', '/health/').length, 0, 'the unhealthy server is skipped');
    assert.equal(receivedBy('partner-app01.contoso.local', '/health/').length, 24);
  });

  test('ApiFarm hashes HTTP_X_TENANT: one tenant stays on one server whatever the path; tenants spread over both', async () => {
    const serverOf = new Map<string, Set<string>>();
    for (let tenant = 0; tenant < 16; tenant += 1) {
      for (let i = 0; i < 3; i += 1) {
        const reply = echo(await http('api.contoso.com', `/hash/${tenant}/${i}`, ['X-Tenant', `tenant-${tenant}`]));
        const set = serverOf.get(`tenant-${tenant}`) ?? new Set<string>();
        set.add(reply.server);
        serverOf.set(`tenant-${tenant}`, set);
      }
    }
    for (const [tenant, set] of serverOf) assert.equal(set.size, 1, `${tenant} went to ${[...set].join(', ')}`);
    assert.equal(new Set([...serverOf.values()].flatMap((s) => [...s])).size, 2, 'both servers take tenants');
  });

  test('requestLimits maxAllowedContentLength="1048576" on Partner Portal: a larger body gets 413 (IIS 404.13), a smaller one passes', async () => {
    const small = echo(await https(8443, 'partners.contoso.com', '/limits/small', { clientCert: true, method: 'POST', body: Buffer.alloc(1000, 'a') }));
    assert.equal(small.bodyBytes, 1000);
    async function* large(): AsyncIterable<Buffer> {
      yield Buffer.alloc(64 * 1024, 'a');
      await new Promise<never>(() => undefined); // the rest never comes: the answer must not wait for it
    }
    const reply = await https(8443, 'partners.contoso.com', '/limits/large', { clientCert: true, method: 'POST', headers: ['Content-Length', String(1048576 + 1)], body: large() });
    assert.equal(reply.status, 413, `${reply.status} ${reply.body.toString()} ${reply.error?.message ?? ''}`);
    assert.equal([...servers.values()].flatMap((s) => s.backend.received).filter((r) => r.url === '/limits/large').length, 0, 'nothing forwarded');
    const other = echo(await https(443, 'intranet.contoso.com', '/limits/other', { method: 'POST', body: Buffer.alloc(1048576 + 4096, 'b') }));
    assert.equal(other.bodyBytes, 1048576 + 4096, "Partner Portal's limit stays there: Contoso Intranet keeps the server-level 30000000");
  });
});

describe('gatehouse import iis: certificates checked, sslcert as PowerShell writes it', () => {
  test('a PFX whose certificate does not match its thumbprint is reported at the binding that needs it', async (t) => {
    const dir = await tempDir(t, 'gatehouse-iis-');
    const text = await placeFixture(dir, 'contoso-arr.config');
    const sslcert = await fixtureText('sslcert-contoso.txt');
    const certs = await makeIisCertificates(join(dir, 'pki'), sslcert);
    t.after(() => certs.close());
    await writeFile(join(dir, 'sslcert.txt'), sslcertFor(sslcert, certs));
    const partners = certs.byFixtureHash.get('c0ffee00deadbeef0123456789abcdef01234567');
    assert.ok(partners);
    const stranger = await issueServer({ ca: await createCa({ commonName: 'Somebody Else CA' }), dnsNames: ['partners.contoso.com'] });
    await exportPfxFiles(join(dir, 'exported'), certs, { thumbprint: thumbprintOf(partners), instead: stranger });
    const result = await importIis(dir, INPUT, '--sslcert', 'sslcert.txt', '--certificates', 'exported', '--pfx-passphrase-file', certs.passphraseFile, '--client-ca', certs.clientCaFile);
    assert.equal(result.code, 2, describeRun(result));
    const line = onlyLineOf(text, 'bindingInformation="*:8443:partners.contoso.com"');
    const report = reportOf(result, [INPUT, 'sslcert.txt']);
    assert.ok(
      report.some((e) => e.line === line && e.text.toUpperCase().includes(thumbprintOf(partners))),
      `the Partner Portal binding (line ${line}) is reported with the thumbprint ${thumbprintOf(partners)}:\n${report.map((e) => e.raw).join('\n')}`,
    );
    const good = certs.byFixtureHash.get('a1b2c3d4e5f60718293a4b5c6d7e8f9012345678');
    assert.ok(good);
    assert.ok(!report.some((e) => e.text.toUpperCase().includes(thumbprintOf(good))), 'the matching PFX files are not reported');
  });

  test('sslcert.txt in UTF-16LE with a BOM and CRLF (PowerShell `>`) is read like the UTF-8 one', async (t) => {
    const dir = await tempDir(t, 'gatehouse-iis-');
    await placeFixture(dir, 'contoso-arr.config');
    const raw = await readFile(fixturePath('sslcert-contoso-utf16.txt'));
    assert.deepEqual([...raw.subarray(0, 2)], [0xff, 0xfe], 'the fixture starts with the UTF-16LE BOM');
    const decoded = raw.subarray(2).toString('utf16le');
    const certs = await makeIisCertificates(join(dir, 'pki'), decoded);
    t.after(() => certs.close());
    assert.equal(hashesIn(decoded).length, 4);
    await writeFile(join(dir, 'sslcert.txt'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(sslcertFor(decoded, certs), 'utf16le')]));
    await exportPfxFiles(join(dir, 'exported'), certs);
    const result = await importIis(dir, INPUT, '--sslcert', 'sslcert.txt', '--certificates', 'exported', '--pfx-passphrase-file', certs.passphraseFile, '--client-ca', certs.clientCaFile);
    assert.equal(result.code, 2, describeRun(result));
    const config = parse(await readFile(join(dir, 'gatehouse.yaml'), 'utf8')) as Plain;
    const pfxFiles = asList(config['sites'])
      .flatMap(bindingsOf)
      .map((b) => (b['certificate'] as Plain | undefined)?.['pfxFile'])
      .filter((p): p is string => typeof p === 'string')
      .map((p) => resolve(dir, p))
      .sort();
    const expected = [...certs.byFixtureHash.entries()]
      .filter(([hash]) => !hash.startsWith('9f1e'))
      .map(([, issued]) => join(dir, 'exported', `${thumbprintOf(issued)}.pfx`))
      .sort();
    assert.deepEqual(pfxFiles, expected, 'every https binding found its entry in the UTF-16 file');
    const checked = await validate(dir, 'gatehouse.yaml');
    assert.equal(checked.code, 0, describeRun(checked));
  });
});
