/**
 * Sites → a site → SSL Settings: Require SSL, Client certificates (Ignore / Accept / Require), the trusted
 * CA file and the CRL files, and Apply: PUT /sites/{site}/ssl with If-Match: the site's ETag when the
 * settings were shown. The API validates the whole config as `gatehouse validate` does, saves and reloads;
 * a 422 shows those problems at the field their key path names (`sites[0].ssl.trustedCaFile`), the others
 * above the form; a refused reload (409) says why; a 412 says another user changed the site and reloads it.
 */
import { useEffect, useState } from 'preact/hooks';
import { call, type Whoami } from './api';
import { adminOnlyReason, DisabledReason, FieldProblem, NoticeLine, ProblemSummary, useWrite } from './problems';
import { CLIENT_CERTIFICATE_NAMES, type SiteData, type SslDetail } from './site-data';

interface SslValues {
  readonly requireSsl: boolean;
  readonly clientCertificates: SslDetail['clientCertificates'];
  readonly trustedCaFile: string;
  /** One file a line. */
  readonly crlFile: string;
}

const valuesOf = (ssl: SslDetail): SslValues => ({ requireSsl: ssl.requireSsl, clientCertificates: ssl.clientCertificates, trustedCaFile: ssl.trustedCaFile ?? '', crlFile: ssl.crlFile.join('\n') });

const FIELDS = ['requireSsl', 'clientCertificates', 'trustedCaFile', 'crlFile'] as const;

/** The field a key path concerns: the body's (`trustedCaFile`, `crlFile[1]`) or this site's in the config (`sites[0].ssl.crlFile[1]`). */
function fieldOfSsl(siteIndex: number): (path: string) => string | null {
  const prefix = `sites[${siteIndex}].ssl.`;
  return (path) => {
    if (path.startsWith('sites[') && !path.startsWith(prefix)) return null;
    const key = (path.startsWith(prefix) ? path.slice(prefix.length) : path).split(/[.[]/)[0] as string;
    return (FIELDS as readonly string[]).includes(key) ? key : null;
  };
}

function bodyOf(values: SslValues): Record<string, unknown> {
  const crl = values.crlFile.split('\n').map((line) => line.trim()).filter(Boolean);
  return {
    requireSsl: values.requireSsl,
    clientCertificates: values.clientCertificates,
    trustedCaFile: values.trustedCaFile.trim() || null,
    crlFile: crl.length === 0 ? null : crl.length === 1 ? crl[0] : crl,
  };
}

export function SslSettingsTab(props: { readonly data: SiteData; readonly who: Whoami; readonly refresh: () => Promise<void> }) {
  const { site, index } = props.data;
  // The settings as shown and the ETag they came with: a live refresh replaces them only while nothing is typed.
  const [shown, setShown] = useState({ etag: site.etag, values: valuesOf(site.ssl) });
  const [values, setValues] = useState<SslValues>(shown.values);
  const [dirty, setDirty] = useState(false);
  const { busy, notice, problems, run, clear } = useWrite(props.refresh);
  const reason = adminOnlyReason(props.who);
  const canAct = reason === null;

  useEffect(() => {
    if (dirty || site.etag === shown.etag) return;
    const next = { etag: site.etag, values: valuesOf(site.ssl) };
    setShown(next);
    setValues(next.values);
  }, [site, dirty]);

  const change = (next: Partial<SslValues>) => {
    setValues({ ...values, ...next });
    setDirty(true);
  };

  const apply = async () => {
    const outcome = await run({
      what: 'Apply',
      thing: `site ${site.name}`,
      fieldOf: fieldOfSsl(index),
      send: async () => (await call<{ config: { warnings: string[] } }>('PUT', `/sites/${encodeURIComponent(site.name)}/ssl`, { ifMatch: shown.etag, body: bodyOf(values) })).body,
      done: (answer) => `SSL Settings applied: validated, saved and reloaded.${answer.config.warnings.length ? ` Warnings: ${answer.config.warnings.join('; ')}` : ''}`,
    });
    // Applied, or another user changed the site first (412): the form shows the site as it is now.
    if (outcome.done || outcome.conflict) setDirty(false);
  };

  const invalid = (field: string) => (problems.byField[field] ? true : undefined);
  const locked = !canAct || busy;
  return (
    <>
      <NoticeLine notice={notice} />
      <DisabledReason reason={reason} />
      <form
        class="panel ssl-settings"
        aria-label={`SSL Settings of ${site.name}`}
        onSubmit={(e) => {
          e.preventDefault();
          if (canAct) void apply();
        }}
      >
        <ProblemSummary problems={problems} />
        <div class="field check">
          <input id="ssl-require" type="checkbox" checked={values.requireSsl} disabled={locked} aria-invalid={invalid('requireSsl')} aria-describedby="ssl-require-hint ssl-require-problem" onChange={(e) => change({ requireSsl: e.currentTarget.checked })} />
          <label for="ssl-require">Require SSL</label>
          <span id="ssl-require-hint" class="sub">
            A request on an http binding gets 403.4.
          </span>
          <FieldProblem id="ssl-require-problem" problems={problems} field="requireSsl" />
        </div>
        <fieldset class="field" aria-invalid={invalid('clientCertificates')} aria-describedby="ssl-client-problem">
          <legend>Client certificates</legend>
          {(['ignore', 'accept', 'require'] as const).map((mode) => (
            <label key={mode} class="radio">
              <input type="radio" name="client-certificates" value={mode} checked={values.clientCertificates === mode} disabled={locked} onChange={() => change({ clientCertificates: mode })} />
              {CLIENT_CERTIFICATE_NAMES[mode]}
            </label>
          ))}
          <span class="sub">Require: a request without a valid client certificate gets 403.7; the backend gets the certificate in X-ARR-ClientCert.</span>
          <FieldProblem id="ssl-client-problem" problems={problems} field="clientCertificates" />
        </fieldset>
        <div class="field">
          <label for="ssl-trusted-ca">Trusted CA file</label>
          <input id="ssl-trusted-ca" value={values.trustedCaFile} disabled={locked} placeholder="ca.pem (relative to the config file)" aria-invalid={invalid('trustedCaFile')} aria-describedby="ssl-trusted-ca-problem" onInput={(e) => change({ trustedCaFile: e.currentTarget.value })} />
          <FieldProblem id="ssl-trusted-ca-problem" problems={problems} field="trustedCaFile" />
        </div>
        <div class="field">
          <label for="ssl-crl">CRL files (one a line)</label>
          <textarea id="ssl-crl" rows={2} value={values.crlFile} disabled={locked} aria-invalid={invalid('crlFile')} aria-describedby="ssl-crl-problem" onInput={(e) => change({ crlFile: e.currentTarget.value })} />
          <FieldProblem id="ssl-crl-problem" problems={problems} field="crlFile" />
        </div>
        <p class="sub">
          Revocation: check {site.ssl.revocation.check}
          {site.ssl.revocation.online ? ', online' : ''}, when unknown {site.ssl.revocation.whenUnknown} (set in the config file).
        </p>
        <div class="buttons">
          <button type="submit" class="primary" disabled={locked} aria-describedby={canAct ? undefined : 'actions-disabled'} title={reason ?? undefined}>
            Apply
          </button>
          <button
            type="button"
            disabled={locked || !dirty}
            aria-describedby={canAct ? undefined : 'actions-disabled'}
            onClick={() => {
              setValues(shown.values);
              setDirty(false);
              clear();
            }}
          >
            Cancel
          </button>
        </div>
      </form>
    </>
  );
}
