/** The farm-policy keys: defaults (ARR's), normalization, and the messages for what is wrong. */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import { HEALTH_CHECK_DEFAULTS, normalizeFarmPolicies, normalizeHealthCheck } from '../../src/config/farm-model.js';
import { matchesStatus, parseStatusCodes } from '../../src/shared/status-codes.js';
import { farmPolicyKeys, healthCheckSchema, loadBalancingSchema } from '../../src/config/farm-schema.js';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problem.js';
import { schemaProblems } from '../../src/config/schema-problems.js';
import { ALGORITHM_NAMES } from '../../src/farm/algorithms/index.js';

function configText(farmKeys: Record<string, unknown>): string {
  return JSON.stringify({
    accessLog: 'off',
    sites: [{ name: 'app', bindings: [{ protocol: 'http', address: '127.0.0.1', port: 0 }], farm: 'web' }],
    farms: [{ name: 'web', servers: [{ address: '127.0.0.1:9001' }], ...farmKeys }],
  });
}

async function problemsOf(farmKeys: Record<string, unknown>): Promise<string[]> {
  try {
    await loadConfigText(configText(farmKeys), 'gatehouse.yaml', tmpdir());
  } catch (error) {
    if (error instanceof ConfigError) return [...error.lines];
    throw error;
  }
  return [];
}


describe('loadBalancing', () => {
  test('defaults: weightedRoundRobin, leastResponseTimePeriod 5 s', () => {
    assert.deepEqual(loadBalancingSchema.parse({}), { algorithm: 'weightedRoundRobin', leastResponseTimePeriod: 5 });
    assert.deepEqual(normalizeFarmPolicies({ loadBalancing: loadBalancingSchema.parse({}) }).loadBalancing, { algorithm: 'weightedRoundRobin', leastResponseTimePeriodMs: 5000, hashServerVariable: undefined, queryStringNames: [] });
  });

  test('the algorithm names are the registry\'s', () => {
    assert.deepEqual(loadBalancingSchema.shape.algorithm.unwrap().options, ALGORITHM_NAMES);
    assert.deepEqual([...ALGORITHM_NAMES].sort(), ['leastRequests', 'leastResponseTime', 'powerOfTwoChoices', 'queryStringHash', 'requestHash', 'serverVariableHash', 'weightedRoundRobin', 'weightedTotalTraffic']);
  });

  test('an unknown algorithm is a config error listing the known ones', async () => {
    const lines = await problemsOf({ loadBalancing: { algorithm: 'roundRobin' } });
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] ?? '', /farms\[0\]\.loadBalancing\.algorithm: 'roundRobin' is not allowed \(expected one of: weightedRoundRobin, leastRequests, leastResponseTime, weightedTotalTraffic, requestHash, serverVariableHash, queryStringHash, powerOfTwoChoices\)/);
  });

  test('the hash algorithms need their key', async () => {
    assert.match((await problemsOf({ loadBalancing: { algorithm: 'serverVariableHash' } })).join('\n'), /loadBalancing\.hashServerVariable: missing \(required by algorithm serverVariableHash\) \(expected REMOTE_ADDR, QUERY_STRING, URL, HTTP_HOST or HTTP_<HEADER>/);
    assert.match((await problemsOf({ loadBalancing: { algorithm: 'queryStringHash' } })).join('\n'), /loadBalancing\.queryStringNames: missing \(required by algorithm queryStringHash\)/);
    assert.match((await problemsOf({ loadBalancing: { algorithm: 'serverVariableHash', hashServerVariable: 'HTTP-X-USER' } })).join('\n'), /hashServerVariable: 'HTTP-X-USER' is not valid/);
    assert.deepEqual(await problemsOf({ loadBalancing: { algorithm: 'serverVariableHash', hashServerVariable: 'REMOTE_ADDR', leastResponseTimePeriod: '00:00:02' } }), []);
  });

  test('queryStringNames: a list, or ARR\'s comma-separated string', () => {
    const names = (value: unknown) => normalizeFarmPolicies({ loadBalancing: loadBalancingSchema.parse({ algorithm: 'queryStringHash', queryStringNames: value }) }).loadBalancing.queryStringNames;
    assert.deepEqual(names(['q', 'lang']), ['q', 'lang']);
    assert.deepEqual(names('q, lang'), ['q', 'lang']);
  });

  test('leastResponseTimePeriod is a duration above zero', async () => {
    assert.match((await problemsOf({ loadBalancing: { leastResponseTimePeriod: 0 } })).join('\n'), /leastResponseTimePeriod: 0 is not a duration above zero/);
    assert.match((await problemsOf({ loadBalancing: { leastResponseTimePeriod: 'soon' } })).join('\n'), /leastResponseTimePeriod: 'soon' is not a duration above zero/);
  });
});

