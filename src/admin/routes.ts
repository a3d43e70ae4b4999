/**
 * The admin API's route table: each route's method, path, role, request schemas (zod: the handler
 * validates with them and the OpenAPI document is generated from them) and handler. Writes under a farm
 * name an explicit operation (operations.ts): the API audits it, checks the farm's ETag, then applies it.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AdminRole } from '../config/admin-schema.js';
import type { FarmState } from '../farm/farm-state.js';
import type { Principal } from './auth.js';
import type { AdminContext } from './context.js';
import { farmView } from './farm-view.js';
import { findFarm, SERVER_STATES, type FarmOperation } from './operations.js';
import { ApiProblem } from './problem.js';

export const API_PREFIX = '/api/v1';

export interface Call<Body = unknown, Query = Record<string, unknown>> {
  readonly ctx: AdminContext;
  readonly principal: Principal;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Query;
  readonly body: Body;
}

export interface Reply {
  readonly status?: number;
  readonly body: unknown;
  readonly etag?: string;
}

export interface Route {
  readonly method: 'GET' | 'PUT' | 'POST';
  /** OpenAPI form, under API_PREFIX: `/farms/{farm}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly role: AdminRole;
  readonly tag: string;
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  readonly response: { readonly description: string; readonly schema: z.ZodType };
  /** Needs the farms (not served by the primary of several workers in this slice). */
  readonly needsFarms?: boolean;
  /** A write under a farm: the operation it applies (If-Match carries the farm's ETag). */
  readonly operation?: (call: Call) => FarmOperation;
  /** A read: its answer. */
  readonly handle?: (call: Call) => Reply | Promise<Reply>;
  /** Extra answers it documents. */
  readonly errors?: readonly number[];
}

export const GATEHOUSE_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

// Answers (documented in the OpenAPI document; the handlers build them).
const serverViewSchema = z.object({
  address: z.string().describe('host:port: the server\'s identity'),
  state: z.enum(SERVER_STATES).describe("ARR's Availability"),
  health: z.enum(['healthy', 'unhealthy']),
  healthReason: z.string().nullable().describe('why the health last changed; null while it never did'),
  healthSince: z.string().nullable().describe('when the health last changed (ISO 8601)'),
  currentRequests: z.number().int(),
  totalRequests: z.number().int(),
  failedRequests: z.number().int(),
  requestsPerSecond: z.number(),
  responseTimeMs: z.number().nullable().describe('average over the farm\'s leastResponseTimePeriod; null when nothing ended in it'),
  bytesSent: z.number().int(),
  bytesReceived: z.number().int(),
  affinityClients: z.number().int().nullable().describe('clients pinned to the server (certificate or server-variable affinity); null for cookie affinity (the client keeps the cookie); 0 without affinity'),
  weight: z.number(),
  effectiveWeight: z.number(),
  enabled: z.boolean(),
  selectable: z.boolean(),
  requestDistributionPercent: z.number(),
  loadBalanceWeightPercent: z.number(),
});
const farmViewSchema = z.object({
  name: z.string(),
  enabled: z.boolean(),
  etag: z.string().describe('the value If-Match must carry for a write under this farm'),
  algorithm: z.string(),
  loadBalancing: z.record(z.string(), z.unknown()),
  healthTest: z.record(z.string(), z.unknown()),
  affinity: z.record(z.string(), z.unknown()).nullable(),
  minServers: z.number().int(),
  healthyServers: z.number().int(),
  ignoringHealth: z.boolean(),
  servers: z.array(serverViewSchema),
});
const writeResultSchema = z.object({
  operation: z.record(z.string(), z.unknown()).describe('the operation applied (serialisable)'),
  changed: z.boolean(),
  before: z.record(z.string(), z.unknown()),
  after: z.record(z.string(), z.unknown()),
  farm: farmViewSchema,
});
const statusSchema = z.object({
  version: z.string(),
  node: z.string(),
  uptimeSeconds: z.number(),
  startedAt: z.string(),
  workers: z.number().int(),
  configFile: z.string(),
  lastReload: z.object({ at: z.string(), file: z.string(), ok: z.boolean(), problems: z.array(z.string()) }).nullable(),
});
const auditEntrySchema = z.object({ time: z.string(), id: z.string(), phase: z.enum(['attempt', 'result']), who: z.record(z.string(), z.string()), action: z.string(), target: z.record(z.string(), z.unknown()), before: z.unknown().optional(), after: z.unknown().optional(), result: z.enum(['applied', 'unchanged', 'failed']).optional(), reason: z.string().optional() });

