/**
 * Weighted rendezvous hashing (highest random weight), the consistent hashing behind the hash
 * algorithms: every server scores the key with `weight / -ln(u)`, u a uniform hash of (key, server), and
 * the highest score wins. A key goes to server i with probability weight_i / Σ weights, and adding or
 * removing one server moves only the keys that server wins or held, about 1/N of them. A server is
 * identified by its address, so two Gatehouse instances with the same farm agree on every key.
 */
import type { FarmServer } from '../farm-server.js';

/** murmur3's 32-bit finalizer: full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two independent 32-bit hashes of a string (FNV-1a and a murmur-style mix), finalized. */
let hashHigh = 0;
let hashLow = 0;
function hashString(text: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  hashHigh = fmix32(a);
  hashLow = fmix32(b ^ hashHigh);
}

const TWO_POW_21 = 2097152;
const TWO_POW_53 = 9007199254740992;

export class Rendezvous {
  readonly #servers: readonly FarmServer[];
  readonly #seedHigh: Uint32Array;
  readonly #seedLow: Uint32Array;

  constructor(servers: readonly FarmServer[]) {
    this.#servers = servers;
    this.#seedHigh = new Uint32Array(servers.length);
    this.#seedLow = new Uint32Array(servers.length);
    servers.forEach((server, i) => {
      hashString(server.address.toLowerCase());
      this.#seedHigh[i] = hashHigh;
      this.#seedLow[i] = hashLow;
    });
  }

  /**
   * The server other than `exclude` with the highest score for `key` among the selectable ones (or those
   * `isEligible` accepts); undefined when none.
   */
  pick(key: string, exclude: FarmServer | undefined, isEligible?: (server: FarmServer) => boolean): FarmServer | undefined {
    hashString(key);
    const keyHigh = hashHigh;
    const keyLow = hashLow;
    const servers = this.#servers;
    let best: FarmServer | undefined;
    let bestScore = -1;
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i] as FarmServer;
      if (server === exclude || !(isEligible ? isEligible(server) : server.isSelectable)) continue;
      const high = fmix32(keyHigh ^ (this.#seedHigh[i] as number));
      const low = fmix32(keyLow ^ (this.#seedLow[i] as number) ^ Math.imul(high, 0x9e3779b1));
      // 53 uniform bits in (0, 1): never 0 (log) and never 1.
      const uniform = (high * TWO_POW_21 + (low >>> 11) + 0.5) / TWO_POW_53;
      const score = server.weight / -Math.log(uniform);
      if (score > bestScore) {
        best = server;
        bestScore = score;
      }
    }
    return best;
  }
}
