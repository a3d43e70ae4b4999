/** What the admin API reads and changes: the running Gatehouse (one process) or the cluster's primary. */
import type { Config } from '../config/model.js';
import type { EventLog } from '../tracing/log.js';
import type { ClientCertificateEntry } from '../tls/client-certificate-inventory.js';
import type { AuditLog } from './audit-log.js';
import type { EventBus } from './events.js';
import type { FarmRuntime } from './farm-runtime.js';

/** The last reload, as app.ts keeps it (Gatehouse.lastReload). */
export interface ReloadSummary {
  readonly atMs: number;
  readonly file: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

export interface AdminContext {
  /** The config in force (a reload replaces it). */
  config(): Config;
  /** The farms in force, wherever they live. */
  readonly farms: FarmRuntime;
  lastReload(): ReloadSummary | undefined;
  /**
   * Reloads the config file in force (as SIGHUP does; every worker with several) and resolves with the
   * reload's result once it is in force or refused.
   */
  reload(): Promise<ReloadSummary>;
  /** When this process started serving (epoch ms). */
  readonly startedAtMs: number;
  readonly workers: number;
  readonly audit: AuditLog;
  readonly eventLog?: EventLog;
  /** The events (GET /events, the stream): this process's bus, or the primary's (the workers forward theirs). */
  readonly events: EventBus;
  /** The client certificates seen since start (one process: its inventory; several: the workers' merged). */
  readonly clientCertificates?: () => Promise<ClientCertificateEntry[]>;
}
