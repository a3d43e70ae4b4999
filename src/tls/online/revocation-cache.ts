/**
 * Online revocation answers (CRLs from distribution points, OCSP responses), kept in memory and in a folder
 * beside the config, so they survive a restart and are shared by the workers (and by instances sharing the
 * folder). One fetch per source at a time: within a process, waiting handshakes share one promise; across
 * processes, a lock file (created exclusively) elects the fetcher and the others wait for its file.
 * Answers in use are fetched again before they go stale; nothing here runs on a request's path.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateFacts } from './certificate-facts.js';
import { readCrl, type CrlAnswer } from './crl-answer.js';
import { fetchBytes } from './http-fetch.js';
import { ocspRequestFor, readOcspResponse, type OcspAnswer } from './ocsp.js';

export type SourceKind = 'crl' | 'ocsp';

/** Where an answer about `cert` (issued by `issuer`) comes from. */
export interface Source {
  readonly kind: SourceKind;
  readonly url: string;
  readonly cert: CertificateFacts;
  readonly issuer: CertificateFacts;
  /** crl: one CRL per URL and issuer; ocsp: one answer per URL and certificate. */
  readonly key: string;
  /**
   * Whether it is refreshed before it goes stale even when nothing asked for it since: a server
   * certificate's staple, as long as a binding in force staples it (asked at each refresh).
   */
  readonly keepFresh?: () => boolean;
}

export interface Entry {
  readonly key: string;
  readonly kind: SourceKind;
  readonly url: string;
  readonly fetchedAtMs: number;
  /** After this the entry is not used (and, when in use, was fetched again before). */
  readonly staleAtMs: number;
  readonly answer: CrlAnswer | OcspAnswer | undefined;
  /** Why there is no answer (fetch failed, bad signature, stale...). */
  readonly failure: string | undefined;
  /** The bytes as fetched (an OCSP response is what a staple sends). */
  readonly der: Buffer | undefined;
}

export interface CacheSettings {
  readonly folder: string;
  readonly freshnessMs: number;
  readonly fetchTimeoutMs: number;
}

export interface CacheObserver {
  fetched(kind: SourceKind, url: string, outcome: 'ok' | 'failed', seconds: number): void;
  warn(message: string): void;
}

/** A failed source is tried again after this long (a responder that is down is not asked by every handshake). */
export const FAILURE_RETRY_MS = 30_000;
const MAX_BYTES: Record<SourceKind, number> = { crl: 32 * 1024 * 1024, ocsp: 256 * 1024 };

export function sourceKey(kind: SourceKind, url: string, cert: CertificateFacts, issuer: CertificateFacts): string {
  return kind === 'crl' ? `crl ${url} ${issuer.fingerprint}` : `ocsp ${url} ${cert.fingerprint}`;
}

interface DiskRecord {
  readonly key: string;
  readonly url: string;
  readonly fetchedAtMs: number;
  readonly der?: string;
  readonly failure?: string;
}

export class RevocationCache {
  readonly settings: CacheSettings;
  readonly #observer: CacheObserver;
  readonly #entries = new Map<string, Entry>();
  readonly #used = new Map<string, number>();
  readonly #inflight = new Map<string, Promise<Entry>>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #folderReady: Promise<void> | undefined;
  #closed = false;

  constructor(settings: CacheSettings, observer: CacheObserver) {
    this.settings = settings;
    this.#observer = observer;
  }

  /** The entry in memory, if it is not stale; marks it used (so it is refreshed before it goes stale). */
  peek(source: Source, nowMs = Date.now()): Entry | undefined {
    const entry = this.#entries.get(source.key);
    if (!entry || entry.staleAtMs <= nowMs) return undefined;
    this.#used.set(source.key, nowMs);
    return entry;
  }

  /** Every entry in memory (for the admin API and metrics). */
  entries(): IterableIterator<Entry> {
    return this.#entries.values();
  }

  /** An entry that is not stale: from memory, else from the folder, else fetched (one fetch per source at a time). */
  ensure(source: Source): Promise<Entry> {
    const known = this.peek(source);
    if (known) return Promise.resolve(known);
    let pending = this.#inflight.get(source.key);
    if (!pending) {
      pending = this.#obtain(source, false).finally(() => this.#inflight.delete(source.key));
      this.#inflight.set(source.key, pending);
    }
    return pending;
  }

