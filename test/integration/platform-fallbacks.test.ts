/**
 * src/platform/: the fallback for node's internals, forced on. With GATEHOUSE_PLATFORM_FALLBACKS=consume
 * the farm connections read through 'data' events instead of handing the socket to node's parser in C++;
 * the forwarding tests (bodies of many MB both ways, back-pressure, framing) must pass the same.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function node(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT: the child's test runner reports as its own, not to this one.
    const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
    execFile(process.execPath, args, { cwd: root, env: { ...inherited, ...env }, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const probe = "import('./dist/src/platform/http-parser.js').then((m) => console.log(m.readsInParser))";

test('by default the parser reads farm sockets in C++; the environment switch forces the fallback', async () => {
  assert.equal((await node(['--input-type=module', '-e', probe], {})).stdout.trim(), 'true');
  assert.equal((await node(['--input-type=module', '-e', probe], { GATEHOUSE_PLATFORM_FALLBACKS: 'consume' })).stdout.trim(), 'false');
});

test('with the fallback forced, the forwarding and upstream tests pass', async () => {
  const files = ['dist/test/integration/forwarding-bodies.test.js', 'dist/test/integration/upstream.test.js'];
  const run = await node(['--test', ...files], { GATEHOUSE_PLATFORM_FALLBACKS: 'consume' });
  assert.equal(run.code, 0, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
  assert.match(run.stdout, /# fail 0/);
});

test('HTTP/2 crash probe: a runtime that aborts on the known input is detected; this one is not', async (t) => {
  const { probeHttp2 } = await import('../../src/platform/http2-probe.js');
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-probe-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A "runtime" that dies as Node 22.23.5 does on the input (SIGABRT), and one that runs it with this Node.
  const aborting = join(dir, 'aborting-node');
  await writeFile(aborting, '#!/bin/sh\nkill -ABRT $$\n', { mode: 0o755 });
  const passing = join(dir, 'this-node');
  await writeFile(passing, `#!/bin/sh\nexec "${process.execPath}" "$@"\n`, { mode: 0o755 });
  const bad = await probeHttp2(aborting);
  assert.equal(bad.isSafe, false);
  assert.match(bad.reason, /HTTP\/2 is off: .* aborts on a known malformed HTTP\/2 input/);
  const good = await probeHttp2(passing);
  assert.deepEqual(good, { isSafe: true, reason: '' }, 'the input runs through this Node without a crash');
});

test('with GATEHOUSE_PLATFORM_FALLBACKS=http2, https bindings offer HTTP/1.1 only, and say why', async () => {
  const script = `
    import { createTestPki } from './dist/test/support/test-pki.js';
    import { startGatehouse } from './dist/test/support/gatehouse.js';
    import { startBackend } from './dist/test/support/backends.js';
    import { connect } from 'node:tls';
    const pki = await createTestPki();
    const backend = await startBackend('b');
    const yaml = JSON.stringify({ accessLog: 'off', sites: [{ name: 's', bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }], farm: 'f' }], farms: [{ name: 'f', servers: [{ address: backend.address }] }] });
    const running = await startGatehouse(yaml, pki.dir);
    const alpn = await new Promise((resolve) => { const s = connect({ host: '127.0.0.1', port: running.port('s'), ca: pki.root.certPem, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'] }, () => { resolve(s.alpnProtocol); s.destroy(); }); });
    console.log(JSON.stringify({ alpn, events: running.events }));
    await running.stop(); await backend.close(); await pki.cleanup();`;
  for (const [env, expected] of [[{}, 'h2'], [{ GATEHOUSE_PLATFORM_FALLBACKS: 'http2' }, 'http/1.1']] as const) {
    const run = await node(['--input-type=module', '-e', script], env);
    assert.equal(run.code, 0, run.stderr);
    const { alpn, events } = JSON.parse(run.stdout.trim().split('\n').pop() as string) as { alpn: string; events: string[] };
    assert.equal(alpn, expected, JSON.stringify(env));
    assert.equal(events.some((e) => e.includes('HTTP/2 is off')), expected === 'http/1.1', events.join('\n'));
  }
});
