/** What the primary and its workers say to each other over the cluster IPC channel. */
import type { BoundListener } from '../app.js';

export type ToWorker = { type: 'start'; configFile: string; ticketKeyHex: string } | { type: 'stop' } | { type: 'reload' };

export type ToPrimary =
  | { type: 'ready' }
  | { type: 'listening'; bound: BoundListener[] }
  | { type: 'failed'; message: string }
  | { type: 'stopped' };

/** Environment variable that marks a process as a Gatehouse worker. */
export const WORKER_ENV = 'GATEHOUSE_WORKER';
