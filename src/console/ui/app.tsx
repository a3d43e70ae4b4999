/**
 * The console's shell: sign-in, the header (who is signed in, the live stream's state, Sign out), the
 * navigation (IIS Manager's Connections tree, flattened) and the page of the URL's hash: `#/` Overview,
 * `#/farms/<farm>` the farm's Monitoring and Management.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, get, saveToken, savedToken, type Whoami } from './api';
import { followEvents, type StreamStatus } from './events';
import { ClientCertificatesPage } from './client-certificates';
import { CompactView } from './compact-view';
import { FarmPage } from './farm';
import { Overview } from './overview';
import { SignIn } from './signin';
import { TracingPage } from './tracing';

type Route =
  | { readonly page: 'overview' }
  | { readonly page: 'farm'; readonly farm: string }
  | { readonly page: 'client-certificates' }
  | { readonly page: 'tracing' }
  | { readonly page: 'trace'; readonly id: string; readonly site: string | null }
  | { readonly page: 'unknown'; readonly hash: string };

function routeOf(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  if (path === '/') return { page: 'overview' };
  const farm = /^\/farms\/([^/]+)$/.exec(path);
  if (farm) return { page: 'farm', farm: decodeURIComponent(farm[1] as string) };
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
  const [farms, setFarms] = useState<readonly string[]>([]);
  useEffect(() => {
    const follow = followEvents(() => setEventTick((n) => n + 1), setStream);
    get<{ farms: { name: string }[] }>('/farms').then((answer) => setFarms(answer.body.farms.map((f) => f.name)), () => {});
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
      <nav class="side" aria-label="Connections">
        <ul>
          <li>
            <a href="#/" aria-current={route.page === 'overview' ? 'page' : undefined}>
              Overview
            </a>
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
          <li>
            <a href="#/client-certificates" aria-current={route.page === 'client-certificates' ? 'page' : undefined}>
              Client Certificates
            </a>
          </li>
          <li>
            <a href="#/tracing" aria-current={route.page === 'tracing' || route.page === 'trace' ? 'page' : undefined}>
              Failed Request Tracing
            </a>
          </li>
        </ul>
      </nav>
      <main class="page">
        {route.page === 'overview' && <Overview eventTick={eventTick} />}
        {route.page === 'farm' && <FarmPage key={route.farm} farm={route.farm} who={who} eventTick={eventTick} />}
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
