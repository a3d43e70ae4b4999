/**
 * The algorithm names users write in `farms[].loadBalancing.algorithm`. The config schema's enum is made
 * from this list (an unknown name is a config error listing these), and the farm's algorithm table
 * (src/farm/algorithms/index.ts) must have one factory per name and no other: the compiler checks it.
 *
 * A leaf module: it imports nothing, so config/ and farm/ share the names without importing each other.
 */

/** Every algorithm name, the default (weightedRoundRobin) first. */
export const ALGORITHM_NAMES = [
  'weightedRoundRobin',
  'leastRequests',
  'leastResponseTime',
  'weightedTotalTraffic',
  'requestHash',
  'serverVariableHash',
  'queryStringHash',
  'powerOfTwoChoices',
] as const;

export type AlgorithmName = (typeof ALGORITHM_NAMES)[number];
