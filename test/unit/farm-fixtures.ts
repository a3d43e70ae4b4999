/**
 * Fixtures for the farm unit tests: a normalized Farm built from policy keys as written in config, a
 * FarmState on a ManualClock with a seeded Random and a captured event log, and RequestInfo values.
 */
import { normalizeHealthCheck, normalizeLoadBalancing } from '../../src/config/farm-model.js';
import { healthCheckSchema, loadBalancingSchema } from '../../src/config/farm-schema.js';
import type { Farm, ProtocolSettings, ServerConfig } from '../../src/config/model.js';
import { ManualClock, seededRandom } from '../../src/farm/clock.js';
import type { FarmServer } from '../../src/farm/farm-server.js';
import { FarmState, type FarmStateOptions } from '../../src/farm/farm-state.js';
import type { HealthProbe } from '../../src/farm/health/url-test.js';
import type { ExchangeReport, RequestInfo } from '../../src/farm/request-info.js';
import type { EventLog } from '../../src/tracing/log.js';

export type ServerSpec = number | (Partial<Omit<ServerConfig, 'address' | 'host' | 'port'>> & { weight?: number });

export interface FarmSpec {
  servers: readonly ServerSpec[];
  loadBalancing?: Record<string, unknown>;
  healthCheck?: Record<string, unknown>;
  enabled?: boolean;
}

export function farmConfig(spec: FarmSpec): Farm {
  const servers: ServerConfig[] = spec.servers.map((s, i) => {
    const server = typeof s === 'number' ? { weight: s } : s;
    return { address: `10.0.0.${i + 1}:80`, host: `10.0.0.${i + 1}`, port: 80, weight: server.weight ?? 100, enabled: server.enabled ?? true, state: server.state ?? 'available' };
  });
  return {
    name: 'web',
    enabled: spec.enabled ?? true,
    maxConnectionsPerServer: undefined,
    servers,
    protocol: { timeoutMs: 30_000 } as ProtocolSettings,
    policies: {
      loadBalancing: normalizeLoadBalancing(loadBalancingSchema.parse(spec.loadBalancing ?? {})),
      healthCheck: normalizeHealthCheck(healthCheckSchema.parse(spec.healthCheck ?? {})),
      affinity: undefined,
    },
  };
}

export interface TestFarm {
  readonly farm: FarmState;
  readonly clock: ManualClock;
  readonly events: string[];
  readonly servers: readonly FarmServer[];
  server(index: number): FarmServer;
}

export function testFarm(spec: FarmSpec, options: { probe?: HealthProbe; seed?: number } = {}): TestFarm {
  const clock = new ManualClock();
  const events: string[] = [];
  const eventLog: EventLog = { info: (m) => events.push(`info ${m}`), warn: (m) => events.push(`warn ${m}`), error: (m) => events.push(`error ${m}`) };
  const farmOptions: FarmStateOptions = options.probe ? { clock, eventLog, random: seededRandom(options.seed ?? 7), probe: options.probe } : { clock, eventLog, random: seededRandom(options.seed ?? 7) };
  const farm = new FarmState(farmConfig(spec), farmOptions);
  return {
    farm,
    clock,
    events,
    servers: farm.servers,
    server: (index) => {
      const server = farm.servers[index];
      if (!server) throw new Error(`no server ${index}`);
      return server;
    },
  };
}

/** A RequestInfo with a URL, headers (any case) and a client address. */
export function requestOf(url = '/', headers: Record<string, string> = {}, remoteAddress = '192.0.2.1'): RequestInfo {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { url, host: lower.get('host'), remoteAddress, header: (name) => lower.get(name) };
}

export function report(fields: Partial<ExchangeReport> = {}): ExchangeReport {
  return { status: 200, responseTimeMs: 10, bytesSent: 0, bytesReceived: 100, isConnectionError: false, ...fields };
}

/** pick, then start and end the exchange at once with `fields`; the picked server's index (-1: none). */
export function exchange(test: TestFarm, request: RequestInfo, fields: Partial<ExchangeReport> = {}): number {
  const server = test.farm.pick(request);
  if (!server) return -1;
  server.onRequestStart();
  server.onRequestEnd(report(fields));
  return test.servers.indexOf(server);
}

/** Lets pending promise callbacks (a probe's answer) run. Bounded: a fixed number of macrotask turns. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export function counts(indexes: readonly number[], size: number): number[] {
  const out = new Array<number>(size).fill(0);
  for (const index of indexes) if (index >= 0) out[index] = (out[index] as number) + 1;
  return out;
}
