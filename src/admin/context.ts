/** What the admin API reads and changes: the running Gatehouse (one process) or the cluster's primary. */
import type { Config } from '../config/model.js';
import type { FarmState } from '../farm/farm-state.js';
import type { EventLog } from '../tracing/log.js';
import type { AuditLog } from './audit-log.js';

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
  /** The farms in force; undefined where they do not live (the primary of several workers). */
  farms(): ReadonlyMap<string, FarmState> | undefined;
  lastReload(): ReloadSummary | undefined;
  /** When this process started serving (epoch ms). */
  readonly startedAtMs: number;
  readonly workers: number;
  /**
   * Why farm reads and run-time writes are not served here (503 cluster_unsupported), when they are not:
   * with several workers each worker holds its own farms and this slice cannot yet reach them all.
   */
  readonly clusterReason?: string;
  readonly audit: AuditLog;
  readonly eventLog?: EventLog;
}
