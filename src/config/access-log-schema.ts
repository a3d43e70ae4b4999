/**
 * The access log's part of the config: the schema of `accessLog` (top level, the default every site
 * inherits, and per site), its normalized form and the normalizing function.
 *
 * A string is short for `{ destination: <string> }`, which keeps the old top-level key working:
 *   accessLog: stdout | stderr | off              → that stream, W3C format (header once at start)
 *   accessLog: logs/access.log                    → exactly that file, appended, never rolled over
 *   accessLog: logs                               → IIS-style files in that folder: logs/u_exYYMMDD.log
 * A destination whose last segment ends in `.log` (any case) is one file; any other path is a folder.
 * A site's `accessLog` overrides the top-level one key by key: `{ format: json }` on a site keeps the
 * top-level destination. Sites whose settings resolve to the same destination share one log (the
 * `s-sitename` field tells them apart); the same file or folder with different settings is a problem.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { formatPath, type Problem } from './problem.js';

export const ACCESS_LOG_FORMATS = ['w3c', 'json'] as const;
export const ACCESS_LOG_ROLLOVERS = ['daily', 'size', 'none'] as const;
export const DEFAULT_MAX_SIZE_KB = 10_240;
/** 4 GB: beyond that a W3C file is unwieldy for every log tool. */
export const MAX_MAX_SIZE_KB = 4 * 1024 * 1024;

export type AccessLogFormat = (typeof ACCESS_LOG_FORMATS)[number];
export type AccessLogRollover = (typeof ACCESS_LOG_ROLLOVERS)[number];

/** True for a destination that names one file rather than a folder. */
export function isSingleFileDestination(destination: string): boolean {
  return /\.log$/i.test(destination);
}

const STREAMS = new Set(['stdout', 'stderr', 'off']);

export const accessLogObjectSchema = z
  .strictObject({
    destination: z
      .string()
      .min(1)
      .optional()
      .describe('`stdout` (default), `stderr`, `off`, or a folder (relative to the config file) that receives IIS-style files `u_exYYMMDD.log`. A path ending in `.log` is that one file, appended and never rolled over (the former `accessLog: <file>`). A site without one inherits the top-level destination.'),
    format: z
      .enum(ACCESS_LOG_FORMATS)
      .optional()
      .describe('`w3c` (default): IIS\'s W3C extended log format with IIS\'s default fields in IIS\'s order, plus `s-sitename c-port x-arr-log-id x-farm x-server x-client-cert-thumbprint`; files and streams start with the `#Software`/`#Version`/`#Date`/`#Fields` header. `json`: one JSON object per line with every field of the request record.'),
    rollover: z
      .enum(ACCESS_LOG_ROLLOVERS)
      .optional()
      .describe('Folder destinations: `daily` (default; `u_exYYMMDD.log`), `size` (a new file when `maxSizeKB` would be exceeded: `u_exYYMMDD.log`, `u_exYYMMDD_1.log`, …; a new day starts a new file too), `none` (one file, `u_extend1.log`, as IIS names it).'),
    maxSizeKB: z
      .number()
      .int()
      .min(1)
      .max(MAX_MAX_SIZE_KB)
      .optional()
      .describe(`Largest file size with \`rollover: size\`, KB. Default ${DEFAULT_MAX_SIZE_KB} (10 MB).`),
    localTime: z
      .boolean()
      .optional()
      .describe('Use local time for file names and the daily rollover (IIS "Use local time for file naming and rollover"). The `date` and `time` fields stay UTC, as in IIS. Default false.'),
  })
  .superRefine((value, ctx) => {
    if (value.destination !== undefined && isSingleFileDestination(value.destination) && (value.rollover === 'daily' || value.rollover === 'size')) {
      ctx.addIssue({
        code: 'custom',
        path: ['rollover'],
        input: value.rollover,
        message: `is not possible for a destination that is one file (${value.destination}) (expected \`none\`, or a folder as \`destination\`)`,
      });
    }
  });

/** `accessLog`: a string (the destination) or the mapping. */
export const accessLogSettingsSchema = z
  .preprocess((value) => (typeof value === 'string' ? { destination: value } : value), accessLogObjectSchema)
  .describe('The access log: one line per request. A string is short for `{ destination: <string> }` (`accessLog: off`, `accessLog: logs`). On a site, overrides the top-level `accessLog` key by key; sites that end up with the same destination share one log.');

/** The top-level key: the default of every site. */
export const topLevelAccessLogSchema = accessLogSettingsSchema.prefault('stdout');
/** The per-site key: absent = the top-level settings. */
export const siteAccessLogSchema = accessLogSettingsSchema.optional();

