/**
 * What the certificate and site pages say after a write: done, a conflict (412: another user changed it;
 * the page's data is reloaded, nothing retried), a refused reload (409 with its reason), or the API's
 * problems, each shown next to the form field its key path names (`port`, `sites[0].ssl.trustedCaFile`),
 * the rest in a summary above the form. Also the reason the write actions are disabled for a role.
 */
import { useState } from 'preact/hooks';
import { ApiError, type ProblemField, type Role, type Whoami } from './api';

export type Notice = { readonly kind: 'done' | 'conflict' | 'error'; readonly text: string };

/** Problems per form field, and the ones no field owns (shown above the form). */
export interface FieldProblems {
  readonly byField: Readonly<Record<string, readonly ProblemField[]>>;
  readonly summary: readonly ProblemField[];
}

export const NO_PROBLEMS: FieldProblems = { byField: {}, summary: [] };

const RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, administrator: 2 };

/**
 * Why a page's writes are disabled for the signed-in user, or null when their role suffices (the API's
 * rule: operator for server state, health, counters and tracing rules; administrator for the rest).
 * `what` names the disabled actions, `need` overrides the sentence after the role.
 */
export function roleReason(who: Whoami, needs: Exclude<Role, 'viewer'>, options: { readonly what?: string; readonly need?: string } = {}): string | null {
  if (RANK[who.role] >= RANK[needs]) return null;
  const need = options.need ?? (needs === 'operator' ? 'they need operator or administrator' : 'they need administrator');
  return `${options.what ?? 'Actions'} are disabled: ${who.user} has the role ${who.role}; ${need}.`;
}

/** The write actions of these pages need an administrator: the reason they are disabled, or null. */
export const adminOnlyReason = (who: Whoami): string | null => roleReason(who, 'administrator');

/** The notice for a failed write of `what` on `thing` (the site, the certificate store). */
export function failureNotice(error: unknown, what: string, thing: string): Notice {
  if (!(error instanceof ApiError)) return { kind: 'error', text: `${what} failed: the admin API cannot be reached (${String(error)})` };
  if (error.status === 412) return { kind: 'conflict', text: `Another user changed ${thing} since it was shown: ${what} was not done. It has been reloaded; check it and try again.` };
  if (error.code === 'reload_refused') return { kind: 'error', text: `${what} was refused at reload, so nothing changed: ${error.message}` };
  if (error.code === 'invalid_config') return { kind: 'error', text: `${what} was not saved: the config would not be valid (the problems are shown below, as gatehouse validate prints them).` };
  if (error.code === 'invalid_body') return { kind: 'error', text: `${what} was not done: check the fields marked below.` };
  return { kind: 'error', text: `${what} failed: ${error.status} ${error.code}: ${error.message}` };
}

/**
 * The problems of an error by field: `fieldOf` names the form field a key path concerns (null: none).
 * A 409 reload_refused has only its reason (in the notice), so no field problems.
 */
export function problemsOf(error: unknown, fieldOf: (path: string) => string | null): FieldProblems {
  if (!(error instanceof ApiError) || (error.code !== 'invalid_config' && error.code !== 'invalid_body')) return NO_PROBLEMS;
  const byField: Record<string, ProblemField[]> = {};
  const summary: ProblemField[] = [];
  const errors = error.errors.length ? error.errors : [{ field: '(request)', message: error.message }];
  for (const problem of errors) {
    const field = fieldOf(problem.field);
    if (field) (byField[field] ??= []).push(problem);
    else summary.push(problem);
  }
  return { byField, summary };
}

/** One problem as `gatehouse validate` prints it: key path (and line), then the message. */
function ProblemText(props: { readonly problem: ProblemField }) {
  const { field, message, line } = props.problem;
  return (
    <>
      <code>
        {field}
        {line !== undefined ? ` (line ${line})` : ''}
      </code>
      : {message}
    </>
  );
}

/** The problems of one field, right below it; `id` lets the control point at them (aria-describedby). */
export function FieldProblem(props: { readonly id: string; readonly problems: FieldProblems; readonly field: string }) {
  const list = props.problems.byField[props.field];
  if (!list?.length) return null;
  return (
    <p class="field-problem" id={props.id} role="alert" data-field={props.field}>
      {list.map((problem, i) => (
        <span key={i}>
          <ProblemText problem={problem} />
        </span>
      ))}
    </p>
  );
}

/** The problems no field owns, above the form. */
export function ProblemSummary(props: { readonly problems: FieldProblems }) {
  if (!props.problems.summary.length) return null;
  return (
    <div class="problem-summary" role="alert" data-testid="problem-summary">
      <ul>
        {props.problems.summary.map((problem, i) => (
          <li key={i}>
            <ProblemText problem={problem} />
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A notice line: done (status), a conflict or an error (alert); `testId` for the tests (default `notice`). */
export function NoticeLine(props: { readonly notice: Notice | null; readonly testId?: string }) {
  const { notice } = props;
  if (!notice) return null;
  return (
    <p class={notice.kind === 'done' ? 'done' : 'error'} role={notice.kind === 'done' ? 'status' : 'alert'} data-testid={props.testId ?? 'notice'}>
      {notice.text}
    </p>
  );
}

/** The note that says why the actions are disabled (the buttons point at it with aria-describedby). */
export function DisabledReason(props: { readonly reason: string | null }) {
  if (!props.reason) return null;
  return (
    <p id="actions-disabled" class="note" data-testid="disabled-reason">
      {props.reason}
    </p>
  );
}

/** How a write ended: done, or not (and whether because another user changed the thing first: 412). */
export interface WriteOutcome {
  readonly done: boolean;
  readonly conflict: boolean;
}

export interface WriteSpec<T> {
  /** The action in words (`Apply`, `Add binding`) and what it changes (`site web`), for the notices. */
  readonly what: string;
  readonly thing: string;
  /** The form field a problem's key path concerns (null: the summary). */
  readonly fieldOf: (path: string) => string | null;
  readonly send: () => Promise<T>;
  readonly done: (answer: T) => string;
  /** A page's own words for some failures (null: the usual ones). */
  readonly failed?: (error: unknown) => Notice | null;
}

/** A page's writes: busy while one runs, its notice and field problems after, the page's data refreshed either way. */
export function useWrite(refresh: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [problems, setProblems] = useState<FieldProblems>(NO_PROBLEMS);
  const clear = () => {
    setNotice(null);
    setProblems(NO_PROBLEMS);
  };
  const run = async <T,>(spec: WriteSpec<T>): Promise<WriteOutcome> => {
    setBusy(true);
    clear();
    try {
      const answer = await spec.send();
      setNotice({ kind: 'done', text: spec.done(answer) });
      return { done: true, conflict: false };
    } catch (e) {
      setNotice(spec.failed?.(e) ?? failureNotice(e, spec.what, spec.thing));
      setProblems(problemsOf(e, spec.fieldOf));
      return { done: false, conflict: e instanceof ApiError && e.status === 412 };
    } finally {
      await refresh();
      setBusy(false);
    }
  };
  return { busy, notice, problems, run, clear };
}
