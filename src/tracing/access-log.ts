/**
 * The access log: one line per finished request, in IIS's W3C extended format (access-log-w3c.ts) or as
 * JSON lines (access-log-json.ts), to stdout, stderr, one file or a folder of rolled files
 * (access-log-file.ts). AccessLog is one destination; AccessLogs maps each site to its destination.
 *
 * The request path only formats the line and appends it to a string. Lines go out every 100 ms, or as
 * soon as 64 KB are waiting, with never more than one write in flight; while one is, the next lines
 * gather into the next batch. A destination slower than the traffic fills the buffer up to 8 MB, then
 * lines are dropped and counted ("N lines dropped" on the event log, at most once a minute) rather than
 * memory growing or requests waiting. A destination that fails (unwritable folder, full disk, closed
 * pipe) is reported once on the event log and that log stops; requests are never affected.
 */
import type { AccessLogTarget } from '../config/model.js';
import { accessLogKey, accessLogSettingsOfTarget, sameAccessLogSettings, type AccessLogSettings } from '../config/access-log-schema.js';
import { FileSink } from './access-log-file.js';
import { jsonLine } from './access-log-json.js';
import { StreamSink, type AccessLogSink } from './access-log-sink.js';
import { w3cHeader, w3cLine } from './access-log-w3c.js';
import { eventLog as defaultEventLog, type EventLog } from './log.js';
import type { RequestRecord } from './request-record.js';

export type { AccessLogSink } from './access-log-sink.js';

export const FLUSH_BYTES = 64 * 1024;
export const FLUSH_MS = 100;
export const MAX_BUFFER_BYTES = 8 * 1024 * 1024;
export const DROP_REPORT_INTERVAL_MS = 60_000;
/** How long close() waits for a destination that takes no more (a pipe nobody reads, a hung disk). */
export const CLOSE_TIMEOUT_MS = 5_000;
/** Bound of drain(): each round writes everything that was waiting. */
const MAX_DRAIN_ROUNDS = 10_000;

export interface AccessLogOptions {
  /** Where failures and dropped lines are reported; Gatehouse's event log by default. */
  readonly eventLog?: EventLog;
  /** The clock of the W3C `#Date` header and of the drop reports; Date.now by default. */
  readonly now?: () => number;
  /** Where the lines go instead of the settings' destination (tests). */
  readonly sink?: AccessLogSink;
  /** The buffer cap (characters waiting or in flight); 8 MB by default. */
  readonly maxBufferBytes?: number;
  readonly flushBytes?: number;
  readonly flushMs?: number;
  /** How long close() waits for the last lines; 5 s by default. */
  readonly closeTimeoutMs?: number;
}

/** What the request path needs of the access log: AccessLog (one destination) and AccessLogs (per site) both are one. */
export interface AccessLogWriter {
  /** True when any request may be logged (the handler then builds RequestRecords and X-ARR-LOG-IDs). */
  readonly enabled: boolean;
  /** True when the requests of that site ('' for none) are logged. */
  enabledFor(site: string): boolean;
  write(record: RequestRecord): void;
}

interface Batch {
  readonly period: number;
  text: string;
}

function isSettings(value: AccessLogTarget | AccessLogSettings): value is AccessLogSettings {
  return 'format' in value;
}

function sinkOf(settings: AccessLogSettings, now: () => number): AccessLogSink | undefined {
  switch (settings.kind) {
    case 'off':
      return undefined;
    case 'stdout':
      return new StreamSink(process.stdout, 'stdout');
    case 'stderr':
      return new StreamSink(process.stderr, 'stderr');
    case 'file':
    case 'folder':
      return new FileSink({
        kind: settings.kind,
        path: settings.path,
        rollover: settings.rollover,
        maxSizeBytes: settings.maxSizeBytes,
        localTime: settings.localTime,
        header: settings.format === 'w3c' ? w3cHeader : undefined,
        now,
      });
  }
}

