/**
 * The admin API's events with several workers: the primary keeps the one bus that GET /events and the
 * stream read; each worker's own bus (its farms report to it) forwards what only the workers see.
 *
 * Each event appears once per cluster, except what each worker observes for itself:
 * - `reload`, `admin`, `certificate`, `rejections`: published by the primary only (it knows a reload's
 *   combined result, serves the admin API, and sums the workers' rejection counters). Workers forward
 *   none of them (they run no rejections timer).
 * - `state` changes and `health` marks by an administrator (`source: admin`): applied alike in every
 *   worker (by the primary's operation, or by a reload), so the primary publishes them from one worker
 *   only, the reporter (the longest-serving one), without `worker`.
 * - other `health` changes (the URL health test, live traffic, a retry): each worker tests for itself, so
 *   each worker's verdict is published, with `worker` set to its pid.
 * A forwarded event keeps its time; the primary's bus gives it its own id.
 */
import type { EventBus, GatehouseEvent } from '../admin/events.js';
import type { ToPrimary } from './messages.js';

/** Applied alike in every worker: published from one. */
function isClusterWide(event: GatehouseEvent): boolean {
  return event.type === 'state' || (event.type === 'health' && event.source === 'admin');
}

/** In a worker: sends its bus's health and state events to the primary from now on; returns the unsubscribe. */
export function forwardEvents(bus: EventBus, send: (message: ToPrimary) => void): () => void {
  return bus.subscribe((event) => {
    if (event.type === 'health' || event.type === 'state') send({ type: 'event', event });
  });
}

/**
 * In the primary: publishes an event a worker forwarded (see the rules above). `isReporter`: the
 * worker is the one whose cluster-wide events are published.
 */
export function publishForwarded(bus: EventBus, event: GatehouseEvent, pid: number, isReporter: boolean): void {
  const { id: _id, worker: _worker, ...input } = event;
  if (isClusterWide(event)) {
    if (isReporter) bus.publish(input);
    return;
  }
  bus.publish({ ...input, worker: pid });
}
