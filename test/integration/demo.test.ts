/**
 * `gatehouse demo` (= `npm start`) as a child process: it prints curl commands that work as printed
 * (200 with the certificate, 403.7 without, 403.4 over http), stops on Ctrl-C (SIGINT) with exit 0, and
 * reuses its certificates on the next run with the same state folder.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, runCli } from './cli-helpers.js';
import { assertMode0600, certificatesIn, curlIn, leafOfPem, openssl } from './e2e-helpers.js';
import { tempDir } from '../support/temp.js';
import { RunningCli } from '../support/gatehouse.js';

const READY = /^Ctrl-C stops everything\.$/m;

interface DemoRun {
  readonly cli: RunningCli;
  readonly output: string;
  /** The printed curl commands, as argument lists (without the leading `curl`). */
  readonly curls: string[][];
}

async function startDemo(t: { after(fn: () => unknown): void }, cwd: string, state: string, port: number, httpPort: number, adminPort: number): Promise<DemoRun> {
  const cli = new RunningCli(t, ['demo', '--state', state, '--port', String(port), '--http-port', String(httpPort), '--admin-port', String(adminPort)], cwd);
  await cli.waitFor('stdout', READY, 60_000);
  const output = cli.stdout;
  const curls = output
    .split('\n')
    .filter((line) => line.startsWith('  curl '))
    .map((line) => line.trim().split(/\s+/).slice(1));
  return { cli, output, curls };
}

async function stopWithCtrlC(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGINT');
  const exit = await cli.waitExit(20_000);
  assert.deepEqual(exit, { code: 0, signal: null }, `exit after SIGINT\n${cli.stdout}\n${cli.stderr}`);
}

/** Three distinct ports that were free a moment ago. */
async function threePorts(): Promise<[number, number, number]> {
  const ports = new Set<number>();
  for (let i = 0; i < 20 && ports.size < 3; i++) ports.add(await freePort());
  assert.equal(ports.size, 3, 'three free ports');
  return [...ports] as [number, number, number];
}

/** The printed console URL, token file and CLI line (`NAME=value … npx gatehouse farm list`). */
function consoleLines(output: string): { url: string; tokenFile: string; env: Record<string, string>; args: string[] } {
  const url = /^ {2}console\s+(https:\/\/\S+)$/m.exec(output)?.[1];
  const tokenFile = /^ {2}token file\s+(\S+)$/m.exec(output)?.[1];
  const cli = /^ {2}(GATEHOUSE_ADMIN_URL=.*) npx gatehouse (.+)$/m.exec(output);
  assert.ok(url && tokenFile && cli, `the console URL, token file and CLI line:\n${output}`);
  const env = Object.fromEntries((cli[1] as string).split(' ').map((pair) => pair.split('=', 2) as [string, string]));
  return { url, tokenFile, env, args: (cli[2] as string).split(' ') };
}

