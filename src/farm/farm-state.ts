/** FarmState: a farm at run time: its servers and the algorithm that picks among them. */
import type { Farm } from '../config/model.js';
import type { Balancer } from './balancers/balancer.js';
import { weightedRoundRobinBalancer } from './balancers/weighted-round-robin.js';
import { FarmServer } from './farm-server.js';
import type { RequestInfo } from './request-info.js';

export class FarmState {
  readonly name: string;
  readonly config: Farm;
  readonly servers: readonly FarmServer[];
  readonly balancer: Balancer;

  constructor(config: Farm) {
    this.name = config.name;
    this.config = config;
    this.servers = config.servers.map((server) => new FarmServer(server));
    this.balancer = weightedRoundRobinBalancer;
  }

  /** The server for a new request, or undefined when none is available (502.4). */
  pick(_request: RequestInfo, exclude?: FarmServer): FarmServer | undefined {
    if (!this.config.enabled) return undefined;
    return this.balancer.pick(this.servers, exclude);
  }

  /** Starts the farm's timers (health tests). */
  start(): void {}

  /** Stops them; idempotent. */
  close(): void {}
}
