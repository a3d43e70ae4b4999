/**
 * Sites → a site: its bindings and SSL settings at a glance, with IIS's two actions as tabs: Bindings…
 * (site-bindings.tsx) and SSL Settings (site-ssl.tsx). One load for the three: the site (GET /sites/{site},
 * its ETag guards every write under it), its place in the config file (the key paths of the validate
 * problems name it: `sites[0].…`) and Server Certificates (the bindings' certificates by name).
 */
import { get, type Whoami } from './api';
import { certificateName, loadCertificates, type ServerCertificate } from './certificates';
import { useLive } from './live';
import { BindingsTab } from './site-bindings';
import { SslSettingsTab } from './site-ssl';

export interface BindingDetail {
  readonly id: string;
  readonly protocol: 'http' | 'https';
  readonly address: string;
  readonly port: number;
  readonly hostName: string | null;
  readonly http2: boolean | null;
  readonly certificate: { readonly id?: string; readonly certFile?: string; readonly keyFile?: string; readonly pfxFile?: string } | null;
}
export interface SslDetail {
  readonly requireSsl: boolean;
  readonly clientCertificates: 'ignore' | 'accept' | 'require';
  readonly trustedCaFile: string | null;
  readonly crlFile: readonly string[];
  readonly revocation: { readonly check: string; readonly online: boolean; readonly whenUnknown: string };
}
export interface SiteDetail {
  readonly name: string;
  readonly etag: string;
  readonly farm: string | null;
  readonly bindings: readonly BindingDetail[];
  readonly ssl: SslDetail;
}

/** What the site's pages show: the site, its index in the config's `sites`, and the certificates. */
export interface SiteData {
  readonly site: SiteDetail;
  readonly index: number;
  readonly certificates: readonly ServerCertificate[];
}

export type SiteTab = 'site' | 'bindings' | 'ssl';

const TABS: readonly { readonly tab: SiteTab; readonly label: string; readonly path: string }[] = [
  { tab: 'site', label: 'Site', path: '' },
  { tab: 'bindings', label: 'Bindings…', path: '/bindings' },
  { tab: 'ssl', label: 'SSL Settings', path: '/ssl' },
];
const TITLES: Readonly<Record<SiteTab, string>> = { site: 'Site', bindings: 'Bindings', ssl: 'SSL Settings' };
export const CLIENT_CERTIFICATE_NAMES: Readonly<Record<SslDetail['clientCertificates'], string>> = { ignore: 'Ignore', accept: 'Accept', require: 'Require' };

/** A binding as IIS lists it: `https 127.0.0.1:8443 (localhost)`. */
export const bindingText = (b: BindingDetail): string => `${b.protocol} ${b.address.includes(':') ? `[${b.address}]` : b.address}:${b.port}${b.hostName ? ` (${b.hostName})` : ''}`;

/** A binding's certificate by its Server Certificates name, or its file. */
export function certificateText(b: BindingDetail, certificates: readonly ServerCertificate[]): string {
  const c = b.certificate;
  if (!c) return '–';
  const known = c.id ? certificates.find((e) => e.id === c.id) : c.certFile ? certificates.find((e) => e.files.certFile.endsWith(c.certFile as string) && e.kind !== 'ca') : undefined;
  if (known) return `${certificateName(known)} (${known.id.slice(0, 8)}…)`;
  return c.certFile ?? c.pfxFile ?? '–';
}

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
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
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
