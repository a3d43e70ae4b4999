/**
 * A node:test reporter that writes only the failed tests (file, the test's path of names, the error's
 * message and the first lines of its stack), for the end of `npm test`'s output: CI keeps the tail of a
 * long log, and a failure must be readable there. run-tests.ts runs it beside the spec reporter, with
 * GATEHOUSE_FAILURE_SUMMARY naming the file. Each failure is appended to it synchronously as it happens,
 * so a run that is stopped (its time limit) still leaves the failures seen so far. A failed browser test's
 * diagnostics that describe its pages (test/support/browser.ts) follow the failure.
 */
import { appendFileSync } from 'node:fs';
interface FailEvent {
  readonly type: string;
  readonly data: { readonly message?: string; readonly name: string; readonly nesting: number; readonly file?: string; readonly details?: { readonly error?: unknown; readonly type?: string } };
}

const STACK_LINES = 6;
/** Kept in step with PAGE_STATE_PREFIX in test/support/browser.ts (the reporter does not import tests). */
const PAGE_STATE_PREFIX = 'page when closed:';
/** A message longer than this (a child's whole output in it) keeps its first lines. */
const MESSAGE_LINES = 40;

function describeError(error: unknown): string {
  // The runner wraps the test's own error in ERR_TEST_FAILURE with the original as `cause`.
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (!(inner instanceof Error)) return String(inner);
  const lines = inner.message.split('\n');
  const message = lines.length > MESSAGE_LINES ? [...lines.slice(0, MESSAGE_LINES), `… (${lines.length - MESSAGE_LINES} more lines above, in the full log)`].join('\n') : inner.message;
  const stack = (inner.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)).slice(0, STACK_LINES).join('\n');
  return `${message}${stack ? `\n${stack}` : ''}`;
}

export default async function* failureSummary(source: AsyncIterable<FailEvent>): AsyncGenerator<string> {
  const path: string[] = [];
  const file = process.env.GATEHOUSE_FAILURE_SUMMARY;
  for await (const event of source) {
    if (event.type === 'test:diagnostic' && event.data.message?.startsWith(PAGE_STATE_PREFIX)) {
      // A test's diagnostics are reported right after its result: these belong to the failure above.
      if (file) appendFileSync(file, `${event.data.message.replace(/^/gm, '    ')}\n\n`);
      continue;
    }
    if (event.type === 'test:start') path[event.data.nesting] = event.data.name;
    if (event.type !== 'test:fail') continue;
    // A suite fails because a test in it did: that test is already listed.
    if (event.data.details?.type === 'suite') continue;
    const names = [...path.slice(0, event.data.nesting), event.data.name].join(' › ');
    const text = `✖ ${event.data.file ?? '(file unknown)'}\n  ${names}\n${describeError(event.data.details?.error).replace(/^/gm, '    ')}\n\n`;
    if (file) appendFileSync(file, text);
  }
  yield '';
}
