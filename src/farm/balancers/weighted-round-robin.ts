/**
 * Smooth weighted round robin (nginx's algorithm): each pick adds every candidate's weight to its
 * current weight, takes the largest and subtracts the total from it. Weights are relative, and a 2:1
 * farm sends a,b,a rather than a,a,b, so bursts are spread.
 */
import type { FarmServer } from '../farm-server.js';
import type { Balancer } from './balancer.js';

export const weightedRoundRobinBalancer: Balancer = {
  name: 'weightedRoundRobin',
  pick(servers: readonly FarmServer[], exclude?: FarmServer): FarmServer | undefined {
    let best: FarmServer | undefined;
    let total = 0;
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i] as FarmServer;
      if (!server.isAvailable || server === exclude) continue;
      server.currentWeight += server.weight;
      total += server.weight;
      if (!best || server.currentWeight > best.currentWeight) best = server;
    }
    if (best) best.currentWeight -= total;
    return best;
  },
};
