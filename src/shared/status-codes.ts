/**
 * Status-code lists as ARR writes them (`200-399`, `200,301-302`, `500-`): parsed once into inclusive
 * ranges, matched per request without allocating. The farm's health tests (statusCodeMatch,
 * liveTrafficFailureCodes) and the tracing rules' status codes read them alike.
 *
 * A leaf module: it imports nothing, so config/, farm/ and tracing/ share it without importing each other.
 */

/** Status codes as inclusive ranges; `text` is what was written (for messages). */
export interface StatusCodeRanges {
  readonly text: string;
  readonly ranges: readonly (readonly [number, number])[];
}

export const STATUS_CODES_EXPECTED = "status codes 100-999 as a list of codes and ranges, e.g. '200-399', '200,301-302' or '500-' (500 and above)";

/**
 * `'200-399'`, `'200,301-302'`, `'500-'` (500-999), `'-299'` (100-299), `404` → ranges; undefined when
 * malformed or out of 100-999.
 */
export function parseStatusCodes(value: unknown): StatusCodeRanges | undefined {
  if (typeof value === 'number') value = String(value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!text) return undefined;
  const ranges: [number, number][] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(\d{3})?\s*(-)?\s*(\d{3})?\s*$/.exec(part);
    if (!match || (match[1] === undefined && match[3] === undefined)) return undefined;
    if (match[2] === undefined && match[3] !== undefined) return undefined; // '200 300'
    const low = match[1] === undefined ? 100 : Number(match[1]);
    const high = match[2] === undefined ? low : match[3] === undefined ? 999 : Number(match[3]);
    if (low < 100 || high > 999 || low > high) return undefined;
    ranges.push([low, high]);
  }
  return { text, ranges };
}

/** Whether `status` is in the ranges. */
export function matchesStatus(codes: StatusCodeRanges, status: number): boolean {
  for (const [low, high] of codes.ranges) if (status >= low && status <= high) return true;
  return false;
}
