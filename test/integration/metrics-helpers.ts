/**
 * Helpers for the metrics integration tests: a harness that adds a GatehouseMetrics collector to a
 * Gatehouse started by test/support/gatehouse.ts.
 */
import type { Server } from 'node:http';
import { createRequestHandler } from '../../src/proxy/handler.js';
import { AccessLog } from '../../src/tracing/access-log.js';
import type { EventLog } from '../../src/tracing/log.js';
import type { RequestObserver } from '../../src/tracing/request-record.js';
import type { HandshakeObserver } from '../../src/tracing/metrics.js';
import { observeTlsHandshakes } from '../../src/tracing/metrics-tls.js';
import type { RunningGatehouse } from '../support/gatehouse.js';

export { parseExposition, scrape, type Exposition, type Sample } from './metrics-exposition.js';

/**
 * Until app.ts passes a collector to the request handlers itself: replaces each listener's request handler
 * with one built from the same ListenerRuntime (the real request path, createRequestHandler) whose deps
 * hold `observer`, and reports the https listeners' handshakes as app.ts will (observeTlsHandshakes).
 * The access log is off in these tests; events go to the running Gatehouse's captured list.
 */
export function addObserver(running: RunningGatehouse, observer: RequestObserver & HandshakeObserver): void {
  const eventLog: EventLog = { info: (m) => running.events.push(`info ${m}`), warn: (m) => running.events.push(`warn ${m}`), error: (m) => running.events.push(`error ${m}`) };
  const deps = { accessLog: new AccessLog({ kind: 'off' }), eventLog, observers: [observer] };
  for (const listener of running.gatehouse.listeners) {
    const server = listener.server as Server | undefined;
    if (!server) continue;
    server.removeAllListeners('request');
    server.on('request', createRequestHandler(listener, deps));
    observeTlsHandshakes(server, listener, observer);
  }
}
