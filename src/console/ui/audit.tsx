/**
 * Audit: who changed what, when, and the result (GET /audit), newest first. The log keeps two lines per
 * write (attempt, then result, with one id): they are shown as one row with the operation, its target,
 * the result (Applied / Unchanged / Failed with the status and code) and before → after. Filters by user
 * and result, and older pages (`before` = the answer's `next`).
 */
import { useState } from 'preact/hooks';
import { get } from './api';
import { when } from './format';
import { useLive } from './live';
import { ErrorLine } from './notice';

interface AuditLine {
  readonly time: string;
  readonly id: string;
  readonly phase: 'attempt' | 'result';
  readonly who: Readonly<Record<string, string>>;
  readonly action: string;
  readonly target: Readonly<Record<string, unknown>>;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly result?: 'applied' | 'unchanged' | 'failed';
  readonly reason?: string;
  readonly operation?: unknown;
}
interface AuditPage {
  readonly file: string;
  readonly entries: readonly AuditLine[];
  readonly next: number | null;
}

/** One write: its attempt and result lines together. */
interface Write {
  readonly id: string;
  time: string;
  who: Readonly<Record<string, string>>;
  action: string;
  target: Record<string, unknown>;
  operation?: unknown;
  before?: unknown;
  after?: unknown;
  result?: AuditLine['result'];
  reason?: string;
}

export function writesOf(lines: readonly AuditLine[]): Write[] {
  const byId = new Map<string, Write>();
  for (const line of lines) {
    const { operation: inTarget, ...target } = line.target;
    const write = byId.get(line.id) ?? { id: line.id, time: line.time, who: line.who, action: line.action, target };
    // A Map keeps the first insertion's place: re-insert so the order is that of each write's last line.
    byId.delete(line.id);
    byId.set(line.id, write);
    write.time = line.time;
    if (inTarget !== undefined) write.operation = inTarget;
    if (line.operation !== undefined) write.operation = line.operation;
    if (line.before !== undefined) write.before = line.before;
    if (line.after !== undefined) write.after = line.after;
    if (line.result !== undefined) write.result = line.result;
    if (line.reason !== undefined) write.reason = line.reason;
  }
  return [...byId.values()].reverse();
}

const RESULT_NAMES: Readonly<Record<string, string>> = { applied: 'Applied', unchanged: 'Unchanged', failed: 'Failed' };
/** A before / after value in words: `key: value, …` for an object (strings as they are), JSON otherwise. */
export function compact(value: unknown): string {
  if (value === undefined) return '';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value);
  return Object.entries(value)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

function whoOf(who: Readonly<Record<string, string>>): { name: string; how: string } {
  return who.via === 'token' ? { name: who.user ?? '?', how: `token · ${who.role ?? ''}` } : { name: who.subject ?? who.thumbprint ?? '?', how: `client certificate · ${who.role ?? ''}` };
}

function operationOf(write: Write): string {
  const op = write.operation as Record<string, unknown> | undefined;
  if (!op || typeof op !== 'object') return '';
  const { type, ...rest } = op;
  const details = Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${String(type ?? '')}${details.length ? ` (${details.join(', ')})` : ''}`;
}

function ResultCell(props: { readonly write: Write }) {
  const { result, reason } = props.write;
  const status = reason ? /^(\d{3}) (\w+): ([\s\S]*)$/.exec(reason) : null;
  return (
    <td data-col="result" class={result === 'failed' ? 'error' : result ? 'ok' : 'warn'}>
      <strong>{result ? RESULT_NAMES[result] : 'No result recorded'}</strong>
      {status ? (
        <>
          {' '}
          <code>
            {status[1]} {status[2]}
          </code>
          <div class="audit-reason">{status[3]}</div>
        </>
      ) : (
        reason && <div class="audit-reason">{reason}</div>
      )}
    </td>
  );
}

interface Filter {
  readonly user: string;
  readonly result: string;
}

const PAGE = 50;

export function AuditPage(props: { readonly eventTick: number }) {
  const [filter, setFilter] = useState<Filter>({ user: '', result: '' });
  const [draft, setDraft] = useState<Filter>(filter);
  /** The cursors of the pages shown so far (undefined: the newest). */
  const [cursors, setCursors] = useState<readonly (number | undefined)[]>([undefined]);
  const before = cursors.at(-1);
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (before !== undefined) query.set('before', String(before));
  if (filter.user) query.set('user', filter.user);
  if (filter.result) query.set('result', filter.result);
  const path = `/audit?${query.toString()}`;
  const { data, error } = useLive(async () => (await get<AuditPage>(path)).body, props.eventTick, [path]);
  const writes = data ? writesOf(data.entries) : [];

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit</h1>
      <p class="hint">Every write through the admin API: who, when, what, and the result{data ? <>, from <code>{data.file}</code></> : ''}.</p>
      <form
        class="filters"
        aria-label="Filter the audit"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ user: draft.user.trim(), result: draft.result });
          setCursors([undefined]);
        }}
      >
        <label for="audit-user">User</label>
        <input id="audit-user" type="search" value={draft.user} placeholder="name, subject or thumbprint" onInput={(e) => setDraft({ ...draft, user: (e.target as HTMLInputElement).value })} />
        <label for="audit-result">Result</label>
        <select id="audit-result" value={draft.result} onChange={(e) => setDraft({ ...draft, result: (e.target as HTMLSelectElement).value })}>
          <option value="">Any</option>
          <option value="applied">Applied</option>
          <option value="unchanged">Unchanged</option>
          <option value="failed">Failed</option>
        </select>
        <button type="submit">Filter</button>
      </form>
      <ErrorLine text={error} />
      {!data ? (
        !error && <p class="loading">Loading…</p>
      ) : writes.length === 0 ? (
        <p>No writes{filter.user || filter.result ? ' match the filter' : ' yet'}.</p>
      ) : (
        <div class="scroll">
          <table class="audit">
            <caption>{before === undefined ? 'The newest writes first' : 'Older writes, newest first'}</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Operation</th>
                <th scope="col">Target</th>
                <th scope="col">Result</th>
                <th scope="col">Before → after</th>
              </tr>
            </thead>
            <tbody>
              {writes.map((w) => {
                const who = whoOf(w.who);
                const target = Object.entries(w.target).map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
                return (
                  <tr key={w.id} data-audit={w.id} data-action={w.action}>
                    <td class="nowrap">{when(w.time)}</td>
                    <td data-col="who">
                      {who.name}
                      <div class="audit-reason">{who.how}</div>
                    </td>
                    <td data-col="operation">
                      <code>{w.action}</code>
                      {operationOf(w) && <div class="audit-reason">{operationOf(w)}</div>}
                    </td>
                    <td>{target.length ? target.join(', ') : '–'}</td>
                    <ResultCell write={w} />
                    <td class="audit-change">
                      {w.before !== undefined || w.after !== undefined ? (
                        <>
                          <code>{compact(w.before) || '–'}</code> → <code>{compact(w.after) || '–'}</code>
                        </>
                      ) : (
                        '–'
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <div class="toolbar">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>{' '}
        <button type="button" disabled={!data || data.next === null} onClick={() => data && data.next !== null && setCursors([...cursors, data.next])}>
          Older
        </button>
      </div>
    </section>
  );
}
