/**
 * Status code lists as IIS writes them: `403.16,500-599`, `404`, `400-`; a sub-status (`403.16`) matches
 * only that sub-status, a bare code any. Parsed once, matched per request without allocating.
 */
interface Range {
  readonly from: number;
  readonly to: number;
  readonly subStatus: number | undefined;
}

export type StatusCodeMatcher = (status: number, subStatus: number) => boolean;

/** The matcher, or a message saying what is wrong. */
export function parseStatusCodes(text: string): StatusCodeMatcher | string {
  const ranges: Range[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const single = /^(\d{3})(?:\.(\d{1,3}))?$/.exec(part);
    const range = /^(\d{3})-(\d{3})?$/.exec(part);
    if (single) ranges.push({ from: Number(single[1]), to: Number(single[1]), subStatus: single[2] === undefined ? undefined : Number(single[2]) });
    else if (range) {
      const from = Number(range[1]);
      const to = range[2] === undefined ? 999 : Number(range[2]);
      if (to < from) return `'${part}' is an empty range`;
      ranges.push({ from, to, subStatus: undefined });
    } else return `'${part}' is not a status code, a code with sub-status (403.16) or a range (500-599, 500-)`;
  }
  if (ranges.length === 0) return 'no status codes given';
  return (status, subStatus) => {
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i] as Range;
      if (status >= r.from && status <= r.to && (r.subStatus === undefined || r.subStatus === subStatus)) return true;
    }
    return false;
  };
}
