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
