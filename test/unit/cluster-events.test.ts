/**
 * The cluster's events in the primary: which forwarded events are published (a state change or an
 * administrator's mark from one worker only, a health test's verdict from each, with its pid), and the
 * rejections counter summed over two workers' real prom-client counters (the reading that feeds the
 * bus's summary: no count twice, a worker without metrics ignored).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { EventBus, type EventInput, type GatehouseEvent } from '../../src/admin/events.js';
import { publishForwarded } from '../../src/cluster/events.js';
import { clusterRejections } from '../../src/cluster/metrics.js';

/** An event as a worker's own bus numbered it. */
const inWorker = (event: EventInput, id: number): GatehouseEvent => ({ ...event, id, time: '2026-01-01T00:00:00.000Z' }) as GatehouseEvent;

describe('cluster events', () => {
  test('state changes and admin marks are published from the reporter only; health test verdicts from each worker, naming it', () => {
    const bus = new EventBus();
    const state = inWorker({ type: 'state', farm: 'web', server: 'a:1', from: 'available', to: 'drain', by: 'token user ops' }, 7);
    const mark = inWorker({ type: 'health', farm: 'web', server: 'a:1', healthy: false, reason: 'marked by ops', source: 'admin' }, 8);
    const verdict = inWorker({ type: 'health', farm: 'web', server: 'b:1', healthy: false, reason: 'URL test: refused', source: 'urlTest' }, 9);
    for (const [pid, isReporter] of [[101, true], [102, false]] as const) {
      for (const event of [state, mark, verdict]) publishForwarded(bus, event, pid, isReporter);
    }
    const events = bus.since(0);
    assert.deepEqual(events.map((e) => [e.id, e.type, e.worker]), [[1, 'state', undefined], [2, 'health', undefined], [3, 'health', 101], [4, 'health', 102]]);
    assert.ok(events.every((e) => e.time === '2026-01-01T00:00:00.000Z'), 'the worker\'s time kept, the primary\'s ids');
  });

  test('the rejections counter summed over the workers\' counters, by labels', async () => {
    const workers = [new Registry(), new Registry()].map((registry) => ({ registry, counter: new Counter({ name: 'gatehouse_rejections_total', help: 'h', labelNames: ['site', 'status', 'substatus', 'reason'] as const, registers: [registry] }) }));
    const [first, second] = workers as [(typeof workers)[0], (typeof workers)[0]];
    first.counter.inc({ site: 'web', status: 403, substatus: 16, reason: 'untrusted' }, 2);
    second.counter.inc({ site: 'web', status: 403, substatus: 16, reason: 'untrusted' }, 3);
    second.counter.inc({ site: 'api', status: 502, substatus: 3, reason: 'noServer' });
    const read = clusterRejections(async () => [...(await Promise.all(workers.map(({ counter }) => counter.get()))), null]);
    const samples = (await read()).map((s) => [s.labels['site'], s.labels['status'], s.labels['substatus'], s.value]).sort();
    assert.deepEqual(samples, [['api', 502, 3, 1], ['web', 403, 16, 5]]);
    assert.deepEqual(await clusterRejections(async () => [])(), [], 'no worker yet: nothing');
    // Through the bus: a baseline, then only the growth, summed.
    const bus = new EventBus();
    bus.watchRejections(read, 3_600_000);
    await bus.summariseRejections();
    first.counter.inc({ site: 'web', status: 403, substatus: 16, reason: 'untrusted' });
    second.counter.inc({ site: 'web', status: 403, substatus: 16, reason: 'untrusted' }, 2);
    await bus.summariseRejections();
    bus.close();
    const summaries = bus.since(0);
    assert.equal(summaries.length, 1);
    assert.ok(summaries[0]?.type === 'rejections' && summaries[0].total === 3 && summaries[0].counts[0]?.status === '403.16');
  });
});
