/**
 * Request limits (IIS request filtering, by its names): `limits` at the top level gives the defaults, and a
 * site's `limits` overrides any key for that site. Request-level keys (sizes and counts) are judged once the
 * site is known; connection-level keys (timeouts, connections) belong to a listening socket, so sites that
 * share a port must agree on them.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { durationSchema, parseDuration } from './duration.js';

const duration = durationSchema;
const count = (min: number) => z.number().int().min(min);

export const LIMIT_DEFAULTS = {
  maxAllowedContentLength: 30_000_000,
  maxUrl: 4096,
  maxQueryString: 2048,
  maxRequestHeadersBytes: 16_384,
  maxHeaderCount: 100,
  headersTimeout: '20s',
  requestBodyTimeout: '60s',
  keepAliveTimeout: '120s',
  maxConnections: 10_000,
} as const;

const keys = {
  maxAllowedContentLength: count(0).describe(`Request body bytes (IIS requestLimits maxAllowedContentLength), counted as the body streams, chunked too: a declared Content-Length over it gets 413 at once; a body that grows over it is cut before the server sees its end (the server connection is closed, not reused) and the client gets 413 (404.13 in IIS) if nothing was answered yet. Default ${LIMIT_DEFAULTS.maxAllowedContentLength}.`),
  maxUrl: count(1).describe(`Bytes of the request path, query string excluded (IIS maxUrl): over it, 414 (404.14 in IIS). Default ${LIMIT_DEFAULTS.maxUrl}.`),
  maxQueryString: count(0).describe(`Bytes of the query string (IIS maxQueryString): over it, 414 (404.15 in IIS). Default ${LIMIT_DEFAULTS.maxQueryString}.`),
  maxRequestHeadersBytes: count(64).describe(`Bytes of all request header fields together (names and values): over it, 431. Default ${LIMIT_DEFAULTS.maxRequestHeadersBytes}.`),
  maxHeaderCount: count(1).describe(`Request header fields: over it, 431. Default ${LIMIT_DEFAULTS.maxHeaderCount}.`),
  headersTimeout: duration.describe(`The whole request head must arrive within this after the connection (or the previous response) is ready for it; a TLS connection that sends no request is closed after it too. Over it: 408 and close (slowloris). Default ${LIMIT_DEFAULTS.headersTimeout}.`),
  requestBodyTimeout: duration.describe(`The longest gap between two pieces of a request body: over it, 408 (or the stream is reset if the response started), and the server connection is closed. Default ${LIMIT_DEFAULTS.requestBodyTimeout}.`),
  keepAliveTimeout: duration.describe(`How long an idle keep-alive connection is kept open (IIS connectionTimeout). Default ${LIMIT_DEFAULTS.keepAliveTimeout}.`),
  maxConnections: count(1).describe(`Open client connections per listening socket (per worker); past it a new connection waits, accepted and unread (on https: its TLS handshake done, no request read), until another closes, and is then served in arrival order (gatehouse_connections_over_limit_total{outcome="waited"}). Default ${LIMIT_DEFAULTS.maxConnections}.`),
};

export const limitsSchema = z
  .strictObject({
    maxAllowedContentLength: keys.maxAllowedContentLength.default(LIMIT_DEFAULTS.maxAllowedContentLength),
    maxUrl: keys.maxUrl.default(LIMIT_DEFAULTS.maxUrl),
    maxQueryString: keys.maxQueryString.default(LIMIT_DEFAULTS.maxQueryString),
    maxRequestHeadersBytes: keys.maxRequestHeadersBytes.default(LIMIT_DEFAULTS.maxRequestHeadersBytes),
    maxHeaderCount: keys.maxHeaderCount.default(LIMIT_DEFAULTS.maxHeaderCount),
    headersTimeout: keys.headersTimeout.default(LIMIT_DEFAULTS.headersTimeout),
    requestBodyTimeout: keys.requestBodyTimeout.default(LIMIT_DEFAULTS.requestBodyTimeout),
    keepAliveTimeout: keys.keepAliveTimeout.default(LIMIT_DEFAULTS.keepAliveTimeout),
    maxConnections: keys.maxConnections.default(LIMIT_DEFAULTS.maxConnections),
  })
  .default({ ...LIMIT_DEFAULTS })
  .describe('Request limits (IIS request filtering): the defaults of every site. Each answer is a short page like the 403.x pages, logged with its sub-status (413.13, 414.14, 414.15, 431, 408) and counted in gatehouse_rejections_total by reason; nothing over a limit reaches a server.');

export const siteLimitsSchema = z
  .strictObject({
    maxAllowedContentLength: keys.maxAllowedContentLength.optional(),
    maxUrl: keys.maxUrl.optional(),
    maxQueryString: keys.maxQueryString.optional(),
    maxRequestHeadersBytes: keys.maxRequestHeadersBytes.optional(),
    maxHeaderCount: keys.maxHeaderCount.optional(),
    headersTimeout: keys.headersTimeout.optional(),
    requestBodyTimeout: keys.requestBodyTimeout.optional(),
    keepAliveTimeout: keys.keepAliveTimeout.optional(),
    maxConnections: keys.maxConnections.optional(),
  })
  .optional()
  .describe('This site\'s request limits: any key of the top-level `limits`, over it. Sites sharing a port must agree on headersTimeout, keepAliveTimeout and maxConnections (they belong to the socket).');

export type DeclaredLimits = z.output<typeof limitsSchema>;
export type DeclaredSiteLimits = z.output<typeof siteLimitsSchema>;

/** The limits in force for a site, durations in milliseconds. */
export interface Limits {
  readonly maxAllowedContentLength: number;
  readonly maxUrl: number;
  readonly maxQueryString: number;
  readonly maxRequestHeadersBytes: number;
  readonly maxHeaderCount: number;
  readonly headersTimeoutMs: number;
  readonly requestBodyTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
}

