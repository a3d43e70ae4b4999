/**
 * Config: the config file (GET /config) with line numbers, editable by an administrator (Save: PUT /config
 * with If-Match, the ETag as loaded), its history (GET /config/history) with a diff of a version against
 * the current config or the version before it, and Restore (POST /config/history/{id}/restore, confirmed
 * first). A refused save shows why: the `FILE:LINE key.path: message` problems (each one jumps to its line),
 * a refused reload (the file put back), or another user's change (412: the current config is reloaded and
 * the user's text kept below, never written over the other change). Viewers and operators read; their
 * Save and Restore are disabled with the reason.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, get, type Whoami } from './api';
import { DiffView, type DiffSpec } from './config-diff';
import { bytes, when } from './format';
import { useLive } from './live';
import { ErrorLine } from './notice';
import type { ConfigVersion } from '../../shared/config-version';
import { roleReason } from './problems';

interface ConfigText {
  readonly file: string;
  readonly yaml: string;
  readonly etag: string;
  readonly redacted: boolean;
}
interface History {
  readonly folder: string;
  readonly keep: number;
  readonly versions: readonly ConfigVersion[];
}
interface WriteAnswer {
  readonly changed: boolean;
  readonly etag: string;
  readonly warnings: readonly string[];
  readonly reload: { readonly ok: boolean; readonly problems: readonly string[]; readonly at: string };
}

/** One `FILE:LINE key.path: message` line of a 422 invalid_config (its detail holds them, one a line). */
export interface Problem {
  readonly line: number | null;
  readonly field: string;
  readonly message: string;
}

export function problemsOf(detail: string, file: string): Problem[] {
  return detail
    .split('\n')
    .filter(Boolean)
    .map((text) => {
      const rest = text.startsWith(`${file}:`) ? text.slice(file.length + 1) : text;
      const match = /^(\d+) (\S+?): ([\s\S]*)$/.exec(rest);
      return match ? { line: Number(match[1]), field: match[2] as string, message: match[3] as string } : { line: null, field: '(file)', message: rest };
    });
}

type Notice = { readonly kind: 'done' | 'invalid' | 'refused' | 'conflict' | 'error'; readonly text: string };
type Kept = { readonly text: string; readonly why: string };

const describe = (e: unknown) => (e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e));
const versionName = (v: ConfigVersion) => `the version replaced ${when(v.time)}`;

