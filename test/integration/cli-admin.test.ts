/**
 * The `gatehouse` commands over the admin API (farm list|show, server drain|available|unavailable|
 * healthy|unhealthy, certs list, status), run as the real command line against a real Gatehouse child
 * process whose admin listener speaks https (certificate made at test time), with a token user per role and
 * an admin badge: tables for people and --json matching the API; a drain that real requests then avoid;
 * exit codes 3 (auth), 4 (not found), 5 (conflict: a stale If-Match whose server was already changed), 1
 * (connection refused, untrusted certificate); flags, environment variables and the config file's admin
 * key; tokens never in any output.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueClient } from '../../src/pki/index.js';
import { refusedAddress, startBackend, type Backend } from '../support/backends.js';
import { RunningCli } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { apiClient, makeToken, type Badge } from './admin-api-helpers.js';
import { runCli, type CliResult } from './cli-helpers.js';

let pki: TestPki;
let backends: Backend[];
let spare: Backend;
let gatehouse: RunningCli;
let configFile: string;
let adminUrl: string;
let siteUrl: string;
let otto: Badge;
let api: ReturnType<typeof apiClient>;
const tokens = { viewer: { token: '', file: '' }, operator: { token: '', file: '' }, admin: { token: '', file: '' } };
/** Every CLI output of the file, checked for tokens at the end. */
const outputs: string[] = [];

/** The environment without any GATEHOUSE_ADMIN_* of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GATEHOUSE_ADMIN_')));
  return { ...env, ...extra };
}

/** Runs `gatehouse ARGS` with the given environment (default: none of ours), collecting its output. */
async function cli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const result = await runCli(args, { cwd: pki.dir, env: cleanEnv(env), timeoutMs: 30_000 });
  outputs.push(result.stdout, result.stderr);
  return result;
}

/** Connection flags: the admin URL, its CA and a token file of that role. */
const as = (role: keyof typeof tokens) => ['--admin', adminUrl, '--ca', pki.caFile, '--token-file', tokens[role].file];

