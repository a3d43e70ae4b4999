/**
 * `gatehouse demo` (= `npm start`) as a child process: it prints curl commands that work as printed
 * (200 with the certificate, 403.7 without, 403.4 over http), stops on Ctrl-C (SIGINT) with exit 0, and
 * reuses its certificates on the next run with the same state folder.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './cli-helpers.js';
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

async function startDemo(t: { after(fn: () => unknown): void }, cwd: string, state: string, port: number, httpPort: number): Promise<DemoRun> {
  const cli = new RunningCli(t, ['demo', '--state', state, '--port', String(port), '--http-port', String(httpPort)], cwd);
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

describe('gatehouse demo', () => {
  test('the printed curl commands work as printed; Ctrl-C stops it; a second run reuses the certificates', { timeout: 180_000 }, async (t) => {
    const dir = await tempDir(t, 'gatehouse-demo-');
    const port = await freePort();
    let httpPort = await freePort();
    for (let i = 0; i < 5 && httpPort === port; i++) httpPort = await freePort();
    assert.notEqual(httpPort, port);

    const first = await startDemo(t, dir, 'state', port, httpPort);
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

    await stopWithCtrlC(first.cli);

    const state = join(dir, 'state');
    for (const key of ['client.key', 'server.key', 'client.pfx']) await assertMode0600(join(state, key));
    const clientPem = await readFile(join(state, 'client.pem'), 'utf8');
    const serverPem = await readFile(join(state, 'server.pem'), 'utf8');

    const second = await startDemo(t, dir, 'state', port, httpPort);
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
