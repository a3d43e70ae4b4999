/**
 * `gatehouse validate [-c FILE]`: exit 0 and `ok` for a valid config; otherwise exit 1 and one line per
 * problem, all at once: `FILE:LINE key.path: what is wrong (what was expected)`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { PROBLEM_LINE, linesOf, lineOf, literal, occupyPort, runCli, validate, writeText, type CliResult } from './cli-helpers.js';
import { tempDir } from '../support/temp.js';
import { REPO } from '../support/gatehouse.js';

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});
after(() => pki?.cleanup());

/**
 * The npx to run, with the node under test: the one installed beside it (a Node.js distribution), or for a
 * node that comes alone (the npm registry's node-linux-* binaries .ci/run installs) the first on PATH.
 */
function npxCommand(): string[] {
  const beside = join(dirname(process.execPath), 'npx');
  const npx = existsSync(beside) ? beside : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'npx')).find((path) => existsSync(path));
  assert.ok(npx, `no npx beside ${process.execPath} nor on PATH`);
  return [process.execPath, npx];
}

const FARMS = `farms:
  - name: web
    servers:
      - address: 127.0.0.1:9001
`;

function validConfig(p: TestPki, port = 8443): string {
  return `# a valid config
sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: ${port}
        certificate:
          certFile: ${p.server.certFile}
          keyFile: ${p.server.keyFile}
      - protocol: http
        address: 127.0.0.1
        port: ${port + 1}
    ssl:
      clientCertificates: accept
      trustedCaFile: ${p.caFile}
      crlFile: ${p.crlFile}
    farm: web
drainTimeout: 2s
${FARMS}`;
}

/** Every non-empty output line (validate may print problems on stdout or stderr). */
function outputLines(result: CliResult): string[] {
  return linesOf(result.stdout + result.stderr);
}

function assertFailedWith(result: CliResult, expected: readonly { line: number; path: string; message?: RegExp }[], file: string): void {
  assert.equal(result.code, 1, `exit code\n${result.stdout}${result.stderr}`);
  const lines = outputLines(result);
  assert.ok(!lines.includes('ok'), 'must not print ok');
  for (const line of lines) assert.match(line, PROBLEM_LINE, 'every line has the form FILE:LINE key.path: what (expected …)');
  const got = lines.map((line) => {
    const m = PROBLEM_LINE.exec(line) as RegExpExecArray;
    return { file: m[1], line: Number(m[2]), path: m[3], text: line };
  });
  for (const want of expected) {
    const hit = got.find((g) => g.path === want.path && g.line === want.line && g.file === file);
    assert.ok(hit, `expected a problem ${file}:${want.line} ${want.path}; got:\n${lines.join('\n')}`);
    if (want.message) assert.match(hit.text, want.message);
  }
  assert.equal(lines.length, expected.length, `exactly ${expected.length} problem line(s); got:\n${lines.join('\n')}`);
}