function expectExit(result: CliResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

/** A GET over a new connection to the site; resolves with the backend name that answered. */
function newClientRequest(): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${siteUrl}/drain-check`, { agent: false, headers: { connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve((JSON.parse(text) as { server: string }).server);
        } catch {
          reject(new Error(`not an echo answer (${res.statusCode}): ${text}`));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const serverOf = (farm: any, address: string) => farm.servers.find((s: { address: string }) => s.address === address);
const getFarm = async (name = 'web') => (await api('GET', `/api/v1/farms/${name}`, { token: tokens.viewer.token })).json;

before(async () => {
  pki = await createTestPki();
  backends = await Promise.all(['one', 'two'].map((name) => startBackend(name)));
  spare = await startBackend('spare');
  const issued = await issueClient({ ca: pki.root, commonName: 'Otto Operator', organization: 'Example' });
  otto = { certFile: join(pki.dir, 'otto-badge.pem'), keyFile: join(pki.dir, 'otto-badge.key') };
  await writeFile(otto.certFile, issued.certPem);
  await writeFile(otto.keyFile, issued.keyPem, { mode: 0o600 });
  tokens.viewer = await makeToken(pki.dir, 'viewer');
  tokens.operator = await makeToken(pki.dir, 'operator');
  tokens.admin = await makeToken(pki.dir, 'admin');
  configFile = join(pki.dir, 'gatehouse.yaml');
  await writeFile(
    configFile,
    `accessLog: off
workers: 1
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  trustedCaFile: ${pki.caFile}
  users:
    - { subject: "CN=Otto Operator, O=Example", role: operator }
    - { name: viewer-bot, tokenFile: ${tokens.viewer.file}, role: viewer }
    - { name: operator-bot, tokenFile: ${tokens.operator.file}, role: operator }
    - { name: ci, tokenFile: ${tokens.admin.file}, role: administrator }
sites:
  - name: web
    bindings:
      - { protocol: http, address: 127.0.0.1, port: 0 }
      - protocol: https
        address: 127.0.0.1
        port: 0
        certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
    farm: web
  - name: spare
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: spare
farms:
  - name: web
    servers: [${backends.map((b) => `{ address: ${b.address} }`).join(', ')}]
    loadBalancing: { algorithm: weightedRoundRobin }
  - name: spare
    servers: [{ address: ${spare.address} }]
`,
  );
  gatehouse = new RunningCli(undefined, ['start', '-c', configFile], pki.dir, { env: cleanEnv() });
  adminUrl = (await gatehouse.waitForLine('stdout', /^listening https:\/\/127\.0\.0\.1:\d+\/metrics \(admin\)$/)).replace(/^listening (\S+)\/metrics.*$/, '$1');
  siteUrl = (await gatehouse.waitForLine('stdout', /^listening http:\/\/127\.0\.0\.1:\d+ \(site web\)$/)).split(' ')[1] as string;
  api = apiClient(() => adminUrl, pki.caFile);
});

after(async () => {
  await gatehouse?.kill();
  await Promise.all([...(backends ?? []), ...(spare ? [spare] : [])].map((b) => b.close()));
  await pki?.cleanup();
});

describe('reads: tables and --json', () => {
  test('status: version, node, uptime, workers, config file, last reload; --json is GET /status', async () => {
    const table = await cli(['status', ...as('viewer')]);
    expectExit(table, 0, 'status');
    assert.match(table.stdout, /^version +\d+\.\d+\.\d+/m);
    assert.match(table.stdout, new RegExp(`^node +${process.version.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(table.stdout, /^uptime +\d+(s|m \d\ds) \(since \d{4}-/m);
    assert.match(table.stdout, /^workers +1$/m);
    assert.match(table.stdout, /^config file +\S*gatehouse\.yaml$/m);
    assert.match(table.stdout, /^last reload +/m);
    const json = await cli(['status', '--json', ...as('viewer')]);
    expectExit(json, 0, 'status --json');
    const fromCli = JSON.parse(json.stdout);
    const fromApi = (await api('GET', '/api/v1/status', { token: tokens.viewer.token })).json;
    assert.deepEqual(Object.keys(fromCli).sort(), Object.keys(fromApi).sort());
    for (const key of ['version', 'node', 'startedAt', 'workers', 'configFile', 'lastReload']) assert.deepEqual(fromCli[key], fromApi[key], key);
  });

  test('farm list: one row per farm (enabled, algorithm, healthy/total, req/s, current, failed); --json matches GET /farms', async () => {
    const warmUp = new Set([await newClientRequest(), await newClientRequest()]);
    assert.deepEqual([...warmUp].sort(), ['one', 'two'], 'round robin: both servers answer');
    const table = await cli(['farm', 'list', ...as('viewer')]);
    expectExit(table, 0, 'farm list');
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] as string, /^FARM +ENABLED +ALGORITHM +HEALTHY +REQ\/S +CURRENT +FAILED$/);
    assert.match(table.stdout, /^web +yes +weightedRoundRobin +2\/2 +[\d.]+ +0 +0$/m);
    assert.match(table.stdout, /^spare +yes +\S+ +1\/1 +[\d.]+ +0 +0$/m);
    assert.equal(lines.length, 3);
    const json = await cli(['farm', 'list', '--json', ...as('viewer')]);
    expectExit(json, 0, 'farm list --json');
    const fromApi = (await api('GET', '/api/v1/farms', { token: tokens.viewer.token })).json;
    // Rates move with time; everything else is the API's answer as it is.
    const steady = (answer: any) => JSON.parse(JSON.stringify(answer, (key, value) => (key === 'requestsPerSecond' || key === 'responseTimeMs' ? 0 : value)));
    assert.deepEqual(steady(JSON.parse(json.stdout)), steady(fromApi));
  });

  test("farm show: algorithm, health test and affinity; ARR's Monitoring columns per server", async () => {
    const result = await cli(['farm', 'show', 'web', ...as('viewer')]);
    expectExit(result, 0, 'farm show');
    assert.match(result.stdout, /^farm +web \(enabled\)$/m);
    assert.match(result.stdout, /^algorithm +weightedRoundRobin$/m);
    assert.match(result.stdout, /^health test +\S/m);
    assert.match(result.stdout, /^affinity +none$/m);
    assert.match(result.stdout, /^ADDRESS +STATE +HEALTH +CURRENT +TOTAL +FAILED +REQ\/S +RESPONSE MS +SENT +RECEIVED +AFFINITY CLIENTS$/m);
    const farm = await getFarm();
    for (const backend of backends) {
      const total = serverOf(farm, backend.address).totalRequests as number;
      assert.ok(total >= 1, 'the warm-up reached both');
      assert.match(result.stdout, new RegExp(`^${backend.address.replace(/\./g, '\\.')} +available +healthy +0 +${total} +0 +[\\d.]+ +[\\d.-]+ +[\\d.]+ [KMG]?B +[\\d.]+ [KMG]?B +0$`, 'm'));
    }
    const json = await cli(['farm', 'show', 'web', '--json', ...as('viewer')]);
    expectExit(json, 0, 'farm show --json');
    assert.equal(JSON.parse(json.stdout).etag, farm.etag);
  });
});

