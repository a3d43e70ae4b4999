/**
 * powerOfTwoChoices (beyond ARR; Envoy's least_request, YARP's and Traefik's default): two different
 * servers drawn at random in proportion to their weights, and of the two the one with fewer requests in
 * flight relative to its weight (the first drawn when level). Near-least-loaded picks without looking
 * at every server's load, and without herding onto one idle server.
 */
import type { FarmServer } from '../farm-server.js';
import type { AlgorithmFactory } from './algorithm.js';
import { candidateWeights } from './smooth-weighted.js';

/** Index drawn among weights > 0 in proportion to them, skipping `skip`; `total` is their sum. */
function draw(weights: Float64Array, total: number, skip: number, chance: number): number {
  let target = chance * total;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    const weight = weights[i] as number;
    if (weight <= 0 || i === skip) continue;
    last = i;
    if (target < weight) return i;
    target -= weight;
  }
  return last; // rounding at the very end
}

export const createPowerOfTwoChoices: AlgorithmFactory = ({ servers, clock, random }) => {
  const weights = new Float64Array(servers.length);
  return {
    name: 'powerOfTwoChoices',
    pick(_request, exclude) {
      const count = candidateWeights(servers, exclude, clock.now(), weights);
      if (count === 0) return undefined;
      let total = 0;
      for (let i = 0; i < weights.length; i++) total += weights[i] as number;
      const first = draw(weights, total, -1, random());
      if (count === 1) return servers[first];
      const second = draw(weights, total - (weights[first] as number), first, random());
      const a = servers[first] as FarmServer;
      const b = servers[second] as FarmServer;
      return b.counters.currentRequests * (weights[first] as number) < a.counters.currentRequests * (weights[second] as number) ? b : a;
    },
  };
};
