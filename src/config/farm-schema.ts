/**
 * The farm policies' part of the config schema: load balancing and health tests (ARR's
 * `applicationRequestRouting/loadBalancing` and `healthCheck`), in ARR's names with ARR's defaults.
 * The algorithm names come from shared/algorithms.ts, the list the farm's algorithm table
 * (src/farm/algorithms/index.ts) implements, so an unknown name is an error listing the known ones.
 */
import { z } from 'zod';
import { ALGORITHM_NAMES } from '../shared/algorithms.js';
import { parseStatusCodes, STATUS_CODES_EXPECTED } from '../shared/status-codes.js';
import { DURATION_EXPECTED, durationSchema, parseDuration } from './duration.js';

export const LOAD_BALANCING_ALGORITHMS = ALGORITHM_NAMES;

const duration = durationSchema;

/** A duration above zero. */
const positiveDuration = z
  .custom<number | string>((value) => (parseDuration(value) ?? 0) > 0, { message: `is not a duration above zero (expected ${DURATION_EXPECTED})` })
  .meta({ type: 'duration' });

const statusCodes = z
  .custom<string | number>((value) => parseStatusCodes(value) !== undefined, { message: `is not a status code list (expected ${STATUS_CODES_EXPECTED})` })
  .meta({ type: 'string' });

const SERVER_VARIABLE = /^(REMOTE_ADDR|QUERY_STRING|URL|HTTP_[A-Z0-9_]+)$/i;
const SERVER_VARIABLE_EXPECTED = 'REMOTE_ADDR, QUERY_STRING, URL, HTTP_HOST or HTTP_<HEADER> such as HTTP_X_USER';

export const loadBalancingSchema = z
  .strictObject({
    algorithm: z
      .enum(LOAD_BALANCING_ALGORITHMS)
      .default('weightedRoundRobin')
      .describe(
        'How the farm picks a server for a new request, among the servers that are enabled, `available` and healthy. ' +
          '`weightedRoundRobin` (default): requests in proportion to `weight`, spread smoothly (200/100 sends a,b,a). ' +
          '`leastRequests`: the server with the fewest requests in flight relative to its weight; ties by weighted round robin. ' +
          '`leastResponseTime`: shares in proportion to weight divided by the average response time over `leastResponseTimePeriod` (a server twice as fast gets about twice the share); a failed request counts as the farm\'s `protocol.timeout`, and a server without a response in the window counts as the fastest one. ' +
          '`weightedTotalTraffic`: the server with the fewest bytes sent and received (request and response bodies) relative to its weight; a server that comes back starts level with the least loaded. ' +
          '`requestHash`: hash of the URL (path and query as received). ' +
          '`serverVariableHash`: hash of `hashServerVariable`. ' +
          '`queryStringHash`: hash of the values of `queryStringNames`. ' +
          '`powerOfTwoChoices` (beyond ARR): two servers drawn at random by weight, the one with fewer requests in flight relative to its weight. ' +
          'The hash algorithms use weighted rendezvous hashing: the same key goes to the same server, and adding or removing one of N servers moves about 1/N of the keys; a request without the key (missing header, no named query value) goes by weighted round robin.',
      ),
    leastResponseTimePeriod: positiveDuration
      .default(5)
      .describe('Sampling window of `leastResponseTime`, and of the average response time shown per server. Default 5 s (ARR).'),
    hashServerVariable: z
      .string()
      .regex(SERVER_VARIABLE, SERVER_VARIABLE_EXPECTED)
      .optional()
      .describe('`serverVariableHash` only (required there): the server variable hashed: `REMOTE_ADDR` (client IP), `QUERY_STRING`, `URL` (path without query), `HTTP_HOST`, or any `HTTP_<HEADER>` (the request header with `_` read as `-`: `HTTP_X_USER` is `X-User`). No default.'),
    queryStringNames: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('`queryStringHash` only (required there): query-string names (a list, or ARR\'s comma-separated string) whose values, in this order, are hashed together; names match in any letter case, the first occurrence counts. No default.'),
  })
  .superRefine((value, ctx) => {
    if (value.algorithm === 'serverVariableHash' && value.hashServerVariable === undefined) {
      ctx.addIssue({ code: 'custom', path: ['hashServerVariable'], input: undefined, message: `(required by algorithm serverVariableHash) (expected ${SERVER_VARIABLE_EXPECTED})` });
    }
    if (value.algorithm === 'queryStringHash' && value.queryStringNames === undefined) {
      ctx.addIssue({ code: 'custom', path: ['queryStringNames'], input: undefined, message: '(required by algorithm queryStringHash) (expected a list of query-string names, e.g. [q])' });
    }
  })
  .describe('How requests are spread over the farm (ARR `loadBalancing`).');