// Requests.
export const serverStateBody = z.strictObject({
  state: z.enum(SERVER_STATES).describe('available; drain (ARR\'s Disallow New Connections: clients with affinity keep the server); unavailable'),
  persist: z.boolean().default(false).describe('false (default): run-time state, kept across reloads, not across a restart. true: also written into the config file (not in this version: 501)'),
});
export const serverHealthBody = z.strictObject({ healthy: z.boolean().describe("ARR's Mark as Healthy (true) / Unhealthy (false)") });
export const emptyBody = z.strictObject({});
const auditQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(10_000).default(100).describe('the newest entries to return, 1-10000 (default 100)') });

const farmParam = { farm: 'the farm\'s name' };
const serverParams = { farm: 'the farm\'s name', address: 'the server\'s address, host:port (percent-encode `[`, `]` of IPv6)' };

function farmsOf(ctx: AdminContext): ReadonlyMap<string, FarmState> {
  const farms = ctx.farms();
  if (!farms) throw new ApiProblem(503, 'cluster_unsupported', 'Service Unavailable', ctx.clusterReason ?? 'the farms are not held by this process');
  return farms;
}

export const ROUTES: readonly Route[] = [
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
  {
    method: 'GET',
    path: '/farms',
    operationId: 'listFarms',
    summary: "Every farm with ARR's Monitoring columns per server",
    role: 'viewer',
    tag: 'farms',
    needsFarms: true,
    response: { description: 'the farms', schema: z.object({ farms: z.array(farmViewSchema) }) },
    handle: ({ ctx }) => ({ body: { farms: [...farmsOf(ctx).values()].map(farmView) } }),
  },
  {
    method: 'GET',
    path: '/farms/{farm}',
    operationId: 'getFarm',
    summary: "A farm: algorithm, health test and affinity settings, and ARR's Monitoring columns per server; its ETag guards every write under it",
    role: 'viewer',
    tag: 'farms',
    params: farmParam,
    needsFarms: true,
    errors: [404],
    response: { description: 'the farm (ETag header: the farm\'s ETag)', schema: farmViewSchema },
    handle: ({ ctx, params }) => {
      const view = farmView(findFarm(farmsOf(ctx), params.farm as string));
      return { body: view, etag: view.etag };
    },
  },
  {
    method: 'PUT',
    path: '/farms/{farm}/servers/{address}/state',
    operationId: 'setServerState',
    summary: "Make a server available, drain it (Disallow New Connections) or make it unavailable (ARR's Monitoring actions)",
    role: 'operator',
    tag: 'farms',
    params: serverParams,
    body: serverStateBody,
    needsFarms: true,
    errors: [404, 412, 428, 501],
    response: { description: 'applied: the operation, before and after, and the farm (ETag header: its new ETag)', schema: writeResultSchema },
    operation: ({ params, body }) => {
      const { state, persist } = body as z.output<typeof serverStateBody>;
      if (persist) throw new ApiProblem(501, 'not_implemented', 'Not Implemented', 'persist: true (writing the state into the config file) is not available yet; send persist: false for run-time state (kept across reloads, not across a restart)');
      return { type: 'server.setState', farm: params.farm as string, address: params.address as string, state };
    },
  },
  {
    method: 'POST',
    path: '/farms/{farm}/servers/{address}/health',
    operationId: 'markServerHealth',
    summary: "Mark a server healthy or unhealthy (ARR's Mark as Healthy / Unhealthy); the health test may change it again",
    role: 'operator',
    tag: 'farms',
    params: serverParams,
    body: serverHealthBody,
    needsFarms: true,
    errors: [404, 412, 428],
    response: { description: 'applied', schema: writeResultSchema },
    operation: ({ params, body }) => ({ type: 'server.markHealth', farm: params.farm as string, address: params.address as string, healthy: (body as z.output<typeof serverHealthBody>).healthy }),
  },
  {
    method: 'POST',
    path: '/farms/{farm}/counters/reset',
    operationId: 'resetFarmCounters',
    summary: "Reset the farm's run-time counters (ARR's Reset Runtime Statistics); requests in flight stay counted",
    role: 'operator',
    tag: 'farms',
    params: farmParam,
    body: emptyBody,
    needsFarms: true,
    errors: [404, 412, 428],
    response: { description: 'applied', schema: writeResultSchema },
    operation: ({ params }) => ({ type: 'farm.resetCounters', farm: params.farm as string }),
  },
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
