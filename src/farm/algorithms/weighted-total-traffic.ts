/**
 * weightedTotalTraffic (ARR "Weighted total traffic"): the server that has sent and received the fewest
 * bytes (request plus response bodies), relative to its weight; servers level on that score are taken
 * by smooth weighted round robin. A server that becomes selectable (at start, or back from unhealthy,
 * drain or unavailable) starts level with the least loaded one instead of at its old total, so it does
 * not swallow every request until it has caught up.
 */
import type { FarmServer } from '../farm-server.js';
import type { AlgorithmFactory } from './algorithm.js';
import { SmoothWeighted } from './smooth-weighted.js';

function trafficOf(server: FarmServer): number {
  return server.counters.bytesSent + server.counters.bytesReceived;
}

export const createWeightedTotalTraffic: AlgorithmFactory = ({ servers, clock }) => {
  const size = servers.length;
  const weights = new Float64Array(size);
  const scores = new Float64Array(size);
  const ties = new Float64Array(size);
  /** Bytes a server had when it (re)joined, less the level it joined at. */
  const base = new Float64Array(size);
  /** 1 while a server has stayed selectable since its last pick. */
  const isJoined = new Uint8Array(size);
  const rotation = new SmoothWeighted(size);
  return {
    name: 'weightedTotalTraffic',
    pick(_request, exclude) {
      const now = clock.now();
      let level = Infinity;
      for (let i = 0; i < size; i++) {
        const server = servers[i] as FarmServer;
        if (!server.isSelectable) {
          isJoined[i] = 0;
          weights[i] = 0;
          continue;
        }
        const weight = server.weightAt(now);
        weights[i] = weight;
        const traffic = trafficOf(server);
        if (isJoined[i] === 1 && traffic < (base[i] as number)) isJoined[i] = 0; // counters were reset
        if (isJoined[i] === 0) continue;
        const score = (traffic - (base[i] as number)) / weight;
        scores[i] = score;
        if (score < level) level = score;
      }
      if (level === Infinity) level = 0;
      let least = Infinity;
      for (let i = 0; i < size; i++) {
        const weight = weights[i] as number;
        if (weight <= 0) continue;
        if (isJoined[i] === 0) {
          isJoined[i] = 1;
          base[i] = trafficOf(servers[i] as FarmServer) - level * weight;
          scores[i] = level;
        }
        if (servers[i] !== exclude && (scores[i] as number) < least) least = scores[i] as number;
      }
      if (least === Infinity) return undefined;
      for (let i = 0; i < size; i++) {
        const weight = weights[i] as number;
        ties[i] = weight > 0 && servers[i] !== exclude && scores[i] === least ? weight : 0;
      }
      return servers[rotation.pick(ties)];
    },
  };
};
