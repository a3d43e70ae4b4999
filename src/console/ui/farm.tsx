/**
 * Server Farms → a farm: its features as IIS Manager shows them (tabs: Monitoring and Management, the
 * default at `#/farms/<farm>`; Servers, Health Test, Load Balance, Server Affinity at
 * `#/farms/<farm>/<feature>`), and Monitoring and Management itself: ARR's live table (state, health,
 * current / total / failed requests, requests/s, response time, bytes) and its actions, each a write
 * through the admin API with If-Match: the farm's ETag as shown. A 412 (someone changed the farm since) is
 * said as such and the data reloaded, never retried over the other change. A viewer sees the actions
 * disabled, with the reason.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, call, get, type Whoami } from './api';
import { AffinityPage } from './farm-affinity';
import { HealthTestPage } from './farm-health-test';
import { LoadBalancePage } from './farm-load-balance';
import { ServersPage } from './farm-servers';
import { bytes, ms, number, STATE_NAMES } from './format';
import { useLive } from './live';
import type { FarmView, ServerView } from './types';
import { NoticeLine, roleReason, type Notice } from './problems';
import { ErrorLine } from './notice';

interface Action {
  readonly label: string;
  readonly path: (address: string) => string;
  readonly method: 'PUT' | 'POST';
  readonly body: unknown;
  readonly allowed: (server: ServerView) => boolean;
}

const server = (address: string) => `/servers/${encodeURIComponent(address)}`;
const SERVER_ACTIONS: readonly Action[] = [
  { label: 'Make Available', method: 'PUT', path: (a) => `${server(a)}/state`, body: { state: 'available' }, allowed: (s) => s.state !== 'available' },
  { label: 'Drain', method: 'PUT', path: (a) => `${server(a)}/state`, body: { state: 'drain' }, allowed: (s) => s.state !== 'drain' },
  { label: 'Make Unavailable', method: 'PUT', path: (a) => `${server(a)}/state`, body: { state: 'unavailable' }, allowed: (s) => s.state !== 'unavailable' },
  { label: 'Mark Healthy', method: 'POST', path: (a) => `${server(a)}/health`, body: { healthy: true }, allowed: (s) => s.health !== 'healthy' },
  { label: 'Mark Unhealthy', method: 'POST', path: (a) => `${server(a)}/health`, body: { healthy: false }, allowed: (s) => s.health !== 'unhealthy' },
];

/** The farm's features: the path under `#/farms/<farm>` and IIS Manager's name. */
export const FARM_FEATURES = [
  { feature: '', name: 'Monitoring and Management' },
  { feature: 'servers', name: 'Servers' },
  { feature: 'health-test', name: 'Health Test' },
  { feature: 'load-balance', name: 'Load Balance' },
  { feature: 'affinity', name: 'Server Affinity' },
] as const;
export type FarmFeatureName = (typeof FARM_FEATURES)[number]['feature'];
export const isFarmFeature = (text: string): text is FarmFeatureName => FARM_FEATURES.some((f) => f.feature === text);

