/**
 * The farms: ARR's Monitoring and Management. Reads show each server's Monitoring columns; writes are
 * explicit operations (operations.ts) applied through the farm runtime (every worker, with several), each
 * guarded by the farm's ETag and audited by api.ts.
 */
import { z } from 'zod';
import { SERVER_STATES, type FarmOperation } from '../operations.js';
import type { Call, PreparedWrite, Route } from '../route.js';
import { persistServerState } from './farm-config.js';

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
export const farmViewSchema = z.object({
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
// Requests.
export const serverStateBody = z.strictObject({
  state: z.enum(SERVER_STATES).describe('available; drain (ARR\'s Disallow New Connections: clients with affinity keep the server); unavailable'),
  persist: z.boolean().default(false).describe('false (default): run-time state, kept across reloads, not across a restart. true: also written as the server\'s `state` in the config file (validated, kept in the history, written atomically, reloaded), so it survives a restart'),
});
export const serverHealthBody = z.strictObject({ healthy: z.boolean().describe("ARR's Mark as Healthy (true) / Unhealthy (false)") });
export const emptyBody = z.strictObject({});

const farmParam = { farm: 'the farm\'s name' };
const serverParams = { farm: 'the farm\'s name', address: 'the server\'s address, host:port (percent-encode `[`, `]` of IPv6)' };
const FARM_GUARD = "the farm's ETag (GET /farms/{farm})";

/** A write that applies one farm operation: guarded by the farm's ETag; answers with the farm after it. */
export function farmWrite(build: (call: Call) => FarmOperation): (call: Call) => Promise<PreparedWrite> {
  return async (call) => {
    const operation = build(call);
    const farms = call.ctx.farms;
    const view = await farms.get(operation.farm);
    const before = await farms.current(operation);
    return {
      etag: view.etag,
      operation,
      before,
      apply: async () => {
        const outcome = await farms.apply(operation, call.actor);
        const farm = await farms.get(operation.farm);
        return { changed: outcome.changed, after: outcome.after, body: { operation, changed: outcome.changed, before: outcome.before, after: outcome.after, farm }, etag: farm.etag };
      },
    };
  };
}

export const FARM_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/farms',
    operationId: 'listFarms',
    summary: "Every farm with ARR's Monitoring columns per server",
    role: 'viewer',
    tag: 'farms',
    response: { description: 'the farms', schema: z.object({ farms: z.array(farmViewSchema) }) },
    handle: async ({ ctx }) => ({ body: { farms: await ctx.farms.list() } }),
  },
  {
    method: 'GET',
    path: '/farms/{farm}',
    operationId: 'getFarm',
    summary: "A farm: algorithm, health test and affinity settings, and ARR's Monitoring columns per server; its ETag guards every write under it",
    role: 'viewer',
    tag: 'farms',
    params: farmParam,
    errors: [404],
    response: { description: 'the farm (ETag header: the farm\'s ETag)', schema: farmViewSchema },
    handle: async ({ ctx, params }) => {
      const view = await ctx.farms.get(params.farm as string);
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
    guard: FARM_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'applied: the operation, before and after, and the farm (ETag header: its new ETag)', schema: writeResultSchema },
    write: async (call) => {
      const { state, persist } = call.body as z.output<typeof serverStateBody>;
      const farm = call.params.farm as string;
      const address = call.params.address as string;
      const prepared = await farmWrite(() => ({ type: 'server.setState', farm, address, state }))(call);
      return persist ? persistServerState(call, prepared, farm, address, state) : prepared;
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
    guard: FARM_GUARD,
    errors: [404, 412, 428],
    response: { description: 'applied', schema: writeResultSchema },
    write: farmWrite(({ params, body }) => ({ type: 'server.markHealth', farm: params.farm as string, address: params.address as string, healthy: (body as z.output<typeof serverHealthBody>).healthy })),
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
    guard: FARM_GUARD,
    errors: [404, 412, 428],
    response: { description: 'applied', schema: writeResultSchema },
    write: farmWrite(({ params }) => ({ type: 'farm.resetCounters', farm: params.farm as string })),
  },
];