describe('gatehouse demo', () => {
  test('the printed curl commands work as printed; Ctrl-C stops it; a second run reuses the certificates', { timeout: 180_000 }, async (t) => {
    const dir = await tempDir(t, 'gatehouse-demo-');
    const [port, httpPort, adminPort] = await threePorts();
    const first = await startDemo(t, dir, 'state', port, httpPort, adminPort);
    assert.match(first.output, /certificates created/, first.output);
    assert.match(first.output, new RegExp(`listening\\s+https://127\\.0\\.0\\.1:${port} `), first.output);
    assert.match(first.output, new RegExp(`listening\\s+http://127\\.0\\.0\\.1:${httpPort} `), first.output);
    assert.equal(first.curls.length, 3, `three curl commands:\n${first.output}`);

    const withCert = first.curls.find((args) => args.includes('--cert'));
    const withoutCert = first.curls.find((args) => !args.includes('--cert') && args.some((a) => a.startsWith('https://')));
    const overHttp = first.curls.find((args) => args.some((a) => a.startsWith('http://')));
    assert.ok(withCert && withoutCert && overHttp, `curl commands for each case:\n${first.output}`);

    const ok = await curlIn(dir, withCert);
    assert.equal(ok.exitCode, 0, ok.stderr);
    assert.equal(ok.status, 200, `${ok.body}\n${ok.stderr}`);
    const json = JSON.parse(ok.body) as { answeredBy?: unknown; clientCertificate?: { subject?: unknown } };
    assert.match(String(json.answeredBy), /^backend-[12]$/, ok.body);
    assert.equal(typeof json.clientCertificate, 'object', ok.body);
    assert.match(String(json.clientCertificate?.subject), /CN=Demo User/, ok.body);
    const clientPemFile = withCert[withCert.indexOf('--cert') + 1] as string;
    const thumbprint = (json.clientCertificate as { thumbprintSha1?: unknown }).thumbprintSha1;
    assert.equal(thumbprint, leafOfPem(await readFile(join(dir, clientPemFile), 'utf8')).fingerprint.replace(/:/g, ''), 'the backend received the printed client certificate');

    const noCert = await curlIn(dir, withoutCert);
    assert.equal(noCert.status, 403, `${noCert.body}\n${noCert.stderr}`);
    assert.match(noCert.body, /403\.7/, noCert.body);

    const http = await curlIn(dir, overHttp);
    assert.equal(http.status, 403, `${http.body}\n${http.stderr}`);
    assert.match(http.body, /403\.4/, http.body);

    // The console: the printed URL answers the demo client certificate as an administrator (the page
    // itself in Chromium: console-demo.test.ts), the token file is 0600, and the printed CLI line works.
    const printed = consoleLines(first.output);
    assert.equal(printed.url, `https://localhost:${adminPort}/`);
    const page = await curlIn(dir, ['--cacert', 'state/demo-ca.pem', '--cert', 'state/client.pem', '--key', 'state/client.key', printed.url]);
    assert.equal(page.status, 200, page.stderr);
    assert.match(page.body, /<script type="module" src="app\.js"><\/script>/, 'the console page');
    const whoami = await curlIn(dir, ['--cacert', 'state/demo-ca.pem', '--cert', 'state/client.pem', '--key', 'state/client.key', `${printed.url}api/v1/whoami`]);
    assert.equal(whoami.status, 200, whoami.body);
    const who = JSON.parse(whoami.body) as { user: string; role: string; kind: string };
    assert.deepEqual([who.role, who.kind], ['administrator', 'certificate'], whoami.body);
    assert.match(who.user, /CN=Demo User/, whoami.body);
    const noBadge = await curlIn(dir, ['--cacert', 'state/demo-ca.pem', `${printed.url}api/v1/whoami`]);
    assert.equal(noBadge.status, 401, 'no certificate, no token: not signed in');
    await assertMode0600(join(dir, printed.tokenFile));
    const farmList = await runCli(printed.args, { cwd: dir, env: { ...process.env, ...printed.env } });
    assert.equal(farmList.code, 0, farmList.stderr);
    assert.match(farmList.stdout, /^demo-backends\s+yes\s+\S+\s+2\/2\b/m, farmList.stdout);

    await stopWithCtrlC(first.cli);

    const state = join(dir, 'state');
    for (const key of ['client.key', 'server.key', 'client.pfx']) await assertMode0600(join(state, key));
    const clientPem = await readFile(join(state, 'client.pem'), 'utf8');
    const serverPem = await readFile(join(state, 'server.pem'), 'utf8');

    const second = await startDemo(t, dir, 'state', port, httpPort, adminPort);
    assert.match(second.output, /certificates reused/, second.output);
    assert.equal(await readFile(join(state, 'client.pem'), 'utf8'), clientPem, 'same client certificate');
    assert.equal(await readFile(join(state, 'server.pem'), 'utf8'), serverPem, 'same server certificate');
    const again = await curlIn(dir, withCert);
    assert.equal(again.status, 200, `${again.body}\n${again.stderr}`);

    const password = /PFX password: (\S+)/.exec(second.output)?.[1];
    assert.ok(password, `a printed PFX password:\n${second.output}`);
    assert.equal(/PFX password: (\S+)/.exec(first.output)?.[1], password, 'the same password on both runs');
    const pfxPath = /client certificate (\S+)\s+PFX password/.exec(second.output)?.[1];
    assert.ok(pfxPath, second.output);
    const opened = await openssl(dir, 'pkcs12', '-in', pfxPath, '-passin', `pass:${password}`, '-nokeys');
    assert.equal(opened.code, 0, opened.stdout + opened.stderr);
    assert.ok(certificatesIn(opened.stdout).some((c) => c.raw.equals(leafOfPem(clientPem).raw)), 'the PFX holds client.pem');

    await stopWithCtrlC(second.cli);
  });
});
