/**
 * `gatehouse start [-c FILE]`: runs in the foreground, prints one `listening URL (site NAME)` line per
 * listening socket, stops gracefully on SIGTERM/SIGINT within drainTimeout, and exits non-zero with a
 * clear message when the config is invalid or a port cannot be bound.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackend } from '../support/backends.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { PROBLEM_LINE, assertRefused, freePort, get, holdingBackend, linesOf, occupyPort, silentBackend, waitUntilRefused, writeText } from './cli-helpers.js';
import { tempDir } from '../support/temp.js';
import { startCli } from '../support/gatehouse.js';
import { within } from '../support/within.js';

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});
after(() => pki?.cleanup());

const LISTENING_HTTPS = (site: string) => new RegExp(`^listening https://127\\.0\\.0\\.1:(\\d+) \\(site ${site}\\)$`, 'm');
const LISTENING_HTTP = (site: string) => new RegExp(`^listening http://127\\.0\\.0\\.1:(\\d+) \\(site ${site}\\)$`, 'm');

/** One https site `secure` on 127.0.0.1:`port` (0: any) in front of `backend`. */
function secureConfig(p: TestPki, backend: string, options: { port?: number; drainTimeout?: string; certFile?: string; keyFile?: string } = {}): string {
  return `sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: ${options.port ?? 0}
        certificate:
          certFile: ${options.certFile ?? p.server.certFile}
          keyFile: ${options.keyFile ?? p.server.keyFile}
    farm: web
farms:
  - name: web
    servers:
      - address: ${backend}
${options.drainTimeout ? `drainTimeout: ${options.drainTimeout}\n` : ''}accessLog: off
`;
}

describe('gatehouse start: running', () => {
  test('prints one listening line per binding with the real port, and proxies requests', async (t) => {
    const backend = await startBackend('echo-1');
    t.after(() => backend.close());
    const dir = await tempDir(t);
    // Relative certificate paths, resolved from the config's folder (cwd is the temp root).
    await mkdir(join(dir, 'etc', 'certs'), { recursive: true });
    await copyFile(pki.server.certFile, join(dir, 'etc', 'certs', 'server.pem'));
    await copyFile(pki.server.keyFile, join(dir, 'etc', 'certs', 'server.key'));
    const httpPort = await freePort();
    await writeText(
      dir,
      'etc/gatehouse/gatehouse.yaml',
      `sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 0
        certificate:
          certFile: ../certs/server.pem
          keyFile: ../certs/server.key
    farm: web
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: ${httpPort}
    farm: web
farms:
  - name: web
    servers:
      - address: ${backend.address}
accessLog: off
`,
    );
    const gatehouse = startCli(t, dir, 'etc/gatehouse/gatehouse.yaml');
    const https = await gatehouse.waitFor('stdout', LISTENING_HTTPS('secure'));
    const http = await gatehouse.waitFor('stdout', LISTENING_HTTP('plain'));
    const httpsPort = Number(https[1]);
    assert.ok(httpsPort > 0 && httpsPort < 65536, 'port 0 is shown as the real port');
    assert.equal(Number(http[1]), httpPort);
    assert.equal(linesOf(gatehouse.stdout).filter((l) => l.startsWith('listening ')).length, 2, gatehouse.stdout);

    const secure = await get(`https://127.0.0.1:${httpsPort}/hello?x=1`, { ca: pki.root.certPem });
    assert.equal(secure.status, 200);
    const echoed = JSON.parse(secure.body.toString('utf8')) as { server: string; url: string; method: string };
    assert.equal(echoed.server, 'echo-1');
    assert.equal(echoed.url, '/hello?x=1');
    assert.equal(echoed.method, 'GET');

    const plain = await get(`http://127.0.0.1:${httpPort}/plain`);
    assert.equal(plain.status, 200);
    assert.equal((JSON.parse(plain.body.toString('utf8')) as { url: string }).url, '/plain');

    // The config given by a path relative to the current directory (not to its own folder) is watched:
    // a change to it reloads by itself (the watched folder was once that path doubled).
    assert.doesNotMatch(gatehouse.stderr, /cannot watch/, gatehouse.stderr);
    const beforeEdit = gatehouse.lines('stderr').length;
    await appendFile(join(dir, 'etc', 'gatehouse', 'gatehouse.yaml'), '# edited\n');
    await gatehouse.waitForLine('stderr', /config reloaded from/, beforeEdit, 30_000);

    gatehouse.child.kill('SIGTERM');
    const exit = await gatehouse.waitExit(10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, gatehouse.stderr);
    await assertRefused(httpsPort);
    await assertRefused(httpPort);
  });

  test('without -c it runs from ./gatehouse.yaml in the current directory', async (t) => {
    const backend = await startBackend('echo-default');
    t.after(() => backend.close());
    const dir = await tempDir(t);
    await writeText(dir, 'gatehouse.yaml', secureConfig(pki, backend.address));
    const gatehouse = startCli(t, dir);
    const [, port] = await gatehouse.waitFor('stdout', LISTENING_HTTPS('secure'));
    const response = await get(`https://127.0.0.1:${port}/`, { ca: pki.root.certPem });
    assert.equal(response.status, 200);
    assert.equal((JSON.parse(response.body.toString('utf8')) as { server: string }).server, 'echo-default');
    gatehouse.child.kill('SIGTERM');
    assert.deepEqual(await gatehouse.waitExit(10_000), { code: 0, signal: null });
  });
});