function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${code} ${message}` : message;
}

/** One access log destination. */
export class AccessLog implements AccessLogWriter {
  readonly settings: AccessLogSettings;
  readonly #sink: AccessLogSink | undefined;
  readonly #format: (record: RequestRecord) => string;
  readonly #eventLog: EventLog;
  readonly #now: () => number;
  readonly #maxBuffer: number;
  readonly #flushBytes: number;
  readonly #flushMs: number;
  readonly #closeTimeoutMs: number;
  #batches: Batch[] = [];
  #pendingChars = 0;
  #inFlightChars = 0;
  #lastPeriod = 0;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failed = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #dropped = 0;
  #droppedTotal = 0;
  #lastDropReportMs = Number.NEGATIVE_INFINITY;

  /** `target`: the normalized settings, or the former AccessLogTarget (a file is one W3C file, never rolled over). */
  constructor(target: AccessLogTarget | AccessLogSettings, options: AccessLogOptions = {}) {
    this.settings = isSettings(target) ? target : accessLogSettingsOfTarget(target);
    this.#eventLog = options.eventLog ?? defaultEventLog;
    this.#now = options.now ?? Date.now;
    this.#maxBuffer = options.maxBufferBytes ?? MAX_BUFFER_BYTES;
    this.#flushBytes = options.flushBytes ?? FLUSH_BYTES;
    this.#flushMs = options.flushMs ?? FLUSH_MS;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
    this.#format = this.settings.format === 'json' ? jsonLine : w3cLine;
    this.#sink = this.settings.kind === 'off' ? undefined : (options.sink ?? sinkOf(this.settings, this.#now));
    // A stream has no file to start: its W3C header goes out once, at start.
    if (this.#sink && this.settings.format === 'w3c' && (this.settings.kind === 'stdout' || this.settings.kind === 'stderr')) {
      this.#append(w3cHeader(this.#now()), 0);
    }
  }

  get enabled(): boolean {
    return this.settings.kind !== 'off';
  }

  enabledFor(_site: string): boolean {
    return this.enabled;
  }

  /** For messages: `stdout`, the file or the folder; `off`. */
  get name(): string {
    return this.#sink?.name ?? 'off';
  }

  /** True once the destination failed (reported, and nothing more is written). */
  get failed(): boolean {
    return this.#failed;
  }

  /** Lines dropped so far because the buffer was full. */
  get dropped(): number {
    return this.#droppedTotal;
  }

  /** Characters waiting or being written. */
  get buffered(): number {
    return this.#pendingChars + this.#inFlightChars;
  }

  write(record: RequestRecord): void {
    if (!this.#sink || this.#failed || this.#closed) return;
    if (this.#dropped > 0) this.#reportDrops(false);
    const line = this.#format(record);
    if (this.#pendingChars + this.#inFlightChars + line.length > this.#maxBuffer) {
      this.#drop();
      return;
    }
    this.#append(line, this.#sink.periodOf(record.startEpochMs + record.timeTakenMs));
  }

  /** Starts writing what is waiting, unless a write is in flight (what waits then follows it). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const sink = this.#sink;
    if (this.#writing || this.#batches.length === 0 || !sink || this.#failed) return;
    const batches = this.#batches;
    this.#batches = [];
    this.#inFlightChars = this.#pendingChars;
    this.#pendingChars = 0;
    this.#writing = this.#writeAll(sink, batches).then(() => {
      this.#writing = undefined;
      this.#inFlightChars = 0;
      if (this.#dropped > 0) this.#reportDrops(false);
      if (this.#batches.length > 0) this.flush();
    });
  }

  /** Resolves when every line written so far is out (or the destination failed). */
  async drain(): Promise<void> {
    for (let round = 0; round < MAX_DRAIN_ROUNDS; round++) {
      this.flush();
      const writing = this.#writing;
      if (!writing) return;
      await writing;
    }
  }

  /**
   * Writes what is waiting, reports the last dropped lines, closes a file. Later lines are ignored. A
   * destination that takes nothing for closeTimeoutMs is left behind (reported), so a stop never hangs.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), this.#closeTimeoutMs)));
    const late = await Promise.race([this.drain().then(() => false), timedOut]);
    clearTimeout(timer);
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#reportDrops(true);
    if (late) {
      const lost = this.buffered;
      this.#batches = [];
      this.#pendingChars = 0;
      this.#eventLog.error(`access log ${this.name}: the destination took nothing for ${this.#closeTimeoutMs} ms at stop; ${lost} characters of lines not written`);
      void this.#sink?.close().catch(() => undefined);
      return;
    }
    await this.#sink?.close().catch(() => undefined);
  }

  #append(line: string, timePeriod: number): void {
    // The period only moves forward: a clock set back keeps writing to the current file.
    const period = timePeriod < this.#lastPeriod ? this.#lastPeriod : (this.#lastPeriod = timePeriod);
    const last = this.#batches.at(-1);
    if (last && last.period === period) last.text += line;
    else this.#batches.push({ period, text: line });
    this.#pendingChars += line.length;
    if (this.#pendingChars >= this.#flushBytes) this.flush();
    else if (!this.#writing) this.#timer ??= setTimeout(() => this.flush(), this.#flushMs).unref();
  }

  async #writeAll(sink: AccessLogSink, batches: readonly Batch[]): Promise<void> {
    try {
      for (const batch of batches) await sink.write(batch.text, batch.period);
    } catch (error) {
      this.#fail(sink, error);
    }
  }

  #fail(sink: AccessLogSink, error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#batches = [];
    this.#pendingChars = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#eventLog.error(`access log ${sink.name}: ${describeError(error)}; access logging to it stopped (requests are not affected)`);
    void sink.close().catch(() => undefined);
  }

  #drop(): void {
    this.#dropped++;
    this.#droppedTotal++;
    const now = this.#now();
    if (now - this.#lastDropReportMs >= DROP_REPORT_INTERVAL_MS) {
      this.#lastDropReportMs = now;
      this.#eventLog.warn(`access log ${this.name}: the destination is slower than the traffic; buffer full (${Math.round(this.#maxBuffer / 1024)} KB): dropping lines`);
    }
  }

  #reportDrops(force: boolean): void {
    if (this.#dropped === 0) return;
    const now = this.#now();
    if (!force && now - this.#lastDropReportMs < DROP_REPORT_INTERVAL_MS) return;
    this.#eventLog.warn(`access log ${this.name}: ${this.#dropped} line${this.#dropped === 1 ? '' : 's'} dropped (the destination is slower than the traffic)`);
    this.#dropped = 0;
    this.#lastDropReportMs = now;
  }
}

