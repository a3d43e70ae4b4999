/**
 * Sites → a site: its bindings and SSL settings at a glance, with IIS's two actions as tabs: Bindings…
 * (site-bindings.tsx) and SSL Settings (site-ssl.tsx). One load for the three: the site (GET /sites/{site},
 * its ETag guards every write under it), its place in the config file (the key paths of the validate
 * problems name it: `sites[0].…`) and Server Certificates (the bindings' certificates by name).
 */
import { get, type Whoami } from './api';
import { loadCertificates } from './certificates';
import { useLive } from './live';
import { BindingsTab } from './site-bindings';
import { bindingText, certificateText, CLIENT_CERTIFICATE_NAMES, type SiteData, type SiteDetail } from './site-data';
import { SslSettingsTab } from './site-ssl';
import { ErrorLine } from './notice';

export type SiteTab = 'site' | 'bindings' | 'ssl';

const TABS: readonly { readonly tab: SiteTab; readonly label: string; readonly path: string }[] = [
  { tab: 'site', label: 'Site', path: '' },
  { tab: 'bindings', label: 'Bindings…', path: '/bindings' },
  { tab: 'ssl', label: 'SSL Settings', path: '/ssl' },
];
const TITLES: Readonly<Record<SiteTab, string>> = { site: 'Site', bindings: 'Bindings', ssl: 'SSL Settings' };
async function loadSite(name: string): Promise<SiteData> {
  const [site, sites, listing] = await Promise.all([get<SiteDetail>(`/sites/${encodeURIComponent(name)}`), get<{ sites: { name: string }[] }>('/sites'), loadCertificates()]);
  return { site: site.body, index: sites.body.sites.findIndex((s) => s.name === name), certificates: listing.certificates };
}

export function SitePage(props: { readonly site: string; readonly tab: SiteTab; readonly who: Whoami; readonly eventTick: number }) {
  const { data, error, refresh } = useLive(() => loadSite(props.site), props.eventTick, [props.site]);
  const base = `#/sites/${encodeURIComponent(props.site)}`;
  return (
    <section aria-labelledby="site-title">
      <p class="crumbs">Sites › {props.site}</p>
      <h1 id="site-title">
        {props.tab === 'site' ? props.site : `${TITLES[props.tab]}: ${props.site}`}
      </h1>
      <nav class="tabs" aria-label={`Site ${props.site}`}>
        {TABS.map((t) => (
          <a key={t.tab} href={`${base}${t.path}`} aria-current={t.tab === props.tab ? 'page' : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      <ErrorLine text={error} />
      {!data ? (
        <p class="loading">Loading…</p>
      ) : props.tab === 'bindings' ? (
        <BindingsTab data={data} who={props.who} refresh={refresh} />
      ) : props.tab === 'ssl' ? (
        <SslSettingsTab data={data} who={props.who} refresh={refresh} />
      ) : (
        <SiteSummary data={data} base={base} />
      )}
    </section>
  );
}

function SiteSummary(props: { readonly data: SiteData; readonly base: string }) {
  const { site, certificates } = props.data;
  const ssl = site.ssl;
  return (
    <>
      <p class="facts">
        Server Farm: {site.farm ? <a href={`#/farms/${encodeURIComponent(site.farm)}`}>{site.farm}</a> : 'none (rules only)'}
      </p>
      <h2>
        Bindings <a href={`${props.base}/bindings`}>Bindings…</a>
      </h2>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Binding</th>
              <th scope="col">SSL certificate</th>
            </tr>
          </thead>
          <tbody>
            {site.bindings.map((b) => (
              <tr key={b.id}>
                <th scope="row">{bindingText(b)}</th>
                <td>{b.protocol === 'https' ? certificateText(b, certificates) : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>
        SSL Settings <a href={`${props.base}/ssl`}>SSL Settings</a>
      </h2>
      <dl class="settings">
        <dt>Require SSL</dt>
        <dd>{ssl.requireSsl ? 'Yes' : 'No'}</dd>
        <dt>Client certificates</dt>
        <dd>{CLIENT_CERTIFICATE_NAMES[ssl.clientCertificates]}</dd>
        <dt>Trusted CA file</dt>
        <dd>{ssl.trustedCaFile ? <code>{ssl.trustedCaFile}</code> : '–'}</dd>
        <dt>CRL files</dt>
        <dd>{ssl.crlFile.length ? ssl.crlFile.map((f) => <code key={f}>{f} </code>) : '–'}</dd>
        <dt>Revocation</dt>
        <dd>
          check {ssl.revocation.check}
          {ssl.revocation.online ? ', online' : ''}, when unknown {ssl.revocation.whenUnknown}
        </dd>
      </dl>
    </>
  );
}
