/**
 * Writes a site's traces as `fr000001.json`, `fr000002.json`, … (IIS's names, JSON inside), keeping the
 * newest `maxFiles`. Writes are queued and done one at a time off the request path; each file is written
 * to a temp name and renamed, so a reader never sees half a trace. Traces can hold request details, so
 * files are 0600 and the folder 0700.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TracingSettings } from '../config/tracing-schema.js';
import type { EventLog } from './log.js';
import type { Trace } from '../shared/trace.js';

const MAX_QUEUED = 100;
const FILE_PATTERN = /^fr(\d{6,})\.json$/;

export function traceFileName(sequence: number): string {
  return `fr${String(sequence).padStart(6, '0')}.json`;
}

/** Trace files of a folder, oldest first, with their sequence numbers. */
export async function listTraceFiles(directory: string): Promise<{ sequence: number; file: string }[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .map((name) => ({ match: FILE_PATTERN.exec(name), name }))
    .filter((entry): entry is { match: RegExpExecArray; name: string } => entry.match !== null)
    .map(({ match, name }) => ({ sequence: Number(match[1]), file: join(directory, name) }))
    .sort((a, b) => a.sequence - b.sequence);
}

/** A trace file, parsed (what the CLI shows and the admin API returns); throws naming the file when it is not one. */
export async function readTraceFile(file: string): Promise<Trace> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Trace;
  } catch (error) {
    throw new Error(`${file}: cannot be read as a trace (${(error as Error).message})`, { cause: error });
  }
}

/** Whether a name is a trace file's (`fr000001.json`): nothing else is read as one. */
export function isTraceFileName(name: string): boolean {
  return FILE_PATTERN.test(name);
}

/** The JSON of a trace, within `maxBytes`: header values are dropped first, then events from the middle. */
export function serializeTrace(trace: Trace, maxBytes: number): string {
  let text = JSON.stringify(trace, null, 1);
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const truncated = { name: 'LOG_FILE_MAX_SIZE_TRUNCATE', time: trace.events[trace.events.length - 1]?.time ?? trace.startTime, elapsedMs: trace.timeTakenMs, data: { MaxFileSizeBytes: maxBytes } };
  const withoutValues = trace.events.map((event) => (event.name.includes('HEADER') ? { ...event, data: { HeaderName: event.data['HeaderName'] ?? '(headers omitted)' } } : event));
  text = JSON.stringify({ ...trace, events: [...withoutValues, truncated] }, null, 1);
  let events = withoutValues;
  while (Buffer.byteLength(text) > maxBytes && events.length > 4) {
    events = [...events.slice(0, 2), ...events.slice(events.length - 1)];
    text = JSON.stringify({ ...trace, events: [...events, truncated] });
  }
  return text;
}

export class TraceWriter {
  readonly #settings: TracingSettings;
  readonly #eventLog: EventLog;
  #queue: Trace[] = [];
  #running: Promise<void> | undefined;
  #next: number | undefined;
  #dropped = 0;
  #failed = false;

  constructor(settings: TracingSettings, eventLog: EventLog) {
    this.#settings = settings;
    this.#eventLog = eventLog;
  }

  /** Queues a trace; never blocks. */
  write(trace: Trace): void {
    if (this.#failed) return;
    if (this.#queue.length >= MAX_QUEUED) {
      this.#dropped++;
      return;
    }
    this.#queue.push(trace);
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves when every queued trace is on disk. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  close(): Promise<void> {
    return this.flush();
  }

  async #drain(): Promise<void> {
    const { directory, maxFiles, maxFileSizeBytes } = this.#settings;
    try {
      if (this.#next === undefined) {
        await mkdir(directory, { recursive: true, mode: 0o700 });
        const existing = await listTraceFiles(directory);
        this.#next = (existing[existing.length - 1]?.sequence ?? 0) + 1;
      }
      for (let trace = this.#queue.shift(); trace; trace = this.#queue.shift()) {
        const file = join(directory, traceFileName(this.#next));
        this.#next++;
        const temp = `${file}.tmp`;
        await writeFile(temp, serializeTrace(trace, maxFileSizeBytes), { mode: 0o600 });
        await rename(temp, file);
        const files = await listTraceFiles(directory);
        for (const old of files.slice(0, Math.max(0, files.length - maxFiles))) await rm(old.file, { force: true });
      }
      if (this.#dropped) {
        this.#eventLog.warn(`tracing: ${this.#dropped} traces dropped (more than ${MAX_QUEUED} waiting to be written to ${directory})`);
        this.#dropped = 0;
      }
    } catch (error) {
      this.#failed = true;
      this.#queue = [];
      this.#eventLog.error(`tracing: cannot write traces to ${directory}: ${(error as Error).message}; tracing stopped for this site`);
    }
  }
}
