/**
 * The access log: one line per request, space-separated in the spirit of IIS's W3C log, `-` for empty:
 *   time c-ip:port site method url status substatus bytes time-taken-ms farm server log-id cert-thumbprint
 * Lines are buffered and written asynchronously: the request path only appends to a string. A failing
 * destination (full disk, unwritable file) is reported once and never stalls the proxy.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { AccessLogTarget } from '../config/model.js';
import { eventLog } from './log.js';
import type { RequestRecord } from './request-record.js';

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 100;

export class AccessLog {
  #buffer = '';
  #timer: NodeJS.Timeout | undefined;
  #stream: NodeJS.WritableStream | WriteStream | undefined;
  #failed = false;
  readonly #enabled: boolean;

  constructor(target: AccessLogTarget) {
    this.#enabled = target.kind !== 'off';
    if (target.kind === 'stdout') this.#stream = process.stdout;
    else if (target.kind === 'stderr') this.#stream = process.stderr;
    else if (target.kind === 'file') {
      const stream = createWriteStream(target.path, { flags: 'a', mode: 0o640 });
      stream.on('error', (error) => this.#fail(`access log ${target.path}: ${error.message}`));
      this.#stream = stream;
    }
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  write(r: RequestRecord): void {
    if (!this.#enabled || this.#failed) return;
    const client = r.clientIp.includes(':') ? `[${r.clientIp}]:${r.clientPort}` : `${r.clientIp}:${r.clientPort}`;
    this.#buffer += `${new Date(r.startEpochMs + r.timeTakenMs).toISOString()} ${client} ${r.site || '-'} ${r.method} ${r.url} ${r.status} ${r.subStatus} ${r.bytesSent} ${Math.round(r.timeTakenMs)} ${r.farm || '-'} ${r.server || '-'} ${r.logId || '-'} ${r.thumbprint || '-'}\n`;
    if (this.#buffer.length >= FLUSH_BYTES) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#buffer || !this.#stream || this.#failed) return;
    const chunk = this.#buffer;
    this.#buffer = '';
    try {
      this.#stream.write(chunk);
    } catch (error) {
      this.#fail(`access log: ${(error as Error).message}`);
    }
  }

  #fail(message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#buffer = '';
    eventLog.error(`${message}; access logging stopped`);
  }

  /** Flushes and closes a file destination. */
  async close(): Promise<void> {
    this.flush();
    const stream = this.#stream;
    if (stream && stream !== process.stdout && stream !== process.stderr) {
      await new Promise<void>((resolve) => (stream as WriteStream).end(resolve));
    }
  }
}
