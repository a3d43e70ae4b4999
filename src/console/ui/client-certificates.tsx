/**
 * Client Certificates: every client certificate the doors have seen since start (GET /client-certificates):
 * who, issuer, expiry (expired and expiring within 30 days said in words, not only in colour), last seen,
 * connections, requests, the last verdict and the refusals by 403 sub-status. The filters are the API's
 * query parameters: site, verdict, expiring within N days.
 */
import { useState } from 'preact/hooks';
import { get } from './api';
import { number, when } from './format';
import { useLive } from './live';
import { ErrorLine, Head } from './notice';
import type { SeenClientCertificate } from './tracing-types';
import type { SiteView } from './types';

const DAY_MS = 86_400_000;
const SOON_DAYS = 30;
/** The door's verdicts (outcome codes), with the 403 sub-status each gives. */
export const VERDICTS: readonly { readonly value: string; readonly label: string }[] = [
  { value: 'accepted', label: 'Accepted' },
  { value: 'revoked', label: 'Revoked (403.13)' },
  { value: 'untrusted', label: 'Untrusted CA (403.16)' },
  { value: 'revocation_unknown', label: 'Revocation status unknown (403.16)' },
  { value: 'bad_signature', label: 'Bad signature (403.16)' },
  { value: 'wrong_usage', label: 'Not for client authentication (403.16)' },
  { value: 'certificate_invalid', label: 'Invalid (403.16)' },
  { value: 'expired', label: 'Expired (403.17)' },
  { value: 'not_yet_valid', label: 'Not yet valid (403.17)' },
];
const verdictLabel = (verdict: string) => VERDICTS.find((v) => v.value === verdict)?.label ?? verdict;

/** The expiry as words: "Expired 3 days ago", "Expires in 12 days", or nothing special. */
export function expiry(notAfter: string, nowMs = Date.now()): { readonly text: string; readonly kind: 'expired' | 'soon' | 'ok' } {
  const days = Math.floor((Date.parse(notAfter) - nowMs) / DAY_MS);
  if (Date.parse(notAfter) <= nowMs) return { text: `Expired ${Math.max(1, -days)} day${-days === 1 ? '' : 's'} ago`, kind: 'expired' };
  if (days < SOON_DAYS) return { text: days === 0 ? 'Expires today' : `Expires in ${days} day${days === 1 ? '' : 's'}`, kind: 'soon' };
  return { text: `${days} days left`, kind: 'ok' };
}

function query(site: string, verdict: string, expiringWithin: string): string {
  const params = new URLSearchParams();
  if (site) params.set('site', site);
  if (verdict) params.set('verdict', verdict);
  if (expiringWithin !== '') params.set('expiringWithin', expiringWithin);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function ClientCertificatesPage(props: { readonly eventTick: number }) {
  const [site, setSite] = useState('');
  const [verdict, setVerdict] = useState('');
  const [expiringWithin, setExpiringWithin] = useState('');
  const validDays = expiringWithin === '' || /^\d{1,5}$/.test(expiringWithin);
  const path = `/client-certificates${query(site, verdict, validDays ? expiringWithin : '')}`;
  const sites = useLive(async () => (await get<{ sites: SiteView[] }>('/sites')).body.sites.map((s) => s.name), 0, []);
  const { data, error } = useLive(async () => (await get<{ clientCertificates: SeenClientCertificate[] }>(path)).body.clientCertificates, props.eventTick, [path]);
  return (
    <section aria-labelledby="client-certificates-title">
      <h1 id="client-certificates-title">Client Certificates</h1>
      <p class="hint">Every client certificate presented since Gatehouse started (the most recently seen first), with what the door decided.</p>
      <form class="filters" aria-label="Filter" onSubmit={(e) => e.preventDefault()}>
        <label for="cc-site">Site</label>
        <select id="cc-site" value={site} onChange={(e) => setSite(e.currentTarget.value)}>
          <option value="">All sites</option>
          {(sites.data ?? []).map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <label for="cc-verdict">Verdict</label>
        <select id="cc-verdict" value={verdict} onChange={(e) => setVerdict(e.currentTarget.value)}>
          <option value="">Any verdict</option>
          {VERDICTS.map((v) => (
            <option key={v.value} value={v.value}>
              {v.label}
            </option>
          ))}
        </select>
        <label for="cc-expiring">Expiring within (days)</label>
        <input id="cc-expiring" type="number" min={0} max={36500} inputMode="numeric" value={expiringWithin} aria-invalid={!validDays} aria-describedby={validDays ? undefined : 'cc-expiring-error'} onInput={(e) => setExpiringWithin(e.currentTarget.value.trim())} />
        {!validDays && (
          <span id="cc-expiring-error" class="error" role="alert">
            a number of days, 0-36500
          </span>
        )}
      </form>
      <ErrorLine text={error} />
      {!data ? (
        <p class="loading">Loading…</p>
      ) : data.length === 0 ? (
        <p class="note">No client certificate seen{site || verdict || expiringWithin ? ' that matches the filter' : ' yet'}.</p>
      ) : (
        <div class="scroll">
          <table class="client-certificates">
            <caption>{data.length} client certificate{data.length === 1 ? '' : 's'}</caption>
            <Head columns={['Issued To', 'Issued By', 'Expiration', 'Last Seen', 'Connections', 'Requests', 'Last Verdict', 'Rejections', 'Sites']} />
            <tbody>
              {data.map((c) => {
                const exp = expiry(c.notAfter);
                const refused = Object.entries(c.rejections).sort(([a], [b]) => a.localeCompare(b));
                return (
                  <tr key={c.thumbprintSha256} data-thumbprint={c.thumbprintSha1}>
                    <th scope="row">
                      {c.subject || '(empty subject)'}
                      <br />
                      <code class="thumb" title="SHA-1 thumbprint">
                        {c.thumbprintSha1}
                      </code>
                    </th>
                    <td>{c.issuer}</td>
                    <td data-col="expiry" class={exp.kind === 'expired' ? 'error' : exp.kind === 'soon' ? 'warn' : ''}>
                      {when(c.notAfter).slice(0, 10)}
                      <br />
                      <span class={`mark mark-${exp.kind}`}>{exp.kind === 'expired' ? `⚠ ${exp.text}` : exp.kind === 'soon' ? `⚠ ${exp.text}` : exp.text}</span>
                    </td>
                    <td class="nowrap">{when(c.lastSeen)}</td>
                    <td class="num">{number(c.connections)}</td>
                    <td class="num">{number(c.requests)}</td>
                    <td data-col="verdict" class={c.lastVerdict === 'accepted' ? 'ok' : 'error'}>
                      {verdictLabel(c.lastVerdict)}
                    </td>
                    <td data-col="rejections">{refused.length === 0 ? 'none' : refused.map(([status, count]) => `${status} × ${number(count)}`).join(', ')}</td>
                    <td>{c.sites.join(', ')}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
