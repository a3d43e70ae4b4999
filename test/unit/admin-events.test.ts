/**
 * The event bus: the ring keeps the newest events with consecutive ids and `since` finds them after
 * eviction; subscribers get each event once; the rejections summary publishes only what a real
 * prom-client counter grew by since the previous reading.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { EventBus, type CounterSample, type GatehouseEvent } from '../../src/admin/events.js';

const reload = (file: string) => ({ type: 'reload' as const, ok: true, problems: [], file });

describe('EventBus', () => {
  test('a bounded ring: the newest events, consecutive ids, since and limit after eviction', () => {
    const bus = new EventBus({ capacity: 3 });
    assert.equal(bus.last, 0);
    assert.deepEqual(bus.since(0), []);
    for (let i = 1; i <= 5; i++) bus.publish(reload(`f${i}`));
    assert.equal(bus.last, 5);
    assert.equal(bus.oldest, 3);
    assert.deepEqual(bus.since(0).map((e) => e.id), [3, 4, 5]);
    assert.deepEqual(bus.since(3).map((e) => e.id), [4, 5]);
    assert.deepEqual(bus.since(3, 1).map((e) => e.id), [4]);
    assert.deepEqual(bus.since(5), []);
    assert.deepEqual(bus.since(99), []);
    assert.deepEqual(bus.since(0).map((e) => (e.type === 'reload' ? e.file : '')), ['f3', 'f4', 'f5']);
  });

  test('subscribers get each event once; a forwarded event keeps its time and worker; attributed names the actor only inside', () => {
    const bus = new EventBus();
    const seen: GatehouseEvent[] = [];
    const unsubscribe = bus.subscribe((event) => seen.push(event));
    bus.publish(reload('a'));
    const forwarded = bus.publish({ ...reload('b'), time: '2026-01-01T00:00:00.000Z', worker: 2 });
    assert.equal(forwarded.time, '2026-01-01T00:00:00.000Z');
    assert.equal(forwarded.worker, 2);
    unsubscribe();
    bus.publish(reload('c'));
    assert.deepEqual(seen.map((e) => e.id), [1, 2]);
    assert.equal(bus.subscribers, 0);
    assert.equal(bus.attributed('alice', () => 7), 7);
  });

  test('rejections: the first reading is the baseline, then only the growth, nothing when nothing grew', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'gatehouse_rejections_total', help: 'test', labelNames: ['site', 'status', 'substatus', 'reason'] as const, registers: [registry] });
    counter.labels({ site: 'badges', status: '403', substatus: '16', reason: 'CLIENT_CERT_UNTRUSTED' }).inc(4);
    const bus = new EventBus();
    bus.watchRejections(async () => (await counter.get()).values as CounterSample[], 60_000);
    try {
      await bus.summariseRejections();
      assert.equal(bus.last, 0, 'the baseline publishes nothing');
      counter.labels({ site: 'badges', status: '403', substatus: '16', reason: 'CLIENT_CERT_UNTRUSTED' }).inc(3);
      counter.labels({ site: 'web', status: '502', substatus: '3', reason: 'UPSTREAM_FAILED' }).inc();
      await bus.summariseRejections();
      const [event] = bus.since(0);
      assert.ok(event?.type === 'rejections');
      assert.equal(event.total, 4);
      assert.deepEqual(
        [...event.counts].sort((a, b) => a.site.localeCompare(b.site)),
        [
          { site: 'badges', status: '403.16', reason: 'CLIENT_CERT_UNTRUSTED', count: 3 },
          { site: 'web', status: '502.3', reason: 'UPSTREAM_FAILED', count: 1 },
        ],
      );
      await bus.summariseRejections();
      assert.equal(bus.last, 1, 'nothing grew: no event');
    } finally {
      bus.close();
    }
  });
});
