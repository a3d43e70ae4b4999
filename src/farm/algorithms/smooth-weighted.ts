/**
 * Smooth weighted round robin (nginx's algorithm) over a weights array, shared by the algorithms that
 * break ties or fall back by weight: each pick adds every candidate's weight to its current weight,
 * takes the largest and subtracts the total from it. A 2:1 farm sends a,b,a rather than a,a,b.
 */
import type { FarmServer } from '../farm-server.js';

export class SmoothWeighted {
  readonly #current: Float64Array;

  constructor(size: number) {
    this.#current = new Float64Array(size);
  }

  /** Index of the pick among `weights[i] > 0`, or -1 when none is above 0. */
  pick(weights: Float64Array): number {
    const current = this.#current;
    let best = -1;
    let bestWeight = 0;
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const weight = weights[i] as number;
      if (weight <= 0) continue;
      const value = (current[i] as number) + weight;
      current[i] = value;
      total += weight;
      if (best < 0 || value > bestWeight) {
        best = i;
        bestWeight = value;
      }
    }
    if (best >= 0) current[best] = bestWeight - total;
    return best;
  }
}

/**
 * Fills `weights` with each candidate's weight now (slow start applied) and 0 for the others
 * (not selectable, or `exclude`). Returns the number of candidates.
 */
export function candidateWeights(servers: readonly FarmServer[], exclude: FarmServer | undefined, now: number, weights: Float64Array): number {
  let count = 0;
  for (let i = 0; i < servers.length; i++) {
    const server = servers[i] as FarmServer;
    if (server.isSelectable && server !== exclude) {
      weights[i] = server.weightAt(now);
      count++;
    } else {
      weights[i] = 0;
    }
  }
  return count;
}