  /** Stops the refresh timers. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #file(key: string): string {
    return join(this.settings.folder, `${createHash('sha256').update(key).digest('hex').slice(0, 40)}.json`);
  }

  #ensureFolder(): Promise<void> {
    this.#folderReady ??= mkdir(this.settings.folder, { recursive: true, mode: 0o700 }).then(() => undefined);
    return this.#folderReady;
  }

  /** From the folder if another process (or an earlier run) fetched it and it is still good; else fetched. */
  async #obtain(source: Source, isRefresh: boolean): Promise<Entry> {
    const current = this.#entries.get(source.key);
    try {
      await this.#ensureFolder();
    } catch (error) {
      this.#observer.warn(`revocation cache folder ${this.settings.folder} cannot be created (${(error as Error).message}); answers are kept in memory only`);
      return this.#store(source, await this.#fetch(source), false);
    }
    const onDisk = await this.#readDisk(source);
    if (onDisk && this.#isUsable(onDisk, current, isRefresh)) return this.#store(source, onDisk, false);
    const file = this.#file(source.key);
    const lock = `${file}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
      let handle;
      try {
        handle = await open(lock, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return this.#store(source, await this.#fetch(source), false);
        const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > this.settings.fetchTimeoutMs * 2 + 1000) {
          await unlink(lock).catch(() => undefined); // its fetcher died: take over
          continue;
        }
        await this.#waitForFile(file, lock);
        const fetchedByOther = await this.#readDisk(source);
        if (fetchedByOther && this.#isUsable(fetchedByOther, current, isRefresh)) return this.#store(source, fetchedByOther, false);
        if (fetchedByOther?.failure) return this.#store(source, fetchedByOther, false);
        continue;
      }
      await handle.close();
      try {
        // Another process may have written the file between our read and our lock.
        const again = await this.#readDisk(source);
        if (again && this.#isUsable(again, current, isRefresh) && (!onDisk || again.fetchedAtMs !== onDisk.fetchedAtMs)) return await this.#store(source, again, false);
        // Awaited inside the try: the lock goes only once the answer is in the folder.
        return await this.#store(source, await this.#fetch(source), true);
      } finally {
        await unlink(lock).catch(() => undefined);
      }
    }
    return this.#store(source, await this.#fetch(source), false);
  }

  /** A disk entry is worth taking when it answers, is not stale, and (when refreshing) is newer than ours and not about to go stale. */
  #isUsable(entry: Entry, current: Entry | undefined, isRefresh: boolean): boolean {
    const now = Date.now();
    if (entry.failure !== undefined || entry.staleAtMs <= now) return false;
    if (!isRefresh) return true;
    return entry.fetchedAtMs > (current?.fetchedAtMs ?? 0) && entry.staleAtMs - now > this.#leadMs(entry);
  }

  #waitForFile(file: string, lock: string): Promise<void> {
    return new Promise((resolve) => {
      let watcher: FSWatcher | undefined;
      const done = () => {
        clearTimeout(timer);
        watcher?.close();
        resolve();
      };
      const timer = setTimeout(done, this.settings.fetchTimeoutMs + 500);
      try {
        const names = new Set([file.slice(file.lastIndexOf('/') + 1), lock.slice(lock.lastIndexOf('/') + 1)]);
        watcher = watch(this.settings.folder, (_event, name) => {
          if (name && names.has(name.toString())) void stat(lock).then(() => undefined, done);
        });
        watcher.on('error', done);
      } catch {
        // No watcher: wait out the timer.
      }
      void stat(lock).then(() => undefined, done); // released before we watched
    });
  }

  async #readDisk(source: Source): Promise<Entry | undefined> {
    let record: DiskRecord;
    try {
      record = JSON.parse(await readFile(this.#file(source.key), 'utf8')) as DiskRecord;
    } catch {
      return undefined;
    }
    if (record.key !== source.key || typeof record.fetchedAtMs !== 'number') return undefined;
    if (record.failure !== undefined) {
      const staleAtMs = record.fetchedAtMs + Math.min(FAILURE_RETRY_MS, this.settings.freshnessMs);
      return staleAtMs > Date.now() ? this.#failure(source, record.failure, record.fetchedAtMs) : undefined;
    }
    if (typeof record.der !== 'string') return undefined;
    return this.#entryOf(source, Buffer.from(record.der, 'base64'), record.fetchedAtMs);
  }

  /** Checks fetched (or stored) bytes into an entry: its answer, or why there is none. */
  #entryOf(source: Source, der: Buffer, fetchedAtMs: number): Entry {
    const answer = source.kind === 'crl' ? readCrl(der, source.issuer) : readOcspResponse(der, source.cert, source.issuer);
    if (typeof answer === 'string') return this.#failure(source, answer, fetchedAtMs);
    const nextUpdate = answer.nextUpdateMs ?? Number.POSITIVE_INFINITY;
    const staleAtMs = Math.min(nextUpdate, fetchedAtMs + this.settings.freshnessMs);
    return { key: source.key, kind: source.kind, url: source.url, fetchedAtMs, staleAtMs, answer, failure: undefined, der };
  }

  #failure(source: Source, failure: string, fetchedAtMs: number): Entry {
    const staleAtMs = fetchedAtMs + Math.min(FAILURE_RETRY_MS, this.settings.freshnessMs);
    return { key: source.key, kind: source.kind, url: source.url, fetchedAtMs, staleAtMs, answer: undefined, failure, der: undefined };
  }

  async #fetch(source: Source): Promise<Entry> {
    const started = performance.now();
    const fetchedAtMs = Date.now();
    let entry: Entry;
    try {
      const body = source.kind === 'ocsp' ? ocspRequestFor(source.cert, source.issuer) : undefined;
      const der = await fetchBytes(source.url, { timeoutMs: this.settings.fetchTimeoutMs, maxBytes: MAX_BYTES[source.kind], ...(body ? { body } : {}) });
      entry = this.#entryOf(source, der, fetchedAtMs);
    } catch (error) {
      entry = this.#failure(source, (error as Error).message, fetchedAtMs);
    }
    this.#observer.fetched(source.kind, source.url, entry.failure === undefined ? 'ok' : 'failed', (performance.now() - started) / 1000);
    if (entry.failure !== undefined) this.#observer.warn(`revocation: ${source.kind === 'crl' ? 'CRL' : 'OCSP'} ${source.url} for ${source.cert.subject}: ${entry.failure}`);
    return entry;
  }

  /** Keeps an entry (writing it to the folder when this process fetched it) and plans its refresh. */
  async #store(source: Source, entry: Entry, write: boolean): Promise<Entry> {
    const current = this.#entries.get(source.key);
    // A refresh that failed keeps the answer we have until it goes stale.
    const isKept = entry.failure !== undefined && current?.answer !== undefined && current.staleAtMs > Date.now();
    if (isKept) entry = { ...(current as Entry) };
    // In memory first: a handshake that stops waiting (fetchTimeout) sees the answer, or why there is none.
    this.#entries.set(source.key, entry);
    this.#planRefresh(source, entry);
    if (write && !isKept) await this.#writeDisk(source, entry);
    return entry;
  }

  async #writeDisk(source: Source, entry: Entry): Promise<void> {
    const record: DiskRecord = entry.failure !== undefined
      ? { key: source.key, url: source.url, fetchedAtMs: entry.fetchedAtMs, failure: entry.failure }
      : { key: source.key, url: source.url, fetchedAtMs: entry.fetchedAtMs, der: (entry.der as Buffer).toString('base64') };
    const file = this.#file(source.key);
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(temporary, JSON.stringify(record), { mode: 0o600 });
      await rename(temporary, file);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      this.#observer.warn(`revocation cache ${file} cannot be written (${(error as Error).message})`);
    }
  }

  #leadMs(entry: Entry): number {
    const lifetime = entry.staleAtMs - entry.fetchedAtMs;
    return Math.min(Math.max(lifetime / 10, this.settings.fetchTimeoutMs * 2), 3_600_000, lifetime / 2);
  }

  #planRefresh(source: Source, entry: Entry): void {
    const previous = this.#timers.get(source.key);
    if (previous) clearTimeout(previous);
    this.#timers.delete(source.key);
    if (this.#closed || entry.answer === undefined || !Number.isFinite(entry.staleAtMs)) return;
    const delay = Math.max(0, entry.staleAtMs - this.#leadMs(entry) - Date.now());
    if (delay > 2 ** 31 - 1) return;
    const timer = setTimeout(() => {
      this.#timers.delete(source.key);
      const usedAt = this.#used.get(source.key) ?? 0;
      if (usedAt < entry.fetchedAtMs && !source.keepFresh?.()) {
        this.#entries.delete(source.key); // not used since it was fetched: let it go (it stays on disk)
        this.#used.delete(source.key);
        return;
      }
      if (this.#inflight.has(source.key)) return;
      const refresh = this.#obtain(source, true).finally(() => this.#inflight.delete(source.key));
      this.#inflight.set(source.key, refresh);
      refresh.catch(() => undefined);
    }, delay);
    timer.unref();
    this.#timers.set(source.key, timer);
  }
}
