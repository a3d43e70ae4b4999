/**
 * Sites → a site → Bindings…: the site's bindings (type, host name, port, IP address, SSL certificate) and
 * IIS's Add…, Edit… and Remove: POST /sites/{site}/bindings, PUT /sites/{site}/bindings/{id} (in place) and
 * DELETE /sites/{site}/bindings/{id}, each with If-Match: the site's ETag when the form was opened (or the
 * list shown). The certificate is picked from Server Certificates. Each write is validated with the whole
 * config and reloaded; its problems are shown at the field they concern.
 */
import { useState } from 'preact/hooks';
import { call, type Whoami } from './api';
import { certificateName, type ServerCertificate } from './certificates';
import { ConfirmRemove, FormButtons } from './forms';
import { adminOnlyReason, DisabledReason, FieldProblem, NoticeLine, ProblemSummary, useWrite, type FieldProblems } from './problems';
import { bindingText, certificateText, type BindingDetail, type SiteData } from './site-data';

/** The certificates a binding can present: a key the server holds (the store's, or files the config names). */
const presentable = (certificates: readonly ServerCertificate[]) => certificates.filter((c) => c.kind !== 'ca' && c.files.keyFile !== null);

/** The binding form's values (strings as typed; `certificate`: a Server Certificates id, or '' for none / kept). */
interface BindingValues {
  readonly protocol: 'http' | 'https';
  readonly address: string;
  readonly port: string;
  readonly hostName: string;
  readonly certificate: string;
}

/** An open form: Add (id null) or Edit of a binding, with the site's ETag and the binding's place when opened. */
interface OpenForm {
  readonly id: string | null;
  readonly at: number;
  readonly etag: string;
  readonly initial: BindingValues;
  /** Edit: what the binding presents now when it is not one Server Certificates can name (kept unless changed). */
  readonly keeps: string | null;
}

const FIELDS = ['protocol', 'address', 'port', 'hostName', 'certificate'] as const;