/** A site as AccessLogs sees it: a site without its own settings uses the top-level ones. */
export interface SiteAccessLogSettings {
  readonly name: string;
  readonly accessLog?: AccessLogSettings | undefined;
}

/**
 * The access logs of a Gatehouse: the top-level log (requests that no site answered, and every site
 * without settings of its own) and one per distinct site destination. Sites whose settings lead to the
 * same destination share one AccessLog, so one file is never written by two writers.
 */
export class AccessLogs implements AccessLogWriter {
  readonly #default: AccessLog;
  readonly #bySite = new Map<string, AccessLog>();
  readonly #all: AccessLog[] = [];

  constructor(defaults: AccessLogTarget | AccessLogSettings, sites: readonly SiteAccessLogSettings[] = [], options: Omit<AccessLogOptions, 'sink'> = {}) {
    const byKey = new Map<string, AccessLog>();
    const logOf = (settings: AccessLogSettings): AccessLog => {
      const key = accessLogKey(settings);
      const existing = byKey.get(key);
      if (existing) {
        if (!sameAccessLogSettings(existing.settings, settings)) {
          (options.eventLog ?? defaultEventLog).warn(`access log ${existing.name}: used with different settings; the first ones apply (format ${existing.settings.format}, rollover ${existing.settings.rollover})`);
        }
        return existing;
      }
      const log = new AccessLog(settings, options);
      byKey.set(key, log);
      this.#all.push(log);
      return log;
    };
    this.#default = logOf(isSettings(defaults) ? defaults : accessLogSettingsOfTarget(defaults));
    for (const site of sites) this.#bySite.set(site.name, site.accessLog ? logOf(site.accessLog) : this.#default);
  }

  /** True when any log is on. */
  get enabled(): boolean {
    return this.#all.some((log) => log.enabled);
  }

  /** The log of a site ('' or an unknown name: the top-level log). */
  logOf(site: string): AccessLog {
    return this.#bySite.get(site) ?? this.#default;
  }

  enabledFor(site: string): boolean {
    return this.logOf(site).enabled;
  }

  write(record: RequestRecord): void {
    this.logOf(record.site).write(record);
  }

  flush(): void {
    for (const log of this.#all) log.flush();
  }

  async drain(): Promise<void> {
    await Promise.all(this.#all.map((log) => log.drain()));
  }

  async close(): Promise<void> {
    await Promise.all(this.#all.map((log) => log.close()));
  }
}