describe('gatehouse validate: valid files', () => {
  test('a valid config prints ok and exits 0', async (t) => {
    const dir = await tempDir(t);
    await writeText(dir, 'gatehouse.yaml', validConfig(pki));
    const result = await validate(dir, 'gatehouse.yaml');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout, 'ok\n');
  });

  test('a JSON config is accepted too', async (t) => {
    const dir = await tempDir(t);
    const json = {
      sites: [{ name: 'plain', bindings: [{ protocol: 'http', address: '127.0.0.1', port: 8080 }], farm: 'web' }],
      farms: [{ name: 'web', servers: [{ address: '127.0.0.1:9001' }] }],
    };
    await writeText(dir, 'gatehouse.json', JSON.stringify(json, null, 2));
    const result = await validate(dir, 'gatehouse.json');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout, 'ok\n');
  });

  test('without -c it reads ./gatehouse.yaml from the current directory', async (t) => {
    const good = await tempDir(t);
    await writeText(good, 'gatehouse.yaml', validConfig(pki));
    const ok = await validate(good);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, 'ok\n');

    // The problems of an invalid ./gatehouse.yaml prove that this very file is the one read.
    const bad = await tempDir(t);
    await writeText(bad, 'gatehouse.yaml', `sites: []\n${FARMS}`);
    const failed = await validate(bad);
    assertFailedWith(failed, [{ line: 1, path: 'sites' }], 'gatehouse.yaml');
  });

  test('validate does not bind: a port in use does not matter', async (t) => {
    const dir = await tempDir(t);
    const { port } = await occupyPort(t);
    await writeText(
      dir,
      'gatehouse.yaml',
      `sites:\n  - name: plain\n    bindings:\n      - protocol: http\n        address: 127.0.0.1\n        port: ${port}\n    farm: web\n${FARMS}`,
    );
    const result = await validate(dir, 'gatehouse.yaml');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout, 'ok\n');
  });

  test('a missing config file: exit 1, the message names the file', async (t) => {
    const dir = await tempDir(t);
    const named = await validate(dir, 'nowhere/missing.yaml');
    assert.equal(named.code, 1);
    assert.match(named.stdout + named.stderr, /nowhere\/missing\.yaml/);
    assert.match(named.stdout + named.stderr, /does not exist/);
    assert.doesNotMatch(named.stdout, /^ok$/m);

    const defaulted = await validate(dir);
    assert.equal(defaulted.code, 1);
    assert.match(defaulted.stdout + defaulted.stderr, /gatehouse\.yaml.*does not exist/);
  });

  test('npx gatehouse validate works from the repository root', async (t) => {
    const dir = await tempDir(t);
    const file = await writeText(dir, 'gatehouse.yaml', validConfig(pki));
    const npx = npxCommand();
    // --no: never download anything; the bin must come from this repository. npx installs the repository
    // into its cache as a `file:` dependency the first time (as on a fresh machine: an empty cache of its
    // own here), and an install runs the package's `prepare` (the build) in this very checkout, rewriting
    // dist/ under the test files running beside this one. Scripts off: the bin is what `npm ci` built.
    const cache = await tempDir(t, 'gatehouse-npx-cache-');
    // The node under test first on PATH: the gatehouse bin (#!/usr/bin/env node) that npx starts runs on it.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, npm_config_cache: cache, npm_config_ignore_scripts: 'true', npm_config_update_notifier: 'false' };
    const built = join(REPO, 'dist', 'src', 'main.js');
    const builtAt = (await stat(built)).mtimeMs;
    const ok = await runCli(['--no', 'gatehouse', 'validate', '-c', file], { cwd: REPO, command: npx, timeoutMs: 60_000, env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, 'ok\n');

    const bad = await writeText(dir, 'bad.yaml', `sites: []\n${FARMS}`);
    const failed = await runCli(['--no', 'gatehouse', 'validate', '-c', bad], { cwd: REPO, command: npx, timeoutMs: 60_000, env });
    assertFailedWith(failed, [{ line: 1, path: 'sites' }], bad);
    assert.equal((await stat(built)).mtimeMs, builtAt, 'npx did not rebuild dist/ under the running tests');
  });
});

describe('gatehouse validate: YAML syntax', () => {
  const cases: { name: string; yaml: string; marker: string }[] = [
    {
      name: 'a mis-indented key',
      yaml: `sites:
  - name: plain
    bindings:
      - protocol: http
        port: 8080
       address: 127.0.0.1
    farm: web
${FARMS}`,
      marker: '       address: 127.0.0.1',
    },
    {
      name: 'a duplicate key',
      yaml: `sites:
  - name: plain
    bindings:
      - protocol: http
        port: 8080
    farm: web
${FARMS}sites: []
`,
      marker: 'sites: []',
    },
  ];
  for (const c of cases) {
    test(`${c.name} is reported at the line of the error`, async (t) => {
      const dir = await tempDir(t);
      await writeText(dir, 'gatehouse.yaml', c.yaml);
      const result = await validate(dir, 'gatehouse.yaml');
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const lines = outputLines(result);
      assert.ok(lines.length >= 1, 'at least one problem line');
      const want = lineOf(c.yaml, c.marker);
      assert.ok(
        lines.some((line) => line.startsWith(`gatehouse.yaml:${want} `)),
        `a line starting with gatehouse.yaml:${want}; got:\n${lines.join('\n')}`,
      );
    });
  }
});

