/**
 * weightedRoundRobin (ARR's default): requests in proportion to the servers' weights, spread smoothly
 * (nginx's smooth weighted round robin). Weights are relative: 100/100 is 1:1, 200/100 is 2:1.
 */
import type { AlgorithmFactory } from './algorithm.js';
import { candidateWeights, SmoothWeighted } from './smooth-weighted.js';

export const createWeightedRoundRobin: AlgorithmFactory = ({ servers, clock }) => {
  const weights = new Float64Array(servers.length);
  const rotation = new SmoothWeighted(servers.length);
  return {
    name: 'weightedRoundRobin',
    pick(_request, exclude) {
      if (candidateWeights(servers, exclude, clock.now(), weights) === 0) return undefined;
      return servers[rotation.pick(weights)];
    },
  };
};