describe('gatehouse start: refusing to start', () => {
  test('an invalid config: exit 1, the problem lines on stderr, nothing listening', async (t) => {
    const dir = await tempDir(t);
    const port = await freePort();
    const text = `sites:
  - name: plain
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: ${port}
    ssl:
      clientCertificates: maybe
    farm: web
farms:
  - name: web
    servers:
      - address: localhost:notaport
`;
    await writeText(dir, 'gatehouse.yaml', text);
    const gatehouse = startCli(t, dir, 'gatehouse.yaml');
    const exit = await gatehouse.waitExit(15_000);
    assert.equal(exit.code, 1, gatehouse.stderr);
    assert.doesNotMatch(gatehouse.stdout, /listening/);
    const problems = linesOf(gatehouse.stderr).filter((l) => PROBLEM_LINE.test(l));
    assert.ok(problems.includes("gatehouse.yaml:8 sites[0].ssl.clientCertificates: 'maybe' is not allowed (expected one of: ignore, accept, require)"), gatehouse.stderr);
    await assertRefused(port);
  });

  test('a key that does not match its certificate: exit 1 naming the files, nothing listening', async (t) => {
    const dir = await tempDir(t);
    const port = await freePort();
    await writeText(dir, 'gatehouse.yaml', secureConfig(pki, '127.0.0.1:9', { port, keyFile: pki.otherServer.keyFile }));
    const gatehouse = startCli(t, dir, 'gatehouse.yaml');
    const exit = await gatehouse.waitExit(15_000);
    assert.equal(exit.code, 1, gatehouse.stderr);
    assert.doesNotMatch(gatehouse.stdout, /listening/);
    assert.match(gatehouse.stderr, /^gatehouse\.yaml:9 sites\[0\]\.bindings\[0\]\.certificate\.keyFile: .*other\.key does not match the certificate in .*server\.pem/m);
    await assertRefused(port);
  });

  test('a missing config file: exit 1 naming the file', async (t) => {
    const dir = await tempDir(t);
    const gatehouse = startCli(t, dir, 'conf/absent.yaml');
    const exit = await gatehouse.waitExit(15_000);
    assert.equal(exit.code, 1);
    assert.match(gatehouse.stderr, /conf\/absent\.yaml.*does not exist/);
    assert.equal(gatehouse.stdout, '');
  });

  test('a port already in use: exit 1 naming the address, port and site; nothing left listening', async (t) => {
    const backend = await startBackend('echo-busy');
    t.after(() => backend.close());
    const dir = await tempDir(t);
    const { port } = await occupyPort(t);
    const firstPort = await freePort();
    await writeText(
      dir,
      'gatehouse.yaml',
      `sites:
  - name: first
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: ${firstPort}
        certificate:
          certFile: ${pki.server.certFile}
          keyFile: ${pki.server.keyFile}
    farm: web
  - name: busy
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: ${port}
    farm: web
farms:
  - name: web
    servers:
      - address: ${backend.address}
accessLog: off
`,
    );
    const gatehouse = startCli(t, dir, 'gatehouse.yaml');
    const exit = await gatehouse.waitExit(15_000);
    assert.equal(exit.code, 1, gatehouse.stderr);
    assert.doesNotMatch(gatehouse.stdout, /listening/);
    assert.match(gatehouse.stderr, new RegExp(`127\\.0\\.0\\.1:${port}\\b.*site busy.*already in use`));
    await assertRefused(firstPort);
  });
});

