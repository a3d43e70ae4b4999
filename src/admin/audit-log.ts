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
    await this.#queue;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const lines = text.split('\n').filter(Boolean);
    const out: AuditEntry[] = [];
    for (const line of lines.slice(-limit)) {
      try {
        out.push(JSON.parse(line) as AuditEntry);
      } catch {
        // A torn last line (a crash mid-append) is skipped, not fatal.
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#queue;
    const handle = this.#handle;
    this.#handle = undefined;
    await (await handle?.catch(() => undefined))?.close();
  }
}
