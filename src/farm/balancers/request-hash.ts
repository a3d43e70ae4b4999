/** requestHash (ARR "Request hash"): consistent hash of the URL as received, path and query. */
import type { BalancerFactory } from './balancer.js';
import { createHashBalancer } from './hash-balancer.js';

export const createRequestHash: BalancerFactory = (context) => createHashBalancer('requestHash', context, (request) => request.url);
