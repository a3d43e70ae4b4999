/** GET /client-certificates: the client certificates seen since start (tls/client-certificate-inventory.ts). */
import { z } from 'zod';
import { OUTCOME_CODES } from '../../shared/outcome.js';
import { ACCEPTED_VERDICT, type ClientCertificateEntry } from '../../tls/client-certificate-inventory.js';
import type { Route } from '../route.js';

const VERDICTS = [ACCEPTED_VERDICT, ...OUTCOME_CODES] as [string, ...string[]];

const entrySchema = z.object({
  subject: z.string(),
  issuer: z.string(),
  serialNumber: z.string(),
  thumbprintSha1: z.string(),
  thumbprintSha256: z.string(),
  notAfter: z.string(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  connections: z.number().int().describe('new TLS connections that presented it'),
  requests: z.number().int().describe('requests on those connections'),
  lastVerdict: z.string().describe("the door's outcome code for its newest connection (`accepted`, `untrusted`, `revoked`, `expired`, …)"),
  rejections: z.record(z.string(), z.number().int()).describe("connections refused, by 403 sub-status: { '403.16': 2 }"),
  sites: z.array(z.string()),
});
const clientCertificatesQuery = z.strictObject({
  site: z.string().min(1).optional().describe('only certificates seen on this site'),
  verdict: z.enum(VERDICTS).optional().describe('only certificates whose last verdict is this (`accepted`, or an outcome code such as `untrusted`)'),
  expiringWithin: z.coerce.number().int().min(0).max(36_500).optional().describe('only certificates whose notAfter is within this many days (expired ones included)'),
});

const DAY_MS = 86_400_000;

/** The entries the query asks for. */
export function filterClientCertificates(entries: readonly ClientCertificateEntry[], query: z.output<typeof clientCertificatesQuery>, nowMs = Date.now()): ClientCertificateEntry[] {
  return entries.filter(
    (entry) =>
      (query.site === undefined || entry.sites.includes(query.site)) &&
      (query.verdict === undefined || entry.lastVerdict === query.verdict) &&
      (query.expiringWithin === undefined || Date.parse(entry.notAfter) <= nowMs + query.expiringWithin * DAY_MS),
  );
}

export const CLIENT_CERTIFICATE_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/client-certificates',
    operationId: 'listClientCertificates',
    summary: 'The client certificates seen since start: first and last seen, connections, requests, last verdict, refusals by 403 sub-status (most recently seen first)',
    role: 'viewer',
    tag: 'certificates',
    query: clientCertificatesQuery,
    response: { description: 'the certificates seen (bounded: the least recently seen leave first)', schema: z.object({ clientCertificates: z.array(entrySchema) }) },
    handle: async ({ ctx, query }) => {
      const entries = (await ctx.clientCertificates?.()) ?? [];
      return { body: { clientCertificates: filterClientCertificates(entries, query as z.output<typeof clientCertificatesQuery>) } };
    },
  },
];
