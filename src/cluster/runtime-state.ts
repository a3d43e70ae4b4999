/**
 * The run-time state the primary has applied to its workers: the farm operations, compacted to the last
 * one per server and kind (a later drain replaces an earlier `available`; a health mark does not replace
 * a state), in the order they were applied. A worker started later (a replacement) applies them before
 * it serves, so it starts as the others are. `farm.resetCounters` is not kept: a new worker's counters
 * start at zero anyway. Also a revision per farm, bumped by every operation: the farm's ETag covers it.
 */
import type { Config } from '../config/model.js';
import type { AppliedOperation } from './messages.js';

function keyOf({ operation }: AppliedOperation): string | undefined {
  return operation.type === 'farm.resetCounters' ? undefined : JSON.stringify([operation.farm, operation.address, operation.type]);
}

export class RuntimeState {
  readonly #operations = new Map<string, AppliedOperation>();
  readonly #revisions = new Map<string, number>();

  /** The operations to replay, oldest first. */
  get operations(): AppliedOperation[] {
    return [...this.#operations.values()];
  }

  /** Operations applied under the farm since start (any kind). */
  revision(farm: string): number {
    return this.#revisions.get(farm) ?? 0;
  }

  /**
   * Records an operation about to be applied to every worker (before it is asked of them, so a worker
   * started meanwhile gets it in its start message). Returns how to forget it again, for an operation no
   * worker applied.
   */
  record(applied: AppliedOperation): () => void {
    this.#revisions.set(applied.operation.farm, this.revision(applied.operation.farm) + 1);
    const key = keyOf(applied);
    if (key === undefined) return () => {};
    const previous = this.#operations.get(key);
    this.#operations.delete(key);
    this.#operations.set(key, applied);
    return () => {
      if (this.#operations.get(key) !== applied) return;
      this.#operations.delete(key);
      if (previous) this.#operations.set(key, previous);
    };
  }

  /**
   * A reload put `next` in force after `previous`: the state of a server the reload removed goes with it
   * (a server added again later starts afresh, as in one process), and so does a server's run-time
   * availability when the reload changed the server's configured `state` (the config's state applies
   * then, in every worker: FarmState.takeOver).
   */
  reloaded(previous: Config, next: Config): void {
    const servers = new Map(next.farms.flatMap((farm) => farm.servers.map((server) => [JSON.stringify([farm.name, server.address]), server.state] as const)));
    const before = new Map(previous.farms.flatMap((farm) => farm.servers.map((server) => [JSON.stringify([farm.name, server.address]), server.state] as const)));
    for (const [key, { operation }] of this.#operations) {
      if (operation.type === 'farm.resetCounters') continue;
      const server = JSON.stringify([operation.farm, operation.address]);
      const state = servers.get(server);
      const isGone = state === undefined;
      const isRestated = operation.type === 'server.setState' && before.has(server) && before.get(server) !== state;
      if (isGone || isRestated) this.#operations.delete(key);
    }
  }
}