describe('server state and health', () => {
  test('server drain: prints what changed; new clients then never reach the server; server available brings it back', async () => {
    const [drained, other] = backends as [Backend, Backend];
    const result = await cli(['server', 'drain', 'web', drained.address, ...as('operator')]);
    expectExit(result, 0, 'drain');
    assert.equal(result.stdout, `farm web: ${drained.address} available → drain\n`);
    assert.equal(serverOf(await getFarm(), drained.address).state, 'drain');
    const before = drained.received.length;
    const answered: string[] = [];
    for (let i = 0; i < 8; i++) answered.push(await newClientRequest());
    assert.deepEqual(answered, Array(8).fill(other.name), 'every new client went to the other server');
    assert.equal(drained.received.length, before, 'the drained server got no request');
    const again = await cli(['server', 'drain', 'web', drained.address, ...as('operator')]);
    expectExit(again, 0, 'drain again');
    assert.equal(again.stdout, `farm web: ${drained.address} drain (unchanged)\n`);
    const back = await cli(['server', 'available', 'web', drained.address, '--json', ...as('operator')]);
    expectExit(back, 0, 'available --json');
    const answer = JSON.parse(back.stdout);
    assert.deepEqual(answer.operation, { type: 'server.setState', farm: 'web', address: drained.address, state: 'available' });
    assert.equal(answer.changed, true);
    assert.deepEqual(answer.before, { state: 'drain' });
    assert.deepEqual(answer.after, { state: 'available' });
    assert.equal(serverOf(answer.farm, drained.address).state, 'available');
    const reached: string[] = [];
    for (let i = 0; i < 4; i++) reached.push(await newClientRequest());
    assert.ok(reached.includes(drained.name), 'available again: new clients reach it');
  });

  test('server unavailable / available, and healthy / unhealthy (an admin badge signs in)', async () => {
    const address = backends[1]!.address;
    const badge = ['--admin', adminUrl, '--ca', pki.caFile, '--cert', otto.certFile, '--key', otto.keyFile];
    const off = await cli(['server', 'unavailable', 'web', address, ...badge]);
    expectExit(off, 0, 'unavailable');
    assert.equal(off.stdout, `farm web: ${address} available → unavailable\n`);
    const on = await cli(['server', 'available', 'web', address, ...badge]);
    expectExit(on, 0, 'available');
    assert.equal(on.stdout, `farm web: ${address} unavailable → available\n`);
    const sick = await cli(['server', 'unhealthy', 'web', address, ...as('operator')]);
    expectExit(sick, 0, 'unhealthy');
    assert.equal(sick.stdout, `farm web: ${address} healthy → unhealthy\n`);
    const shown = await cli(['farm', 'show', 'web', ...as('viewer')]);
    assert.match(shown.stdout, new RegExp(`^${address.replace(/\./g, '\\.')} +available +unhealthy `, 'm'));
    assert.match(shown.stdout, /marked unhealthy by token user operator-bot/);
    const well = await cli(['server', 'healthy', 'web', address, ...as('operator')]);
    expectExit(well, 0, 'healthy');
    assert.equal(well.stdout, `farm web: ${address} unhealthy → healthy\n`);
    assert.equal(serverOf(await getFarm(), address).health, 'healthy');
  });
});