describe('healthCheck', () => {
  test("defaults are ARR's: interval 30 s, timeout 30 s, 200-399, 500-, 10 failures, period 0, minServers 0; slow start off", () => {
    assert.deepEqual(healthCheckSchema.parse({}), HEALTH_CHECK_DEFAULTS);
    const policy = normalizeHealthCheck(healthCheckSchema.parse({}));
    assert.deepEqual(
      { ...policy, statusCodeMatch: policy.statusCodeMatch.text, liveTrafficFailureCodes: policy.liveTrafficFailureCodes.text },
      { url: undefined, intervalMs: 30_000, timeoutMs: 30_000, statusCodeMatch: '200-399', responseMatch: undefined, liveTrafficFailureCodes: '500-', maxLiveTrafficFailures: 10, liveTrafficFailurePeriodMs: 0, liveTrafficRecoveryDelayMs: 30_000, minServers: 0, slowStartMs: 0 },
    );
    assert.deepEqual(normalizeFarmPolicies({ loadBalancing: loadBalancingSchema.parse({}) }).healthCheck, policy, 'a farm schema without healthCheck gets the defaults');
    assert.deepEqual(farmPolicyKeys.healthCheck.parse(undefined), HEALTH_CHECK_DEFAULTS);
  });

  test('durations in every form', () => {
    const policy = normalizeHealthCheck(healthCheckSchema.parse({ interval: '200ms', timeout: '00:00:05', liveTrafficFailurePeriod: 60, slowStart: '2m' }));
    assert.deepEqual([policy.intervalMs, policy.timeoutMs, policy.liveTrafficFailurePeriodMs, policy.slowStartMs], [200, 5000, 60_000, 120_000]);
  });

  test('status code lists and ranges', () => {
    const ranges = (text: unknown) => parseStatusCodes(text)?.ranges;
    assert.deepEqual(ranges('200-399'), [[200, 399]]);
    assert.deepEqual(ranges('200,301-302'), [[200, 200], [301, 302]]);
    assert.deepEqual(ranges('500-'), [[500, 999]]);
    assert.deepEqual(ranges(' 200 , 404 '), [[200, 200], [404, 404]]);
    assert.deepEqual(ranges(200), [[200, 200]]);
    for (const bad of ['', '99', '1000', '300-200', 'abc', '200 300', '200,,300', '-', 200.5]) assert.equal(parseStatusCodes(bad), undefined, String(bad));
    const codes = parseStatusCodes('200,301-302,500-') ?? assert.fail();
    assert.deepEqual([200, 201, 301, 302, 303, 500, 599, 999].map((s) => matchesStatus(codes, s)), [true, false, true, true, false, true, true, true]);
  });

  test('what is wrong, in the config\'s own words', () => {
    const problems = (value: Record<string, unknown>) => {
      const result = healthCheckSchema.safeParse(value, { reportInput: true });
      return result.success ? [] : schemaProblems(result.error.issues).map((p) => `${p.path.join('.')}: ${p.message} (expected ${p.expected ?? ''})`);
    };
    assert.match(problems({ statusCodeMatch: '99-100' })[0] ?? '', /^statusCodeMatch: '99-100' is not a status code list \(expected status codes 100-999/);
    assert.match(problems({ url: 'health' })[0] ?? '', /^url: 'health' is not valid \(expected a path such as \/health, or an http:\/\/ URL/);
    assert.match(problems({ url: 'https://app/health' })[0] ?? '', /^url: /);
    assert.deepEqual(problems({ url: 'http://app.example.test:8080/health?x=1' }), []);
    assert.match(problems({ interval: 0 })[0] ?? '', /^interval: 0 is not a duration above zero/);
    assert.match(problems({ maxLiveTrafficFailures: -1 })[0] ?? '', /^maxLiveTrafficFailures: -1 is too small/);
    assert.match(problems({ minServers: 1.5 })[0] ?? '', /^minServers: /);
    assert.match(problems({ retries: 3 })[0] ?? '', /unknown key/);
  });

  test('through loadConfig when the farm schema has the key', async () => {
    assert.deepEqual(await problemsOf({ healthCheck: { url: '/health', interval: '200ms', statusCodeMatch: '200', minServers: 1 } }), []);
    assert.match((await problemsOf({ healthCheck: { liveTrafficFailureCodes: '5xx' } })).join('\n'), /farms\[0\]\.healthCheck\.liveTrafficFailureCodes: '5xx' is not a status code list/);
  });
});
