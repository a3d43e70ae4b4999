/**
 * `npm test`: runs every compiled `*.test.js` of the project and of packages/forwarded-cert with node's
 * test runner. The files are listed one by one: node 20 takes a folder for `--test`, node 22 and 24 take
 * glob patterns and read a folder as a file, so a list is what every supported node runs the same way.
 * Extra arguments (e.g. `-- --test-name-pattern=upgrade`) go to node before the files. The tests run on the
 * node that runs this script (`process.execPath`, also what the tests spawn), named first and last in the output.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const folders = ['dist/test', 'packages/forwarded-cert/dist/test'];

function testFiles(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...testFiles(path));
    else if (entry.name.endsWith('.test.js')) files.push(path);
  }
  return files;
}

const files = folders.flatMap((folder) => testFiles(join(root, folder))).map((file) => relative(root, file)).sort();
if (files.length === 0) {
  process.stderr.write(`no *.test.js files under ${folders.join(', ')}: run npm run build first\n`);
  process.exit(1);
}
const node = `node ${process.version} (${process.execPath})`;
process.stdout.write(`${files.length} test files on ${node}\n`);
// No test may hang the suite: each test is bounded (--test-timeout), and the whole run by RUN_TIMEOUT_MS.
// Not --test-force-exit: on Node 22 and 24 it ends a file's process while tests of it are still to run, and
// those tests are then neither passed nor failed, just missing (seen: 15 of 1675 gone on one CI pass).
const RUN_TIMEOUT_MS = Number(process.env.GATEHOUSE_TEST_RUN_TIMEOUT_MS ?? 45 * 60_000);
// Beside the spec reporter, failure-summary.ts writes the failed tests alone, printed again at the end.
const summaryDir = mkdtempSync(join(tmpdir(), 'gatehouse-test-failures-'));
const summaryFile = join(summaryDir, 'failures.txt');
const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${join(root, 'dist/scripts/failure-summary.js')}`, '--test-reporter-destination=stderr'];
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...reporters, ...process.argv.slice(2), ...files], {
  cwd: root,
  stdio: 'inherit',
  timeout: RUN_TIMEOUT_MS,
  killSignal: 'SIGKILL',
  env: { ...process.env, GATEHOUSE_FAILURE_SUMMARY: summaryFile },
});
const status = result.status ?? 1;
if (result.signal === 'SIGKILL' && result.error) process.stdout.write(`\nthe test run did not end within ${RUN_TIMEOUT_MS / 60_000} min and was stopped: a test file is holding something open (a server, a timer, a child) after its tests\n`);
let failures = '';
try {
  failures = readFileSync(summaryFile, 'utf8');
} catch {
  // No failure was written (the file is made by the first one).
  failures = status === 0 ? '' : '(no test failed: the runner itself exited with an error; see above)\n';
}
rmSync(summaryDir, { recursive: true, force: true });
if (failures) {
  process.stdout.write(`\n=== failures on ${node}\n${failures}`);
  // .ci/run prints every pass's failures again after all passes (GATEHOUSE_FAILURES_FILE).
  if (process.env.GATEHOUSE_FAILURES_FILE) appendFileSync(process.env.GATEHOUSE_FAILURES_FILE, `=== failures on ${node}\n${failures}\n`);
}
process.stdout.write(`tests on ${node}: ${status === 0 ? 'passed' : `failed (exit ${result.status ?? result.signal ?? result.error?.message})`}\n`);
process.exit(status);
