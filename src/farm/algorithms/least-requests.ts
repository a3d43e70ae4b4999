/**
 * leastRequests (ARR "Least current request"): the server with the fewest requests in flight between
 * Gatehouse and it, relative to its weight (nginx least_conn); servers level on that score are taken
 * by smooth weighted round robin, so an idle farm still spreads by weight.
 */
import type { FarmServer } from '../farm-server.js';
import type { AlgorithmFactory } from './algorithm.js';
import { candidateWeights, SmoothWeighted } from './smooth-weighted.js';

export const createLeastRequests: AlgorithmFactory = ({ servers, clock }) => {
  const weights = new Float64Array(servers.length);
  const ratios = new Float64Array(servers.length);
  const ties = new Float64Array(servers.length);
  const rotation = new SmoothWeighted(servers.length);
  return {
    name: 'leastRequests',
    pick(_request, exclude) {
      if (candidateWeights(servers, exclude, clock.now(), weights) === 0) return undefined;
      let least = Infinity;
      for (let i = 0; i < servers.length; i++) {
        const weight = weights[i] as number;
        if (weight <= 0) continue;
        const ratio = (servers[i] as FarmServer).counters.currentRequests / weight;
        ratios[i] = ratio;
        if (ratio < least) least = ratio;
      }
      for (let i = 0; i < servers.length; i++) {
        const weight = weights[i] as number;
        ties[i] = weight > 0 && ratios[i] === least ? weight : 0;
      }
      return servers[rotation.pick(ties)];
    },
  };
};
