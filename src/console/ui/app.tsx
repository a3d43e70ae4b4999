/**
 * The console's shell: sign-in, the header (who is signed in, the live stream's state, Sign out), the
 * navigation (IIS Manager's Connections tree, flattened) and the page of the URL's hash: `#/` Overview,
 * `#/farms/<farm>` the farm's Monitoring and Management.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, get, saveToken, savedToken, type Whoami } from './api';
import { AuditPage } from './audit';
import { ConfigPage } from './config';
import { followEvents, type StreamStatus } from './events';
import { CertificatesPage } from './certificates';
import { ClientCertificatesPage } from './client-certificates';
import { CompactView } from './compact-view';
import { FarmPage, isFarmFeature, type FarmFeatureName } from './farm';
import { Overview } from './overview';
import { SignIn } from './signin';
import { SitePage, type SiteTab } from './site';
import { TracingPage } from './tracing';

type Route =
  | { readonly page: 'overview' }
  | { readonly page: 'farm'; readonly farm: string; readonly feature?: FarmFeatureName }
  | { readonly page: 'config' }
  | { readonly page: 'audit' }
  | { readonly page: 'certificates' }
  | { readonly page: 'site'; readonly site: string; readonly tab: SiteTab }
  | { readonly page: 'client-certificates' }
  | { readonly page: 'tracing' }
  | { readonly page: 'trace'; readonly id: string; readonly site: string | null }
  | { readonly page: 'unknown'; readonly hash: string };

/** The Connections entries after Server Farms, in IIS Manager's order of use; `pages`: where each is current. */
const LINKS: readonly { readonly href: string; readonly label: string; readonly pages: readonly Route['page'][] }[] = [
  { href: '#/client-certificates', label: 'Client Certificates', pages: ['client-certificates'] },
  { href: '#/tracing', label: 'Failed Request Tracing', pages: ['tracing', 'trace'] },
  { href: '#/config', label: 'Config', pages: ['config'] },
  { href: '#/audit', label: 'Audit', pages: ['audit'] },
];

function routeOf(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  if (path === '/') return { page: 'overview' };
  if (path === '/config') return { page: 'config' };
  if (path === '/audit') return { page: 'audit' };
  const farm = /^\/farms\/([^/]+)$/.exec(path);
  if (farm) return { page: 'farm', farm: decodeURIComponent(farm[1] as string) };
  const feature = /^\/farms\/([^/]+)\/([a-z-]+)$/.exec(path);
  if (feature && isFarmFeature(feature[2] as string)) return { page: 'farm', farm: decodeURIComponent(feature[1] as string), feature: feature[2] as FarmFeatureName };
  if (path === '/certificates') return { page: 'certificates' };
  const site = /^\/sites\/([^/]+)(?:\/(bindings|ssl))?$/.exec(path);
  if (site) return { page: 'site', site: decodeURIComponent(site[1] as string), tab: (site[2] as SiteTab | undefined) ?? 'site' };
  if (path === '/client-certificates') return { page: 'client-certificates' };
  if (path === '/tracing') return { page: 'tracing' };
  const trace = /^\/tracing\/([^/?]+)(?:\?site=([^&]+))?$/.exec(path);
  if (trace) return { page: 'trace', id: decodeURIComponent(trace[1] as string), site: trace[2] ? decodeURIComponent(trace[2]) : null };
  return { page: 'unknown', hash };
}

