/**
 * Status code lists as IIS writes them in tracing rules: `403.16,500-599`, `404`, `400-`. A code with a
 * sub-status (`403.16`) matches only that sub-status; everything else is the farm's status-code list
 * (shared/status-codes.ts parseStatusCodes), so the two cannot disagree on ranges. Parsed once, matched per
 * request without allocating.
 */
import { matchesStatus, parseStatusCodes as parseStatusRanges } from '../shared/status-codes.js';

export type StatusCodeMatcher = (status: number, subStatus: number) => boolean;

/** The matcher, or a message saying what is wrong. */
export function parseStatusCodes(text: string): StatusCodeMatcher | string {
  const withSubStatus: [status: number, subStatus: number][] = [];
  const plain: string[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const sub = /^(\d{3})\.(\d{1,3})$/.exec(part);
    if (sub) withSubStatus.push([Number(sub[1]), Number(sub[2])]);
    else plain.push(part);
  }
  const ranges = plain.length ? parseStatusRanges(plain.join(',')) : undefined;
  if (plain.length && !ranges) return `'${plain.join(',')}' is not a list of status codes (403), codes with sub-status (403.16) or ranges (500-599, 500-)`;
  return (status, subStatus) => {
    for (let i = 0; i < withSubStatus.length; i++) {
      const entry = withSubStatus[i] as [number, number];
      if (entry[0] === status && entry[1] === subStatus) return true;
    }
    return ranges !== undefined && matchesStatus(ranges, status);
  };
}