describe('exit codes', () => {
  test('3: a viewer token on drain (403), a wrong token and an untrusted badge (401), no credentials at all', async () => {
    const address = backends[0]!.address;
    const viewer = await cli(['server', 'drain', 'web', address, ...as('viewer')]);
    expectExit(viewer, 3, 'viewer drains');
    assert.equal(viewer.stdout, '');
    assert.match(viewer.stderr, /^gatehouse: Forbidden \(forbidden\): token user viewer-bot has the role viewer; this needs operator/);
    const wrongFile = join(pki.dir, 'wrong.token');
    await writeFile(wrongFile, `${'w'.repeat(43)}\n`, { mode: 0o600 });
    const wrong = await cli(['farm', 'list', '--admin', adminUrl, '--ca', pki.caFile, '--token-file', wrongFile]);
    expectExit(wrong, 3, 'wrong token');
    assert.match(wrong.stderr, /^gatehouse: Unauthorized \(invalid_token\): the bearer token matches no admin user$/m);
    assert.doesNotMatch(wrong.stderr + wrong.stdout, /wwwwwwww/);
    const untrusted = await cli(['status', '--admin', adminUrl, '--ca', pki.caFile, '--cert', pki.clients.untrusted.certFile, '--key', pki.clients.untrusted.keyFile]);
    expectExit(untrusted, 3, 'untrusted badge');
    assert.match(untrusted.stderr, /\(certificate_not_trusted\)/);
    const none = await cli(['farm', 'list', '--admin', adminUrl, '--ca', pki.caFile]);
    expectExit(none, 3, 'no credentials');
    assert.match(none.stderr, /^gatehouse: no credentials for the admin API: set --token-file FILE or GATEHOUSE_ADMIN_TOKEN_FILE .*GATEHOUSE_ADMIN_TOKEN .*--cert FILE --key FILE/);
    assert.equal(serverOf(await getFarm(), address).state, 'available', 'nothing was changed');
  });

  test('4: an unknown farm, an unknown server', async () => {
    const farm = await cli(['farm', 'show', 'nope', ...as('viewer')]);
    expectExit(farm, 4, 'unknown farm');
    assert.match(farm.stderr, /^gatehouse: Not Found \(farm_not_found\): no farm named 'nope' \(farms: web, spare\)$/m);
    const drainFarm = await cli(['server', 'drain', 'nope', backends[0]!.address, '--json', ...as('operator')]);
    expectExit(drainFarm, 4, 'drain in an unknown farm');
    const problem = JSON.parse(drainFarm.stdout);
    assert.equal(problem.code, 'farm_not_found', '--json: the problem on stdout');
    assert.equal(problem.status, 404);
    const missing = await refusedAddress();
    const server = await cli(['server', 'drain', 'web', missing, ...as('operator')]);
    expectExit(server, 4, 'unknown server');
    assert.match(server.stderr, new RegExp(`^gatehouse: Not Found \\(server_not_found\\): farm 'web' has no server '${missing.replace(/\./g, '\\.')}'`, 'm'));
    const health = await cli(['server', 'unhealthy', 'web', missing, ...as('operator')]);
    expectExit(health, 4, 'unknown server, health');
  });

  test('5: a stale ETag (412) whose server was already changed by someone else; a stale ETag on a server still to change is retried once', async () => {
    const address = backends[0]!.address;
    // Someone else drains it first (the API directly).
    const etag = (await getFarm()).etag as string;
    const first = await api('PUT', `/api/v1/farms/web/servers/${encodeURIComponent(address)}/state`, { token: tokens.operator.token, body: { state: 'drain' }, ifMatch: etag });
    assert.equal(first.status, 200, first.text);
    // The CLI writes with the ETag it read before that change.
    const late = await cli(['server', 'drain', 'web', address, '--if-match', etag, ...as('operator')]);
    expectExit(late, 5, 'stale ETag, already drained');
    assert.match(late.stderr, /^gatehouse: Precondition Failed \(precondition_failed\): it changed since /m);
    assert.match(late.stderr, new RegExp(`${address.replace(/\./g, '\\.')} is drain already: it was changed by someone else meanwhile \\(not retried\\)`));
    // A stale ETag while the server is still not as asked: read again, retried once, done.
    const retried = await cli(['server', 'available', 'web', address, '--if-match', etag, ...as('operator')]);
    expectExit(retried, 0, 'stale ETag, retried');
    assert.equal(retried.stdout, `farm web: ${address} drain → available\n`);
    assert.equal(serverOf(await getFarm(), address).state, 'available');
  });

  test('1: connection refused names the URL and how to set it; an untrusted admin certificate says --ca; usage errors', async () => {
    const refused = `https://${await refusedAddress()}`;
    const result = await cli(['status', '--admin', refused, '--token-file', tokens.viewer.file]);
    expectExit(result, 1, 'refused');
    assert.match(result.stderr, new RegExp(`^gatehouse: cannot connect to the admin API at ${refused.replace(/[.:/]/g, '\\$&')} \\(from --admin\\) \\(ECONNREFUSED\\).*--admin URL or GATEHOUSE_ADMIN_URL`, 'm'));
    const untrusted = await cli(['status', '--admin', adminUrl, '--token-file', tokens.viewer.file]);
    expectExit(untrusted, 1, 'no --ca');
    assert.match(untrusted.stderr, /is not trusted \(.+\): name the CA that issued it with --ca FILE or GATEHOUSE_ADMIN_CA/);
    const usage = await cli(['server', 'drain', 'web', ...as('operator')]);
    expectExit(usage, 1, 'missing address');
    assert.match(usage.stderr, /missing required argument 'address'/);
  });
});

