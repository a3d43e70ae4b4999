/**
 * Server Farms → a farm → Load Balance (ARR's Load Balance page): the algorithm, in ARR's names, with the
 * hash options when a hash algorithm is chosen (server variable, query string names) and the sampling
 * period of least response time. Apply sends PATCH /farms/{farm} { loadBalancing }.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Whoami } from './api';
import { describedBy, durationValue, FarmFeature, Field, guarded, OtherProblems, seconds, useFarmSettings, type FarmSettings, type FarmSettingsView } from './farm-settings';

/** The config's algorithm names (shared/algorithms.ts) with ARR's UI names. */
export const ALGORITHMS: readonly { readonly name: string; readonly label: string }[] = [
  { name: 'weightedRoundRobin', label: 'Weighted round robin' },
  { name: 'leastRequests', label: 'Least current request' },
  { name: 'leastResponseTime', label: 'Least response time' },
  { name: 'weightedTotalTraffic', label: 'Weighted total traffic' },
  { name: 'requestHash', label: 'Request hash (URL)' },
  { name: 'serverVariableHash', label: 'Server variable hash' },
  { name: 'queryStringHash', label: 'Query string hash' },
  { name: 'powerOfTwoChoices', label: 'Power of two choices (beyond ARR)' },
];

interface Draft {
  algorithm: string;
  hashServerVariable: string;
  queryStringNames: string;
  leastResponseTimePeriod: string;
}

function LoadBalanceForm(props: { readonly farm: FarmSettingsView; readonly settings: FarmSettings }) {
  const { settings } = props;
  const lb = props.farm.loadBalancing;
  const [draft, setDraft] = useState<Draft>({ algorithm: lb.algorithm, hashServerVariable: lb.hashServerVariable ?? '', queryStringNames: (lb.queryStringNames ?? []).join(', '), leastResponseTimePeriod: seconds(lb.leastResponseTimePeriodMs) });
  const set = (key: keyof Draft) => (e: Event) => setDraft({ ...draft, [key]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  const submit = (e: Event) => {
    e.preventDefault();
    const loadBalancing: Record<string, unknown> = { algorithm: draft.algorithm };
    if (draft.algorithm === 'serverVariableHash') loadBalancing.hashServerVariable = draft.hashServerVariable.trim();
    if (draft.algorithm === 'queryStringHash') loadBalancing.queryStringNames = draft.queryStringNames.split(',').map((n) => n.trim()).filter(Boolean);
    if (draft.algorithm === 'leastResponseTime') loadBalancing.leastResponseTimePeriod = durationValue(draft.leastResponseTimePeriod);
    void settings.apply('Apply Load Balance', 'PATCH', '', { loadBalancing });
  };
  const input = (key: keyof Draft, label: string, hint: string) => {
    const id = `lb-${key}`;
    const problem = settings.problemAt(key);
    return (
      <Field id={id} label={label} hint={hint} problem={problem}>
        <input id={id} type="text" value={draft[key]} onInput={set(key)} aria-invalid={problem ? 'true' : undefined} aria-describedby={describedBy(id, true, problem)} disabled={!settings.canAct || settings.busy} />
      </Field>
    );
  };
  const algorithmProblem = settings.problemAt('algorithm');
  return (
    <form class="settings" aria-labelledby="load-balance-title" onSubmit={submit}>
      <Field id="lb-algorithm" label="Load balance algorithm" hint="how a new request picks a server among the enabled, available, healthy ones" problem={algorithmProblem}>
        <select id="lb-algorithm" value={draft.algorithm} onChange={set('algorithm')} aria-describedby={describedBy('lb-algorithm', true, algorithmProblem)} disabled={!settings.canAct || settings.busy}>
          {ALGORITHMS.map((a) => (
            <option key={a.name} value={a.name}>
              {a.label}
            </option>
          ))}
        </select>
      </Field>
      {draft.algorithm === 'serverVariableHash' && input('hashServerVariable', 'Server variable', 'REMOTE_ADDR, QUERY_STRING, URL, HTTP_HOST or HTTP_<HEADER> such as HTTP_X_USER')}
      {draft.algorithm === 'queryStringHash' && input('queryStringNames', 'Query string names', 'names whose values are hashed, separated by commas, e.g. user, region')}
      {draft.algorithm === 'leastResponseTime' && input('leastResponseTimePeriod', 'Sampling period (seconds)', 'the window of the average response time (5 by default)')}
      <OtherProblems problems={settings.otherProblems(['algorithm', 'hashServerVariable', 'queryStringNames', 'leastResponseTimePeriod'])} />
      <button type="submit" {...guarded(settings)}>
        Apply
      </button>
    </form>
  );
}

export function LoadBalancePage(props: { readonly farm: string; readonly who: Whoami; readonly eventTick: number; readonly tabs: ComponentChildren }) {
  const settings = useFarmSettings(props.farm, props.who, props.eventTick);
  const data = settings.data;
  return (
    <FarmFeature farm={props.farm} title="Load Balance" id="load-balance" settings={settings} tabs={props.tabs}>
      {data && (
        <>
          <p class="facts" data-testid="algorithm-in-force">
            In force: {ALGORITHMS.find((a) => a.name === data.algorithm)?.label ?? data.algorithm}
          </p>
          <LoadBalanceForm key={settings.version} farm={data} settings={settings} />
        </>
      )}
    </FarmFeature>
  );
}
