/**
 * Failed Request Tracing → a trace → Compact View (FREB's): the request at a glance with the reason it
 * ended as it did, the client certificate forwarded as X-ARR-ClientCert decoded (by the API) beside its
 * base64, the routing decision, the request headers (as received, and what Gatehouse set or removed), the
 * answer, and the event list with each event's time and how long it lasted until the next.
 */
import { get } from './api';
import { ms, when } from './format';
import { useLive } from './live';
import { ErrorLine, Head } from './notice';
import type { DecodedCertificate, TraceEvent, TraceView } from './tracing-types';

const eventsNamed = (trace: TraceView, name: string) => trace.events.filter((e) => e.name === name);
const text = (value: unknown) => (value === undefined || value === null || value === '' ? '–' : typeof value === 'object' ? JSON.stringify(value) : String(value));
const headerLines = (value: unknown) => (typeof value === 'string' && value !== '' ? value.split('\n').map((line) => { const at = line.indexOf(':'); return [line.slice(0, at), line.slice(at + 1).trim()] as const; }) : []);

/** Why the request ended as it did: Gatehouse's own answer, the door's verdict, or the server's status. */
function reasonOf(trace: TraceView): string {
  const own = eventsNamed(trace, 'MODULE_SET_RESPONSE_ERROR_STATUS').at(-1)?.data;
  if (own) return `${text(own['HttpStatus'])}.${text(own['HttpSubStatus'])}: ${text(own['Reason'])}`;
  const error = eventsNamed(trace, 'ARR_RESPONSE_ERROR').at(-1)?.data;
  if (error) return `server error: ${text(error['Error'])}`;
  return `${trace.statusCode}.${trace.subStatusCode} from the server`;
}

