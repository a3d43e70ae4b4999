/**
 * Failed Request Tracing: a site's rules (IIS's "Failed Request Tracing Rules": add, edit, remove, each a
 * PUT /sites/{site}/tracing with If-Match: the site's ETag as shown; a 412 is said and the rules reloaded; a
 * 422 is shown at the field it names) and the trace files the rules kept (GET /traces, newest first), each
 * opening its Compact View.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, get, type Whoami } from './api';
import { ms, when } from './format';
import { useLive } from './live';
import { ErrorLine, Head } from './notice';
import { NoticeLine, type Notice, roleReason } from './problems';
import type { SiteTracing, TraceSummary, TracingRule } from './tracing-types';
import type { SiteView } from './types';

/** The rule form's fields (text as typed). */
interface RuleDraft {
  path: string;
  statusCodes: string;
  timeTaken: string;
  issuer: string;
  subject: string;
}
const FIELDS: readonly { readonly key: keyof RuleDraft; readonly label: string; readonly hint: string; readonly apiField: string }[] = [
  { key: 'path', label: 'Path', hint: 'wildcard: * any characters, ? one (default *)', apiField: 'path' },
  { key: 'statusCodes', label: 'Status code(s)', hint: 'e.g. 403.13,403.16,500-599', apiField: 'statusCodes' },
  { key: 'timeTaken', label: 'Time taken', hint: 'trace requests at least this long, e.g. 5s or 500ms', apiField: 'timeTaken' },
  { key: 'issuer', label: 'Client certificate issuer contains', hint: 'optional, e.g. CN=Badge CA', apiField: 'clientCertificate' },
  { key: 'subject', label: 'Client certificate subject contains', hint: 'optional', apiField: 'clientCertificate' },
];

const draftOf = (rule: TracingRule | undefined): RuleDraft => ({
  path: rule?.path ?? '*',
  statusCodes: rule?.statusCodes === undefined ? '' : String(rule.statusCodes),
  timeTaken: rule?.timeTaken === undefined ? '' : String(rule.timeTaken),
  issuer: rule?.clientCertificate?.issuer ?? '',
  subject: rule?.clientCertificate?.subject ?? '',
});

/** The rule as the config holds it: only the fields given; the other client-certificate conditions kept. */
function ruleOf(draft: RuleDraft, before: TracingRule | undefined): TracingRule {
  const { issuer: _i, subject: _s, ...otherConditions } = before?.clientCertificate ?? {};
  const clientCertificate = { ...otherConditions, ...(draft.issuer.trim() ? { issuer: draft.issuer.trim() } : {}), ...(draft.subject.trim() ? { subject: draft.subject.trim() } : {}) };
  const timeTaken = draft.timeTaken.trim();
  return {
    path: draft.path.trim() || '*',
    ...(draft.statusCodes.trim() ? { statusCodes: draft.statusCodes.trim() } : {}),
    ...(timeTaken ? { timeTaken: /^\d+(\.\d+)?$/.test(timeTaken) ? Number(timeTaken) : timeTaken } : {}),
    ...(Object.keys(clientCertificate).length > 0 ? { clientCertificate } : {}),
  };
}

const describeCertificate = (rule: TracingRule) => {
  const c = rule.clientCertificate;
  if (!c) return 'any';
  return [c.present === true ? 'presented' : c.present === false ? 'none presented' : '', c.issuer ? `issuer contains "${c.issuer}"` : '', c.subject ? `subject contains "${c.subject}"` : '', c.thumbprint ? `thumbprint ${c.thumbprint}` : ''].filter(Boolean).join(', ');
};