function FarmTabs(props: { readonly farm: string; readonly feature: FarmFeatureName }) {
  const base = `#/farms/${encodeURIComponent(props.farm)}`;
  return (
    <nav class="tabs" aria-label="Farm features">
      <ul>
        {FARM_FEATURES.map((f) => (
          <li key={f.feature}>
            <a href={f.feature ? `${base}/${f.feature}` : base} aria-current={f.feature === props.feature ? 'page' : undefined}>
              {f.name}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function FarmPage(props: { readonly farm: string; readonly feature?: FarmFeatureName; readonly who: Whoami; readonly eventTick: number }) {
  const feature = props.feature ?? '';
  const tabs = <FarmTabs farm={props.farm} feature={feature} />;
  const page = { farm: props.farm, who: props.who, eventTick: props.eventTick, tabs };
  if (feature === 'servers') return <ServersPage {...page} />;
  if (feature === 'health-test') return <HealthTestPage {...page} />;
  if (feature === 'load-balance') return <LoadBalancePage {...page} />;
  if (feature === 'affinity') return <AffinityPage {...page} />;
  return <MonitoringPage farm={props.farm} who={props.who} eventTick={props.eventTick} tabs={tabs} />;
}

function MonitoringPage(props: { readonly farm: string; readonly who: Whoami; readonly eventTick: number; readonly tabs: ComponentChildren }) {
  const farmPath = `/farms/${encodeURIComponent(props.farm)}`;
  const { data, error, refresh } = useLive(async () => (await get<FarmView>(farmPath)).body, props.eventTick, [farmPath]);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [busy, setBusy] = useState(false);
  const disabledBy = roleReason(props.who, 'operator');
  const canAct = disabledBy === null;
  const reason = disabledBy ?? '';

  const act = async (what: string, method: 'PUT' | 'POST', path: string, body: unknown) => {
    if (!data) return;
    setBusy(true);
    setNotice(null);
    try {
      await call(method, `${farmPath}${path}`, { body, ifMatch: data.etag });
      setNotice({ kind: 'done', text: `${what}: done.` });
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) setNotice({ kind: 'conflict', text: `Another user changed this farm since it was shown: ${what} was not done. The farm has been reloaded; check it and try again.` });
      else setNotice({ kind: 'error', text: `${what} failed: ${e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e)}` });
    } finally {
      await refresh();
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="farm-title">
      <p class="crumbs">
        Server Farms › {props.farm}
      </p>
      {props.tabs}
      <h1 id="farm-title">Monitoring and Management</h1>
      <ErrorLine text={error} />
      <NoticeLine notice={notice} />
      {!canAct && (
        <p id="actions-disabled" class="note" data-testid="disabled-reason">
          {reason}
        </p>
      )}
      {!data ? (
        <p class="loading">Loading…</p>
      ) : (
        <>
          <p class="facts">
            Load Balance: {data.algorithm} · healthy servers {data.healthyServers} / {data.servers.length}
            {data.ignoringHealth ? ' (fewer than minServers: health ignored)' : ''} · {data.enabled ? 'enabled' : 'disabled'}
          </p>
          <div class="toolbar">
            <button type="button" disabled={!canAct || busy} aria-describedby={canAct ? undefined : 'actions-disabled'} title={canAct ? undefined : reason} onClick={() => void act('Reset Counters', 'POST', '/counters/reset', {})}>
              Reset Counters
            </button>
          </div>
          <div class="scroll">
            <table class="monitoring">
              <caption>Servers of {data.name}: updated live</caption>
              <thead>
                <tr>
                  <th scope="col">Server</th>
                  <th scope="col">Availability</th>
                  <th scope="col">Health</th>
                  <th scope="col">Current Requests</th>
                  <th scope="col">Total Requests</th>
                  <th scope="col">Failed Requests</th>
                  <th scope="col">Requests/s</th>
                  <th scope="col">Response Time</th>
                  <th scope="col">Bytes Sent / Received</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.servers.map((s) => (
                  <tr key={s.address} data-server={s.address}>
                    <th scope="row">{s.address}</th>
                    <td data-col="state" class={s.state === 'available' ? '' : 'warn'}>
                      {STATE_NAMES[s.state] ?? s.state}
                    </td>
                    <td data-col="health" class={s.health === 'healthy' ? 'ok' : 'error'} title={s.healthReason ?? undefined}>
                      {s.health === 'healthy' ? 'Healthy' : 'Unhealthy'}
                    </td>
                    <td class="num">{number(s.currentRequests)}</td>
                    <td class="num" data-col="total">
                      {number(s.totalRequests)}
                    </td>
                    <td class={`num ${s.failedRequests > 0 ? 'warn' : ''}`}>{number(s.failedRequests)}</td>
                    <td class="num">{s.requestsPerSecond.toFixed(2)}</td>
                    <td class="num">{ms(s.responseTimeMs)}</td>
                    <td class="num">
                      {bytes(s.bytesSent)} / {bytes(s.bytesReceived)}
                    </td>
                    <td class="actions">
                      <div class="buttons">
                        {SERVER_ACTIONS.map((a) => (
                          <button
                            key={a.label}
                            type="button"
                            aria-label={`${a.label} ${s.address}`}
                            aria-describedby={canAct ? undefined : 'actions-disabled'}
                            title={canAct ? undefined : reason}
                            disabled={!canAct || busy || !a.allowed(s)}
                            onClick={() => void act(`${a.label} ${s.address}`, a.method, a.path(s.address), a.body)}
                          >
                            {a.label}
                          </button>
                        ))}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
