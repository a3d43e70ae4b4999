/**
 * The farm policies' part of the config schema: load balancing and health tests (ARR's
 * `applicationRequestRouting/loadBalancing` and `healthCheck`), in ARR's names with ARR's defaults.
 */
import { z } from 'zod';

export const LOAD_BALANCING_ALGORITHMS = ['weightedRoundRobin'] as const;

export const loadBalancingSchema = z
  .strictObject({
    algorithm: z.enum(LOAD_BALANCING_ALGORITHMS).default('weightedRoundRobin').describe('How the farm picks a server: `weightedRoundRobin` (default).'),
  })
  .describe('How requests are spread over the farm (ARR `loadBalancing`).');
