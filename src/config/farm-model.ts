/** The farm policies, normalized: what src/farm/ builds its algorithm and health tests from. */
import type { z } from 'zod';
import type { loadBalancingSchema } from './farm-schema.js';

export interface FarmPolicies {
  readonly loadBalancing: z.output<typeof loadBalancingSchema>;
}

/** Declared policies (schema output) → normalized policies. */
export function normalizeFarmPolicies(declared: { loadBalancing: z.output<typeof loadBalancingSchema> }): FarmPolicies {
  return { loadBalancing: declared.loadBalancing };
}
