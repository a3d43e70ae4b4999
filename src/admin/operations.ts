/**
 * Run-time changes to farms as explicit, serialisable operations (plain JSON, checked by one zod schema)
 * applied by one function. The admin API builds an operation from a request, audits it, then applies it;
 * scale-out can ship the same objects through a store and apply them on every instance alike.
 *
 * Run-time state lives on the FarmServer objects, and a reload keeps a server whose address stays (the
 * same object): an operation's effect survives reloads, but not a restart.
 */
import { z } from 'zod';
import type { FarmServer } from '../farm/farm-server.js';
import type { FarmState } from '../farm/farm-state.js';
import { bumpRevision } from './farm-view.js';
import { ApiProblem } from './problem.js';

export const SERVER_STATES = ['available', 'drain', 'unavailable'] as const;

export const farmOperationSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('server.setState'), farm: z.string().min(1), address: z.string().min(1), state: z.enum(SERVER_STATES) }),
  z.strictObject({ type: z.literal('server.markHealth'), farm: z.string().min(1), address: z.string().min(1), healthy: z.boolean() }),
  z.strictObject({ type: z.literal('farm.resetCounters'), farm: z.string().min(1) }),
]);

export type FarmOperation = z.infer<typeof farmOperationSchema>;

/** What an operation changed, for the audit log and the answer: the touched part before and after. */
export interface OperationOutcome {
  readonly before: Record<string, unknown>;
  readonly after: Record<string, unknown>;
  /** False when the server or farm already was as asked (nothing changed). */
  readonly changed: boolean;
}

export function findFarm(farms: ReadonlyMap<string, FarmState>, name: string): FarmState {
  const farm = farms.get(name);
  if (!farm) throw new ApiProblem(404, 'farm_not_found', 'Not Found', `no farm named '${name}' (farms: ${[...farms.keys()].join(', ') || 'none'})`);
  return farm;
}

export function findServer(farm: FarmState, address: string): FarmServer {
  const server = farm.servers.find((s) => s.address === address);
  if (!server) throw new ApiProblem(404, 'server_not_found', 'Not Found', `farm '${farm.name}' has no server '${address}' (servers: ${farm.servers.map((s) => s.address).join(', ')})`);
  return server;
}

/** The part of the farm an operation touches, as it is now (for the audit line written before applying). */
export function currentOf(farms: ReadonlyMap<string, FarmState>, operation: FarmOperation): Record<string, unknown> {
  const farm = findFarm(farms, operation.farm);
  switch (operation.type) {
    case 'server.setState':
      return { state: findServer(farm, operation.address).state };
    case 'server.markHealth': {
      const server = findServer(farm, operation.address);
      return { health: server.isHealthy ? 'healthy' : 'unhealthy', healthReason: server.healthReason ?? null };
    }
    case 'farm.resetCounters':
      return { totalRequests: farm.servers.reduce((sum, s) => sum + s.counters.totalRequests, 0), failedRequests: farm.servers.reduce((sum, s) => sum + s.counters.failedRequests, 0) };
  }
}

/**
 * Applies an operation to the farms in force. Synchronous: nothing else runs between its check and its
 * change. `actor` names who asked, for the health reason and the event log. Throws ApiProblem 404 for an
 * unknown farm or server.
 */
export function applyOperation(farms: ReadonlyMap<string, FarmState>, operation: FarmOperation, actor: string): OperationOutcome {
  const before = currentOf(farms, operation);
  const farm = findFarm(farms, operation.farm);
  switch (operation.type) {
    case 'server.setState': {
      const server = findServer(farm, operation.address);
      const changed = server.state !== operation.state;
      server.state = operation.state; // FarmState logs the change and refreshes selection
      bumpRevision(server);
      return { before, after: { state: server.state }, changed };
    }
    case 'server.markHealth': {
      const server = findServer(farm, operation.address);
      const changed = operation.healthy ? farm.markHealthy(server, `marked healthy by ${actor}`, 'admin') : farm.markUnhealthy(server, `marked unhealthy by ${actor}`, 'admin');
      bumpRevision(server);
      return { before, after: currentOf(farms, operation), changed };
    }
    case 'farm.resetCounters': {
      farm.resetCounters();
      for (const server of farm.servers) bumpRevision(server);
      return { before, after: currentOf(farms, operation), changed: true };
    }
  }
}

/** An operation that arrived as JSON (from a store, another instance): checked, or an Error naming the field. */
export function operationFromJson(value: unknown): FarmOperation {
  const parsed = farmOperationSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new Error(`not a farm operation: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(operation)'}: ${issue.message}`).join('; ')}`);
}