export const healthCheckSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^(\/|http:\/\/[^/?#\s]+(?:[/?]|$))\S*$/, "a path such as /health, or an http:// URL such as http://app.example.test/health (Gatehouse talks http to farm servers)")
      .optional()
      .describe('URL test: a path (`/health`) or an absolute `http://` URL, requested with GET from each enabled server (never from one fixed address). The `Host` header is the URL\'s host when absolute, else the server\'s address. No default: without it there is no URL test.'),
    interval: positiveDuration.default(30).describe('Time between the end of one URL test of a server and the start of the next. Default 30 s (ARR).'),
    timeout: positiveDuration.default(30).describe('A URL test that has not received the whole response (status and, with `responseMatch`, the body) within this time fails: the server is unhealthy. Default 30 s (ARR).'),
    statusCodeMatch: statusCodes.default('200-399').describe('Status codes of a passing URL test: codes and ranges separated by commas, e.g. `200,301-302`; `500-` means 500 and above. Default `200-399` (ARR).'),
    responseMatch: z.string().optional().describe('Case-sensitive text the URL test\'s response body must contain (the first 64 KB are read). No default: the body is not checked.'),
    liveTrafficFailureCodes: statusCodes.default('500-').describe('Status codes of live responses that count as failures (connection errors and timeouts always count), in the same form as `statusCodeMatch`. Also what the `failedRequests` counter counts. Default `500-` (500 and above, ARR).'),
    maxLiveTrafficFailures: z
      .number()
      .int()
      .min(0)
      .max(10000)
      .default(10)
      .describe('Live-traffic test: a healthy server with this many failures (see `liveTrafficFailurePeriod`) is marked unhealthy. The live-traffic test never marks a server healthy again: the URL test does, or without one a retry after `liveTrafficRecoveryDelay`. 0 turns the live-traffic test off. Default 10 (ARR).'),
    liveTrafficFailurePeriod: duration
      .default(0)
      .describe('0 (default, ARR): `maxLiveTrafficFailures` failures in a row: any response that is not a failure resets the count. Above 0: `maxLiveTrafficFailures` failures within this sliding window, whatever succeeded in between.'),
    liveTrafficRecoveryDelay: positiveDuration
      .default(30)
      .describe('Beyond ARR; only when there is no `url` (no URL test): a server marked unhealthy by live traffic is tried again after this delay, so a farm never stays down for good. It gets requests again; if the first of them fails it is unhealthy again and the delay doubles (up to 5 min, or this value if larger); a success resets the delay. Default 30 s.'),
    minServers: z
      .number()
      .int()
      .min(0)
      .max(10000)
      .default(0)
      .describe('When fewer than `minServers` servers are both healthy and `available` (enabled, not `drain`, not `unavailable`), health is ignored for new requests: they are spread by the algorithm over every enabled `available` server, healthy or not, rather than crushing the few healthy ones. Health tests go on and servers are still marked; health is honoured again as soon as `minServers` servers are healthy. Entering and leaving this mode is logged. 0 (default, ARR): health is always honoured, and with no healthy server requests get 502.4.'),
    slowStart: duration
      .default(0)
      .describe('Beyond ARR: a server marked healthy again, or made `available` again, gets a share of new requests that ramps linearly from 10% of its weight to all of it over this time. Applies to every algorithm but the hash ones (whose key-to-server mapping must not move). 0 (default) turns it off.'),
  })
  .describe('Health tests (ARR `healthCheck`): the URL test marks servers unhealthy and healthy again; the live-traffic test marks them unhealthy. An unhealthy server takes no new requests (see `minServers`). Every change of health is logged with its reason.');

/** Every farm-policy key, with its default, for `farmSchema` to spread into its shape. */
export const affinitySchema = z
  .strictObject({
    useCookie: z.boolean().default(false).describe('Client affinity by cookie (ARR): a client\'s first request is load-balanced and Gatehouse sets `cookieName` to the SHA-256 hex of the chosen server\'s address (as YARP\'s ARR cookie); later requests go to that server while it is healthy and available or draining. Default false.'),
    cookieName: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a cookie name (token characters)').default('ARRAffinity').describe('Name of the affinity cookie. Default `ARRAffinity`.'),
    sameSite: z.enum(['Lax', 'Strict', 'None']).optional().describe('SameSite attribute of the cookie; absent by default, as ARR. `None` is sent with `Secure` only on https.'),
    by: z
      .enum(['cookie', 'clientCertificate', 'serverVariable'])
      .default('cookie')
      .describe('Beyond ARR: what keeps a client on its server. `cookie` (with useCookie), `clientCertificate` (the SHA-256 thumbprint of the client certificate: a badge holder lands on the same server from any browser), or `serverVariable` (the value of `hashServerVariable`, e.g. HTTP_X_USER). A certificate or variable is mapped by consistent hashing over the selectable servers, and remembered, so a draining server keeps its clients.'),
    hashServerVariable: z.string().regex(SERVER_VARIABLE, SERVER_VARIABLE_EXPECTED).optional().describe('With `by: serverVariable`: REMOTE_ADDR, HTTP_HOST or HTTP_<HEADER>.'),
  })
  .refine((a) => a.by !== 'serverVariable' || a.hashServerVariable !== undefined, { message: 'needs hashServerVariable (expected hashServerVariable with by: serverVariable)' })
  .describe('Client affinity (ARR `affinity`): sessions kept on their server. When the server becomes unhealthy or unavailable the client is load-balanced again and re-pinned; while it drains, the client stays. A backend response header `Arr-Disable-Session-Affinity: True` stops the cookie from being set.');

export const farmPolicyKeys = {
  loadBalancing: loadBalancingSchema.default(loadBalancingSchema.parse({})),
  healthCheck: healthCheckSchema.default(healthCheckSchema.parse({})),
  affinity: affinitySchema.default(affinitySchema.parse({})),
};
