/** Shared by the access-log unit tests: a request record, a captured event log, a temp folder, a controllable sink. */
import type { AccessLogSink } from '../../src/tracing/access-log-sink.js';
import type { EventLog } from '../../src/tracing/log.js';
import type { RequestRecord } from '../../src/tracing/request-record.js';

/** 2024-03-05 06:07:08.009 UTC. */
export const T0 = Date.UTC(2024, 2, 5, 6, 7, 8, 9);
export const DAY = 86_400_000;

export function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    startEpochMs: T0 - 12.4,
    timeTakenMs: 12.4,
    clientIp: '192.0.2.10',
    clientPort: 51234,
    localIp: '10.0.0.1',
    localPort: 443,
    site: 'app',
    isHttps: true,
    method: 'GET',
    url: '/orders/42?expand=lines&x=1',
    host: 'app.example.test',
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
    referer: 'https://app.example.test/home',
    status: 200,
    subStatus: 0,
    outcome: 'forwarded',
    reason: '',
    bytesSent: 1234,
    bytesReceived: 0,
    farm: 'web',
    server: '10.0.1.5:8080',
    logId: '7d4f3a2e-1b2c-4d5e-8f90-a1b2c3d4e5f6',
    thumbprint: 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678',
    certificateSubject: 'CN=alice',
    certificateNotAfterMs: T0 + 30 * DAY,
    retriedFrom: '',
    ...overrides,
  };
}

/** A record that ended at `endMs`. */
export function recordAt(endMs: number, overrides: Partial<RequestRecord> = {}): RequestRecord {
  return record({ startEpochMs: endMs - 5, timeTakenMs: 5, ...overrides });
}

export interface CapturedEvents extends EventLog {
  readonly lines: string[];
}

export function capturedEvents(): CapturedEvents {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

/** A sink whose writes complete only when the test says so. */
export class ManualSink implements AccessLogSink {
  readonly name = 'manual';
  readonly written: string[] = [];
  readonly #waiting: (() => void)[] = [];
  inFlight = 0;
  maxInFlight = 0;

  periodOf(): number {
    return 0;
  }

  write(text: string): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.inFlight--;
        this.written.push(text);
        resolve();
      }),
    );
  }

  /** Completes the write in flight; false when there is none. */
  release(): boolean {
    const next = this.#waiting.shift();
    next?.();
    return next !== undefined;
  }

  async close(): Promise<void> {}
}