describe('where the URL, token and CA come from', () => {
  test('environment: GATEHOUSE_ADMIN_URL, GATEHOUSE_ADMIN_TOKEN, GATEHOUSE_ADMIN_TOKEN_FILE, GATEHOUSE_ADMIN_CA', async () => {
    const byToken = await cli(['farm', 'list'], { GATEHOUSE_ADMIN_URL: adminUrl, GATEHOUSE_ADMIN_CA: pki.caFile, GATEHOUSE_ADMIN_TOKEN: tokens.viewer.token });
    expectExit(byToken, 0, 'env token');
    assert.match(byToken.stdout, /^web +yes /m);
    const byFile = await cli(['server', 'drain', 'spare', spare.address], { GATEHOUSE_ADMIN_URL: `${adminUrl}/api/v1`, GATEHOUSE_ADMIN_CA: pki.caFile, GATEHOUSE_ADMIN_TOKEN_FILE: tokens.operator.file });
    expectExit(byFile, 0, 'env token file');
    assert.equal(byFile.stdout, `farm spare: ${spare.address} available → drain\n`);
    // A flag wins over the environment: the viewer's file is not allowed to write.
    const flagWins = await cli(['server', 'available', 'spare', spare.address, '--token-file', tokens.viewer.file], { GATEHOUSE_ADMIN_URL: adminUrl, GATEHOUSE_ADMIN_CA: pki.caFile, GATEHOUSE_ADMIN_TOKEN_FILE: tokens.operator.file });
    expectExit(flagWins, 3, '--token-file over the environment');
    const undo = await cli(['server', 'available', 'spare', spare.address], { GATEHOUSE_ADMIN_URL: adminUrl, GATEHOUSE_ADMIN_CA: pki.caFile, GATEHOUSE_ADMIN_TOKEN: tokens.operator.token });
    expectExit(undo, 0, 'env token, write');
  });

  test("the config file's admin key: address (0.0.0.0 connects to loopback), port, https with a certificate", async () => {
    const port = new URL(adminUrl).port;
    const cliConfig = join(pki.dir, 'cli-view.yaml');
    await writeFile(cliConfig, `admin:\n  address: 0.0.0.0\n  port: ${port}\n  certificate: { certFile: nowhere.pem, keyFile: nowhere.key }\n`);
    const result = await cli(['status', '-c', cliConfig, '--ca', pki.caFile, '--token-file', tokens.viewer.file]);
    expectExit(result, 0, 'URL from the config');
    assert.match(result.stdout, /^workers +1$/m);
    const offConfig = join(pki.dir, 'no-admin.yaml');
    await writeFile(offConfig, 'sites: []\n');
    const off = await cli(['status', '-c', offConfig, '--token-file', tokens.viewer.file]);
    expectExit(off, 1, 'no admin key');
    assert.match(off.stderr, /no-admin\.yaml has no admin key .*--admin URL or GATEHOUSE_ADMIN_URL/);
  });
});