export function ConfigPage(props: { readonly who: Whoami; readonly eventTick: number }) {
  const { who } = props;
  const disabledBy = roleReason(who, 'administrator', { what: 'Save and Restore' });
  const canWrite = disabledBy === null;
  const reason = disabledBy ?? '';
  const [base, setBase] = useState<ConfigText | null>(null);
  const [text, setText] = useState('');
  const [loadError, setLoadError] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [problems, setProblems] = useState<readonly Problem[]>([]);
  const [kept, setKept] = useState<Kept | null>(null);
  const [highlight, setHighlight] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [diff, setDiff] = useState<DiffSpec | null>(null);
  const [confirm, setConfirm] = useState<ConfigVersion | null>(null);
  const history = useLive(async () => (await get<History>('/config/history')).body, props.eventTick);
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLPreElement>(null);
  const view = useRef<HTMLPreElement>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  /** Loads the config in force; the editor takes it (what it held is the caller's to keep). */
  const load = async (): Promise<ConfigText | null> => {
    try {
      const answer = (await get<ConfigText>('/config')).body;
      setBase(answer);
      setText(answer.yaml);
      setLoadError(null);
      return answer;
    } catch (e) {
      setLoadError(describe(e));
      return null;
    }
  };
  useEffect(() => void load(), []);
  useEffect(() => {
    if (confirm) dialog.current?.showModal();
    else dialog.current?.close();
  }, [confirm]);

  const dirty = base !== null && text !== base.yaml;

  const showLine = (line: number) => {
    setHighlight(line);
    const lines = text.split('\n');
    if (canWrite && area.current) {
      const el = area.current;
      const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
      el.focus();
      el.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
      const height = parseFloat(getComputedStyle(el).lineHeight) || 20;
      el.scrollTop = Math.max(0, (line - 1) * height - el.clientHeight / 3);
      if (gutter.current) gutter.current.scrollTop = el.scrollTop;
    } else view.current?.querySelector(`[data-line="${line}"]`)?.scrollIntoView({ block: 'center' });
  };

  const afterWrite = async (what: string, answer: WriteAnswer) => {
    const warnings = answer.warnings.length ? ` Warnings: ${answer.warnings.join('; ')}` : '';
    await load();
    setNotice({ kind: 'done', text: `${what}: ${answer.changed ? 'written and reloaded' : 'the file already held this text; reloaded'} at ${when(answer.reload.at)}.${warnings}` });
  };

  const refused = async (what: string, e: unknown, mine: string | null) => {
    if (e instanceof ApiError && e.code === 'invalid_config' && base) {
      const found = problemsOf(e.message, base.file);
      setProblems(found);
      setNotice({ kind: 'invalid', text: `${what}: not saved, the config has ${found.length} problem${found.length === 1 ? '' : 's'} (the file on disk is unchanged). Pick a problem to go to its line.` });
    } else if (e instanceof ApiError && e.code === 'reload_refused') {
      setNotice({ kind: 'refused', text: `${what}: the config is valid but the reload was refused, so the file was put back as it was (nothing changed). Reason: ${e.message}` });
    } else if (e instanceof ApiError && e.status === 412) {
      await load();
      if (mine !== null) setKept({ text: mine, why: 'not saved: another user changed the config' });
      setNotice({
        kind: 'conflict',
        text: `Another user changed the config since you opened it: ${what} was not done. ${mine !== null ? 'Your text is kept below; ' : ''}the current config has been reloaded. Check it and try again.`,
      });
    } else setNotice({ kind: 'error', text: `${what} failed: ${describe(e)}` });
  };

  const save = async (event: Event) => {
    event.preventDefault();
    if (!base || !canWrite) return;
    setBusy(true);
    setNotice(null);
    setProblems([]);
    setHighlight(null);
    const mine = text;
    try {
      const answer = await call<WriteAnswer>('PUT', '/config', { body: { yaml: mine }, ifMatch: base.etag });
      await afterWrite('Save', answer.body);
    } catch (e) {
      await refused('Save', e, mine);
    } finally {
      setBusy(false);
      await history.refresh();
    }
  };

  const restore = async (version: ConfigVersion) => {
    setConfirm(null);
    if (!base) return;
    setBusy(true);
    setNotice(null);
    setProblems([]);
    const mine = dirty ? text : null;
    if (mine !== null) setKept({ text: mine, why: 'your unsaved edits, put aside by Restore' });
    try {
      const answer = await call<WriteAnswer>('POST', `/config/history/${encodeURIComponent(version.id)}/restore`, { body: {}, ifMatch: base.etag });
      await afterWrite(`Restore ${versionName(version)}`, answer.body);
    } catch (e) {
      await refused(`Restore ${versionName(version)}`, e, mine);
    } finally {
      setBusy(false);
      await history.refresh();
    }
  };

  const versionText = async (v: ConfigVersion) => (await get<ConfigVersion & { yaml: string }>(`/config/history/${encodeURIComponent(v.id)}`)).body.yaml;
  const openDiff = async (index: number, against: 'current' | 'previous') => {
    const versions = history.data?.versions ?? [];
    const version = versions[index];
    if (!version) return;
    try {
      if (against === 'current') {
        const current = (await get<ConfigText>('/config')).body.yaml;
        setDiff({ title: `Diff: ${versionName(version)} → the current config`, oldName: versionName(version), newName: 'the current config', oldText: await versionText(version), newText: current });
      } else {
        const previous = versions[index + 1] as ConfigVersion;
        setDiff({ title: `Diff: ${versionName(previous)} → ${versionName(version)}`, oldName: versionName(previous), newName: versionName(version), oldText: await versionText(previous), newText: await versionText(version) });
      }
    } catch (e) {
      setNotice({ kind: 'error', text: `The diff could not be made: ${describe(e)}` });
    }
  };

  const lines = text.split('\n');
  const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
  return (
    <section aria-labelledby="config-title">
      <h1 id="config-title">Config</h1>
      <ErrorLine text={loadError} />
      {notice && (
        <div class={notice.kind === 'done' ? 'done' : 'error'} role={notice.kind === 'done' ? 'status' : 'alert'} data-testid="config-notice">
          <p>{notice.text}</p>
          {notice.kind === 'invalid' && problems.length > 0 && (
            <ul class="problems" aria-label="Problems">
              {problems.map((p, i) => (
                <li key={i}>
                  {p.line !== null ? (
                    <button type="button" class="link" onClick={() => showLine(p.line as number)}>
                      Line {p.line}: <code>{p.field}</code>: {p.message}
                    </button>
                  ) : (
                    <span>
                      <code>{p.field}</code>: {p.message}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {!canWrite && (
        <p id="config-disabled" class="note" data-testid="disabled-reason">
          {reason}
        </p>
      )}
      {!base ? (
        !loadError && <p class="loading">Loading…</p>
      ) : (
        <>
          <p class="facts">
            <code>{base.file}</code> · {count} lines · ETag <code>{base.etag}</code>
            {base.redacted ? ' · inline passphrases are shown as (hidden)' : ''}
          </p>
          <form onSubmit={(e) => void save(e)} aria-label="The config file">
            {canWrite ? (
              <>
              <label for="config-yaml">Config YAML (editable)</label>
              <div class="config-editor">
                <pre class="config-gutter" aria-hidden="true" ref={gutter}>
                  {lines.map((_, i) => (
                    <span key={i} class={highlight === i + 1 ? 'hl' : undefined} data-line={i + 1}>
                      {`${i + 1}\n`}
                    </span>
                  ))}
                </pre>
                <textarea
                  id="config-yaml"
                  ref={area}
                  wrap="off"
                  spellcheck={false}
                  autocomplete="off"
                  value={text}
                  aria-invalid={problems.length > 0 ? 'true' : undefined}
                  onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
                  onScroll={(e) => {
                    if (gutter.current) gutter.current.scrollTop = (e.target as HTMLTextAreaElement).scrollTop;
                  }}
                />
              </div>
              </>
            ) : (
              <pre class="config-view" id="config-yaml" tabIndex={0} ref={view} data-testid="config-view" aria-label="Config YAML (read-only)">
                <code>
                  {(text.endsWith('\n') ? lines.slice(0, -1) : lines).map((line, i) => (
                    <span key={i} class={highlight === i + 1 ? 'line hl' : 'line'} data-line={i + 1}>
                      {`${line}\n`}
                    </span>
                  ))}
                </code>
              </pre>
            )}
            <div class="toolbar">
              <button type="submit" disabled={!canWrite || busy || !dirty} aria-describedby={canWrite ? undefined : 'config-disabled'} title={canWrite ? undefined : reason}>
                Save
              </button>{' '}
              {canWrite && (
                <button type="button" disabled={busy || !dirty} onClick={() => base && (setText(base.yaml), setProblems([]), setHighlight(null))}>
                  Discard changes
                </button>
              )}{' '}
              <button
                type="button"
                disabled={busy}
                onClick={() => {
                  if (dirty) setKept({ text, why: 'your unsaved edits, put aside by Reload' });
                  setNotice(null);
                  void load();
                }}
              >
                Reload
              </button>
              {dirty && <span class="hint"> Unsaved changes.</span>}
            </div>
          </form>
          {kept && (
            <section class="kept" aria-labelledby="kept-title">
              <h2 id="kept-title">Your text ({kept.why})</h2>
              <label for="kept-yaml" class="sr-only">
                Your kept text
              </label>
              <textarea id="kept-yaml" class="kept-text" readOnly wrap="off" value={kept.text} />
              <div class="toolbar">
                <button
                  type="button"
                  onClick={() =>
                    base && setDiff({ title: 'Diff: the current config → your text', oldName: 'the current config', newName: 'your text', oldText: base.yaml, newText: kept.text })
                  }
                >
                  Diff with the current config
                </button>{' '}
                {canWrite && (
                  <button type="button" onClick={() => (setText(kept.text), setKept(null))}>
                    Put my text back in the editor
                  </button>
                )}{' '}
                <button type="button" onClick={() => setKept(null)}>
                  Forget my text
                </button>
              </div>
            </section>
          )}
        </>
      )}
      <h2 id="history-title">History</h2>
      <ErrorLine text={history.error} />
      {history.data && (
        <>
          <p class="hint">
            The last {history.data.keep} versions the config replaced, newest first, kept in <code>{history.data.folder}</code>.
          </p>
          {history.data.versions.length === 0 ? (
            <p>No version kept yet: the config has not been replaced through the API.</p>
          ) : (
            <div class="scroll">
              <table class="history" aria-labelledby="history-title">
                <thead>
                  <tr>
                    <th scope="col">Replaced</th>
                    <th scope="col">Written by</th>
                    <th scope="col">Replaced by</th>
                    <th scope="col">Size</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {history.data.versions.map((v, i, all) => (
                    <tr key={v.id} data-version={v.id}>
                      <th scope="row">{when(v.time)}</th>
                      <td>{v.writtenBy ?? '(by hand)'}</td>
                      <td>{v.replacedBy ?? '(by hand)'}</td>
                      <td class="num">{bytes(v.size)}</td>
                      <td class="actions">
                        <div class="buttons">
                          <button type="button" aria-label={`Diff ${versionName(v)} with the current config`} onClick={() => void openDiff(i, 'current')}>
                            Diff with current
                          </button>
                          <button type="button" aria-label={`Diff ${versionName(v)} with the version before it`} disabled={i + 1 >= all.length} onClick={() => void openDiff(i, 'previous')}>
                            Diff with previous
                          </button>
                          <button
                            type="button"
                            aria-label={`Restore ${versionName(v)}`}
                            aria-describedby={canWrite ? undefined : 'config-disabled'}
                            title={canWrite ? undefined : reason}
                            disabled={!canWrite || busy || !base}
                            onClick={() => setConfirm(v)}
                          >
                            Restore
                          </button>
                        </div>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      {diff && <DiffView spec={diff} onClose={() => setDiff(null)} />}
      <dialog ref={dialog} aria-labelledby="restore-title" onClose={() => setConfirm(null)}>
        {confirm && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void restore(confirm);
            }}
          >
            <h2 id="restore-title">Restore {versionName(confirm)}?</h2>
            <p>
              It is validated and written as the config file, then reloaded; the current config is kept in the history.
              {dirty ? ' Your unsaved edits are kept below the editor.' : ''}
            </p>
            <div class="toolbar">
              <button type="submit">Restore this version</button>{' '}
              <button type="button" onClick={() => setConfirm(null)}>
                Cancel
              </button>
            </div>
          </form>
        )}
      </dialog>
    </section>
  );
}