export type DeclaredAccessLog = z.output<typeof accessLogSettingsSchema>;

/** The normalized settings: what the access log writers are built from. */
export interface AccessLogSettings {
  /** `folder`: rolled IIS-style files in `path`; `file`: exactly `path`, never rolled over. */
  readonly kind: 'off' | 'stdout' | 'stderr' | 'file' | 'folder';
  /** Absolute path for `file` and `folder`; '' otherwise. */
  readonly path: string;
  readonly format: AccessLogFormat;
  /** How a folder's files roll over; a single file (`kind: 'file'`) is never rolled over. */
  readonly rollover: AccessLogRollover;
  readonly maxSizeBytes: number;
  readonly localTime: boolean;
}

export const DEFAULT_ACCESS_LOG_SETTINGS: AccessLogSettings = Object.freeze({
  kind: 'stdout',
  path: '',
  format: 'w3c',
  rollover: 'daily',
  maxSizeBytes: DEFAULT_MAX_SIZE_KB * 1024,
  localTime: false,
});

/**
 * Declared settings (schema output, or a raw string) → normalized settings. Keys the declaration
 * lacks come from `inherited` (a site inherits the normalized top-level settings); the top level
 * inherits the defaults. Relative paths are resolved against `configDir`.
 */
export function normalizeAccessLogSettings(declared: DeclaredAccessLog | string | undefined, configDir: string, inherited: AccessLogSettings = DEFAULT_ACCESS_LOG_SETTINGS): AccessLogSettings {
  if (declared === undefined) return inherited;
  const d: DeclaredAccessLog = typeof declared === 'string' ? { destination: declared } : declared;
  let kind = inherited.kind;
  let path = inherited.path;
  if (d.destination !== undefined) {
    if (STREAMS.has(d.destination)) {
      kind = d.destination as 'stdout' | 'stderr' | 'off';
      path = '';
    } else {
      kind = isSingleFileDestination(d.destination) ? 'file' : 'folder';
      path = resolve(configDir, d.destination);
    }
  }
  return Object.freeze({
    kind,
    path,
    format: d.format ?? inherited.format,
    rollover: d.rollover ?? inherited.rollover,
    maxSizeBytes: d.maxSizeKB !== undefined ? d.maxSizeKB * 1024 : inherited.maxSizeBytes,
    localTime: d.localTime ?? inherited.localTime,
  });
}

/** The settings of the former `AccessLogTarget` (`{ kind: 'file', path }` = one file, W3C, no rollover). */
export function accessLogSettingsOfTarget(target: { readonly kind: 'stdout' | 'stderr' | 'off' } | { readonly kind: 'file'; readonly path: string }): AccessLogSettings {
  return Object.freeze({ ...DEFAULT_ACCESS_LOG_SETTINGS, kind: target.kind, path: target.kind === 'file' ? target.path : '' });
}

/** Identity of a destination: sites whose settings have the same key share one writer. */
export function accessLogKey(settings: AccessLogSettings): string {
  if (settings.kind === 'off') return 'off';
  if (settings.kind === 'stdout' || settings.kind === 'stderr') return `${settings.kind}|${settings.format}`;
  return `${settings.kind}|${settings.path}`;
}

export function sameAccessLogSettings(a: AccessLogSettings, b: AccessLogSettings): boolean {
  if (a.kind !== b.kind || a.path !== b.path || a.format !== b.format) return false;
  if (a.kind !== 'folder') return true;
  return a.rollover === b.rollover && a.localTime === b.localTime && (a.rollover !== 'size' || a.maxSizeBytes === b.maxSizeBytes);
}

/**
 * Problems where two places (the top level, sites) write to the same file or folder with different
 * settings: one log cannot be both W3C and JSON, or rolled over two ways.
 */
export function accessLogConflicts(entries: readonly { readonly path: readonly (string | number)[]; readonly settings: AccessLogSettings }[]): Problem[] {
  const first = new Map<string, { path: readonly (string | number)[]; settings: AccessLogSettings }>();
  const problems: Problem[] = [];
  for (const entry of entries) {
    if (entry.settings.kind !== 'file' && entry.settings.kind !== 'folder') continue;
    const key = accessLogKey(entry.settings);
    const seen = first.get(key);
    if (!seen) first.set(key, entry);
    else if (!sameAccessLogSettings(seen.settings, entry.settings)) {
      problems.push({
        path: entry.path,
        message: `writes to ${entry.settings.path} like ${formatPath(seen.path)}, with other settings`,
        expected: 'the same format, rollover, maxSizeKB and localTime for one destination, or a destination of its own',
      });
    }
  }
  return problems;
}