/** A site's declared limits: its own keys over the top-level ones (either may be missing in a config that failed the schema). */
export function mergeLimits<T extends Partial<DeclaredLimits>>(top: T | undefined, site: DeclaredSiteLimits): T {
  return { ...top, ...Object.fromEntries(Object.entries(site ?? {}).filter(([, value]) => value !== undefined)) } as T;
}

/** A site's limits: its own keys over the top-level ones. */
export function normalizeLimits(top: DeclaredLimits, site: DeclaredSiteLimits): Limits {
  const merged = mergeLimits(top, site);
  return {
    maxAllowedContentLength: merged.maxAllowedContentLength,
    maxUrl: merged.maxUrl,
    maxQueryString: merged.maxQueryString,
    maxRequestHeadersBytes: merged.maxRequestHeadersBytes,
    maxHeaderCount: merged.maxHeaderCount,
    headersTimeoutMs: parseDuration(merged.headersTimeout) as number,
    requestBodyTimeoutMs: parseDuration(merged.requestBodyTimeout) as number,
    keepAliveTimeoutMs: parseDuration(merged.keepAliveTimeout) as number,
    maxConnections: merged.maxConnections,
  };
}

/** The keys that belong to a listening socket: sites sharing one must agree on them. */
export const CONNECTION_LIMITS = ['headersTimeoutMs', 'keepAliveTimeoutMs', 'maxConnections'] as const;

// ---------------------------------------------------------------------------------------------------------------
// Dynamic IP Restrictions (IIS), per client IP

export const DENY_ACTIONS = ['forbidden', 'notFound', 'abortRequest', 'unauthorized'] as const;

export const dynamicIpSecuritySchema = z
  .strictObject({
    denyByConcurrentRequests: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Default false.'),
        maxConcurrentRequests: count(1).default(5).describe('Requests one client IP may have in flight at once; one more gets the deny action (403.501). Default 5 (IIS).'),
      })
      .default({ enabled: false, maxConcurrentRequests: 5 })
      .describe('IIS "Deny IP Address based on the number of concurrent requests".'),
    denyByRequestRate: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Default false.'),
        maxRequests: count(1).default(20).describe('Requests one client IP may make within `requestInterval`; more get the deny action (403.502). Default 20 (IIS).'),
        requestInterval: duration.default('200ms').describe('The interval `maxRequests` counts over. Default 200 ms (IIS).'),
      })
      .default({ enabled: false, maxRequests: 20, requestInterval: '200ms' })
      .describe('IIS "Deny IP Address based on number of requests over a period of time".'),
    denyAction: z
      .enum(DENY_ACTIONS)
      .default('forbidden')
      .describe('What a denied request gets: `forbidden` (403.501 / 403.502), `notFound` (404), `unauthorized` (401), `abortRequest` (the connection is closed without an answer; over HTTP/2 the stream is reset). Default forbidden.'),
    trustedClients: z
      .array(z.string().min(1))
      .default([])
      .describe('Client addresses or CIDR ranges (`10.0.0.0/8`, `::1`, `fd00::/8`) that are never limited.'),
  })
  .optional()
  .describe('IIS Dynamic IP Restrictions, per client IP address. With several workers each enforces its share of the limits (the limit divided by the number of workers, rounded up), since connections are spread over them; a fleet keeps one count per client only with a shared store, which the config leaves room for.');

export type DeclaredDynamicIpSecurity = z.output<typeof dynamicIpSecuritySchema>;

export interface DynamicIpSettings {
  /** Requests in flight per client IP at most; undefined when the check is off. */
  readonly maxConcurrentRequests: number | undefined;
  /** Requests per interval per client IP at most; undefined when the check is off. */
  readonly maxRequests: number | undefined;
  readonly requestIntervalMs: number;
  readonly denyAction: (typeof DENY_ACTIONS)[number];
  /** Addresses and CIDR ranges never limited, as written. */
  readonly trustedClients: readonly string[];
}

export function normalizeDynamicIpSecurity(declared: DeclaredDynamicIpSecurity): DynamicIpSettings | undefined {
  if (!declared || (!declared.denyByConcurrentRequests.enabled && !declared.denyByRequestRate.enabled)) return undefined;
  return {
    maxConcurrentRequests: declared.denyByConcurrentRequests.enabled ? declared.denyByConcurrentRequests.maxConcurrentRequests : undefined,
    maxRequests: declared.denyByRequestRate.enabled ? declared.denyByRequestRate.maxRequests : undefined,
    requestIntervalMs: parseDuration(declared.denyByRequestRate.requestInterval) as number,
    denyAction: declared.denyAction,
    trustedClients: declared.trustedClients,
  };
}

/** `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`; undefined when it is none. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText] = text.split('/');
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}