/** The form field a problem's key path concerns: the body's (`port`, `certificate.id`) or the config's (`sites[0].bindings[2].port`). */
function fieldOfBinding(siteIndex: number, at: number): (path: string) => string | null {
  const prefix = `sites[${siteIndex}].bindings[${at}].`;
  return (path) => {
    const key = (path.startsWith(prefix) ? path.slice(prefix.length) : path).split(/[.[]/)[0] as string;
    if (!path.startsWith(prefix) && path.startsWith('sites[')) return null;
    return (FIELDS as readonly string[]).includes(key) ? key : null;
  };
}

function valuesOf(b: BindingDetail, certificates: readonly ServerCertificate[]): { values: BindingValues; keeps: string | null } {
  const c = b.certificate;
  const known = c?.id ? presentable(certificates).find((e) => e.id === c.id) : c?.certFile ? presentable(certificates).find((e) => e.files.certFile.endsWith(c.certFile as string)) : undefined;
  return {
    values: { protocol: b.protocol, address: b.address, port: String(b.port), hostName: b.hostName ?? '', certificate: known?.id ?? '' },
    keeps: c && !known ? (c.certFile ?? c.pfxFile ?? 'its certificate') : null,
  };
}

export function BindingsTab(props: { readonly data: SiteData; readonly who: Whoami; readonly refresh: () => Promise<void> }) {
  const { site, index, certificates } = props.data;
  const [form, setForm] = useState<OpenForm | null>(null);
  const [confirming, setConfirming] = useState<BindingDetail | null>(null);
  const reason = adminOnlyReason(props.who);
  const canAct = reason === null;
  const sitePath = `/sites/${encodeURIComponent(site.name)}`;
  const thing = `site ${site.name}`;

  const { busy, notice, problems, run, clear } = useWrite(props.refresh);
  const write = async (what: string, method: 'POST' | 'PUT' | 'DELETE', path: string, etag: string, body: unknown, fieldOf: (p: string) => string | null): Promise<boolean> => {
    const outcome = await run({ what, thing, fieldOf, done: () => `${what}: saved and reloaded.`, send: () => call(method, `${sitePath}${path}`, { ifMatch: etag, ...(body === undefined ? {} : { body }) }) });
    // A conflict: the form's values were for the site as it was; it closes with the site reloaded.
    if (outcome.conflict) setForm(null);
    return outcome.done;
  };

  const open = (next: OpenForm | null) => {
    setForm(next);
    clear();
    setConfirming(null);
  };
  const disabledProps = { 'aria-describedby': canAct ? undefined : 'actions-disabled', title: reason ?? undefined };

  return (
    <>
      <NoticeLine notice={notice} />
      <DisabledReason reason={reason} />
      <div class="toolbar">
        <button
          type="button"
          {...disabledProps}
          disabled={!canAct || busy}
          onClick={() => open({ id: null, at: site.bindings.length, etag: site.etag, initial: { protocol: 'https', address: '0.0.0.0', port: '443', hostName: '', certificate: '' }, keeps: null })}
        >
          Add…
        </button>
      </div>
      {!form && <ProblemSummary problems={problems} />}
      {form && canAct && (
        <BindingForm
          key={`${form.id ?? 'new'}-${form.etag}`}
          form={form}
          certificates={presentable(certificates)}
          problems={problems}
          busy={busy}
          onCancel={() => open(null)}
          onSave={async (body) => {
            const what = form.id ? `Edit binding ${form.id}` : 'Add binding';
            const done = form.id ? await write(what, 'PUT', `/bindings/${encodeURIComponent(form.id)}`, form.etag, body, fieldOfBinding(index, form.at)) : await write(what, 'POST', '/bindings', form.etag, body, fieldOfBinding(index, form.at));
            if (done) setForm(null);
          }}
        />
      )}
      {confirming && (
        <ConfirmRemove
          busy={busy}
          onCancel={() => setConfirming(null)}
          onYes={async () => {
            const b = confirming;
            setConfirming(null);
            await write(`Remove binding ${bindingText(b)}`, 'DELETE', `/bindings/${encodeURIComponent(b.id)}`, site.etag, undefined, () => null);
          }}
        >
          Remove the binding {bindingText(confirming)} from site {site.name}?
        </ConfirmRemove>
      )}
      <div class="scroll">
        <table class="bindings">
          <caption>Site Bindings of {site.name}</caption>
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Host Name</th>
              <th scope="col">Port</th>
              <th scope="col">IP Address</th>
              <th scope="col">SSL Certificate</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {site.bindings.map((b, at) => (
              <tr key={b.id} data-binding={b.id}>
                <th scope="row">{b.protocol}</th>
                <td>{b.hostName ?? '*'}</td>
                <td class="num">{b.port}</td>
                <td>{b.address}</td>
                <td>{b.protocol === 'https' ? certificateText(b, certificates) : '–'}</td>
                <td class="row-actions">
                  <button
                    type="button"
                    aria-label={`Edit ${bindingText(b)}`}
                    {...disabledProps}
                    disabled={!canAct || busy}
                    onClick={() => {
                      const { values, keeps } = valuesOf(b, certificates);
                      open({ id: b.id, at, etag: site.etag, initial: values, keeps });
                    }}
                  >
                    Edit…
                  </button>
                  <button type="button" aria-label={`Remove ${bindingText(b)}`} {...disabledProps} disabled={!canAct || busy || site.bindings.length < 2} onClick={() => setConfirming(b)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {site.bindings.length < 2 && <p class="hint">A site keeps at least one binding: add another before removing this one.</p>}
    </>
  );
}

function BindingForm(props: { readonly form: OpenForm; readonly certificates: readonly ServerCertificate[]; readonly problems: FieldProblems; readonly busy: boolean; readonly onSave: (body: Record<string, unknown>) => Promise<void>; readonly onCancel: () => void }) {
  const [values, setValues] = useState<BindingValues>(props.form.initial);
  const { problems, form } = props;
  const set = (key: keyof BindingValues) => (e: { currentTarget: { value: string } }) => setValues({ ...values, [key]: e.currentTarget.value });
  const invalid = (field: string) => (problems.byField[field] ? true : undefined);
  const title = form.id ? 'Edit Site Binding' : 'Add Site Binding';
  const submit = () => {
    const port = values.port.trim() === '' ? Number.NaN : Number(values.port);
    const certificate = props.certificates.find((c) => c.id === values.certificate);
    const body: Record<string, unknown> = {
      protocol: values.protocol,
      address: values.address.trim() || '0.0.0.0',
      // Not a number: sent as null, and the API names the field.
      port: Number.isInteger(port) ? port : null,
      ...(values.hostName.trim() ? { hostName: values.hostName.trim() } : {}),
    };
    if (values.protocol === 'https' && certificate) body.certificate = certificate.inStore ? { id: certificate.id } : { certFile: certificate.files.certFile, keyFile: certificate.files.keyFile };
    return props.onSave(body);
  };
  return (
    <form
      class="panel"
      aria-labelledby="binding-form-title"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="binding-form-title">{title}</h2>
      <ProblemSummary problems={problems} />
      <div class="field-row">
        <div class="field">
          <label for="binding-type">Type</label>
          <select id="binding-type" value={values.protocol} aria-invalid={invalid('protocol')} aria-describedby="binding-type-problem" onChange={(e) => setValues({ ...values, protocol: e.currentTarget.value === 'http' ? 'http' : 'https' })}>
            <option value="http">http</option>
            <option value="https">https</option>
          </select>
          <FieldProblem id="binding-type-problem" problems={problems} field="protocol" />
        </div>
        <div class="field">
          <label for="binding-address">IP address</label>
          <input id="binding-address" value={values.address} aria-invalid={invalid('address')} aria-describedby="binding-address-hint binding-address-problem" onInput={set('address')} />
          <span id="binding-address-hint" class="sub">
            0.0.0.0: all IPv4 addresses; :: all IPv6
          </span>
          <FieldProblem id="binding-address-problem" problems={problems} field="address" />
        </div>
        <div class="field">
          <label for="binding-port">Port</label>
          <input id="binding-port" type="number" min={0} max={65535} value={values.port} aria-invalid={invalid('port')} aria-describedby="binding-port-problem" onInput={set('port')} />
          <FieldProblem id="binding-port-problem" problems={problems} field="port" />
        </div>
      </div>
      <div class="field">
        <label for="binding-host-name">Host name</label>
        <input id="binding-host-name" value={values.hostName} placeholder="app.example.test (empty: every name)" aria-invalid={invalid('hostName')} aria-describedby="binding-host-name-problem" onInput={set('hostName')} />
        <FieldProblem id="binding-host-name-problem" problems={problems} field="hostName" />
      </div>
      {values.protocol === 'https' && (
        <div class="field">
          <label for="binding-certificate">SSL certificate</label>
          <select id="binding-certificate" value={values.certificate} aria-invalid={invalid('certificate')} aria-describedby="binding-certificate-hint binding-certificate-problem" onChange={set('certificate')}>
            <option value="">{form.keeps ? `Keep ${form.keeps}` : 'Not selected'}</option>
            {props.certificates.map((c) => (
              <option key={c.id} value={c.id}>
                {certificateName(c)} ({c.id.slice(0, 8)}…, expires {c.notAfter.slice(0, 10)})
              </option>
            ))}
          </select>
          <span id="binding-certificate-hint" class="sub">
            From <a href="#/certificates">Server Certificates</a>.
          </span>
          <FieldProblem id="binding-certificate-problem" problems={problems} field="certificate" />
        </div>
      )}
      <FormButtons submit="OK" busy={props.busy} onCancel={props.onCancel} />
    </form>
  );
}