describe('gatehouse validate: one problem, its line and key path', () => {
  /** `# <-` marks the line the problem must be reported at. */
  const cases: { name: string; yaml: (p: TestPki) => string; path: string; message: RegExp }[] = [
    {
      name: 'wrong type (port: "abc")',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: "abc"   # <-
    farm: web
${FARMS}`,
      path: 'sites[0].bindings[0].port',
      message: /'abc'.* \(expected .*(number|integer).*\)$/,
    },
    {
      name: 'port out of range (70000)',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 70000   # <-
    farm: web
${FARMS}`,
      path: 'sites[0].bindings[0].port',
      message: /70000.* \(expected .*65535.*\)$/,
    },
    {
      name: 'unknown key (prot: https)',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
        prot: https   # <-
    farm: web
${FARMS}`,
      path: 'sites[0].bindings[0].prot',
      message: /unknown key/,
    },
    {
      name: 'bad enum (clientCertificates: maybe)',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
    ssl:
      clientCertificates: maybe   # <-
    farm: web
${FARMS}`,
      path: 'sites[0].ssl.clientCertificates',
      message: /maybe.* \(expected .*ignore, accept, require\)$/,
    },
    {
      name: 'missing required key (no farm)',
      yaml: () => `sites:
  - name: plain   # <-
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
${FARMS}`,
      path: 'sites[0].farm',
      message: /(required|missing)/,
    },
    {
      name: 'farm reference to an undefined farm',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
    farm: nope   # <-
farms:
  - name: web
    servers:
      - address: 127.0.0.1:9001
  - name: backup
    servers:
      - address: 127.0.0.1:9002
`,
      path: 'sites[0].farm',
      message: /'nope'.* \(expected .*web, backup.*\)$/,
    },
    {
      name: 'duplicate site names',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
    farm: web
  - name: plain   # <-
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8081
    farm: web
${FARMS}`,
      path: 'sites[1].name',
      message: /'plain'.*sites\[0\]/,
    },
    {
      name: 'duplicate hostName on one port',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
        hostName: app.example.test
      - protocol: http
        address: 127.0.0.1
        port: 8080
        hostName: app.example.test   # <-
    farm: web
${FARMS}`,
      path: 'sites[0].bindings[1].hostName',
      message: /app\.example\.test.*sites\[0\]\.bindings\[0\]/,
    },
    {
      name: 'http and https on the same port',
      yaml: (p) => `sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 8443
        certificate:
          certFile: ${p.server.certFile}
          keyFile: ${p.server.keyFile}
    farm: web
  - name: plain
    bindings:
      - protocol: http   # <-
        address: 127.0.0.1
        port: 8443
    farm: web
${FARMS}`,
      path: 'sites[1].bindings[0].protocol',
      message: /https.*sites\[0\]\.bindings\[0\].*secure/,
    },
    {
      name: 'https binding without certificate',
      yaml: () => `sites:
  - name: secure
    bindings:
      - protocol: https   # <-
        address: 127.0.0.1
        port: 8443
    farm: web
${FARMS}`,
      path: 'sites[0].bindings[0]',
      message: /certificate/,
    },
    {
      name: 'clientCertificates require without trustedCaFile',
      yaml: (p) => `sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 8443
        certificate:
          certFile: ${p.server.certFile}
          keyFile: ${p.server.keyFile}
    ssl:
      clientCertificates: require   # <-
    farm: web
${FARMS}`,
      path: 'sites[0].ssl.trustedCaFile',
      message: /require.* \(expected .*CA.*\)$/,
    },
    {
      name: 'server address without port (localhost)',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
    farm: web
farms:
  - name: web
    servers:
      - address: localhost   # <-
`,
      path: 'farms[0].servers[0].address',
      message: /'localhost'.* \(expected host:port.*\)$/,
    },
    {
      name: 'bad duration (timeout: soon)',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
    farm: web
farms:
  - name: web
    servers:
      - address: 127.0.0.1:9001
    protocol:
      timeout: soon   # <-
`,
      path: 'farms[0].protocol.timeout',
      message: /'soon'.* \(expected .*30s.*\)$/,
    },
    {
      name: 'bad duration (drainTimeout: forever)',
      yaml: () => `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
    farm: web
drainTimeout: forever   # <-
${FARMS}`,
      path: 'drainTimeout',
      message: /'forever'.* \(expected .*30s.*\)$/,
    },
    {
      name: 'empty sites list',
      yaml: () => `sites: []   # <-
${FARMS}`,
      path: 'sites',
      message: /empty.* \(expected at least 1.*\)$/,
    },
  ];
  for (const c of cases) {
    test(c.name, async (t) => {
      const dir = await tempDir(t);
      const text = c.yaml(pki);
      await writeText(dir, 'gatehouse.yaml', text);
      const result = await validate(dir, 'gatehouse.yaml');
      const line = lineOf(text, '# <-');
      assertFailedWith(result, [{ line, path: c.path, message: new RegExp(`^gatehouse\\.yaml:${line} ${literal(c.path)}: .*${c.message.source}`) }], 'gatehouse.yaml');
    });
  }
});

describe('gatehouse validate: several problems in one file are all reported at once', () => {
  test('schema problems: types, range, unknown key, enum, missing key, duration', async (t) => {
    const dir = await tempDir(t);
    await writeText(
      dir,
      'gatehouse.yaml',
      `sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: "abc"
        prot: https
      - protocol: http
        port: 70000
    ssl:
      clientCertificates: maybe
farms:
  - name: web
    servers:
      - address: 127.0.0.1:9001
    protocol:
      timeout: soon
`,
    );
    const result = await validate(dir, 'gatehouse.yaml');
    assertFailedWith(
      result,
      [
        { line: 6, path: 'sites[0].bindings[0].port', message: /^gatehouse\.yaml:6 sites\[0\]\.bindings\[0\]\.port: 'abc'/ },
        { line: 7, path: 'sites[0].bindings[0].prot', message: /^gatehouse\.yaml:7 sites\[0\]\.bindings\[0\]\.prot: unknown key/ },
        { line: 9, path: 'sites[0].bindings[1].port', message: /70000/ },
        { line: 11, path: 'sites[0].ssl.clientCertificates', message: /ignore, accept, require/ },
        { line: 2, path: 'sites[0].farm' },
        { line: 17, path: 'farms[0].protocol.timeout', message: /'soon'/ },
      ],
      'gatehouse.yaml',
    );
  });

  test('reference and conflict problems: names, farms, ports, host names, certificates, addresses', async (t) => {
    const dir = await tempDir(t);
    await writeText(
      dir,
      'conf/gatehouse.yaml',
      `sites:
  - name: a
    bindings:
      - protocol: https
        port: 8443
    farm: web
  - name: a
    bindings:
      - protocol: http
        port: 8443
      - protocol: http
        address: 127.0.0.1
        port: 8080
        hostName: x.test
      - protocol: http
        address: 127.0.0.1
        port: 8080
        hostName: X.test
    ssl:
      clientCertificates: require
    farm: nope
farms:
  - name: web
    servers:
      - address: localhost
  - name: web2
    servers:
      - address: 127.0.0.1:9001
`,
    );
    const result = await validate(dir, 'conf/gatehouse.yaml');
    assertFailedWith(
      result,
      [
        { line: 7, path: 'sites[1].name', message: /'a'/ },
        { line: 25, path: 'farms[0].servers[0].address', message: /'localhost'/ },
        { line: 4, path: 'sites[0].bindings[0]', message: /certificate/ },
        { line: 21, path: 'sites[1].farm', message: /'nope'.*web, web2/ },
        { line: 20, path: 'sites[1].ssl.trustedCaFile' },
        { line: 9, path: 'sites[1].bindings[0].protocol', message: /https/ },
        { line: 18, path: 'sites[1].bindings[2].hostName', message: /x\.test/ },
      ],
      'conf/gatehouse.yaml',
    );
  });

  test('a schema problem does not hide reference problems elsewhere in the file', async (t) => {
    const dir = await tempDir(t);
    await writeText(
      dir,
      'gatehouse.yaml',
      `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: "abc"
    farm: nope
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8081
    farm: web
${FARMS}`,
    );
    const result = await validate(dir, 'gatehouse.yaml');
    assertFailedWith(
      result,
      [
        { line: 6, path: 'sites[0].bindings[0].port' },
        { line: 7, path: 'sites[0].farm', message: /'nope'/ },
        { line: 8, path: 'sites[1].name', message: /'plain'/ },
      ],
      'gatehouse.yaml',
    );
  });
});