function Facts(props: { readonly rows: readonly (readonly [string, preact.ComponentChildren])[]; readonly label: string }) {
  return (
    <dl class="facts-list" aria-label={props.label}>
      {props.rows.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function ClientCertificate(props: { readonly trace: TraceView }) {
  const { trace } = props;
  const decoded = trace.clientCertificate;
  const door = eventsNamed(trace, 'SSL_CLIENT_CERTIFICATE')[0]?.data;
  const header = decoded ? decoded.header : 'X-ARR-ClientCert';
  const forwarded = eventsNamed(trace, 'GENERAL_SET_REQUEST_HEADER').find((e) => String(e.data['HeaderName']).toLowerCase() === header.toLowerCase())?.data['HeaderValue'];
  return (
    <section aria-labelledby="cv-cert">
      <h2 id="cv-cert">Client certificate</h2>
      {door && (
        <Facts
          label="The door's verdict"
          rows={[
            ['Presented', door['Subject'] ? text(door['Subject']) : 'no certificate'],
            ['Door verdict', <span class={door['Verdict'] === 'accepted' ? 'ok' : 'error'} data-testid="door-verdict">{text(door['Verdict'])}</span>],
            ['Reason', <span data-testid="door-reason">{text(door['Reason'])}</span>],
            ...(door['VerifyCode'] ? [['OpenSSL code', text(door['VerifyCode'])] as const] : []),
          ]}
        />
      )}
      {decoded === null ? (
        <p class="note">No client certificate was forwarded to a server{trace.statusCode >= 400 && !eventsNamed(trace, 'ARR_REQUEST_ROUTED').length ? ': Gatehouse answered the request itself' : ''}.</p>
      ) : 'error' in decoded ? (
        <p class="error" role="alert">
          {decoded.error}
        </p>
      ) : (
        <div class="cert-pair">
          <DecodedCertificateView certificate={decoded} />
          <div class="cert-raw">
            <h3 id="cv-base64">{decoded.header} (base64, as forwarded)</h3>
            <pre class="base64" aria-labelledby="cv-base64" tabIndex={0}>
              {text(forwarded)}
            </pre>
          </div>
        </div>
      )}
    </section>
  );
}

function DecodedCertificateView(props: { readonly certificate: DecodedCertificate }) {
  const c = props.certificate;
  return (
    <div class="cert-decoded">
      <h3>{c.header} decoded</h3>
      <table class="certificate" aria-label={`${c.header} decoded as a certificate`}>
        <tbody>
          <tr>
            <th scope="row">Issued To (subject)</th>
            <td data-testid="cert-subject">{c.subject}</td>
          </tr>
          <tr>
            <th scope="row">Issued By (issuer)</th>
            <td data-testid="cert-issuer">{c.issuer}</td>
          </tr>
          <tr>
            <th scope="row">Valid From</th>
            <td>{when(c.notBefore)}</td>
          </tr>
          <tr>
            <th scope="row">Valid To</th>
            <td>{when(c.notAfter)}</td>
          </tr>
          <tr>
            <th scope="row">Serial Number</th>
            <td>
              <code>{c.serialNumber}</code>
            </td>
          </tr>
          <tr>
            <th scope="row">Thumbprint (SHA-1)</th>
            <td>
              <code data-testid="cert-thumbprint">{c.thumbprintSha1}</code>
            </td>
          </tr>
          <tr>
            <th scope="row">Thumbprint (SHA-256)</th>
            <td>
              <code class="wrap">{c.thumbprintSha256}</code>
            </td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

function Routing(props: { readonly trace: TraceView }) {
  const { trace } = props;
  const rules = eventsNamed(trace, 'URL_REWRITE_RULE_MATCHED');
  const routed = eventsNamed(trace, 'ARR_REQUEST_ROUTED');
  const retries = eventsNamed(trace, 'ARR_REQUEST_RETRY');
  const own = eventsNamed(trace, 'MODULE_SET_RESPONSE_ERROR_STATUS').at(-1)?.data;
  const last = routed.at(-1)?.data;
  return (
    <section aria-labelledby="cv-routing">
      <h2 id="cv-routing">Routing decision</h2>
      <Facts
        label="Routing decision"
        rows={[
          ['Rule', rules.length === 0 ? 'none (Gatehouse answered before routing)' : rules.map((r) => `${text(r.data['Rule'])} → ${text(r.data['Action'])}${r.data['WebFarm'] ? ` ${text(r.data['WebFarm'])}` : ''}`).join('; ')],
          ['Server Farm', last ? text(last['WebFarm']) : '–'],
          ['Server', <span data-testid="routed-server">{last ? text(last['Server']) : '–'}</span>],
          ['Algorithm', last ? `${text(last['Algorithm'])} (${text(last['RoutingReason'])})` : '–'],
          ...retries.map((r, i) => [`Retry ${i + 1}`, `${text(r.data['FailedServer'])} failed (${text(r.data['Cause'])}); next ${text(r.data['NextServer'])}`] as const),
          ...(own ? [['Answered by', `${text(own['ModuleName'])}: ${text(own['HttpStatus'])}.${text(own['HttpSubStatus'])} ${text(own['Reason'])}`] as const] : []),
        ]}
      />
    </section>
  );
}

function HeaderTable(props: { readonly caption: string; readonly lines: readonly (readonly [string, string])[] }) {
  return (
    <div class="scroll">
      <table class="headers">
        <caption>{props.caption}</caption>
        <tbody>
          {props.lines.map(([name, value], i) => (
            <tr key={i}>
              <th scope="row">{name}</th>
              <td class="wrap">{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Headers(props: { readonly trace: TraceView }) {
  const { trace } = props;
  const received = headerLines(eventsNamed(trace, 'GENERAL_REQUEST_HEADERS')[0]?.data['Headers']);
  const set = eventsNamed(trace, 'GENERAL_SET_REQUEST_HEADER');
  const removed = eventsNamed(trace, 'GENERAL_REMOVE_REQUEST_HEADER');
  const response = eventsNamed(trace, 'ARR_RESPONSE_HEADERS_END').at(-1)?.data;
  const responseHeaders = headerLines(eventsNamed(trace, 'GENERAL_RESPONSE_HEADERS').at(-1)?.data['Headers']);
  const end = eventsNamed(trace, 'GENERAL_REQUEST_END').at(-1)?.data;
  const entity = eventsNamed(trace, 'ARR_RESPONSE_ENTITY_END').at(-1)?.data;
  return (
    <section aria-labelledby="cv-headers">
      <h2 id="cv-headers">Request and response headers</h2>
      <HeaderTable caption="Request headers as the client sent them (secrets redacted)" lines={received} />
      {(set.length > 0 || removed.length > 0) && (
        <div class="scroll">
          <table class="headers">
            <caption>Headers Gatehouse changed on the way to the server</caption>
            <tbody>
              {set.map((e, i) => (
                <tr key={`s${i}`}>
                  <th scope="row">{text(e.data['HeaderName'])}</th>
                  <td class="wrap">
                    <span class="tag">set</span> {String(e.data['HeaderValue'] ?? '').length > 120 ? `${String(e.data['HeaderValue']).slice(0, 120)}… (${String(e.data['HeaderValue']).length} characters)` : text(e.data['HeaderValue'])}
                  </td>
                </tr>
              ))}
              {removed.map((e, i) => (
                <tr key={`r${i}`}>
                  <th scope="row">{text(e.data['HeaderName'])}</th>
                  <td>
                    <span class="tag">removed</span> {text(e.data['Reason'])}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {responseHeaders.length > 0 && <HeaderTable caption="Response headers as the client got them" lines={responseHeaders} />}
      <Facts
        label="Response"
        rows={[
          ['Server response', response ? `HTTP ${text(response['HttpStatus'])}` : 'none (not sent to a server)'],
          ['Answer to the client', end ? `${text(end['HttpStatus'])}.${text(end['HttpSubStatus'])} (${text(end['Outcome'])}), ${text(end['BytesSent'])} bytes` : '–'],
          ...(entity ? [['Server timings', `connect ${ms(entity['ConnectMs'] as number | null)}, first byte ${ms(entity['FirstByteMs'] as number | null)}, complete ${ms(entity['CompleteMs'] as number | null)}`] as const] : []),
          ['X-ARR-LOG-ID', end ? text(end['LogId']) : '–'],
        ]}
      />
      {responseHeaders.length === 0 && <p class="hint">No response headers in this trace: Gatehouse answered itself, or the trace was cut to its maximum size.</p>}
    </section>
  );
}

/** An event's data as short `Key: value` pairs (headers and long values cut; the sections above show them whole). */
function details(event: TraceEvent): string {
  return Object.entries(event.data)
    .map(([key, value]) => {
      const shown = text(value);
      return `${key}: ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}`;
    })
    .join(' · ');
}

function Events(props: { readonly trace: TraceView }) {
  const { events } = props.trace;
  return (
    <section aria-labelledby="cv-events">
      <h2 id="cv-events">Events</h2>
      <div class="scroll">
        <table class="events">
          <Head columns={['No.', 'Event Name', 'Time', 'Elapsed', 'Duration', 'Details']} />
          <tbody>
            {events.map((e, i) => {
              const next = events[i + 1];
              return (
                <tr key={i} data-event={e.name}>
                  <td class="num">{i + 1}</td>
                  <th scope="row">
                    <code>{e.name}</code>
                  </th>
                  <td class="nowrap">{e.time.slice(11, 23)}</td>
                  <td class="num">{ms(e.elapsedMs)}</td>
                  <td class="num">{next ? ms(Math.max(0, next.elapsedMs - e.elapsedMs)) : '–'}</td>
                  <td class="details">{details(e)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function CompactView(props: { readonly id: string; readonly site: string | null; readonly eventTick: number }) {
  const path = `/traces/${encodeURIComponent(props.id)}${props.site ? `?site=${encodeURIComponent(props.site)}` : ''}`;
  const { data, error } = useLive(async () => (await get<TraceView>(path)).body, 0, [path]);
  return (
    <section aria-labelledby="cv-title">
      <p class="crumbs">
        <a href="#/tracing">Failed Request Tracing</a> › {props.site ?? ''} › {props.id}
      </p>
      <h1 id="cv-title">Compact View</h1>
      <ErrorLine text={error} />
      {!data ? (
        !error && <p class="loading">Loading…</p>
      ) : (
        <>
          <Facts
            label="Request summary"
            rows={[
              ['URL', <code>{`${data.verb} ${data.url}`}</code>],
              ['Site', data.site],
              ['Status', <strong class={data.statusCode < 400 ? 'ok' : 'error'} data-testid="cv-status">{`${data.statusCode}.${data.subStatusCode}`}</strong>],
              ['Reason', <span data-testid="cv-reason">{reasonOf(data)}</span>],
              ['Time Taken', ms(data.timeTakenMs)],
              ['Kept because', `${data.failureReason} (rule ${data.rule + 1})`],
              ['Started', when(data.startTime)],
            ]}
          />
          <ClientCertificate trace={data} />
          <Routing trace={data} />
          <Headers trace={data} />
          <Events trace={data} />
        </>
      )}
    </section>
  );
}
