/** What the primary and its workers say to each other over the cluster IPC channel (structured clone). */
import type { BoundListener } from '../app.js';
import type { ReloadSummary } from '../admin/context.js';
import type { GatehouseEvent } from '../admin/events.js';
import type { FarmView } from '../admin/farm-view.js';
import type { FarmOperation, OperationOutcome } from '../admin/operations.js';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ClientCertificateEntry } from '../tls/client-certificate-inventory.js';

/** A farm operation as applied, with who asked (the health reason names them). */
export interface AppliedOperation {
  readonly operation: FarmOperation;
  readonly actor: string;
}

/**
 * What the primary can ask a worker (calls.ts), by name: the arguments it sends and the value the worker
 * answers with. A new question is one line here and one `answer(name, handler)` in the worker.
 */
export interface Asks {
  /** The worker's farms, as localFarmRuntime shows them. */
  'farms.list': { args: null; value: FarmView[] };
  /** The part of a farm an operation touches, in this worker. */
  'farms.current': { args: { operation: FarmOperation }; value: Record<string, unknown> };
  /** Applies an operation to this worker's farms. */
  'farms.apply': { args: AppliedOperation; value: OperationOutcome };
  /** Reloads the config file; answers with the worker's result (Gatehouse.lastReload). */
  'gatehouse.reload': { args: null; value: ReloadSummary };
  /** The worker's gatehouse_rejections_total as prom-client gives it (the primary sums them: its rejections summary). */
  'metrics.rejections': { args: null; value: MetricObjectWithValues<MetricValue<string>> | null };
  /** The client certificates this worker has seen (the primary merges them: mergeSnapshots). */
  'clientCertificates.snapshot': { args: null; value: ClientCertificateEntry[] };
}

export type AskName = keyof Asks;

/** How a worker's handler failed: an ApiProblem's fields, or an error's message. */
export interface AnswerError {
  readonly message: string;
  readonly problem?: { readonly status: number; readonly code: string; readonly title: string };
}

export type ToWorker =
  /** `operations`: the run-time state applied so far, for the worker to apply before it serves. */
  | { type: 'start'; configFile: string; ticketKeyHex: string; operations: AppliedOperation[] }
  | { type: 'stop' }
  | { type: 'ask'; id: number; name: AskName; args: unknown };

export type ToPrimary =
  | { type: 'ready' }
  | { type: 'listening'; bound: BoundListener[] }
  | { type: 'failed'; message: string }
  | { type: 'stopped' }
  /** A health or state change in this worker's farms (one-way: cluster/events.ts). */
  | { type: 'event'; event: GatehouseEvent }
  | { type: 'answer'; id: number; ok: true; value: unknown }
  | { type: 'answer'; id: number; ok: false; error: AnswerError };

/** Environment variable that marks a process as a Gatehouse worker. */
export const WORKER_ENV = 'GATEHOUSE_WORKER';