function useHashRoute(): Route {
  const [route, setRoute] = useState(() => routeOf(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(routeOf(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function App() {
  const [who, setWho] = useState<Whoami | null>(null);
  const [signIn, setSignIn] = useState<string | null>(null);
  const route = useHashRoute();
  useEffect(() => {
    call<Whoami>('GET', '/whoami')
      .then((answer) => setWho(answer.body))
      .catch((e: unknown) => {
        if (savedToken()) saveToken(null);
        setSignIn(e instanceof ApiError ? e.message : 'the admin API cannot be reached');
      });
  }, []);
  if (!who) return signIn === null ? <p class="loading">Signing in…</p> : <SignIn reason={signIn} onSignedIn={setWho} />;
  return <Signed who={who} route={route} />;
}

function Signed(props: { readonly who: Whoami; readonly route: Route }) {
  const [stream, setStream] = useState<StreamStatus>('connecting');
  const [eventTick, setEventTick] = useState(0);
  // null until loaded: the tree is drawn once both lists are in, so its links do not move under a click.
  const [farms, setFarms] = useState<readonly string[] | null>(null);
  const [sites, setSites] = useState<readonly string[] | null>(null);
  useEffect(() => {
    const follow = followEvents(() => setEventTick((n) => n + 1), setStream);
    get<{ farms: { name: string }[] }>('/farms').then((answer) => setFarms(answer.body.farms.map((f) => f.name)), () => setFarms([]));
    get<{ sites: { name: string }[] }>('/sites').then((answer) => setSites(answer.body.sites.map((s) => s.name)), () => setSites([]));
    return () => follow.stop();
  }, []);
  const signOut = () => {
    saveToken(null);
    location.hash = '#/';
    location.reload();
  };
  const { who, route } = props;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/">
          Gatehouse
        </a>
        <span class="who" data-testid="who">
          {who.user} · {who.role} · {who.kind === 'certificate' ? 'client certificate' : 'token'}
        </span>
        <span class={`stream stream-${stream}`} role="status" aria-live="polite">
          Live updates: {stream}
        </span>
        {who.kind === 'token' && (
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        )}
      </header>
      <nav class="side" aria-label="Connections" aria-busy={farms === null || sites === null}>
        {farms === null || sites === null ? (
          <p class="loading">Loading…</p>
        ) : (
          <ul>
            <li>
              <a href="#/" aria-current={route.page === 'overview' ? 'page' : undefined}>
                Overview
              </a>
            </li>
            <li>
              <a href="#/certificates" aria-current={route.page === 'certificates' ? 'page' : undefined}>
                Server Certificates
              </a>
            </li>
            <li>
              {/* A node of the Connections tree: open on a site's pages, else expanded by a click (Enter). */}
              <details class="node" open={route.page === 'site'}>
                <summary>Sites</summary>
                <ul>
                  {sites.map((site) => (
                    <li key={site}>
                      <a href={`#/sites/${encodeURIComponent(site)}`} aria-current={route.page === 'site' && route.site === site ? 'page' : undefined}>
                        {site}
                      </a>
                    </li>
                  ))}
                </ul>
              </details>
            </li>
            <li>
              Server Farms
              <ul>
                {farms.map((farm) => (
                  <li key={farm}>
                    <a href={`#/farms/${encodeURIComponent(farm)}`} aria-current={route.page === 'farm' && route.farm === farm ? 'page' : undefined}>
                      {farm}
                    </a>
                  </li>
                ))}
              </ul>
            </li>
            {LINKS.map((link) => (
              <li key={link.href}>
                <a href={link.href} aria-current={link.pages.includes(route.page) ? 'page' : undefined}>
                  {link.label}
                </a>
              </li>
            ))}
          </ul>
        )}
      </nav>
      <main class="page">
        {route.page === 'overview' && <Overview eventTick={eventTick} />}
        {route.page === 'farm' && <FarmPage key={route.farm} farm={route.farm} {...(route.feature ? { feature: route.feature } : {})} who={who} eventTick={eventTick} />}
        {route.page === 'config' && <ConfigPage who={who} eventTick={eventTick} />}
        {route.page === 'audit' && <AuditPage eventTick={eventTick} />}
        {route.page === 'certificates' && <CertificatesPage who={who} eventTick={eventTick} />}
        {route.page === 'site' && <SitePage key={route.site} site={route.site} tab={route.tab} who={who} eventTick={eventTick} />}
        {route.page === 'client-certificates' && <ClientCertificatesPage eventTick={eventTick} />}
        {route.page === 'tracing' && <TracingPage who={who} eventTick={eventTick} />}
        {route.page === 'trace' && <CompactView key={`${route.site}/${route.id}`} id={route.id} site={route.site} eventTick={eventTick} />}
        {route.page === 'unknown' && (
          <p role="alert">
            No page {route.hash}. <a href="#/">Overview</a>
          </p>
        )}
      </main>
    </div>
  );
}
