/**
 * Support for the farm health and balancing integration tests: the real Gatehouse, in process, in front
 * of node:http backends on 127.0.0.1 (port 0), with one http site and one farm whose keys are written as
 * in a config file; a plain keep-alive-free client; and waiting for a health change (bounded).
 */
import type { Gatehouse } from '../../src/app.js';
import type { FarmServer } from '../../src/farm/farm-server.js';
import type { FarmState, HealthChange } from '../../src/farm/farm-state.js';
import { send } from '../support/clients.js';
import { startGatehouse } from '../support/gatehouse.js';

export interface Cleanup {
  after(fn: () => unknown): void;
}

export interface FarmSpec {
  servers: readonly (string | { address: string; weight?: number; enabled?: boolean; state?: string })[];
  loadBalancing?: Record<string, unknown>;
  healthCheck?: Record<string, unknown>;
  enabled?: boolean;
}

export interface RunningFarm {
  readonly gatehouse: Gatehouse;
  readonly farm: FarmState;
  /** Gatehouse's event log lines (`warn …`). */
  readonly events: string[];
  /** Every health change since start, in order. */
  readonly changes: HealthChange[];
  /** `http://127.0.0.1:port` + path. */
  url(path?: string): string;
  server(address: string): FarmServer;
}

export async function startFarm(t: Cleanup, dir: string, spec: FarmSpec): Promise<RunningFarm> {
  const farm: Record<string, unknown> = { name: 'web', servers: spec.servers.map((s) => (typeof s === 'string' ? { address: s } : s)) };
  if (spec.enabled !== undefined) farm['enabled'] = spec.enabled;
  if (spec.loadBalancing) farm['loadBalancing'] = spec.loadBalancing;
  if (spec.healthCheck) farm['healthCheck'] = spec.healthCheck;
  const yaml = JSON.stringify({ accessLog: 'off', sites: [{ name: 'app', bindings: [{ protocol: 'http', address: '127.0.0.1', port: 0 }], farm: 'web' }], farms: [farm] }, null, 2);
  const running = await startGatehouse(yaml, dir);
  t.after(() => running.stop());
  const { gatehouse, events } = running;
  const state = gatehouse.farms.get('web');
  if (!state) throw new Error('farm web is not running');
  const base = running.bound[0]?.url ?? '';
  const changes: HealthChange[] = [];
  state.onHealthChange((change) => changes.push(change));
  return {
    gatehouse,
    farm: state,
    events,
    changes,
    url: (path = '/') => base + path,
    server: (address) => {
      const server = state.servers.find((s) => s.address === address);
      if (!server) throw new Error(`no server ${address}`);
      return server;
    },
  };
}

/**
 * Resolves with the change that marked `server` healthy/unhealthy: its latest change when that is the
 * one, else the next such change; rejects after `timeoutMs`.
 */
export function waitForHealth(run: RunningFarm, server: FarmServer, isHealthy: boolean, timeoutMs = 5000): Promise<HealthChange> {
  const latest = run.changes.filter((c) => c.server === server).at(-1);
  if (latest && latest.isHealthy === isHealthy) return Promise.resolve(latest);
  return new Promise((resolve, reject) => {
    const off = run.farm.onHealthChange((change) => {
      if (change.server !== server || change.isHealthy !== isHealthy) return;
      clearTimeout(timer);
      off();
      resolve(change);
    });
    const timer = setTimeout(() => {
      off();
      reject(new Error(`server ${server.address} was not marked ${isHealthy ? 'healthy' : 'unhealthy'} within ${timeoutMs} ms (now: ${server.isHealthy ? 'healthy' : 'unhealthy'}, ${server.healthReason ?? 'no change'})`));
    }, timeoutMs);
  });
}

export interface Reply {
  status: number;
  body: string;
  error: Error | undefined;
}

/** One GET on a fresh connection (the one client, `send`); never rejects. */
export async function get(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Reply> {
  const reply = await send(url, { headers: Object.entries(headers).flat(), timeoutMs });
  return { status: reply.status, body: reply.body.toString('utf8'), error: reply.error };
}

/** The backend name of an echo reply, or `status N` for anything else. */
export function answeredBy(reply: Reply): string {
  if (reply.status !== 200) return `status ${reply.status}`;
  return (JSON.parse(reply.body) as { server: string }).server;
}

export function tally(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) out[name] = (out[name] ?? 0) + 1;
  return out;
}
