import type { Validity } from './types.js';

const DAY_MS = 86_400_000;
const BACKDATE_MS = 5 * 60_000;

/** Leaf certificate lifetime in days when none is given. */
export const DEFAULT_LEAF_DAYS = 825;
/** CA certificate lifetime in days when none is given. */
export const DEFAULT_CA_DAYS = 3650;

/** Resolves a Validity into concrete dates, rejecting empty or invalid windows. */
export function resolveValidity(v: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = v.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const days = v.days ?? defaultDays;
  if (v.notAfter === undefined && (!Number.isFinite(days) || days <= 0)) {
    throw new RangeError(`validity days must be a positive number, got ${days}`);
  }
  const notAfter = v.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    throw new RangeError('validity dates must be valid Dates');
  }
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new RangeError('validity notAfter must be later than notBefore');
  }
  return { notBefore, notAfter };
}
