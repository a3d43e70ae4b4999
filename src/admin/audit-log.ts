/**
 * The audit log: one JSON line per step of every admin API write, appended to a file created with mode
 * 0600. A write is audited twice: `attempt` (who, what, before) before the change is applied, and then
 * `result` (`applied`, `unchanged` or `failed`, with after or the reason), both carrying the same id. A
 * write whose `attempt` line cannot be written is not applied. Appends are serialised and each is flushed
 * to disk (fsync) before the write goes on. Secrets never reach it: a token user is named, not its token.
 */
import { randomUUID } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';

export interface AuditEntry {
  readonly time: string;
  readonly id: string;
  readonly phase: 'attempt' | 'result';
  readonly who: Record<string, string>;
  readonly action: string;
  readonly target: Record<string, unknown>;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly result?: 'applied' | 'unchanged' | 'failed';
  readonly reason?: string;
  readonly operation?: unknown;
}

export interface AuditQuery {
  readonly limit: number;
  readonly before?: number;
  readonly user?: string;
  readonly result?: 'applied' | 'unchanged' | 'failed';
}

export interface AuditPage {
  readonly entries: AuditEntry[];
  /** The `before` that gives the older page; null when there is none. */
  readonly next: number | null;
}

function whoMatches(who: Record<string, string> | undefined, needle: string): boolean {
  return ['user', 'subject', 'thumbprint'].some((key) => who?.[key]?.toLowerCase().includes(needle) ?? false);
}

export class AuditLog {
  readonly file: string;
  #handle: Promise<FileHandle> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    this.file = file;
  }

  static newId(): string {
    return randomUUID();
  }

  /** Appends one line; resolves once it is on disk. Rejects when it cannot be written. */
  append(entry: Omit<AuditEntry, 'time'>): Promise<void> {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
    const run = this.#queue.then(async () => {
      this.#handle ??= open(this.file, 'a', 0o600);
      let handle: FileHandle;
      try {
        handle = await this.#handle;
      } catch (error) {
        this.#handle = undefined; // try again on the next write
        throw error;
      }
      await handle.appendFile(line);
      await handle.datasync();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** The last `limit` entries (newest last); an absent file has none. */
  async read(limit: number): Promise<AuditEntry[]> {
    return (await this.query({ limit })).entries;
  }

  /**
   * A page of entries (newest last): the last `limit` of those that match and sit before line `before`
   * (1-based line of the file; the file only grows, so a cursor stays valid). `user` matches a token
   * user's name, a certificate's subject or thumbprint (case-insensitive, part of it); `result` keeps the
   * lines (attempt and result) of the writes whose result is that one. `next`: the `before` of the older page.
   */
  async query(filter: AuditQuery): Promise<AuditPage> {
    await this.#queue;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], next: null };
      throw error;
    }
    const parsed: { line: number; entry: AuditEntry }[] = [];
    text.split('\n').forEach((line, index) => {
      if (!line) return;
      try {
        parsed.push({ line: index + 1, entry: JSON.parse(line) as AuditEntry });
      } catch {
        // A torn last line (a crash mid-append) is skipped, not fatal.
      }
    });
    const user = filter.user?.toLowerCase();
    const ids = filter.result === undefined ? undefined : new Set(parsed.filter(({ entry }) => entry.phase === 'result' && entry.result === filter.result).map(({ entry }) => entry.id));
    const matching = parsed.filter(({ line, entry }) => (filter.before === undefined || line < filter.before) && (ids === undefined || ids.has(entry.id)) && (user === undefined || whoMatches(entry.who, user)));
    const page = matching.slice(-filter.limit);
    return { entries: page.map(({ entry }) => entry), next: matching.length > page.length ? (page[0]?.line ?? null) : null };
  }

  async close(): Promise<void> {
    await this.#queue;
    const handle = this.#handle;
    this.#handle = undefined;
    await (await handle?.catch(() => undefined))?.close();
  }
}
