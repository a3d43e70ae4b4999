/**
 * The farms with several workers (`workers: N`), as the primary answers for them: every worker holds its
 * own copy of each farm (same config, same run-time state, its own traffic and its own health tests), so
 * a read asks every worker for its views and merges them, and a write is applied to every worker before
 * it resolves.
 *
 * How the views merge, per server (by address):
 * - counters are summed: currentRequests, totalRequests, failedRequests, requestsPerSecond, bytesSent,
 *   bytesReceived, affinityClients (null when a worker says null: cookie affinity keeps no count);
 * - responseTimeMs is the workers' averages weighted by each worker's totalRequests (null when no worker
 *   has one); requestDistributionPercent is recomputed from the summed totals;
 * - health: unhealthy when any worker's health test (or mark) says so, since that worker sends the server
 *   no new requests: "healthy" means every worker uses it. healthReason and healthSince come from the
 *   worker whose verdict it is that changed last; a reason shared by fewer than all workers says in how
 *   many (`(1 of 2 workers)`). selectable: in every worker.
 * - state, weight, enabled are applied alike everywhere: the first worker's.
 * The farm's ETag is computed here from the merged view (config, enabled, and each server's address,
 * state, health, weight, enabled) and the primary's revision of the farm (every operation applied under
 * it), never from a worker's objects: the same state gives the same ETag whichever worker answers.
 */
import { createHash } from 'node:crypto';
import type { WorkerAnswer } from './calls.js';
import { everyValue } from './calls.js';
import type { AppliedOperation, AskName, Asks } from './messages.js';
import type { FarmRuntime } from '../admin/farm-runtime.js';
import type { FarmView, ServerView } from '../admin/farm-view.js';
import type { FarmOperation, OperationOutcome } from '../admin/operations.js';
import { ApiProblem } from '../admin/problem.js';

/** Asks every serving worker at once (the set of workers taken when called). */
export type AskEveryWorker = <K extends AskName>(name: K, args: Asks[K]['args']) => Promise<WorkerAnswer<Asks[K]['value']>[]>;

/** The primary's record of what it applied (cluster/runtime-state.ts). */
export interface AppliedState {
  record(applied: AppliedOperation): () => void;
  revision(farm: string): number;
}

const round = (value: number, places: number) => Math.round(value * 10 ** places) / 10 ** places;
const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

function mergeHealth(views: readonly ServerView[]): Pick<ServerView, 'health' | 'healthReason' | 'healthSince'> {
  const health = views.some((view) => view.health === 'unhealthy') ? 'unhealthy' : 'healthy';
  const deciding = views.filter((view) => view.health === health);
  // The verdict that changed last (a server never changed has null: it sorts first).
  const latest = deciding.reduce((a, b) => ((b.healthSince ?? '') > (a.healthSince ?? '') ? b : a));
  const share = deciding.filter((view) => view.healthReason === latest.healthReason).length;
  const reason = latest.healthReason === null || share === views.length ? latest.healthReason : `${latest.healthReason} (${share} of ${views.length} workers)`;
  return { health, healthReason: reason, healthSince: latest.healthSince };
}

function mergeServer(views: readonly ServerView[], farmTotal: number): ServerView {
  const first = views[0] as ServerView;
  const totalRequests = sum(views.map((view) => view.totalRequests));
  const timed = views.filter((view) => view.responseTimeMs !== null);
  const timedRequests = sum(timed.map((view) => view.totalRequests));
  const responseTimeMs =
    timed.length === 0 ? null : round(timedRequests === 0 ? sum(timed.map((view) => view.responseTimeMs as number)) / timed.length : sum(timed.map((view) => (view.responseTimeMs as number) * view.totalRequests)) / timedRequests, 1);
  return {
    ...first,
    ...mergeHealth(views),
    currentRequests: sum(views.map((view) => view.currentRequests)),
    totalRequests,
    failedRequests: sum(views.map((view) => view.failedRequests)),
    requestsPerSecond: round(sum(views.map((view) => view.requestsPerSecond)), 2),
    responseTimeMs,
    bytesSent: sum(views.map((view) => view.bytesSent)),
    bytesReceived: sum(views.map((view) => view.bytesReceived)),
    affinityClients: views.some((view) => view.affinityClients === null) ? null : sum(views.map((view) => view.affinityClients as number)),
    selectable: views.every((view) => view.selectable),
    requestDistributionPercent: farmTotal === 0 ? 0 : round((100 * totalRequests) / farmTotal, 2),
  };
}

/** The farm's ETag from the merged view's decision fields and the primary's revision of the farm. */
export function mergedFarmEtag(view: Omit<FarmView, 'etag'>, revision: number): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([view.name, view.algorithm, view.loadBalancing, view.healthTest, view.affinity, view.minServers]));
  hash.update(view.enabled ? '|on' : '|off');
  for (const server of view.servers) hash.update(`|${server.address} ${server.state} ${server.health} ${server.enabled ? 1 : 0} ${server.weight}`);
  hash.update(`|r${revision}`);
  return `"${hash.digest('base64url').slice(0, 27)}"`;
}

