/**
 * Server Farms → a farm → Health Test (ARR's Health Test page): the URL test (URL, interval, time-out,
 * acceptable status codes, response match) and the minimum servers. Apply sends
 * PATCH /farms/{farm} { healthTest } (an emptied URL or response match removes the key: no URL test, no
 * body check); a 422 shows `gatehouse validate`'s problem at its field.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Whoami } from './api';
import { describedBy, durationValue, FarmFeature, Field, guarded, OtherProblems, seconds, useFarmSettings, type FarmSettings, type FarmSettingsView } from './farm-settings';

interface Draft {
  url: string;
  interval: string;
  timeout: string;
  statusCodeMatch: string;
  responseMatch: string;
  minServers: string;
}

const FIELDS: readonly { key: keyof Draft; label: string; hint: string; type?: 'number' }[] = [
  { key: 'url', label: 'URL', hint: 'a path (/health) or an http:// URL, requested from each server; empty: no URL test' },
  { key: 'interval', label: 'Interval (seconds)', hint: "between the end of one test and the next: seconds, or '500ms', '2m', '00:00:30'" },
  { key: 'timeout', label: 'Time-out (seconds)', hint: 'a test without the whole answer in this time fails' },
  { key: 'statusCodeMatch', label: 'Acceptable status codes', hint: "codes and ranges, e.g. 200-399 or 200,301-302" },
  { key: 'responseMatch', label: 'Response match', hint: 'case-sensitive text the body must contain; empty: not checked' },
  { key: 'minServers', label: 'Minimum servers', hint: 'fewer healthy servers than this: health is ignored (0: always honoured)', type: 'number' },
];

const draftOf = (farm: FarmSettingsView): Draft => {
  const h = farm.healthTest;
  return { url: h.url ?? '', interval: seconds(h.intervalMs), timeout: seconds(h.timeoutMs), statusCodeMatch: h.statusCodeMatch, responseMatch: h.responseMatch ?? '', minServers: String(h.minServers) };
};

function HealthTestForm(props: { readonly farm: FarmSettingsView; readonly settings: FarmSettings }) {
  const { settings } = props;
  const [draft, setDraft] = useState<Draft>(() => draftOf(props.farm));
  const submit = (e: Event) => {
    e.preventDefault();
    const healthTest = {
      url: draft.url.trim() === '' ? null : draft.url.trim(),
      interval: durationValue(draft.interval),
      timeout: durationValue(draft.timeout),
      statusCodeMatch: draft.statusCodeMatch.trim(),
      responseMatch: draft.responseMatch === '' ? null : draft.responseMatch,
      minServers: draft.minServers.trim() === '' ? null : Number(draft.minServers),
    };
    void settings.apply('Apply Health Test', 'PATCH', '', { healthTest });
  };
  return (
    <form class="settings" aria-labelledby="health-test-title" onSubmit={submit}>
      <h2>URL test</h2>
      {FIELDS.map((f) => {
        const id = `health-${f.key}`;
        const problem = settings.problemAt(f.key);
        return (
          <Field key={f.key} id={id} label={f.label} hint={f.hint} problem={problem}>
            <input
              id={id}
              type="text"
              inputMode={f.type === 'number' ? 'numeric' : undefined}
              value={draft[f.key]}
              aria-invalid={problem ? 'true' : undefined}
              aria-describedby={describedBy(id, true, problem)}
              onInput={(e) => setDraft({ ...draft, [f.key]: (e.target as HTMLInputElement).value })}
              disabled={!settings.canAct || settings.busy}
            />
          </Field>
        );
      })}
      <OtherProblems problems={settings.otherProblems(FIELDS.map((f) => f.key))} />
      <button type="submit" {...guarded(settings)}>
        Apply
      </button>
    </form>
  );
}

export function HealthTestPage(props: { readonly farm: string; readonly who: Whoami; readonly eventTick: number; readonly tabs: ComponentChildren }) {
  const settings = useFarmSettings(props.farm, props.who, props.eventTick);
  const data = settings.data;
  return (
    <FarmFeature farm={props.farm} title="Health Test" id="health-test" settings={settings} tabs={props.tabs}>
      {data && (
        <>
          <p class="facts">
            Healthy servers {data.healthyServers} / {data.servers.length}
            {data.ignoringHealth ? ' (fewer than the minimum: health ignored)' : ''} · see Monitoring and Management for each server's health and its reason
          </p>
          <HealthTestForm key={settings.version} farm={data} settings={settings} />
        </>
      )}
    </FarmFeature>
  );
}