describe('gatehouse start: graceful stop', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} while a slow request is in flight: the client gets its full response, then exit 0`, async (t) => {
      const slow = await holdingBackend(t);
      const dir = await tempDir(t);
      await writeText(dir, 'gatehouse.yaml', secureConfig(pki, slow.backend.address, { drainTimeout: '20s' }));
      const gatehouse = startCli(t, dir, 'gatehouse.yaml');
      const [, port] = await gatehouse.waitFor('stdout', LISTENING_HTTPS('secure'));

      const response = get(`https://127.0.0.1:${port}/slow`, { ca: pki.root.certPem, timeoutMs: 30_000 });
      response.catch(() => {}); // awaited below; avoid an unhandled rejection while we wait for other things
      await within(slow.arrived, 10_000, 'the backend to receive the request');

      gatehouse.child.kill(signal);
      await gatehouse.waitFor('stderr', new RegExp(`${signal}.*drain`), 10_000);
      await waitUntilRefused(Number(port)); // no new connections while draining
      assert.equal(gatehouse.hasExited, false, 'still running while the request is in flight');

      slow.release();
      const result = await response;
      assert.equal(result.status, 200);
      assert.equal(result.body.length, slow.body.length);
      assert.ok(result.body.equals(slow.body), 'the full body arrives');

      const exit = await gatehouse.waitExit(10_000);
      assert.deepEqual(exit, { code: 0, signal: null }, gatehouse.stderr);
    });

    test(`${signal} with drainTimeout 1s and a backend that never answers: exit within a few seconds`, async (t) => {
      const silent = await silentBackend(t);
      const dir = await tempDir(t);
      await writeText(dir, 'gatehouse.yaml', secureConfig(pki, silent.backend.address, { drainTimeout: '1s' }));
      const gatehouse = startCli(t, dir, 'gatehouse.yaml');
      const [, port] = await gatehouse.waitFor('stdout', LISTENING_HTTPS('secure'));

      const response = get(`https://127.0.0.1:${port}/never`, { ca: pki.root.certPem, timeoutMs: 30_000 });
      const settled = response.then(
        (r) => `status ${r.status}`,
        (e: Error) => `error ${e.message}`,
      );
      await within(silent.arrived, 10_000, 'the backend to receive the request');

      const signalledAt = performance.now();
      gatehouse.child.kill(signal);
      const exit = await gatehouse.waitExit(6_000);
      const elapsed = performance.now() - signalledAt;
      assert.deepEqual(exit, { code: 0, signal: null }, gatehouse.stderr);
      assert.ok(elapsed >= 800, `waited for the drain timeout before closing (${Math.round(elapsed)} ms)`);
      assert.ok(elapsed < 6_000, `exited ${Math.round(elapsed)} ms after ${signal}`);
      // The client's request does not hang: its connection was closed (or it got an error status).
      const outcome = await within(settled, 5_000, 'the in-flight request to end');
      assert.notEqual(outcome, 'status 200', outcome);
    });
  }

  test('a second signal while draining stops at once with a non-zero exit', async (t) => {
    const silent = await silentBackend(t);
    const dir = await tempDir(t);
    await writeText(dir, 'gatehouse.yaml', secureConfig(pki, silent.backend.address, { drainTimeout: '60s' }));
    const gatehouse = startCli(t, dir, 'gatehouse.yaml');
    const [, port] = await gatehouse.waitFor('stdout', LISTENING_HTTPS('secure'));
    const response = get(`https://127.0.0.1:${port}/never`, { ca: pki.root.certPem, timeoutMs: 30_000 });
    response.catch(() => {});
    await within(silent.arrived, 10_000, 'the backend to receive the request');
    gatehouse.child.kill('SIGTERM');
    await gatehouse.waitFor('stderr', /SIGTERM.*drain/, 10_000);
    gatehouse.child.kill('SIGINT');
    const exit = await gatehouse.waitExit(5_000);
    assert.notEqual(exit.code, 0, gatehouse.stderr);
    assert.equal(exit.signal, null);
  });
});