/** One farm from each worker's view of it (at least one). */
export function mergeFarm(views: readonly FarmView[], revision: number): FarmView {
  const first = views[0] as FarmView;
  const addresses = [...new Set(views.flatMap((view) => view.servers.map((server) => server.address)))];
  const farmTotal = sum(views.flatMap((view) => view.servers.map((server) => server.totalRequests)));
  const servers = addresses.map((address) => mergeServer(views.flatMap((view) => view.servers.filter((server) => server.address === address)), farmTotal));
  const merged = {
    ...first,
    healthyServers: servers.filter((server) => server.health === 'healthy' && server.enabled && server.state === 'available').length,
    ignoringHealth: views.some((view) => view.ignoringHealth),
    servers,
  };
  return { ...merged, etag: mergedFarmEtag(merged, revision) };
}

/** Every farm, in the first worker's order, from each worker's list. */
export function mergeFarms(lists: readonly (readonly FarmView[])[], revision: (farm: string) => number): FarmView[] {
  const names = [...new Set(lists.flatMap((list) => list.map((view) => view.name)))];
  return names.map((name) => mergeFarm(lists.flatMap((list) => list.filter((view) => view.name === name)), revision(name)));
}

/** The touched part of a farm across workers: counters summed, an unhealthy verdict first, else the first worker's. */
function mergeCurrent(operation: FarmOperation, parts: readonly Record<string, unknown>[]): Record<string, unknown> {
  const first = parts[0] ?? {};
  switch (operation.type) {
    case 'farm.resetCounters':
      return Object.fromEntries(Object.keys(first).map((key) => [key, sum(parts.map((part) => Number(part[key] ?? 0)))]));
    case 'server.markHealth':
      return parts.find((part) => part.health === 'unhealthy') ?? first;
    case 'server.setState':
      return first;
  }
}

/** An operation some workers applied and some did not: which is which. */
function partlyApplied(answers: readonly WorkerAnswer<OperationOutcome>[]): ApiProblem {
  const applied = answers.filter((answer) => answer.ok).map((answer) => answer.pid);
  const failed = answers.filter((answer) => !answer.ok);
  const first = (failed[0] as { error: ApiProblem }).error;
  const why = failed.map((answer) => (answer.ok ? '' : `worker ${answer.pid}: ${answer.error.message}`)).join('; ');
  const detail = `applied in worker${applied.length === 1 ? '' : 's'} ${applied.join(', ')}, not in every worker: ${why}. The operation is kept for replaced workers; send it again to apply it everywhere`;
  return first.status === 503 ? new ApiProblem(503, 'worker_unavailable', first.title, detail) : new ApiProblem(500, 'worker_failed', 'Internal Server Error', detail);
}

export function clusterFarmRuntime(askEveryWorker: AskEveryWorker, state: AppliedState): FarmRuntime {
  const noWorkers = () => new ApiProblem(503, 'worker_unavailable', 'Service Unavailable', 'no worker is serving yet (they are starting); try again');
  const list = async (): Promise<FarmView[]> => {
    const answers = await askEveryWorker('farms.list', null);
    if (answers.length === 0) throw noWorkers();
    return mergeFarms(everyValue(answers), (farm) => state.revision(farm));
  };
  return {
    list,
    get: async (name) => {
      const farms = await list();
      const farm = farms.find((view) => view.name === name);
      if (!farm) throw new ApiProblem(404, 'farm_not_found', 'Not Found', `no farm named '${name}' (farms: ${farms.map((view) => view.name).join(', ') || 'none'})`);
      return farm;
    },
    current: async (operation) => {
      const answers = await askEveryWorker('farms.current', { operation });
      if (answers.length === 0) throw noWorkers();
      return mergeCurrent(operation, everyValue(answers));
    },
    apply: async (operation, actor) => {
      // Recorded first: a worker that starts while the others apply it gets it in its start message.
      const forget = state.record({ operation, actor });
      const answers = await askEveryWorker('farms.apply', { operation, actor });
      if (answers.length === 0) {
        forget();
        throw noWorkers();
      }
      if (answers.every((answer) => !answer.ok)) {
        forget();
        everyValue(answers); // throws the workers' problem
      }
      if (answers.some((answer) => !answer.ok)) throw partlyApplied(answers);
      const outcomes = everyValue(answers);
      return {
        before: mergeCurrent(operation, outcomes.map((outcome) => outcome.before)),
        after: mergeCurrent(operation, outcomes.map((outcome) => outcome.after)),
        changed: outcomes.some((outcome) => outcome.changed),
      };
    },
  };
}
