/**
 * `gatehouse doctor` as a real child process: the Node version, the platform, each node internal with its
 * probe's verdict (fast path active, or the fallback and why) and whether HTTP/2 is safe; exit 0, also
 * with fallbacks forced by GATEHOUSE_PLATFORM_FALLBACKS. And `gatehouse start`'s one line naming the
 * fallbacks in use.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PLATFORM_INTERNALS, type PlatformReport } from '../../src/platform/probes.js';
import { startBackend } from '../support/backends.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { runCli, writeText } from './cli-helpers.js';
import { tempDir } from '../support/temp.js';
import { REPO, RunningCli } from '../support/gatehouse.js';

/** The Node release whose HTTP/2 the crash probe turns off (platform/http2-probe.ts). */
const isKnownHttp2Crash = process.versions.node === '22.23.5';

/** The environment without a forced fallback of the test run's own. */
function env(fallbacks?: string): NodeJS.ProcessEnv {
  const { GATEHOUSE_PLATFORM_FALLBACKS: _, NODE_TEST_CONTEXT: __, ...rest } = process.env;
  return fallbacks === undefined ? rest : { ...rest, GATEHOUSE_PLATFORM_FALLBACKS: fallbacks };
}

/** The status column of a name's line in doctor's output. */
function statusOf(stdout: string, name: string): string {
  const match = new RegExp(`^  ${name.replace(/[-/]/g, '\\$&')} +(\\S+) `, 'm').exec(stdout);
  assert.ok(match, `a line for ${name} in:\n${stdout}`);
  return match[1] as string;
}

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});
after(() => pki?.cleanup());

test('gatehouse doctor: Node version, platform, every internal active on this Node, HTTP/2 verdict; exit 0', async () => {
  const result = await runCli(['doctor'], { cwd: REPO, env: env(), timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`^Node\\.js +${process.version.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(result.stdout, new RegExp(`^platform +${process.platform} ${process.arch}, OpenSSL ${process.versions.openssl?.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(result.stdout, /^forced +none$/m);
  for (const entry of PLATFORM_INTERNALS) {
    const expected = entry.name === 'http2' && isKnownHttp2Crash ? 'FALLBACK' : 'active';
    assert.equal(statusOf(result.stdout, entry.name), expected, entry.name);
  }
  if (isKnownHttp2Crash) {
    assert.match(result.stdout, /^HTTP\/2 +off: this Node\.js \(v22\.23\.5\) aborts/m);
    assert.match(result.stdout, /^1 fallback in use: http2$/m);
  } else {
    assert.match(result.stdout, /^HTTP\/2 +safe on this Node$/m);
    assert.match(result.stdout, /^every fast path is active$/m);
  }
});

test('gatehouse doctor with GATEHOUSE_PLATFORM_FALLBACKS: the forced ones are on their fallback, with why; exit 0', async () => {
  const result = await runCli(['doctor'], { cwd: REPO, env: env('consume,request-cert,bogus'), timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^forced +GATEHOUSE_PLATFORM_FALLBACKS=consume,request-cert,bogus$/m);
  assert.match(result.stdout, /names no internal called bogus \(ignored\)/);
  for (const name of ['consume', 'request-cert']) {
    assert.equal(statusOf(result.stdout, name), 'FALLBACK', name);
    assert.match(result.stdout, new RegExp(`why: forced by GATEHOUSE_PLATFORM_FALLBACKS=${name} \\(probe: `), name);
  }
  // consume's fallback is also read-stop's and unref-timer's: they say they are unused.
  assert.equal(statusOf(result.stdout, 'read-stop'), 'FALLBACK');
  assert.match(result.stdout, /why: probe passed, but unused: consume is on the 'data'-event fallback/);
  assert.match(result.stdout, /using: the server's public requestCert when any binding of the listener asks/);
  assert.equal(statusOf(result.stdout, 'sni-slot'), 'active');
});

test('gatehouse doctor --json: the same report, parsed', async () => {
  const result = await runCli(['doctor', '--json'], { cwd: REPO, env: env('get-certificate'), timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as PlatformReport;
  assert.equal(report.node, process.version);
  assert.deepEqual(
    report.checks.map((check) => check.name),
    PLATFORM_INTERNALS.map((entry) => entry.name),
  );
  const byName = Object.fromEntries(report.checks.map((check) => [check.name, check]));
  assert.equal(byName['get-certificate']?.status, 'fallback');
  assert.equal(byName['parser']?.status, 'active');
});

/** Runs `gatehouse start -c file` until it listens, then stops it with SIGTERM; resolves with its stderr. */
async function startAndStop(dir: string, config: string, fallbacks?: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const gatehouse = new RunningCli(undefined, ['start', '-c', config], dir, { env: env(fallbacks) });
  try {
    await gatehouse.waitFor('stdout', /^listening https:/m, 30_000);
    gatehouse.child.kill('SIGTERM');
    const { code } = await gatehouse.waitExit(15_000);
    return { stdout: gatehouse.stdout, stderr: gatehouse.stderr, code };
  } finally {
    await gatehouse.kill();
  }
}

test('gatehouse start logs one line naming each fallback in use and why; none when every fast path is active', async (t) => {
  const backend = await startBackend('doctor-start');
  t.after(() => backend.close());
  const dir = await tempDir(t);
  const config = await writeText(
    dir,
    'gatehouse.yaml',
    `sites:
  - name: s
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 0
        http2: false
        certificate:
          certFile: ${pki.server.certFile}
          keyFile: ${pki.server.keyFile}
    farm: f
farms:
  - name: f
    servers:
      - address: ${backend.address}
accessLog: off
drainTimeout: 1s
`,
  );
  const plain = await startAndStop(dir, config);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /fallback/, plain.stderr);

  const forced = await startAndStop(dir, config, 'sni-slot,ticket-renewal');
  assert.equal(forced.code, 0, forced.stderr);
  const lines = forced.stderr.split('\n').filter((line) => line.includes('platform fallbacks in use'));
  assert.equal(lines.length, 1, forced.stderr);
  assert.match(lines[0] as string, new RegExp(`^gatehouse: platform fallbacks in use on Node\\.js ${process.version.replace(/\./g, '\\.')}: sni-slot \\(forced by GATEHOUSE_PLATFORM_FALLBACKS=sni-slot \\(probe: [^)]*\\)\\); ticket-renewal \\(forced by GATEHOUSE_PLATFORM_FALLBACKS=ticket-renewal `));
  assert.ok(forced.stdout.indexOf('listening https://') >= 0);
});
