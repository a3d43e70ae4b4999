/**
 * A farm as the admin API shows it: ARR's Monitoring and Management columns per server under the names the
 * API contract gives, the farm's algorithm, health test and affinity settings, and the farm's ETag. The
 * counters are read when asked (nothing is added to the request path).
 *
 * The ETag covers what a write under the farm decides on: its config, whether it is enabled, and each
 * server's address, state, health, weight and admin revision (bumped by every operation applied to the
 * server, a counters reset included). Counters moving under live traffic do not change it.
 */
import { createHash } from 'node:crypto';
import type { FarmServer } from '../farm/farm-server.js';
import type { FarmState } from '../farm/farm-state.js';

/** Operations applied per server (survives reloads: a kept server is the same object). */
const revisions = new WeakMap<FarmServer, number>();

export function bumpRevision(server: FarmServer): void {
  revisions.set(server, (revisions.get(server) ?? 0) + 1);
}

export interface ServerView {
  readonly address: string;
  readonly state: 'available' | 'drain' | 'unavailable';
  readonly health: 'healthy' | 'unhealthy';
  readonly healthReason: string | null;
  readonly healthSince: string | null;
  readonly currentRequests: number;
  readonly totalRequests: number;
  readonly failedRequests: number;
  readonly requestsPerSecond: number;
  readonly responseTimeMs: number | null;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly affinityClients: number | null;
  readonly weight: number;
  readonly effectiveWeight: number;
  readonly enabled: boolean;
  readonly selectable: boolean;
  readonly requestDistributionPercent: number;
  readonly loadBalanceWeightPercent: number;
}

export interface FarmView {
  readonly name: string;
  readonly enabled: boolean;
  readonly etag: string;
  readonly algorithm: string;
  readonly loadBalancing: Record<string, unknown>;
  readonly healthTest: Record<string, unknown>;
  readonly affinity: Record<string, unknown> | null;
  readonly minServers: number;
  readonly healthyServers: number;
  readonly ignoringHealth: boolean;
  readonly servers: readonly ServerView[];
}

/** A config value as JSON: Sets and Maps as lists, status-code ranges as their text, Buffers left out. */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) => {
      if (v instanceof Set) return [...v];
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof RegExp) return v.source;
      if (v && typeof v === 'object' && 'text' in v && 'ranges' in v) return (v as { text: string }).text;
      if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return undefined;
      return v;
    }) ?? 'null',
  );
}

/** The farm's ETag (a strong validator, quoted). */
export function farmEtag(farm: FarmState): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(plain(farm.config)));
  hash.update(farm.isEnabled ? '|on' : '|off');
  for (const server of farm.servers) hash.update(`|${server.address} ${server.state} ${server.isHealthy ? 1 : 0} ${server.isEnabled ? 1 : 0} ${server.weight} ${revisions.get(server) ?? 0}`);
  return `"${hash.digest('base64url').slice(0, 27)}"`;
}

export function farmView(farm: FarmState): FarmView {
  const snapshot = farm.snapshot();
  const clients = farm.affinity?.clientCounts();
  const policies = farm.config.policies;
  return {
    name: farm.name,
    enabled: snapshot.enabled,
    etag: farmEtag(farm),
    algorithm: snapshot.algorithm,
    loadBalancing: plain(policies.loadBalancing) as Record<string, unknown>,
    healthTest: plain(policies.healthCheck) as Record<string, unknown>,
    affinity: policies.affinity ? (plain(policies.affinity) as Record<string, unknown>) : null,
    minServers: snapshot.minServers,
    healthyServers: snapshot.healthyServers,
    ignoringHealth: snapshot.isIgnoringHealth,
    servers: snapshot.servers.map((server, index): ServerView => {
      const object = farm.servers[index] as FarmServer;
      const counters = server.counters;
      return {
        address: server.address,
        state: server.state,
        health: server.health,
        healthReason: server.healthReason,
        healthSince: server.healthChangedAt,
        currentRequests: counters.currentRequests,
        totalRequests: counters.totalRequests,
        failedRequests: counters.failedRequests,
        requestsPerSecond: Math.round(server.requestsPerSecond * 100) / 100,
        responseTimeMs: server.averageResponseTimeMs === null ? null : Math.round(server.averageResponseTimeMs * 10) / 10,
        bytesSent: counters.bytesSent,
        bytesReceived: counters.bytesReceived,
        affinityClients: farm.affinity === undefined ? 0 : clients === undefined ? null : (clients.get(object) ?? 0),
        weight: server.weight,
        effectiveWeight: server.effectiveWeight,
        enabled: server.enabled,
        selectable: server.isSelectable,
        requestDistributionPercent: Math.round(server.requestDistributionPercent * 100) / 100,
        loadBalanceWeightPercent: Math.round(server.loadBalanceWeightPercent * 100) / 100,
      };
    }),
  };
}
