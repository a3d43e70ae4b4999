/**
 * Access log files, named and rolled over as IIS does:
 *   folder, rollover daily   FOLDER/u_exYYMMDD.log (the day of the logged request, UTC unless localTime)
 *   folder, rollover size    FOLDER/u_exYYMMDD.log, then u_exYYMMDD_1.log, u_exYYMMDD_2.log, … when the
 *                            next lines would make the file larger than maxSize; a new day starts over
 *   folder, rollover none    FOLDER/u_extend1.log
 *   file                     exactly that file, never rolled over
 * Files are opened for appending (never truncated), created with mode 0640 (the folder, when missing,
 * with 0750), and get the W3C header each time they are opened, as IIS writes it again on restart.
 * A file is opened at its first write, so a log that gets no line creates no file.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AccessLogRollover } from '../config/access-log-schema.js';
import type { AccessLogSink } from './access-log-sink.js';

const DAY_MS = 86_400_000;
const NEWLINE = 0x0a;
/** Bounds of the loops that depend on the file system's answers. */
const MAX_ROTATIONS_PER_WRITE = 100_000;
const MAX_WRITE_CALLS = 100_000;

export interface FileSinkOptions {
  readonly kind: 'file' | 'folder';
  /** The file, or the folder of the rolled files (absolute). */
  readonly path: string;
  readonly rollover: AccessLogRollover;
  readonly maxSizeBytes: number;
  readonly localTime: boolean;
  /** The header to write at the start of each opened file, given the time; undefined: none (JSON). */
  readonly header: ((nowMs: number) => string) | undefined;
  readonly now: () => number;
}

/** `u_exYYMMDD.log`, `u_exYYMMDD_N.log` or `u_extend1.log`, for a day (its start, in the naming time zone). */
export function iisFileName(rollover: AccessLogRollover, dayStartMs: number, localTime: boolean, index: number): string {
  if (rollover === 'none') return 'u_extend1.log';
  const d = new Date(dayStartMs);
  const year = localTime ? d.getFullYear() : d.getUTCFullYear();
  const month = (localTime ? d.getMonth() : d.getUTCMonth()) + 1;
  const day = localTime ? d.getDate() : d.getUTCDate();
  const two = (n: number) => String(n).padStart(2, '0');
  return `u_ex${two(year % 100)}${two(month)}${two(day)}${index > 0 ? `_${index}` : ''}.log`;
}

export class FileSink implements AccessLogSink {
  readonly name: string;
  readonly #o: FileSinkOptions;
  readonly #isRolled: boolean;
  readonly #bySize: boolean;
  #handle: FileHandle | undefined;
  #file = '';
  #size = 0;
  #period = -1;
  #index = 0;
  #headerDue = false;
  #dayStart = 0;
  #dayEnd = -1;

  constructor(options: FileSinkOptions) {
    this.#o = options;
    this.name = options.path;
    this.#isRolled = options.kind === 'folder' && options.rollover !== 'none';
    this.#bySize = options.kind === 'folder' && options.rollover === 'size';
  }

  /** The file being written ('' before the first write). */
  get file(): string {
    return this.#file;
  }

  periodOf(timeMs: number): number {
    if (!this.#isRolled) return 0;
    if (timeMs >= this.#dayStart && timeMs < this.#dayEnd) return this.#dayStart;
    const d = new Date(timeMs);
    if (this.#o.localTime) {
      this.#dayStart = new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
      this.#dayEnd = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
    } else {
      this.#dayStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      this.#dayEnd = this.#dayStart + DAY_MS;
    }
    return this.#dayStart;
  }

  async write(text: string, period: number): Promise<void> {
    if (!this.#handle || period !== this.#period) await this.#open(period, 0);
    const data = Buffer.from(text, 'utf8');
    if (!this.#bySize) return this.#append(data);
    // Whole lines, as many as fit; the next file when none does. A line larger than maxSize gets a file of its own.
    let offset = 0;
    for (let rotations = 0; offset < data.length; ) {
      const header = this.#headerBytes();
      const room = this.#o.maxSizeBytes - this.#size - header.length;
      let end = offset;
      if (room >= data.length - offset) end = data.length;
      else if (room > 0) {
        const newline = data.lastIndexOf(NEWLINE, offset + room - 1);
        if (newline >= offset) end = newline + 1;
      }
      if (end === offset) {
        if (this.#size > 0) {
          if (++rotations > MAX_ROTATIONS_PER_WRITE) throw new Error(`more than ${MAX_ROTATIONS_PER_WRITE} full files for one day`);
          await this.#open(period, this.#index + 1);
          continue;
        }
        const newline = data.indexOf(NEWLINE, offset);
        end = newline < 0 ? data.length : newline + 1;
      }
      await this.#append(data.subarray(offset, end), header);
      offset = end;
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    this.#period = -1;
    await handle?.close();
  }

  #headerBytes(): Buffer {
    return this.#headerDue && this.#o.header ? Buffer.from(this.#o.header(this.#o.now()), 'utf8') : Buffer.alloc(0);
  }

  async #open(period: number, index: number): Promise<void> {
    await this.close();
    const file = this.#o.kind === 'file' ? this.#o.path : join(this.#o.path, iisFileName(this.#o.rollover, period, this.#o.localTime, index));
    // Each time (only when a file is opened): a folder removed meanwhile is created again.
    await mkdir(this.#o.kind === 'file' ? dirname(file) : this.#o.path, { recursive: true, mode: 0o750 });
    const handle = await open(file, 'a', 0o640);
    try {
      this.#size = (await handle.stat()).size;
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    this.#handle = handle;
    this.#file = file;
    this.#period = period;
    this.#index = index;
    this.#headerDue = this.#o.header !== undefined;
  }

  async #append(data: Buffer, header = this.#headerBytes()): Promise<void> {
    const handle = this.#handle as FileHandle;
    const bytes = header.length > 0 ? Buffer.concat([header, data]) : data;
    let written = 0;
    for (let calls = 0; written < bytes.length; calls++) {
      if (calls >= MAX_WRITE_CALLS) throw new Error('the file takes no more bytes');
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
      if (bytesWritten <= 0) throw new Error('the file takes no more bytes');
      written += bytesWritten;
    }
    this.#size += bytes.length;
    this.#headerDue = false;
  }
}
