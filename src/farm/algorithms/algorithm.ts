/**
 * How a farm picks a server for a new request. One algorithm per file, each a factory registered by
 * name in index.ts; the factory is called once per farm, and the Algorithm it returns keeps that farm's
 * state (round-robin positions, baselines) in arrays indexed like `servers`.
 *
 * A algorithm considers only `server.isSelectable` servers (enabled, `available`, healthy or the farm
 * ignoring health under minServers; the farm keeps that flag current) other than `exclude`, and returns
 * undefined when there is none. pick() runs on every request: synchronous, and it allocates nothing
 * beyond what the algorithm itself needs (the hash ones build their key).
 */
import type { LoadBalancingPolicy } from '../../config/farm-model.js';
import type { Clock, Random } from '../clock.js';
import type { FarmServer } from '../farm-server.js';
import type { RequestInfo } from '../request-info.js';

export interface Algorithm {
  /** The value users write in config. */
  readonly name: string;
  /** A selectable server other than `exclude`, or undefined when there is none (502.4). */
  pick(request: RequestInfo, exclude?: FarmServer): FarmServer | undefined;
}

/** What a algorithm is built from: the farm's servers (fixed for the farm's life), time and chance. */
export interface AlgorithmContext {
  readonly servers: readonly FarmServer[];
  readonly clock: Clock;
  readonly random: Random;
}

export type AlgorithmFactory = (context: AlgorithmContext, policy: LoadBalancingPolicy) => Algorithm;
