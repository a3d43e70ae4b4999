/**
 * A worker's side of the primary's questions (calls.ts): a registry `name → handler(args) → value`;
 * each ask is answered with the handler's value or how it failed (an ApiProblem keeps its status and
 * code). A feature that the primary must ask every worker about registers one handler.
 */
import { ApiProblem } from '../admin/problem.js';
import type { AnswerError, AskName, Asks, ToPrimary, ToWorker } from './messages.js';

type Handler = (args: unknown) => unknown;

const handlers = new Map<AskName, Handler>();

/** Registers the answer to `name` (one per name; a later one replaces it). */
export function answer<K extends AskName>(name: K, handler: (args: Asks[K]['args']) => Asks[K]['value'] | Promise<Asks[K]['value']>): void {
  handlers.set(name, handler as Handler);
}

function errorOf(error: unknown): AnswerError {
  if (error instanceof ApiProblem) return { message: error.message, problem: { status: error.status, code: error.code, title: error.title } };
  return { message: error instanceof Error ? error.message : String(error) };
}

/** Answers one ask through `send` (the IPC channel). */
export async function answerAsk(message: Extract<ToWorker, { type: 'ask' }>, send: (message: ToPrimary) => void): Promise<void> {
  const handler = handlers.get(message.name);
  try {
    if (!handler) throw new Error(`this worker has no answer for '${message.name}'`);
    const value = await handler(message.args);
    send({ type: 'answer', id: message.id, ok: true, value });
  } catch (error) {
    send({ type: 'answer', id: message.id, ok: false, error: errorOf(error) });
  }
}
