/**
 * The farms as the admin API reads and changes them, whichever process holds them: FarmRuntime is the
 * interface (asynchronous: with several workers the primary asks each worker), localFarmRuntime the one
 * for farms in this process (Gatehouse with one worker, or a worker answering its primary).
 */
import type { FarmState } from '../farm/farm-state.js';
import { farmView, type FarmView } from './farm-view.js';
import { applyOperation, currentOf, findFarm, type FarmOperation, type OperationOutcome } from './operations.js';

export interface FarmRuntime {
  /** Every farm's view (ARR's Monitoring columns; counters summed over workers). */
  list(): Promise<FarmView[]>;
  /** One farm's view; ApiProblem 404 farm_not_found. */
  get(name: string): Promise<FarmView>;
  /** The part of the farm an operation touches, as it is now (ApiProblem 404 for an unknown farm or server). */
  current(operation: FarmOperation): Promise<Record<string, unknown>>;
  /** Applies an operation everywhere the farm lives before it resolves. */
  apply(operation: FarmOperation, actor: string): Promise<OperationOutcome>;
}

export function localFarmRuntime(farms: () => ReadonlyMap<string, FarmState>): FarmRuntime {
  return {
    list: async () => [...farms().values()].map(farmView),
    get: async (name) => farmView(findFarm(farms(), name)),
    current: async (operation) => currentOf(farms(), operation),
    apply: async (operation, actor) => applyOperation(farms(), operation, actor),
  };
}
