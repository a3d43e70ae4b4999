/**
 * Overview: each site with its bindings and SSL settings, each farm with healthy / total servers,
 * requests/s and failures (a small chart of the samples this page has taken), certificates expiring
 * within 30 days, and the last reload with its result.
 */
import { useRef } from 'preact/hooks';
import { get } from './api';
import { number, when } from './format';
import { REFRESH_MS, useLive } from './live';
import type { CertificateEntry, FarmView, SiteView, StatusView } from './types';
import { ErrorLine } from './notice';

const SAMPLES = 40;
const SOON_DAYS = 30;
const CLIENT_CERTIFICATES: Readonly<Record<string, string>> = { ignore: 'Ignore', accept: 'Accept', require: 'Require' };

/** A farm's samples while the page is open: requests/s, and failures new at each sample. */
interface Samples {
  rps: number[];
  failed: number[];
  failedTotal: number | null;
}

interface OverviewData {
  readonly status: StatusView;
  readonly sites: readonly SiteView[];
  readonly farms: readonly FarmView[];
  readonly certificates: readonly CertificateEntry[];
}

async function loadOverview(): Promise<OverviewData> {
  const [status, sites, farms, certificates] = await Promise.all([get<StatusView>('/status'), get<{ sites: SiteView[] }>('/sites'), get<{ farms: FarmView[] }>('/farms'), get<{ certificates: CertificateEntry[] }>('/certificates')]);
  return { status: status.body, sites: sites.body.sites, farms: farms.body.farms, certificates: certificates.body.certificates };
}

/** A small line chart of the last samples (SVG attributes only: nothing inline for the CSP to refuse). */
function Sparkline(props: { readonly values: readonly number[]; readonly label: string }) {
  const max = Math.max(1, ...props.values);
  const points = props.values.map((v, i) => `${(i * 100) / (SAMPLES - 1)},${(28 - (v / max) * 26).toFixed(1)}`).join(' ');
  return (
    <svg class="spark" viewBox="0 0 100 30" role="img" aria-label={props.label} preserveAspectRatio="none">
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

export function Overview(props: { readonly eventTick: number }) {
  const history = useRef(new Map<string, Samples>());
  const seen = useRef<OverviewData | null>(null);
  const { data, error } = useLive(loadOverview, props.eventTick);
  if (data && data !== seen.current) {
    // One sample per answer (a re-render without new data adds none).
    seen.current = data;
    for (const farm of data.farms) {
      const samples = history.current.get(farm.name) ?? { rps: [], failed: [], failedTotal: null };
      const failedTotal = farm.servers.reduce((sum, s) => sum + s.failedRequests, 0);
      samples.rps = [...samples.rps, farm.servers.reduce((sum, s) => sum + s.requestsPerSecond, 0)].slice(-SAMPLES);
      // New failures since the previous sample (a counters reset starts again from 0).
      samples.failed = [...samples.failed, samples.failedTotal === null ? 0 : Math.max(0, failedTotal - samples.failedTotal)].slice(-SAMPLES);
      samples.failedTotal = failedTotal;
      history.current.set(farm.name, samples);
    }
  }
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <ErrorLine text={error} />
      {!data ? (
        <p class="loading">Loading…</p>
      ) : (
        <>
          <p class="facts">
            Gatehouse {data.status.version} on Node {data.status.node} · {data.status.workers} worker{data.status.workers === 1 ? '' : 's'} · up {Math.round(data.status.uptimeSeconds)} s · <code>{data.status.configFile}</code>
          </p>
          <h2>Sites</h2>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Site</th>
                  <th scope="col">Bindings</th>
                  <th scope="col">SSL Settings</th>
                  <th scope="col">Server Farm</th>
                  <th scope="col">Failed Request Tracing</th>
                </tr>
              </thead>
              <tbody>
                {data.sites.map((site) => (
                  <tr key={site.name}>
                    <th scope="row">{site.name}</th>
                    <td>
                      <ul class="plain">
                        {site.bindings.map((b) => (
                          <li key={b.id}>
                            {b.protocol} {b.address}:{b.port} {b.hostName ?? '(all host names)'}
                            {b.certificate ? ` · certificate ${b.certificate.id ?? b.certificate.certFile ?? b.certificate.pfxFile ?? ''}` : ''}
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td>
                      Require SSL: {site.ssl.requireSsl ? 'yes' : 'no'} · Client certificates: {CLIENT_CERTIFICATES[site.ssl.clientCertificates]}
                    </td>
                    <td>{site.farm ? <a href={`#/farms/${encodeURIComponent(site.farm)}`}>{site.farm}</a> : '–'}</td>
                    <td>{site.tracing ? 'on' : 'off'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Server Farms</h2>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Server Farm</th>
                  <th scope="col">Healthy / total servers</th>
                  <th scope="col">Requests/s</th>
                  <th scope="col">Failed requests</th>
                  <th scope="col">Load Balance</th>
                </tr>
              </thead>
              <tbody>
                {data.farms.map((farm) => {
                  const samples = history.current.get(farm.name) ?? { rps: [], failed: [], failedTotal: null };
                  const rps = samples.rps[samples.rps.length - 1] ?? 0;
                  const failed = samples.failedTotal ?? 0;
                  return (
                    <tr key={farm.name}>
                      <th scope="row">
                        <a href={`#/farms/${encodeURIComponent(farm.name)}`}>{farm.name}</a>
                      </th>
                      <td class={farm.healthyServers < farm.servers.length ? 'warn' : ''}>
                        {farm.healthyServers} / {farm.servers.length}
                        {farm.ignoringHealth ? ' (too few healthy: ignoring health)' : ''}
                      </td>
                      <td class="num">
                        {rps.toFixed(1)} <Sparkline values={samples.rps} label={`requests per second of ${farm.name}, last ${samples.rps.length} samples (every ${REFRESH_MS / 1000} s)`} />
                      </td>
                      <td class={`num ${failed > 0 ? 'warn' : ''}`}>
                        {number(failed)} <Sparkline values={samples.failed} label={`new failed requests of ${farm.name} per sample, last ${samples.failed.length} samples (every ${REFRESH_MS / 1000} s)`} />
                      </td>
                      <td>{farm.algorithm}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <h2>Server Certificates expiring soon</h2>
          <Expiring certificates={data.certificates} />
          <h2>Last reload</h2>
          {data.status.lastReload === null ? (
            <p>No reload since the start.</p>
          ) : (
            <p class={data.status.lastReload.ok ? '' : 'error'}>
              {when(data.status.lastReload.at)}: {data.status.lastReload.ok ? 'in force' : `refused: ${data.status.lastReload.problems.join('; ')}`}
            </p>
          )}
        </>
      )}
    </section>
  );
}

function Expiring(props: { readonly certificates: readonly CertificateEntry[] }) {
  const soon = props.certificates.filter((c) => c.daysLeft <= SOON_DAYS).sort((a, b) => a.daysLeft - b.daysLeft);
  if (soon.length === 0) return <p>None within {SOON_DAYS} days ({props.certificates.length} certificates).</p>;
  return (
    <ul>
      {soon.map((c) => (
        <li key={c.id} class="warn">
          {c.friendlyName ?? c.subject}: {c.daysLeft < 0 ? 'expired' : `${c.daysLeft} days left`} ({when(c.notAfter)})
        </li>
      ))}
    </ul>
  );
}
