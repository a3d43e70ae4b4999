/**
 * The farm policies, normalized: what src/farm/ builds its algorithm and health tests from. Durations
 * are milliseconds, status-code lists are ranges, defaults are applied.
 */
import type { z } from 'zod';
import { parseStatusCodes, type StatusCodeRanges } from '../shared/status-codes.js';
import { parseDuration } from './duration.js';
import type { healthCheckSchema, loadBalancingSchema } from './farm-schema.js';

type DeclaredLoadBalancing = z.output<typeof loadBalancingSchema>;
type DeclaredHealthCheck = z.output<typeof healthCheckSchema>;

export type AlgorithmName = DeclaredLoadBalancing['algorithm'];

export interface LoadBalancingPolicy {
  readonly algorithm: AlgorithmName;
  /** Sampling window of leastResponseTime (and of the average response time shown per server), ms. */
  readonly leastResponseTimePeriodMs: number;
  /** serverVariableHash: `REMOTE_ADDR`, `QUERY_STRING`, `URL` or `HTTP_<HEADER>`, upper case. */
  readonly hashServerVariable: string | undefined;
  /** queryStringHash: the query-string names whose values are hashed, in order. */
  readonly queryStringNames: readonly string[];
}

export interface HealthCheckPolicy {
  /** URL test: a path (`/health`) or an absolute http URL; undefined: no URL test. */
  readonly url: string | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly statusCodeMatch: StatusCodeRanges;
  /** Case-sensitive substring the URL test's response body must contain; undefined: not checked. */
  readonly responseMatch: string | undefined;
  readonly liveTrafficFailureCodes: StatusCodeRanges;
  /** 0: the live-traffic test is off. */
  readonly maxLiveTrafficFailures: number;
  /** 0: failures in a row (a success resets the count); otherwise the sliding window, ms. */
  readonly liveTrafficFailurePeriodMs: number;
  /** Without a URL test: first delay before an unhealthy server is tried again (doubles, up to 5 min). */
  readonly liveTrafficRecoveryDelayMs: number;
  readonly minServers: number;
  /** 0: off. */
  readonly slowStartMs: number;
}

export interface FarmPolicies {
  readonly loadBalancing: LoadBalancingPolicy;
  readonly healthCheck: HealthCheckPolicy;
  /** Undefined when the farm has no client affinity. */
  readonly affinity: AffinityPolicy | undefined;
}

export interface AffinityPolicy {
  readonly by: 'cookie' | 'clientCertificate' | 'serverVariable';
  readonly cookieName: string;
  readonly sameSite: 'Lax' | 'Strict' | 'None' | undefined;
  /** Upper case; with by: serverVariable. */
  readonly hashServerVariable: string | undefined;
}

function ms(value: number | string): number {
  return parseDuration(value) as number;
}

export function normalizeLoadBalancing(declared: DeclaredLoadBalancing): LoadBalancingPolicy {
  const names = declared.queryStringNames;
  return {
    algorithm: declared.algorithm,
    leastResponseTimePeriodMs: ms(declared.leastResponseTimePeriod),
    hashServerVariable: declared.hashServerVariable?.toUpperCase(),
    queryStringNames: names === undefined ? [] : (typeof names === 'string' ? names.split(',') : names).map((n) => n.trim()).filter((n) => n !== ''),
  };
}

export function normalizeHealthCheck(declared: DeclaredHealthCheck): HealthCheckPolicy {
  return {
    url: declared.url === undefined || declared.url === '' ? undefined : declared.url,
    intervalMs: ms(declared.interval),
    timeoutMs: ms(declared.timeout),
    statusCodeMatch: parseStatusCodes(declared.statusCodeMatch) as StatusCodeRanges,
    responseMatch: declared.responseMatch === undefined || declared.responseMatch === '' ? undefined : declared.responseMatch,
    liveTrafficFailureCodes: parseStatusCodes(declared.liveTrafficFailureCodes) as StatusCodeRanges,
    maxLiveTrafficFailures: declared.maxLiveTrafficFailures,
    liveTrafficFailurePeriodMs: ms(declared.liveTrafficFailurePeriod),
    liveTrafficRecoveryDelayMs: ms(declared.liveTrafficRecoveryDelay),
    minServers: declared.minServers,
    slowStartMs: ms(declared.slowStart),
  };
}

/**
 * Declared policies (schema output) → normalized policies. `healthCheck` may be absent (a farm schema
 * without the key): its defaults apply.
 */
export function normalizeFarmPolicies(declared: { loadBalancing: DeclaredLoadBalancing; healthCheck?: DeclaredHealthCheck | undefined; affinity?: DeclaredAffinity | undefined }): FarmPolicies {
  return {
    loadBalancing: normalizeLoadBalancing(declared.loadBalancing),
    healthCheck: normalizeHealthCheck(declared.healthCheck ?? HEALTH_CHECK_DEFAULTS),
    affinity: normalizeAffinity(declared.affinity),
  };
}

type DeclaredAffinity = { useCookie: boolean; cookieName: string; sameSite?: 'Lax' | 'Strict' | 'None' | undefined; by: 'cookie' | 'clientCertificate' | 'serverVariable'; hashServerVariable?: string | undefined };

function normalizeAffinity(declared: DeclaredAffinity | undefined): AffinityPolicy | undefined {
  if (!declared || (declared.by === 'cookie' && !declared.useCookie)) return undefined;
  return { by: declared.by, cookieName: declared.cookieName, sameSite: declared.sameSite, hashServerVariable: declared.hashServerVariable?.toUpperCase() };
}

/** The declared defaults of `healthCheck`: what the schema gives for `{}` (a unit test keeps them equal). */
export const HEALTH_CHECK_DEFAULTS: DeclaredHealthCheck = {
  interval: 30,
  timeout: 30,
  statusCodeMatch: '200-399',
  liveTrafficFailureCodes: '500-',
  maxLiveTrafficFailures: 10,
  liveTrafficFailurePeriod: 0,
  liveTrafficRecoveryDelay: 30,
  minServers: 0,
  slowStart: 0,
};
