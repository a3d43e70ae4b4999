/**
 * Temporary folders for tests, under the OS temp folder: `tempDir(t)` is removed when the test (or suite)
 * `t` ends; `makeTempDir()` hands back its own `remove` for a file's before/after hooks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What node:test's TestContext (and SuiteContext-like hooks) offer that cleanup needs. */
export interface TestContextLike {
  after(fn: () => unknown): void;
}

export interface TempDir {
  readonly dir: string;
  remove(): Promise<void>;
}

/** A new folder `<tmp>/<prefix>XXXXXX`; `remove` deletes it with everything in it. */
export async function makeTempDir(prefix = 'gatehouse-test-'): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A temp folder removed after the test. */
export async function tempDir(t: TestContextLike, prefix = 'gatehouse-test-'): Promise<string> {
  const { dir, remove } = await makeTempDir(prefix);
  t.after(remove);
  return dir;
}
