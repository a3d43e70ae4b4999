/**
 * Server Farms → a farm → Server Affinity (ARR's Server Affinity page): client affinity by cookie on or
 * off, the cookie's name and SameSite, and (beyond ARR) affinity by client certificate or by a server
 * variable. Apply sends PATCH /farms/{farm} { affinity } (an empty SameSite or variable removes the key).
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Whoami } from './api';
import { describedBy, FarmFeature, Field, guarded, OtherProblems, useFarmSettings, type FarmSettings, type FarmSettingsView } from './farm-settings';

interface Draft {
  useCookie: boolean;
  cookieName: string;
  sameSite: string;
  by: string;
  hashServerVariable: string;
}

const BY = [
  { value: 'cookie', label: 'Cookie (ARR)' },
  { value: 'clientCertificate', label: 'Client certificate (beyond ARR)' },
  { value: 'serverVariable', label: 'Server variable (beyond ARR)' },
];

const draftOf = (farm: FarmSettingsView): Draft => {
  const a = farm.affinity;
  return { useCookie: a?.by === 'cookie', cookieName: a?.cookieName ?? 'ARRAffinity', sameSite: a?.sameSite ?? '', by: a?.by ?? 'cookie', hashServerVariable: a?.hashServerVariable ?? '' };
};

function AffinityForm(props: { readonly farm: FarmSettingsView; readonly settings: FarmSettings }) {
  const { settings } = props;
  const [draft, setDraft] = useState<Draft>(() => draftOf(props.farm));
  const set = (key: keyof Draft) => (e: Event) => setDraft({ ...draft, [key]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  const off = !settings.canAct || settings.busy;
  const submit = (e: Event) => {
    e.preventDefault();
    const affinity = {
      useCookie: draft.useCookie,
      cookieName: draft.cookieName.trim(),
      sameSite: draft.sameSite === '' ? null : draft.sameSite,
      by: draft.by,
      hashServerVariable: draft.by === 'serverVariable' && draft.hashServerVariable.trim() !== '' ? draft.hashServerVariable.trim() : null,
    };
    void settings.apply('Apply Server Affinity', 'PATCH', '', { affinity });
  };
  const problem = (key: keyof Draft) => settings.problemAt(key);
  return (
    <form class="settings" aria-labelledby="server-affinity-title" onSubmit={submit}>
      <div class={`field check ${problem('useCookie') ? 'invalid' : ''}`}>
        <input id="aff-useCookie" type="checkbox" checked={draft.useCookie} onChange={(e) => setDraft({ ...draft, useCookie: (e.target as HTMLInputElement).checked })} aria-describedby="aff-useCookie-hint" disabled={off} />
        <label for="aff-useCookie">Client affinity</label>
        <span class="hint" id="aff-useCookie-hint">
          a client's first request is load-balanced; a cookie keeps it on that server afterwards
        </span>
      </div>
      <Field id="aff-cookieName" label="Cookie name" hint="ARRAffinity by default" problem={problem('cookieName')}>
        <input id="aff-cookieName" type="text" value={draft.cookieName} onInput={set('cookieName')} aria-invalid={problem('cookieName') ? 'true' : undefined} aria-describedby={describedBy('aff-cookieName', true, problem('cookieName'))} disabled={off} />
      </Field>
      <Field id="aff-sameSite" label="SameSite" hint="the cookie's SameSite attribute; none by default (as ARR)" problem={problem('sameSite')}>
        <select id="aff-sameSite" value={draft.sameSite} onChange={set('sameSite')} aria-describedby={describedBy('aff-sameSite', true, problem('sameSite'))} disabled={off}>
          <option value="">(not sent)</option>
          <option value="Lax">Lax</option>
          <option value="Strict">Strict</option>
          <option value="None">None</option>
        </select>
      </Field>
      <Field id="aff-by" label="Affinity by" hint="what keeps a client on its server" problem={problem('by')}>
        <select id="aff-by" value={draft.by} onChange={set('by')} aria-describedby={describedBy('aff-by', true, problem('by'))} disabled={off}>
          {BY.map((b) => (
            <option key={b.value} value={b.value}>
              {b.label}
            </option>
          ))}
        </select>
      </Field>
      {draft.by === 'serverVariable' && (
        <Field id="aff-hashServerVariable" label="Server variable" hint="REMOTE_ADDR, HTTP_HOST or HTTP_<HEADER>" problem={problem('hashServerVariable')}>
          <input id="aff-hashServerVariable" type="text" value={draft.hashServerVariable} onInput={set('hashServerVariable')} aria-invalid={problem('hashServerVariable') ? 'true' : undefined} aria-describedby={describedBy('aff-hashServerVariable', true, problem('hashServerVariable'))} disabled={off} />
        </Field>
      )}
      <OtherProblems problems={settings.otherProblems(['useCookie', 'cookieName', 'sameSite', 'by', 'hashServerVariable'])} />
      <button type="submit" {...guarded(settings)}>
        Apply
      </button>
    </form>
  );
}

export function AffinityPage(props: { readonly farm: string; readonly who: Whoami; readonly eventTick: number; readonly tabs: ComponentChildren }) {
  const settings = useFarmSettings(props.farm, props.who, props.eventTick);
  const data = settings.data;
  const a = data?.affinity;
  return (
    <FarmFeature farm={props.farm} title="Server Affinity" id="server-affinity" settings={settings} tabs={props.tabs}>
      {data && (
        <>
          <p class="facts" data-testid="affinity-in-force">
            In force: {a ? (a.by === 'cookie' ? `client affinity by cookie ${a.cookieName}` : a.by === 'clientCertificate' ? 'affinity by client certificate' : `affinity by ${a.hashServerVariable ?? 'a server variable'}`) : 'no client affinity'}
          </p>
          <AffinityForm key={settings.version} farm={data} settings={settings} />
        </>
      )}
    </FarmFeature>
  );
}
