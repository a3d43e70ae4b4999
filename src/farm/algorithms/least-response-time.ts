/**
 * leastResponseTime (ARR "Least response time"): favours the servers that answered fastest over the
 * last `leastResponseTimePeriod`. Each server's share is its weight divided by its average response
 * time in that window, taken by smooth weighted round robin: a server twice as fast gets about twice
 * the requests, and traffic does not stampede onto whichever server was fastest a moment ago (which
 * would then slow down). A failed exchange counts as the farm's timeout, so a server that refuses
 * connections or answers 500 at once does not pass for fast. A server without a response in the window
 * counts as the fastest one, so new and recovered servers are tried; with no data at all the shares are
 * the weights.
 */
import type { FarmServer } from '../farm-server.js';
import type { AlgorithmFactory } from './algorithm.js';
import { candidateWeights, SmoothWeighted } from './smooth-weighted.js';

/** Added to every average: differences well under a millisecond are noise, not speed. */
const NOISE_MS = 1;

export const createLeastResponseTime: AlgorithmFactory = ({ servers, clock }) => {
  const weights = new Float64Array(servers.length);
  const averages = new Float64Array(servers.length);
  const shares = new Float64Array(servers.length);
  const rotation = new SmoothWeighted(servers.length);
  return {
    name: 'leastResponseTime',
    pick(_request, exclude) {
      const now = clock.now();
      if (candidateWeights(servers, exclude, now, weights) === 0) return undefined;
      let fastest = Infinity;
      for (let i = 0; i < servers.length; i++) {
        if ((weights[i] as number) <= 0) continue;
        const average = (servers[i] as FarmServer).scoredResponseTimeMs(now) ?? NaN;
        averages[i] = average;
        if (average < fastest) fastest = average;
      }
      if (fastest === Infinity) fastest = 0;
      for (let i = 0; i < servers.length; i++) {
        const weight = weights[i] as number;
        if (weight <= 0) {
          shares[i] = 0;
          continue;
        }
        const average = averages[i] as number;
        shares[i] = weight / ((Number.isNaN(average) ? fastest : average) + NOISE_MS);
      }
      return servers[rotation.pick(shares)];
    },
  };
};
