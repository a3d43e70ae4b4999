/**
 * Farm changes that edit the config file (ARR's Server Farm settings): add and remove servers, change the
 * algorithm, health test, affinity, or take the farm offline (enabled: false). Each is guarded by the
 * farm's ETag, edits the file through the config store (validated, kept in the history, written
 * atomically) and reloads: the servers that stay keep their counters, health, state and affinity (the
 * reload keeps a server whose address stays). `persistServerState` writes a server's state into the file
 * for `PUT /farms/{farm}/servers/{address}/state` with `persist: true`.
 */
import { z } from 'zod';
import { loadBalancingSchema } from '../../config/farm-schema.js';
import { serverSchema } from '../../config/schema.js';
import { editWrite, findDeclaredFarm, readDeclared, setOrDelete, type Declared } from '../config-edit.js';
import { configStoreOf } from '../config-store.js';
import { SERVER_STATES } from '../operations.js';
import { ApiProblem } from '../problem.js';
import type { Call, PreparedWrite, Route } from '../route.js';
import { configWriteSchema } from './config.js';

const FARM_GUARD = "the farm's ETag (GET /farms/{farm})";
const farmParam = { farm: 'the farm\'s name' };

const farmWriteSchema = z.object({
  operation: z.record(z.string(), z.unknown()),
  changed: z.boolean(),
  before: z.unknown(),
  after: z.unknown(),
  farm: z.record(z.string(), z.unknown()).describe('the farm after the change (as GET /farms/{farm})'),
  config: configWriteSchema,
});

const serverBody = z.strictObject({
  address: serverSchema.shape.address,
  weight: serverSchema.shape.weight.unwrap().optional(),
  enabled: serverSchema.shape.enabled.unwrap().optional(),
  state: z.enum(SERVER_STATES).optional(),
});
const serverPatchBody = z
  .strictObject({
    weight: serverSchema.shape.weight.unwrap().optional(),
    enabled: serverSchema.shape.enabled.unwrap().optional(),
  })
  .refine((b) => b.weight !== undefined || b.enabled !== undefined, { message: 'expected weight or enabled (or both)' })
  .describe("The server's settings to change; the others stay");
const section = z.record(z.string(), z.unknown());
const farmPatchBody = z
  .strictObject({
    enabled: z.boolean().optional().describe("false takes the farm offline (ARR's Take Farm Offline: its sites answer 502.4); true brings it back"),
    algorithm: loadBalancingSchema.shape.algorithm.unwrap().optional().describe('loadBalancing.algorithm'),
    loadBalancing: section.optional().describe('keys of the farm\'s `loadBalancing` to set (null removes a key: its default applies)'),
    healthTest: section.optional().describe('keys of the farm\'s `healthCheck` (the health test) to set (null removes a key)'),
    affinity: section.optional().describe('keys of the farm\'s `affinity` to set (null removes a key)'),
  })
  .describe('The farm settings to change; the others stay');

const record = (value: unknown): Declared => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Declared) : {});
const serversOf = (farm: Declared | undefined): Declared[] => (farm && Array.isArray(farm.servers) ? farm.servers.map(record) : []);

function serverIndex(farm: Declared, address: string): number {
  const servers = serversOf(farm);
  const at = servers.findIndex((s) => String(s.address).toLowerCase() === address.toLowerCase());
  if (at < 0) throw new ApiProblem(404, 'server_not_found', 'Not Found', `farm '${String(farm.name)}' has no server '${address}' in the config file (servers: ${servers.map((s) => String(s.address)).join(', ')})`);
  return at;
}

/** A write under one farm that edits the config file: guarded by the farm's ETag; answers with the farm after it. */
function farmConfigWrite(
  build: (call: Call, found: { index: number; farm: Declared }) => { operation: Record<string, unknown>; mutate: Parameters<typeof editWrite>[0]['mutate'] },
  touched: (farm: Declared | undefined) => unknown,
  status?: number,
): (call: Call) => Promise<PreparedWrite> {
  return async (call) => {
    const name = call.params.farm as string;
    const view = await call.ctx.farms.get(name); // 404 farm_not_found
    const declared = await readDeclared(configStoreOf(call.ctx));
    const found = findDeclaredFarm(declared, name);
    const { operation, mutate } = build(call, found);
    return editWrite({
      ctx: call.ctx,
      actor: call.actor,
      declared,
      etag: view.etag,
      operation: { ...operation, farm: name },
      before: touched(found.farm),
      mutate,
      ...(status ? { status } : {}),
      result: async (now) => {
        const farm = await call.ctx.farms.get(name);
        return { after: touched(now.farms.find((f) => f.name === name)), body: { farm }, etag: farm.etag };
      },
    });
  };
}

const serversPart = (farm: Declared | undefined) => serversOf(farm);
const serverParams = { farm: 'the farm\'s name', address: 'the server\'s address, host:port (percent-encode `[`, `]` of IPv6)' };
const PATCH_SECTIONS = { loadBalancing: 'loadBalancing', healthTest: 'healthCheck', affinity: 'affinity' } as const;
const settingsPart = (farm: Declared | undefined) => (farm ? { enabled: farm.enabled ?? true, loadBalancing: farm.loadBalancing ?? {}, healthCheck: farm.healthCheck ?? {}, affinity: farm.affinity ?? {} } : null);

