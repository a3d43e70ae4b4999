/**
 * JSON lines: one object per request with `time` (when the request ended, ISO 8601 UTC, the moment the
 * W3C `date`/`time` fields show) followed by every field of the RequestRecord, as it is. JSON escapes
 * quotes and line breaks, so a line is always one line.
 */
import type { RequestRecord } from './request-record.js';

export function jsonLine(r: RequestRecord): string {
  return `${JSON.stringify({ time: new Date(r.startEpochMs + r.timeTakenMs).toISOString(), ...r })}\n`;
}
