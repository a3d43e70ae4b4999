import assert from 'node:assert/strict';
import { test } from 'node:test';
import { weightedRoundRobinBalancer } from '../../src/farm/balancers/weighted-round-robin.js';
import { FarmServer } from '../../src/farm/farm-server.js';

function servers(...weights: number[]): FarmServer[] {
  return weights.map((weight, i) => new FarmServer({ address: `10.0.0.${i + 1}:80`, host: `10.0.0.${i + 1}`, port: 80, weight, enabled: true, state: 'available' as const }));
}

function picks(list: FarmServer[], n: number): string[] {
  return Array.from({ length: n }, () => weightedRoundRobinBalancer.pick(list)?.address ?? 'none');
}

test('weighted round robin spreads 300/100 as 3:1', () => {
  const list = servers(300, 100);
  const counts = picks(list, 400).reduce<Record<string, number>>((acc, a) => ({ ...acc, [a]: (acc[a] ?? 0) + 1 }), {});
  assert.deepEqual(counts, { '10.0.0.1:80': 300, '10.0.0.2:80': 100 });
});

test('weighted round robin is smooth: 200/100 never picks the heavy server three times in a row', () => {
  const sequence = picks(servers(200, 100), 60).join(',');
  assert.ok(!sequence.includes('10.0.0.1:80,10.0.0.1:80,10.0.0.1:80'), sequence);
});

test('weighted round robin skips unavailable servers and the excluded one, and returns undefined when none is left', () => {
  const list = servers(100, 100, 100);
  (list[1] as FarmServer).isAvailable = false;
  assert.ok(picks(list, 20).every((a) => a !== '10.0.0.2:80'));
  assert.equal(weightedRoundRobinBalancer.pick(list, list[0])?.address, '10.0.0.3:80');
  (list[0] as FarmServer).isAvailable = false;
  (list[2] as FarmServer).isAvailable = false;
  assert.equal(weightedRoundRobinBalancer.pick(list), undefined);
});
