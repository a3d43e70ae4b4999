/** GET /audit: the newest audit log entries. */
import { z } from 'zod';
import type { Route } from '../route.js';

const auditEntrySchema = z.object({ time: z.string(), id: z.string(), phase: z.enum(['attempt', 'result']), who: z.record(z.string(), z.string()), action: z.string(), target: z.record(z.string(), z.unknown()), before: z.unknown().optional(), after: z.unknown().optional(), result: z.enum(['applied', 'unchanged', 'failed']).optional(), reason: z.string().optional() });
const auditQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(10_000).default(100).describe('the newest entries to return, 1-10000 (default 100)') });

export const AUDIT_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/audit',
    operationId: 'readAudit',
    summary: 'The newest audit log entries: every write, who, what, before → after, result',
    role: 'viewer',
    tag: 'audit',
    query: auditQuery,
    response: { description: 'the entries, oldest first', schema: z.object({ file: z.string(), entries: z.array(auditEntrySchema) }) },
    handle: async ({ ctx, query }) => ({ body: { file: ctx.audit.file, entries: await ctx.audit.read((query as z.output<typeof auditQuery>).limit) } }),
  },
];
