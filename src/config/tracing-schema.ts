/**
 * Failed Request Tracing settings of a site (IIS `traceFailedRequests` rules and the site's
 * `traceFailedRequestsLogging`), with IIS's defaults.
 */
import { z } from 'zod';
import { DURATION_EXPECTED, parseDuration } from './duration.js';
import { resolve } from 'node:path';
import { parseStatusCodes } from '../tracing/status-code-match.js';
import { wildcardToRegExp } from '../tracing/wildcard.js';

const statusCodes = z
  .preprocess(
    (value) => (typeof value === 'number' && Number.isInteger(value) ? String(value) : value),
    z.string({ error: () => "is not a string (expected quoted status codes such as '403.16,500-599': YAML reads 403.10 as the number 403.1)" }),
  )
  .refine((text) => typeof parseStatusCodes(text) === 'function', { message: 'is not a status code list (expected codes, codes with sub-status and ranges, e.g. 403.16,500-599)' })
  .describe('Status codes that keep the trace: codes, codes with sub-status and ranges, e.g. `403.16,500-599` or `400-`.');

export const tracingRuleSchema = z
  .strictObject({
    path: z.string().min(1).default('*').describe('Wildcard on the URL path (`*` any characters, `?` one), case-insensitive. Default `*`.'),
    statusCodes: statusCodes.optional(),
    timeTaken: z
      .custom<number | string>((value) => parseDuration(value) !== undefined, { message: `is not a duration (expected ${DURATION_EXPECTED})` })
      .optional()
      .describe('A request that takes at least this long is traced, whatever its status.'),
    clientCertificate: z
      .strictObject({
        present: z.boolean().optional().describe('true: only requests with a client certificate; false: only without.'),
        subject: z.string().min(1).optional().describe('Substring of the certificate subject (`CN=alice, O=Example`), case-insensitive.'),
        issuer: z.string().min(1).optional().describe('Substring of the certificate issuer, case-insensitive.'),
        thumbprint: z.string().min(1).optional().describe('SHA-1 thumbprint (hex; case and colons ignored).'),
      })
      .optional()
      .describe('Conditions on the client certificate; all given must hold.'),
  })
  .describe('A tracing rule. The first rule whose path (and client-certificate conditions) match the request decides alone, as in IIS: it keeps the trace when the status codes or the time taken match; a rule with neither keeps every request on its path.');

export const tracingSchema = z
  .strictObject({
    directory: z.string().min(1).optional().describe('Folder of the trace files; the site\'s traces go to `<directory>/<site name>/fr000001.json`, …. Relative to the config file. Default `traces` beside the config file.'),
    maxFiles: z.number().int().min(1).max(10000).default(50).describe('Traces kept per site; the oldest are removed first. Default 50 (IIS).'),
    maxFileSizeKB: z.number().int().min(16).max(102400).default(1024).describe('Largest trace file; a larger trace loses its header values and says so. Default 1024 (IIS).'),
    redactHeaders: z.array(z.string().min(1)).default([]).describe('Request headers whose values traces never show, besides Authorization, Proxy-Authorization and Cookie (always redacted).'),
    rules: z.array(tracingRuleSchema).min(1).describe('The rules; a request is traced when the first rule that matches it says so.'),
  })
  .describe('Failed Request Tracing for the site: requests matching a rule are written, with every step Gatehouse took, to a trace file (IIS FREB).');

export type DeclaredTracing = z.output<typeof tracingSchema>;

export interface TracingRule {
  readonly path: RegExp;
  readonly statusCodes: ((status: number, subStatus: number) => boolean) | undefined;
  readonly timeTakenMs: number | undefined;
  readonly clientCertificate: { readonly present?: boolean; readonly subject?: string; readonly issuer?: string; readonly thumbprint?: string } | undefined;
}

export interface TracingSettings {
  /** This site's own folder. */
  readonly directory: string;
  readonly maxFiles: number;
  readonly maxFileSizeBytes: number;
  /** Lower-case header names whose values are never written. */
  readonly redactHeaders: ReadonlySet<string>;
  readonly rules: readonly TracingRule[];
}

export function normalizeTracing(declared: DeclaredTracing, configDir: string, siteName: string): TracingSettings {
  return {
    directory: resolve(configDir, declared.directory ?? 'traces', siteName),
    maxFiles: declared.maxFiles,
    maxFileSizeBytes: declared.maxFileSizeKB * 1024,
    redactHeaders: new Set(['authorization', 'proxy-authorization', 'cookie', ...declared.redactHeaders.map((h) => h.toLowerCase())]),
    rules: declared.rules.map((rule) => {
      const matcher = rule.statusCodes === undefined ? undefined : parseStatusCodes(rule.statusCodes);
      const cert = rule.clientCertificate;
      return {
        path: wildcardToRegExp(rule.path),
        statusCodes: typeof matcher === 'function' ? matcher : undefined,
        timeTakenMs: rule.timeTaken === undefined ? undefined : parseDuration(rule.timeTaken),
        clientCertificate: cert === undefined ? undefined : {
          ...(cert.present === undefined ? {} : { present: cert.present }),
          ...(cert.subject === undefined ? {} : { subject: cert.subject.toLowerCase() }),
          ...(cert.issuer === undefined ? {} : { issuer: cert.issuer.toLowerCase() }),
          ...(cert.thumbprint === undefined ? {} : { thumbprint: cert.thumbprint.replace(/[:\s]/g, '').toUpperCase() }),
        },
      };
    }),
  };
}
