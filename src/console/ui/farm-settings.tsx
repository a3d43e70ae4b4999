/**
 * What the farm's settings pages (Servers, Health Test, Load Balance, Server Affinity) share: the farm as
 * the API shows it (with its settings), one write at a time with If-Match: the farm's ETag as shown, a 412
 * said as a conflict with the farm reloaded, a 422's problems kept by field (shown next to the field
 * they concern), and the administrator-only rule with its reason.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, call, get, type FieldProblem, type Whoami } from './api';
import { useLive } from './live';
import type { FarmView } from './types';
import { ErrorLine } from './notice';
import { NoticeLine, roleReason, type Notice } from './problems';

/** The farm's settings as GET /farms/{farm} shows them (normalised: durations in ms, status codes as text). */
export interface FarmSettingsView extends FarmView {
  readonly loadBalancing: { readonly algorithm: string; readonly leastResponseTimePeriodMs?: number; readonly hashServerVariable?: string; readonly queryStringNames?: readonly string[] };
  readonly healthTest: {
    readonly url?: string;
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly statusCodeMatch: string;
    readonly responseMatch?: string;
    readonly minServers: number;
  };
  readonly affinity: { readonly by: 'cookie' | 'clientCertificate' | 'serverVariable'; readonly cookieName: string; readonly sameSite?: 'Lax' | 'Strict' | 'None'; readonly hashServerVariable?: string } | null;
}


/** A problem's field without the farm's place in the file: `farms[0].healthCheck.url` → `url`, `servers[2].weight` → `weight`. */
export function fieldKey(field: string): string {
  return field.replace(/^farms\[\d+\]\.?/, '').replace(/^(healthCheck|healthTest|loadBalancing|affinity|servers\[\d+\])\.?/, '') || field;
}

export interface FarmSettings {
  readonly farmPath: string;
  readonly data: FarmSettingsView | null;
  readonly error: string | null;
  readonly notice: Notice | null;
  readonly busy: boolean;
  /** Administrators only. */
  readonly canAct: boolean;
  readonly reason: string;
  /** Bumped after each apply and each conflict: forms keyed by it start again from the farm as it is. */
  readonly version: number;
  /** The last 422's problems by field key (fieldKey), and the ones no field of the form shows. */
  problemAt(key: string): string | undefined;
  otherProblems(keys: readonly string[]): readonly FieldProblem[];
  /** One write; the form starts again from the farm (version) when it was done or refused by a conflict, not on a 422. */
  apply(what: string, method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<boolean>;
}

export function useFarmSettings(farm: string, who: Whoami, eventTick: number): FarmSettings {
  const farmPath = `/farms/${encodeURIComponent(farm)}`;
  const { data, error, refresh } = useLive(async () => (await get<FarmSettingsView>(farmPath)).body, eventTick, [farmPath]);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [problems, setProblems] = useState<readonly FieldProblem[]>([]);
  const [busy, setBusy] = useState(false);
  const [version, setVersion] = useState(0);
  const disabledBy = roleReason(who, 'administrator', { what: 'Settings', need: "changing a farm's settings needs administrator" });
  const canAct = disabledBy === null;
  const reason = disabledBy ?? '';

  const apply = async (what: string, method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<boolean> => {
    if (!data) return false;
    setBusy(true);
    setNotice(null);
    setProblems([]);
    let ok = false;
    let restart = false;
    try {
      await call(method, `${farmPath}${path}`, { ...(body === undefined ? {} : { body }), ifMatch: data.etag });
      setNotice({ kind: 'done', text: `${what}: done (saved and reloaded).` });
      ok = true;
      restart = true;
    } catch (e) {
      restart = e instanceof ApiError && e.status === 412;
      if (e instanceof ApiError && e.status === 412) setNotice({ kind: 'conflict', text: `Another user changed this farm since it was shown: ${what} was not done. The farm has been reloaded; check it and try again.` });
      else if (e instanceof ApiError && e.status === 422 && e.errors.length > 0) {
        setProblems(e.errors);
        setNotice({ kind: 'error', text: `${what} was refused: ${e.errors.length === 1 ? 'a problem' : `${e.errors.length} problems`} (shown at the field${e.errors.length === 1 ? '' : 's'}). Nothing was changed.` });
      } else setNotice({ kind: 'error', text: `${what} failed: ${e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e)}` });
    } finally {
      await refresh();
      setBusy(false);
      if (restart) setVersion((v) => v + 1);
    }
    return ok;
  };
  return {
    farmPath,
    data,
    error,
    notice,
    busy,
    canAct,
    reason,
    version,
    problemAt: (key) => {
      const found = problems.filter((p) => fieldKey(p.field) === key);
      return found.length ? found.map((p) => p.message).join('; ') : undefined;
    },
    otherProblems: (keys) => problems.filter((p) => !keys.includes(fieldKey(p.field))),
    apply,
  };
}

/** The page frame every farm feature shares: crumbs, the farm's feature tabs, the heading, notices, the reason. */
export function FarmFeature(props: { readonly farm: string; readonly title: string; readonly id: string; readonly settings: FarmSettings; readonly tabs: ComponentChildren; readonly children: ComponentChildren }) {
  const { settings } = props;
  return (
    <section aria-labelledby={`${props.id}-title`}>
      <p class="crumbs">Server Farms › {props.farm}</p>
      {props.tabs}
      <h1 id={`${props.id}-title`}>{props.title}</h1>
      <ErrorLine text={settings.error} />
      <NoticeLine notice={settings.notice} />
      {!settings.canAct && (
        <p id="settings-disabled" class="note" data-testid="disabled-reason">
          {settings.reason}
        </p>
      )}
      {!settings.data ? <p class="loading">Loading…</p> : props.children}
    </section>
  );
}

/** Attributes that disable a control for a user who may not act, tied to the reason. */
export function guarded(settings: FarmSettings, extra = false) {
  return { disabled: !settings.canAct || settings.busy || extra, 'aria-describedby': settings.canAct ? undefined : 'settings-disabled', title: settings.canAct ? undefined : settings.reason };
}

/** A labelled form field with its hint and, after a 422, its problem (role="alert", tied by aria-describedby). */
export function Field(props: { readonly id: string; readonly label: string; readonly hint?: string; readonly problem?: string | undefined; readonly children: ComponentChildren }) {
  return (
    <div class={`field ${props.problem ? 'invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <span class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </span>
      )}
      {props.problem && (
        <span class="problem" role="alert" id={`${props.id}-problem`} data-field={props.id}>
          {props.problem}
        </span>
      )}
    </div>
  );
}

/** aria-describedby for an input: its hint and its problem. */
export function describedBy(id: string, hint: boolean, problem: string | undefined): string | undefined {
  const ids = [hint ? `${id}-hint` : '', problem ? `${id}-problem` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

/** Problems no field of the form shows (a problem about the whole section). */
export function OtherProblems(props: { readonly problems: readonly FieldProblem[] }) {
  if (!props.problems.length) return null;
  return (
    <ul class="problems" role="alert">
      {props.problems.map((p) => (
        <li key={`${p.field}:${p.message}`}>
          <code>{p.field}</code>: {p.message}
        </li>
      ))}
    </ul>
  );
}

/** A duration as the form shows it: seconds (`30`, `0.5`). */
export const seconds = (ms: number | undefined): string => (ms === undefined ? '' : String(ms / 1000));
/** A duration typed in the form: plain seconds as a number, anything else (`500ms`, `00:00:30`) as written: the config's forms. */
export const durationValue = (text: string): number | string => (/^\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : text.trim());
