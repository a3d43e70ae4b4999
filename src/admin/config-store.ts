/**
 * The config file as the admin API edits it. `read()` gives the text and its ETag (a hash of the bytes);
 * `write()` checks new text exactly as `gatehouse validate` does (loadConfigText at the config's own path,
 * so relative paths resolve alike), keeps the current file as a history version beside the config
 * (`<config dir>/.gatehouse-history/`, the last 20), writes the new text atomically (temporary file in the
 * same folder, fsync, rename, fsync of the folder), then reloads and answers with the reload's result. A
 * reload that is refused (a port in use, a certificate the TLS stack rejects) puts the file back as it was
 * and answers 409 reload_refused: the file always holds the config in force.
 * `edit()` changes the file through the yaml Document API, which keeps comments and key order.
 *
 * Admin writes run one at a time (the API's write lock), so nothing here locks; an `ifEtag` guard still
 * refuses a change when the file was edited by hand since the caller read it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { loadConfigText, type LoadResult } from '../config/load.js';
import { ConfigError } from '../config/problem.js';
import type { AdminContext, ReloadSummary } from './context.js';
import { etagOf } from './etag.js';
import { ApiProblem, type FieldError } from './problem.js';
import type { ConfigVersion } from '../shared/config-version.js';

/** Versions kept in the history folder. */
export const HISTORY_KEEP = 20;
export const HISTORY_DIR = '.gatehouse-history';
const VERSION_ID = /^\d{8}T\d{9}Z-[0-9a-f]{12}$/;

/** A problem of new config text: the key path, what is wrong, and where (as `gatehouse validate` prints it). */
export interface ConfigFieldError extends FieldError {
  readonly line: number;
  readonly file: string;
}

export interface ReloadView {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly at: string;
}

export interface WriteOutcome {
  /** False when the new text was the file's text already (nothing written, no history version). */
  readonly changed: boolean;
  readonly etag: string;
  readonly previousEtag: string;
  /** The history version that holds the replaced text (absent when nothing changed). */
  readonly historyId?: string;
  readonly warnings: readonly string[];
  readonly reload: ReloadView;
}

export interface WriteOptions {
  /** Who asks (kept beside the history version). */
  readonly who?: string;
  /** Refuse (412) unless the file's ETag is still this one. */
  readonly ifEtag?: string;
}

/** Problem lines (`FILE:LINE key.path: message`) as structured errors; the lines stay the detail. */
export function configFieldErrors(file: string, lines: readonly string[]): ConfigFieldError[] {
  return lines.map((line) => {
    const rest = line.startsWith(`${file}:`) ? line.slice(file.length + 1) : line;
    const match = /^(\d+) (\S+?): ([\s\S]*)$/.exec(rest);
    return match ? { field: match[2] as string, message: match[3] as string, line: Number(match[1]), file } : { field: '(file)', message: rest, line: 1, file };
  });
}

export function invalidConfig(file: string, lines: readonly string[]): ApiProblem {
  return new ApiProblem(422, 'invalid_config', 'Unprocessable Content', lines.join('\n'), configFieldErrors(file, lines));
}

/** fsyncs a folder (a rename is durable once its folder is); platforms that cannot open a folder skip it. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync().catch(() => {});
  } finally {
    await handle.close();
  }
}

/** Writes `file` so that it is the old bytes or the new ones, never a mix: temp file, fsync, rename. */
export async function writeAtomically(file: string, bytes: string | Buffer, mode: number): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(bytes);
    await handle.chmod(mode); // the umask may have narrowed it
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDir(dir);
}

function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '');
}

/** The store of the config file in force. */
export function configStoreOf(ctx: Pick<AdminContext, 'config' | 'reload'>): ConfigStore {
  return new ConfigStore(ctx.config().file, () => ctx.reload());
}

export class ConfigStore {
  constructor(
    /** The config file in force (absolute). */
    readonly file: string,
    private readonly reload: () => Promise<ReloadSummary>,
    private readonly keep = HISTORY_KEEP,
  ) {}

  get historyDir(): string {
    return join(dirname(this.file), HISTORY_DIR);
  }

  async read(): Promise<{ yaml: string; etag: string }> {
    const bytes = await readFile(this.file);
    return { yaml: bytes.toString('utf8'), etag: etagOf(bytes) };
  }

  /** Checks text as `gatehouse validate` would at the config's path; ApiProblem 422 invalid_config with every problem. */
  async validate(yaml: string): Promise<LoadResult> {
    try {
      return await loadConfigText(yaml, this.file, dirname(this.file));
    } catch (error) {
      if (error instanceof ConfigError) throw invalidConfig(this.file, error.lines);
      throw error;
    }
  }

  async write(yaml: string, options: WriteOptions = {}): Promise<WriteOutcome> {
    const current = await readFile(this.file);
    const previousEtag = etagOf(current);
    if (options.ifEtag !== undefined && options.ifEtag !== previousEtag) throw new ApiProblem(412, 'precondition_failed', 'Precondition Failed', `the config file changed since it was read: its ETag is now ${previousEtag}; GET it again, check, and retry`);
    const { warnings } = await this.validate(yaml);
    const etag = etagOf(yaml);
    let historyId: string | undefined;
    if (etag !== previousEtag) {
      const mode = (await stat(this.file)).mode & 0o777;
      historyId = await this.#keep(current, mode, options.who);
      // A symlinked config stays a symlink: the file it points at is replaced.
      await writeAtomically(await realpath(this.file), yaml, mode);
      await this.#setAuthor(etag, options.who);
    }
    const summary = await this.reload();
    if (!summary.ok && historyId !== undefined) {
      // All or nothing: the running config stayed, so the file goes back to it (and its history entry goes).
      await writeAtomically(await realpath(this.file), current, (await stat(this.file)).mode & 0o777);
      await rm(join(this.historyDir, `${historyId}.yaml`), { force: true });
      await rm(join(this.historyDir, `${historyId}.json`), { force: true });
      await this.#setAuthor(previousEtag, undefined);
      throw new ApiProblem(409, 'reload_refused', 'Conflict', `the new config is valid but the reload was refused, so nothing changed and ${this.file} was put back as it was: ${summary.problems.join('; ')}`, summary.problems.map((message) => ({ field: '(reload)', message })));
    }
    return { changed: historyId !== undefined, etag, previousEtag, ...(historyId ? { historyId } : {}), warnings, reload: { ok: summary.ok, problems: [...summary.problems], at: new Date(summary.atMs).toISOString() } };
  }

