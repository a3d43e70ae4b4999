/**
 * Starts the admin listener with the admin API over a context (the running Gatehouse, or the cluster's
 * primary): the audit log beside the config (or admin.auditLog), the API, /metrics open or authenticated.
 * Closing the listener closes the audit log.
 */
import { resolve } from 'node:path';
import type { AdminSettings } from '../config/admin-schema.js';
import type { EventLog } from '../tracing/log.js';
import { startAdminServer, type AdminServer, type MetricsSource } from './admin-server.js';
import { createAdminApi } from './api.js';
import { AuditLog } from './audit-log.js';
import type { AdminContext } from './context.js';

export async function startAdminListener(settings: AdminSettings, metrics: MetricsSource, source: Omit<AdminContext, 'audit' | 'eventLog'>, eventLog?: EventLog): Promise<AdminServer> {
  const audit = new AuditLog(settings.auditLogFile ?? resolve('audit.log'));
  const api = createAdminApi({ ...source, audit, ...(eventLog ? { eventLog } : {}) });
  // Read at each request: a reload that turns metrics to authenticated closes /metrics at once (kept as at start if the key goes).
  const metricsMode = () => source.config().admin?.metrics ?? settings.metrics ?? 'open';
  const server = await startAdminServer(settings, metrics, { ...(eventLog ? { eventLog } : {}), api, metrics: metricsMode });
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    address: server.address,
    port: server.port,
    server: server.server,
    reload: (next) => server.reload(next),
    close: () => (closing ??= server.close().then(() => audit.close())),
  };
}
