/** GET /status: version, Node version, uptime, workers, config file, last reload. */
import { z } from 'zod';
import { GATEHOUSE_VERSION, type Route } from '../route.js';

const statusSchema = z.object({
  version: z.string(),
  node: z.string(),
  uptimeSeconds: z.number(),
  startedAt: z.string(),
  workers: z.number().int(),
  configFile: z.string(),
  lastReload: z.object({ at: z.string(), file: z.string(), ok: z.boolean(), problems: z.array(z.string()) }).nullable(),
});

export const STATUS_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/status',
    operationId: 'getStatus',
    summary: 'Version, Node version, uptime, workers, config file and the last reload',
    role: 'viewer',
    tag: 'status',
    response: { description: 'the status', schema: statusSchema },
    handle: ({ ctx }) => {
      const reload = ctx.lastReload();
      return {
        body: {
          version: GATEHOUSE_VERSION,
          node: process.version,
          uptimeSeconds: Math.round((Date.now() - ctx.startedAtMs) / 100) / 10,
          startedAt: new Date(ctx.startedAtMs).toISOString(),
          workers: ctx.workers,
          configFile: ctx.config().file,
          lastReload: reload ? { at: new Date(reload.atMs).toISOString(), file: reload.file, ok: reload.ok, problems: [...reload.problems] } : null,
        },
      };
    },
  },
];
