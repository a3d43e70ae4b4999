/**
 * The conformance suite every algorithm in the registry runs (a new algorithm file joins it by being
 * registered): it never picks a server that is drain, unavailable, disabled, unhealthy or excluded; it
 * returns undefined when no server is eligible; and it spreads requests by weight.
 *
 * Spread tolerance: over 40,000 picks with varied requests (URL, X-User, client address all differ)
 * against weights 100/200/300/400, every server's share is within ±5% (relative) of weight / Σ weights.
 * The deterministic algorithms land within a fraction of that; the hash algorithms and
 * powerOfTwoChoices are random draws, for which 40,000 picks put ±5% beyond 3 standard deviations.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ALGORITHM_NAMES } from '../../src/farm/algorithms/index.js';
import { counts, exchange, requestOf, testFarm, type FarmSpec, type ServerSpec } from './farm-fixtures.js';

/** The keys each algorithm needs to run. */
const KEYS: Record<string, Record<string, unknown>> = {
  serverVariableHash: { hashServerVariable: 'HTTP_X_USER' },
  queryStringHash: { queryStringNames: ['q'] },
};

function variedRequest(i: number) {
  return requestOf(`/item/${i}?q=${i}`, { host: 'app.example.test', 'x-user': `user-${i}` }, `10.1.${(i >> 8) & 255}.${i & 255}`);
}

function specFor(algorithm: string, servers: readonly ServerSpec[], extra: Partial<FarmSpec> = {}): FarmSpec {
  return { servers, loadBalancing: { algorithm, ...KEYS[algorithm] }, ...extra };
}

for (const algorithm of ALGORITHM_NAMES) {
  describe(`conformance: ${algorithm}`, () => {
    test('never picks a drain, unavailable, disabled, unhealthy or excluded server', () => {
      const t = testFarm(specFor(algorithm, [100, { state: 'drain' }, { state: 'unavailable' }, { enabled: false }, 100, 100, 100]));
      t.farm.markUnhealthy(t.server(4), 'test');
      const excluded = t.server(5);
      const picked = new Set<number>();
      for (let i = 0; i < 2000; i++) {
        const server = t.farm.pick(variedRequest(i), excluded);
        assert.ok(server, `pick ${i}`);
        server.onRequestStart();
        server.onRequestEnd({ status: 200, responseTimeMs: 5, bytesSent: 0, bytesReceived: 100, isConnectionError: false });
        picked.add(t.servers.indexOf(server));
      }
      assert.deepEqual([...picked].sort(), [0, 6]);
    });

    test('follows state and health changes at run time', () => {
      const t = testFarm(specFor(algorithm, [100, 100, 100]));
      for (let i = 0; i < 100; i++) exchange(t, variedRequest(i));
      t.server(0).state = 'drain';
      t.farm.markUnhealthy(t.server(1), 'test');
      const after = counts(Array.from({ length: 300 }, (_, i) => exchange(t, variedRequest(1000 + i))), 3);
      assert.deepEqual(after, [0, 0, 300]);
      t.server(0).state = 'available';
      t.farm.markHealthy(t.server(1), 'test');
      const back = counts(Array.from({ length: 600 }, (_, i) => exchange(t, variedRequest(5000 + i))), 3);
      assert.ok(back.every((n) => n > 0), back.join(','));
    });

    test('returns undefined when no server is eligible', () => {
      const t = testFarm(specFor(algorithm, [{ state: 'drain' }, { state: 'unavailable' }, { enabled: false }, 100, 100]));
      t.farm.markUnhealthy(t.server(3), 'test');
      for (let i = 0; i < 50; i++) assert.equal(t.farm.pick(variedRequest(i), t.server(4)), undefined);
      assert.equal(t.farm.pick(variedRequest(1))?.address, t.server(4).address, 'the one eligible server when not excluded');
      const disabled = testFarm(specFor(algorithm, [100, 100], { enabled: false }));
      assert.equal(disabled.farm.pick(variedRequest(1)), undefined, 'a disabled farm');
    });

    test('spreads 100/200/300/400 by weight within ±5% of each share over 40,000 picks', () => {
      const weights = [100, 200, 300, 400];
      const t = testFarm(specFor(algorithm, weights));
      const picks = 40_000;
      const got = counts(Array.from({ length: picks }, (_, i) => exchange(t, variedRequest(i), { responseTimeMs: 10, bytesReceived: 1000 })), weights.length);
      const total = weights.reduce((a, b) => a + b, 0);
      weights.forEach((weight, i) => {
        const expected = (picks * weight) / total;
        const error = Math.abs((got[i] as number) - expected) / expected;
        assert.ok(error <= 0.05, `server ${i}: ${got[i]} picks, expected ${expected} ±5% (got ${got.join('/')})`);
      });
    });
  });
}
