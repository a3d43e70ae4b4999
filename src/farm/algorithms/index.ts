/**
 * The algorithms by the name users write in `farms[].loadBalancing.algorithm`: the table the farm builds
 * its algorithm from, one factory per name of shared/algorithms.ts (the names the config schema accepts)
 * and no other. One file per algorithm.
 */
import { ALGORITHM_NAMES, type AlgorithmName } from '../../shared/algorithms.js';
import type { AlgorithmFactory } from './algorithm.js';
import { createLeastRequests } from './least-requests.js';
import { createLeastResponseTime } from './least-response-time.js';
import { createPowerOfTwoChoices } from './power-of-two-choices.js';
import { createQueryStringHash } from './query-string-hash.js';
import { createRequestHash } from './request-hash.js';
import { createServerVariableHash } from './server-variable-hash.js';
import { createWeightedRoundRobin } from './weighted-round-robin.js';
import { createWeightedTotalTraffic } from './weighted-total-traffic.js';

export const ALGORITHMS = {
  weightedRoundRobin: createWeightedRoundRobin,
  leastRequests: createLeastRequests,
  leastResponseTime: createLeastResponseTime,
  weightedTotalTraffic: createWeightedTotalTraffic,
  requestHash: createRequestHash,
  serverVariableHash: createServerVariableHash,
  queryStringHash: createQueryStringHash,
  powerOfTwoChoices: createPowerOfTwoChoices,
} as const satisfies Record<AlgorithmName, AlgorithmFactory>;

export { ALGORITHM_NAMES, type AlgorithmName };