/**
 * `persist: true` of a server state change: the run-time operation (`prepared`) is applied, then the state is
 * written on the server in the config file (and reloaded: the reload finds the server already so).
 */
export async function persistServerState(call: Call, prepared: PreparedWrite, farmName: string, address: string, state: (typeof SERVER_STATES)[number]): Promise<PreparedWrite> {
  const declared = await readDeclared(configStoreOf(call.ctx));
  const { index, farm } = findDeclaredFarm(declared, farmName);
  const at = serverIndex(farm, address);
  const operation = { ...prepared.operation, persist: true };
  return {
    ...prepared,
    operation,
    apply: async () => {
      const applied = await prepared.apply();
      const declaredState = serversOf(farm)[at]?.state ?? null;
      const written = await editWrite({
        ctx: call.ctx,
        actor: call.actor,
        declared,
        etag: prepared.etag,
        operation,
        before: { state: declaredState },
        mutate: (doc) => doc.setIn(['farms', index, 'servers', at, 'state'], state),
        result: async (now) => {
          const view = await call.ctx.farms.get(farmName);
          return { after: { state: serversOf(now.farms.find((f) => f.name === farmName))[at]?.state ?? null }, body: { farm: view }, etag: view.etag };
        },
      }).apply();
      const body = written.body as { farm: unknown; config: unknown };
      const after = { ...(applied.after as object), persisted: state };
      return { ...written, changed: applied.changed || written.changed, after, body: { ...(applied.body as object), operation, after, farm: body.farm, config: body.config } };
    },
  };
}

export const FARM_CONFIG_ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/farms/{farm}/servers',
    operationId: 'addFarmServer',
    summary: 'Add a server to the farm (address, weight, enabled, state) in the config file, then reload; the other servers keep their counters, health and state',
    role: 'administrator',
    tag: 'farms',
    params: farmParam,
    body: serverBody,
    guard: FARM_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'added and reloaded (status 201; ETag header: the farm\'s new ETag)', schema: farmWriteSchema },
    write: farmConfigWrite(({ body }, { index }) => {
      const server = Object.fromEntries(Object.entries(body as z.output<typeof serverBody>).filter(([, v]) => v !== undefined));
      return { operation: { type: 'farm.addServer', server }, mutate: (doc) => void doc.addIn(['farms', index, 'servers'], doc.createNode(server)) };
    }, serversPart, 201),
  },
  {
    method: 'DELETE',
    path: '/farms/{farm}/servers/{address}',
    operationId: 'deleteFarmServer',
    summary: 'Remove a server from the farm in the config file, then reload (its requests in flight finish; a farm keeps at least one server)',
    role: 'administrator',
    tag: 'farms',
    params: serverParams,
    guard: FARM_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'removed and reloaded (ETag header: the farm\'s new ETag)', schema: farmWriteSchema },
    write: farmConfigWrite(({ params }, { index, farm }) => {
      const at = serverIndex(farm, params.address as string);
      return { operation: { type: 'farm.deleteServer', address: params.address as string }, mutate: (doc) => void doc.deleteIn(['farms', index, 'servers', at]) };
    }, serversPart),
  },
  {
    method: 'PATCH',
    path: '/farms/{farm}/servers/{address}',
    operationId: 'patchFarmServer',
    summary: "Change a server's weight or enabled flag (ARR's server/@enabled) in the config file, then reload; the server keeps its counters, health and state",
    role: 'administrator',
    tag: 'farms',
    params: serverParams,
    body: serverPatchBody,
    guard: FARM_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'applied and reloaded (ETag header: the farm\'s new ETag)', schema: farmWriteSchema },
    write: farmConfigWrite(({ params, body }, { index, farm }) => {
      const at = serverIndex(farm, params.address as string);
      const patch = Object.fromEntries(Object.entries(body as z.output<typeof serverPatchBody>).filter(([, v]) => v !== undefined));
      return {
        operation: { type: 'farm.setServer', address: params.address as string, ...patch },
        mutate: (doc) => {
          for (const [key, value] of Object.entries(patch)) doc.setIn(['farms', index, 'servers', at, key], value);
        },
      };
    }, serversPart),
  },
  {
    method: 'PATCH',
    path: '/farms/{farm}',
    operationId: 'patchFarm',
    summary: "Change the farm's algorithm, load balancing, health test or affinity settings, or take it offline (enabled: false) in the config file, then reload",
    role: 'administrator',
    tag: 'farms',
    params: farmParam,
    body: farmPatchBody,
    guard: FARM_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'applied and reloaded (ETag header: the farm\'s new ETag)', schema: farmWriteSchema },
    write: farmConfigWrite(({ body }, { index }) => {
      const patch = body as z.output<typeof farmPatchBody>;
      return {
        operation: { type: 'farm.patch', ...patch },
        mutate: (doc) => {
          if (patch.enabled !== undefined) doc.setIn(['farms', index, 'enabled'], patch.enabled);
          if (patch.algorithm !== undefined) doc.setIn(['farms', index, 'loadBalancing', 'algorithm'], patch.algorithm);
          for (const [key, configKey] of Object.entries(PATCH_SECTIONS)) {
            const values = patch[key as keyof typeof PATCH_SECTIONS];
            for (const [name, value] of Object.entries(values ?? {})) setOrDelete(doc, ['farms', index, configKey, name], value);
          }
        },
      };
    }, settingsPart),
  },
];