  /** Parses the file (comments and order kept), lets `mutate` change it, and writes the result. */
  async edit(mutate: (doc: Document) => void, options: WriteOptions = {}): Promise<WriteOutcome> {
    const { yaml, etag } = await this.read();
    if (options.ifEtag !== undefined && options.ifEtag !== etag) throw new ApiProblem(412, 'precondition_failed', 'Precondition Failed', `the config file changed since it was read: its ETag is now ${etag}; GET it again, check, and retry`);
    const doc = parseDocument(yaml);
    if (doc.errors.length) throw new ApiProblem(422, 'invalid_config', 'Unprocessable Content', `${this.file} is not valid YAML now (${doc.errors[0]?.message.split('\n')[0]}); fix it with PUT /config first`);
    mutate(doc);
    // lineWidth 0: long lines stay as written (no folding of what the edit did not touch).
    return this.write(doc.toString({ lineWidth: 0 }), { ...options, ifEtag: etag });
  }

  /** The kept versions, newest first. */
  async history(): Promise<ConfigVersion[]> {
    const names = await readdir(this.historyDir).catch(() => [] as string[]);
    const ids = names.filter((n) => n.endsWith('.yaml') && VERSION_ID.test(n.slice(0, -5))).map((n) => n.slice(0, -5)).sort().reverse();
    return Promise.all(ids.map((id) => this.version(id)));
  }

  /** Writes a kept version back (validated, the current file kept in turn, reloaded). */
  async restore(id: string, options: WriteOptions = {}): Promise<WriteOutcome> {
    await this.version(id);
    return this.write(await readFile(join(this.historyDir, `${id}.yaml`), 'utf8'), options);
  }

  /** A kept version with its text; ApiProblem 404 version_not_found. */
  async versionText(id: string): Promise<ConfigVersion & { readonly yaml: string }> {
    const version = await this.version(id);
    return { ...version, yaml: await readFile(join(this.historyDir, `${id}.yaml`), 'utf8') };
  }

  /** A kept version; ApiProblem 404 version_not_found. */
  async version(id: string): Promise<ConfigVersion> {
    const bytes = VERSION_ID.test(id) ? await readFile(join(this.historyDir, `${id}.yaml`)).catch(() => undefined) : undefined;
    if (!bytes) throw new ApiProblem(404, 'version_not_found', 'Not Found', `no config version '${id}' in ${this.historyDir} (ids look like 20261205T130501123Z-ab12cd34ef56; GET /config/history lists them)`);
    const meta = await readFile(join(this.historyDir, `${id}.json`), 'utf8').then((t) => JSON.parse(t) as { writtenBy?: string; replacedBy?: string; time?: string }).catch(() => ({}) as { writtenBy?: string; replacedBy?: string; time?: string });
    const stamp = id.slice(0, 19);
    const time = meta.time ?? `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
    return { id, time, size: bytes.length, etag: etagOf(bytes), ...(meta.writtenBy ? { writtenBy: meta.writtenBy } : {}), ...(meta.replacedBy ? { replacedBy: meta.replacedBy } : {}) };
  }

  /** Keeps the current text as a history version (mode of the config: it may hold secrets); drops the oldest beyond `keep`. */
  async #keep(current: Buffer, mode: number, who: string | undefined): Promise<string> {
    const dir = this.historyDir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const now = Date.now();
    const id = `${compactTime(now)}-${createHash('sha256').update(current).digest('hex').slice(0, 12)}`;
    const author = await readFile(join(dir, 'author.json'), 'utf8').then((t) => JSON.parse(t) as { etag?: string; who?: string }).catch(() => ({}) as { etag?: string; who?: string });
    const writtenBy = author.etag === etagOf(current) ? author.who : undefined;
    await writeAtomically(join(dir, `${id}.yaml`), current, mode);
    await writeAtomically(join(dir, `${id}.json`), `${JSON.stringify({ time: new Date(now).toISOString(), ...(writtenBy ? { writtenBy } : {}), ...(who ? { replacedBy: who } : {}) })}\n`, 0o600);
    const versions = (await readdir(dir)).filter((n) => n.endsWith('.yaml') && VERSION_ID.test(n.slice(0, -5))).sort();
    for (const old of versions.slice(0, Math.max(0, versions.length - this.keep))) {
      await rm(join(dir, old), { force: true });
      await rm(join(dir, `${old.slice(0, -5)}.json`), { force: true });
    }
    return id;
  }

  /** Remembers who wrote the file now in force (named in its history entry once it is replaced). */
  async #setAuthor(etag: string, who: string | undefined): Promise<void> {
    const file = join(this.historyDir, 'author.json');
    if (who === undefined) await rm(file, { force: true });
    else {
      await mkdir(this.historyDir, { recursive: true, mode: 0o700 });
      await writeAtomically(file, `${JSON.stringify({ etag, who })}\n`, 0o600);
    }
  }
}
