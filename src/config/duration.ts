/**
 * Durations in config: a number of seconds (`30`), a string with a unit (`500ms`, `30s`, `2m`, `1h`, `1d`),
 * or IIS's `hh:mm:ss` (`00:00:30`), so values copied from applicationHost.config work unchanged.
 */
import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds for a declared duration, or undefined when it is not one. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const unit = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text);
  if (unit) return Math.round(Number(unit[1]) * (UNIT_MS[unit[2] as string] as number));
  const clock = /^(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text);
  if (clock) return Math.round((Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3])) * 1000);
  return undefined;
}

export const DURATION_EXPECTED = "seconds as a number, or a string such as '500ms', '30s', '2m', '1h', '1d' or '00:00:30'";

/** The config's duration type (every schema's): seconds as a number, or a string with a unit or `hh:mm:ss`. */
export const durationSchema = z
  .custom<number | string>((value) => parseDuration(value) !== undefined, { message: `is not a duration (expected ${DURATION_EXPECTED})` })
  .meta({ type: 'duration' });
