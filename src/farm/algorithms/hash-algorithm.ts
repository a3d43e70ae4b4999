/**
 * What the three hash algorithms share: a key from the request, rendezvous hashing over the selectable
 * servers, and smooth weighted round robin for a request that has no key (nginx's `hash` does the same),
 * so requests without the header or query value are spread rather than all sent to one server.
 */
import type { RequestInfo } from '../request-info.js';
import type { Algorithm, AlgorithmContext } from './algorithm.js';
import { Rendezvous } from './rendezvous.js';
import { candidateWeights, SmoothWeighted } from './smooth-weighted.js';

/** The request's key; undefined or '' when it has none. */
export type KeyOf = (request: RequestInfo) => string | undefined;

export function createHashAlgorithm(name: string, { servers, clock }: AlgorithmContext, keyOf: KeyOf): Algorithm {
  const rendezvous = new Rendezvous(servers);
  const weights = new Float64Array(servers.length);
  const rotation = new SmoothWeighted(servers.length);
  return {
    name,
    pick(request, exclude) {
      const key = keyOf(request);
      if (key) return rendezvous.pick(key, exclude);
      if (candidateWeights(servers, exclude, clock.now(), weights) === 0) return undefined;
      return servers[rotation.pick(weights)];
    },
  };
}
