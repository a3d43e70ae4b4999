/**
 * Questions from the primary to its workers over the cluster IPC channel: the primary sends
 * `{ type: 'ask', id, name, args }`, the worker answers `{ type: 'answer', id, ok, value | error }`
 * (answers.ts). A worker that does not answer within the timeout, or stops or disconnects before it
 * answers, fails the call with ApiProblem 503 worker_unavailable naming its pid; nothing waits forever.
 * A handler's ApiProblem (a 404, say) arrives as the same ApiProblem.
 */
import type { Worker } from 'node:cluster';
import { ApiProblem, type ProblemCode } from '../admin/problem.js';
import type { AnswerError, AskName, Asks, ToPrimary, ToWorker } from './messages.js';

/** How long a worker has to answer (a reload, which builds TLS contexts, is given longer by its caller). */
export const ASK_TIMEOUT_MS = 5_000;

/** One worker's answer to a question asked of several. */
export type WorkerAnswer<T> = { readonly pid: number; readonly ok: true; readonly value: T } | { readonly pid: number; readonly ok: false; readonly error: ApiProblem };

interface Pending {
  readonly worker: Worker;
  readonly name: AskName;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: ApiProblem) => void;
  readonly timer: NodeJS.Timeout;
}

export function workerUnavailable(pid: number | undefined, name: string, why: string): ApiProblem {
  return new ApiProblem(503, 'worker_unavailable', 'Service Unavailable', `worker ${pid ?? '(no pid)'} ${why} (asked '${name}'); try again: a worker that stopped is replaced`);
}

/** A worker's failure as the ApiProblem it threw, or a 500 naming the worker. */
function problemOf(pid: number | undefined, error: AnswerError): ApiProblem {
  if (error.problem) return new ApiProblem(error.problem.status, error.problem.code as ProblemCode, error.problem.title, error.message);
  return new ApiProblem(500, 'worker_failed', 'Internal Server Error', `worker ${pid ?? '(no pid)'}: ${error.message}`);
}

export class WorkerCalls {
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(readonly timeoutMs = ASK_TIMEOUT_MS) {}

  /** Hears `worker`'s answers, and fails its calls when it stops or its channel closes. Call once per fork. */
  watch(worker: Worker): void {
    worker.on('message', (message: ToPrimary) => {
      if (message.type !== 'answer') return;
      const pending = this.#take(message.id);
      if (!pending) return; // answered after its timeout
      if (message.ok) pending.resolve(message.value);
      else pending.reject(problemOf(worker.process.pid, message.error));
    });
    worker.on('disconnect', () => this.#failAll(worker, 'disconnected before answering'));
    worker.on('exit', (code: number | null, signal: string | null) => this.#failAll(worker, `stopped (${signal ?? `exit code ${code}`}) before answering`));
  }

  /** Asks one worker; rejects with ApiProblem (the worker's own, or 503 worker_unavailable). */
  ask<K extends AskName>(worker: Worker, name: K, args: Asks[K]['args'], timeoutMs = this.timeoutMs): Promise<Asks[K]['value']> {
    const pid = worker.process.pid;
    if (!worker.isConnected()) return Promise.reject(workerUnavailable(pid, name, 'is not connected'));
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => this.#take(id)?.reject(workerUnavailable(pid, name, `did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.#pending.set(id, { worker, name, resolve: resolve as (value: unknown) => void, reject, timer });
      worker.send({ type: 'ask', id, name, args } satisfies ToWorker, (error: Error | null) => {
        if (error) this.#take(id)?.reject(workerUnavailable(pid, name, `cannot be reached (${error.message})`));
      });
    });
  }

  /** Asks every worker in `workers` at once; each answer or failure, in the workers' order. */
  askEach<K extends AskName>(workers: readonly Worker[], name: K, args: Asks[K]['args'], timeoutMs = this.timeoutMs): Promise<WorkerAnswer<Asks[K]['value']>[]> {
    return Promise.all(
      workers.map((worker) =>
        this.ask(worker, name, args, timeoutMs).then(
          (value) => ({ pid: worker.process.pid ?? 0, ok: true as const, value }),
          (error: ApiProblem) => ({ pid: worker.process.pid ?? 0, ok: false as const, error }),
        ),
      ),
    );
  }

  #take(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #failAll(worker: Worker, why: string): void {
    for (const [id, pending] of this.#pending) {
      if (pending.worker === worker) this.#take(id)?.reject(workerUnavailable(worker.process.pid, pending.name, why));
    }
  }
}

/**
 * The values of answers that must all have come: the failure otherwise. When every worker refused alike
 * with a client error (a 404), that problem; else the first worker's failure, its detail naming every
 * worker that failed.
 */
export function everyValue<T>(answers: readonly WorkerAnswer<T>[]): T[] {
  const failed = answers.filter((answer) => !answer.ok);
  if (failed.length === 0) return answers.map((answer) => (answer as { value: T }).value);
  const first = (failed[0] as { error: ApiProblem }).error;
  if (failed.length === answers.length && first.status < 500 && failed.every((answer) => !answer.ok && answer.error.code === first.code)) throw first;
  if (failed.length === 1) throw first;
  const detail = failed.map((answer) => (answer.ok ? '' : answer.error.message)).join('; ');
  throw new ApiProblem(first.status, first.code, first.title, detail);
}
