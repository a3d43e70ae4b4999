/**
 * The algorithms by the name users write in `farms[].loadBalancing.algorithm`: the one table the
 * config schema's enum is derived from (so an unknown name is a config error listing these) and the
 * farm builds its balancer from. One file per algorithm.
 */
import type { BalancerFactory } from './balancer.js';
import { createLeastRequests } from './least-requests.js';
import { createLeastResponseTime } from './least-response-time.js';
import { createPowerOfTwoChoices } from './power-of-two-choices.js';
import { createQueryStringHash } from './query-string-hash.js';
import { createRequestHash } from './request-hash.js';
import { createServerVariableHash } from './server-variable-hash.js';
import { createWeightedRoundRobin } from './weighted-round-robin.js';
import { createWeightedTotalTraffic } from './weighted-total-traffic.js';

export const BALANCERS = {
  weightedRoundRobin: createWeightedRoundRobin,
  leastRequests: createLeastRequests,
  leastResponseTime: createLeastResponseTime,
  weightedTotalTraffic: createWeightedTotalTraffic,
  requestHash: createRequestHash,
  serverVariableHash: createServerVariableHash,
  queryStringHash: createQueryStringHash,
  powerOfTwoChoices: createPowerOfTwoChoices,
} as const satisfies Record<string, BalancerFactory>;

export type AlgorithmName = keyof typeof BALANCERS;

/** Every algorithm name, the default (weightedRoundRobin) first. */
export const ALGORITHM_NAMES = Object.keys(BALANCERS) as [AlgorithmName, ...AlgorithmName[]];
