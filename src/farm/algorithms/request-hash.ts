/** requestHash (ARR "Request hash"): consistent hash of the URL as received, path and query. */
import type { AlgorithmFactory } from './algorithm.js';
import { createHashAlgorithm } from './hash-algorithm.js';

export const createRequestHash: AlgorithmFactory = (context) => createHashAlgorithm('requestHash', context, (request) => request.url);
