/** GET /whoami: the signed-in user as the admin API sees them (the console shows it and disables what the role cannot do). */
import { z } from 'zod';
import type { Route } from '../route.js';

const whoamiSchema = z.object({
  user: z.string().describe("the token user's name, or the client certificate's subject (RFC 4514 order)"),
  role: z.enum(['viewer', 'operator', 'administrator']),
  kind: z.enum(['token', 'certificate']).describe('how the user signed in'),
  thumbprint: z.string().optional().describe("the client certificate's SHA-1 thumbprint (certificate users)"),
});

export const WHOAMI_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/whoami',
    operationId: 'whoami',
    summary: 'The signed-in user: name (or certificate subject), role and how they signed in',
    role: 'viewer',
    tag: 'status',
    response: { description: 'the user', schema: whoamiSchema },
    handle: ({ principal }) => ({
      body: principal.kind === 'token' ? { user: principal.user, role: principal.role, kind: 'token' } : { user: principal.subject, role: principal.role, kind: 'certificate', thumbprint: principal.thumbprint },
    }),
  },
];