describe('parts other helpers build (contract tests)', () => {
  test('certs list: friendly name, issued to, issued by, expiration, days left, thumbprint, used by, problems; --json is GET /certificates', async () => {
    const table = await cli(['certs', 'list', ...as('viewer')]);
    expectExit(table, 0, 'certs list');
    assert.match(table.stdout, /^FRIENDLY NAME +ISSUED TO +ISSUED BY +EXPIRATION +DAYS LEFT +THUMBPRINT +USED BY +PROBLEMS$/m);
    const certificate = new X509Certificate(readFileSync(pki.server.certFile));
    const thumbprint = certificate.fingerprint.replace(/:/g, '').toUpperCase();
    const row = table.stdout.split('\n').find((line) => line.toUpperCase().replace(/:/g, '').includes(thumbprint) && /\bweb\b/.test(line));
    assert.ok(row, `a row with the site certificate's thumbprint ${thumbprint}, used by the site web\n${table.stdout}`);
    assert.match(row, new RegExp(` ${certificate.validTo ? new Date(certificate.validTo).toISOString().slice(0, 10) : ''} `));
    const json = await cli(['certs', 'list', '--json', ...as('viewer')]);
    expectExit(json, 0, 'certs list --json');
    const fromCli = JSON.parse(json.stdout);
    const fromApi = (await api('GET', '/api/v1/certificates', { token: tokens.viewer.token })).json;
    const steady = (answer: any) => JSON.parse(JSON.stringify(answer, (key, value) => (key === 'daysLeft' ? 0 : value)));
    assert.deepEqual(steady(fromCli), steady(fromApi));
    assert.ok(fromCli.certificates.some((c: { thumbprintSha1: string }) => c.thumbprintSha1.toUpperCase().replace(/:/g, '') === thumbprint));
  });

  test('server drain --persist: the state is also written into the config file', async () => {
    const before = await readFile(configFile, 'utf8');
    const result = await cli(['server', 'drain', 'spare', spare.address, '--persist', ...as('operator')]);
    expectExit(result, 0, 'drain --persist');
    assert.equal(result.stdout, `farm spare: ${spare.address} available → drain\n`);
    const afterText = await readFile(configFile, 'utf8');
    assert.notEqual(afterText, before, 'the config file changed');
    assert.match(afterText, /drain/, 'the config file names the state');
    assert.equal(serverOf(await getFarm('spare'), spare.address).state, 'drain');
  });
});

describe('secrets', () => {
  test("no token appears in any command's output, nor in Gatehouse's", async () => {
    assert.ok(outputs.length > 20, 'the other tests ran commands');
    for (const output of [...outputs, gatehouse.stdout, gatehouse.stderr]) for (const { token } of Object.values(tokens)) assert.ok(!output.includes(token), 'a token in an output');
    const help = await cli(['server', 'drain', '--help'], { GATEHOUSE_ADMIN_TOKEN: tokens.admin.token });
    assert.ok(!(help.stdout + help.stderr).includes(tokens.admin.token));
  });
});