export function TracingPage(props: { readonly who: Whoami; readonly eventTick: number }) {
  const sites = useLive(async () => (await get<{ sites: SiteView[] }>('/sites')).body.sites.map((s) => s.name), 0, []);
  const [site, setSite] = useState('');
  useEffect(() => {
    if (site === '' && sites.data && sites.data.length > 0) setSite(sites.data[0] as string);
  }, [sites.data]);
  return (
    <section aria-labelledby="tracing-title">
      <h1 id="tracing-title">Failed Request Tracing</h1>
      <h2 id="rules-title">Failed Request Tracing Rules</h2>
      <div class="filters">
        <label for="tracing-site">Site</label>
        <select id="tracing-site" value={site} onChange={(e) => setSite(e.currentTarget.value)}>
          {(sites.data ?? []).map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </div>
      {site && <TracingRules key={site} site={site} who={props.who} eventTick={props.eventTick} />}
      <TraceFiles eventTick={props.eventTick} />
    </section>
  );
}

function TracingRules(props: { readonly site: string; readonly who: Whoami; readonly eventTick: number }) {
  const path = `/sites/${encodeURIComponent(props.site)}/tracing`;
  const { data, error, refresh } = useLive(async () => (await get<SiteTracing>(path)).body, props.eventTick, [path]);
  const [editing, setEditing] = useState<number | 'new' | null>(null);
  const [draft, setDraft] = useState<RuleDraft>(draftOf(undefined));
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<keyof RuleDraft, string>>>({});
  const [notice, setNotice] = useState<Notice | null>(null);
  const [busy, setBusy] = useState(false);
  const disabledBy = roleReason(props.who, 'operator');
  const canAct = disabledBy === null;
  const reason = disabledBy ?? '';
  const rules = data?.tracing?.rules ?? [];

  const open = (index: number | 'new') => {
    setEditing(index);
    setDraft(draftOf(index === 'new' ? undefined : rules[index]));
    setFieldErrors({});
    setNotice(null);
  };

  /** Writes the rules (none left: tracing off); true when done. */
  const write = async (what: string, next: readonly TracingRule[], editedIndex: number | null): Promise<boolean> => {
    if (!data) return false;
    setBusy(true);
    setNotice(null);
    setFieldErrors({});
    try {
      const tracing = next.length === 0 ? null : { ...(data.tracing ?? {}), rules: next };
      await call('PUT', path, { body: { tracing }, ifMatch: data.etag });
      setNotice({ kind: 'done', text: next.length === 0 ? `${what}: done. No rule is left: tracing is off for ${props.site}.` : `${what}: done, and Gatehouse reloaded.` });
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        setNotice({ kind: 'conflict', text: `Another user changed site ${props.site} since it was shown: ${what} was not done. The rules have been reloaded; check them and try again.` });
      } else if (e instanceof ApiError && e.status === 422) {
        const atField: Partial<Record<keyof RuleDraft, string>> = {};
        const elsewhere: string[] = [];
        for (const problem of e.errors) {
          // Config key paths: `sites[0].tracing.rules[1].statusCodes` (or with dots: `rules.1.statusCodes`).
          const match = /tracing\.rules(?:\[(\d+)\]|\.(\d+))\.?([A-Za-z]*)/.exec(problem.field);
          const field = FIELDS.find((f) => f.apiField === match?.[3]);
          if (match && field && editedIndex !== null && Number(match[1] ?? match[2]) === editedIndex) atField[field.key] = problem.message;
          else elsewhere.push(`${problem.field}: ${problem.message}`);
        }
        setFieldErrors(atField);
        setNotice({ kind: 'error', text: `${what} was refused (422): ${elsewhere.length > 0 ? elsewhere.join('; ') : 'see the field marked below'}.` });
      } else setNotice({ kind: 'error', text: `${what} failed: ${e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e)}` });
      return false;
    } finally {
      await refresh();
      setBusy(false);
    }
  };

  const save = async () => {
    if (editing === null) return;
    const index = editing === 'new' ? rules.length : editing;
    const next = [...rules];
    next[index] = ruleOf(draft, editing === 'new' ? undefined : rules[editing]);
    if (await write(editing === 'new' ? 'Add rule' : `Edit rule ${index + 1}`, next, index)) setEditing(null);
  };

  const disabledProps = { disabled: !canAct || busy || !data, 'aria-describedby': canAct ? undefined : 'tracing-disabled', title: canAct ? undefined : reason };
  return (
    <div class="tracing-rules">
      <ErrorLine text={error} />
      <NoticeLine notice={notice} testId="tracing-notice" />
      {!canAct && (
        <p id="tracing-disabled" class="note" data-testid="disabled-reason">
          {reason}
        </p>
      )}
      {!data ? (
        <p class="loading">Loading…</p>
      ) : (
        <>
          <p class="facts">{data.tracing === null ? `Tracing is off for ${props.site}: add a rule to turn it on.` : `The first rule whose path (and client-certificate conditions) match decides. Trace files kept per site: ${String(data.tracing.maxFiles ?? 50)}.`}</p>
          <div class="scroll">
            <table class="rules">
              <caption>Rules of site {props.site}</caption>
              <Head columns={['#', 'Path', 'Status Code(s)', 'Time Taken', 'Client Certificate', 'Actions']} />
              <tbody>
                {rules.map((rule, i) => (
                  <tr key={i} data-rule={i + 1}>
                    <th scope="row">{i + 1}</th>
                    <td>
                      <code>{rule.path ?? '*'}</code>
                    </td>
                    <td>{rule.statusCodes === undefined ? '–' : String(rule.statusCodes)}</td>
                    <td>{rule.timeTaken === undefined ? '–' : String(rule.timeTaken)}</td>
                    <td>{describeCertificate(rule)}</td>
                    <td class="actions">
                      <div class="buttons">
                        <button type="button" aria-label={`Edit rule ${i + 1}`} {...disabledProps} onClick={() => open(i)}>
                          Edit…
                        </button>
                        <button type="button" aria-label={`Remove rule ${i + 1}`} {...disabledProps} onClick={() => void write(`Remove rule ${i + 1}`, rules.filter((_, j) => j !== i), null)}>
                          Remove
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="toolbar">
            <button type="button" {...disabledProps} onClick={() => open('new')}>
              Add Rule…
            </button>
          </div>
          {editing !== null && canAct && (
            <form
              class="rule-form"
              aria-labelledby="rule-form-title"
              onSubmit={(e) => {
                e.preventDefault();
                void save();
              }}
            >
              <h3 id="rule-form-title">{editing === 'new' ? 'Add Failed Request Tracing Rule' : `Edit rule ${editing + 1}`}</h3>
              {FIELDS.map((f) => (
                <div class="field" key={f.key}>
                  <label for={`rule-${f.key}`}>{f.label}</label>
                  <input
                    id={`rule-${f.key}`}
                    value={draft[f.key]}
                    aria-invalid={fieldErrors[f.key] ? true : undefined}
                    aria-describedby={`rule-${f.key}-hint${fieldErrors[f.key] ? ` rule-${f.key}-error` : ''}`}
                    onInput={(e) => setDraft({ ...draft, [f.key]: e.currentTarget.value })}
                  />
                  <span id={`rule-${f.key}-hint`} class="hint">
                    {f.hint}
                  </span>
                  {fieldErrors[f.key] && (
                    <span id={`rule-${f.key}-error`} class="error field-error" role="alert">
                      {fieldErrors[f.key]}
                    </span>
                  )}
                </div>
              ))}
              <div class="buttons">
                <button type="submit" disabled={busy}>
                  Save
                </button>
                <button type="button" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              </div>
            </form>
          )}
        </>
      )}
    </div>
  );
}

function TraceFiles(props: { readonly eventTick: number }) {
  const { data, error } = useLive(async () => (await get<{ traces: TraceSummary[] }>('/traces')).body.traces, props.eventTick, []);
  return (
    <>
      <h2 id="traces-title">Trace files</h2>
      <ErrorLine text={error} />
      {!data ? (
        <p class="loading">Loading…</p>
      ) : data.length === 0 ? (
        <p class="note">No trace kept yet: a request a rule matches leaves one here.</p>
      ) : (
        <div class="scroll">
          <table class="traces" aria-labelledby="traces-title">
            <Head columns={['Time', 'Site', 'URL', 'Status', 'Reason', 'Time Taken', 'Client Certificate', 'File']} />
            <tbody>
              {data.map((t) => (
                <tr key={`${t.site}/${t.id}`} data-trace={t.id}>
                  <td class="nowrap">{when(t.time)}</td>
                  <td>{t.site}</td>
                  <td>
                    <code>
                      {t.method} {t.url}
                    </code>
                  </td>
                  <td class={t.status.startsWith('2') || t.status.startsWith('3') ? 'ok' : 'error'}>{t.status}</td>
                  <td>
                    {t.failureReason} <span class="hint">({t.outcome})</span>
                  </td>
                  <td class="num">{ms(t.durationMs)}</td>
                  <td>{t.clientCertificate ?? '–'}</td>
                  <td>
                    <a href={`#/tracing/${encodeURIComponent(t.id)}?site=${encodeURIComponent(t.site)}`} aria-label={`Compact View of ${t.id} (${t.site}, ${t.status} ${t.url})`}>
                      {t.id}
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
