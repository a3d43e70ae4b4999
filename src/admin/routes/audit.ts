/** GET /audit: the newest audit log entries. */
import { z } from 'zod';
import type { Route } from '../route.js';

const auditEntrySchema = z.object({ time: z.string(), id: z.string(), phase: z.enum(['attempt', 'result']), who: z.record(z.string(), z.string()), action: z.string(), target: z.record(z.string(), z.unknown()), before: z.unknown().optional(), after: z.unknown().optional(), result: z.enum(['applied', 'unchanged', 'failed']).optional(), reason: z.string().optional(), operation: z.unknown().optional() });
const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).default(100).describe('the newest entries to return, 1-10000 (default 100)'),
  before: z.coerce.number().int().min(1).optional().describe('only entries before this line of the audit log (the `next` of the newer page): the older page'),
  user: z.string().min(1).max(200).optional().describe("only a user's writes: part of a token user's name, a certificate's subject or thumbprint (case-insensitive)"),
  result: z.enum(['applied', 'unchanged', 'failed']).optional().describe('only the writes with this result (their attempt and result lines)'),
});

export const AUDIT_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/audit',
    operationId: 'readAudit',
    summary: 'The newest audit log entries: every write, who, what, before → after, result; filtered by user and result, paged with `before`',
    role: 'viewer',
    tag: 'audit',
    query: auditQuery,
    response: {
      description: 'the entries, oldest first; `next`: the `before` of the older page (null when none)',
      schema: z.object({ file: z.string(), entries: z.array(auditEntrySchema), next: z.number().int().nullable() }),
    },
    handle: async ({ ctx, query }) => {
      const { limit, before, user, result } = query as z.output<typeof auditQuery>;
      const page = await ctx.audit.query({ limit, ...(before !== undefined ? { before } : {}), ...(user !== undefined ? { user } : {}), ...(result !== undefined ? { result } : {}) });
      return { body: { file: ctx.audit.file, ...page } };
    },
  },
];
