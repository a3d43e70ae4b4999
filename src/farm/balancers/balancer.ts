import type { FarmServer } from '../farm-server.js';

/** How a farm picks a server for a request. One implementation per file, chosen by name. */
export interface Balancer {
  /** The value users write in config. */
  readonly name: string;
  /** A server among the available ones other than `exclude`, or undefined when there is none. */
  pick(servers: readonly FarmServer[], exclude?: FarmServer): FarmServer | undefined;
}
