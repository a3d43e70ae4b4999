/**
 * Server Certificates, as IIS Manager shows them: every certificate the config names or the store holds
 * (name, issued to, issued by, expiration, thumbprint, where used; expiring and expired ones marked), with
 * Create Self-Signed Certificate… (POST /certificates/self-signed), Import… (a PFX read in the browser and
 * sent base64 with its password: POST /certificates/import) and Remove (DELETE /certificates/{id}). Each write
 * carries the listing's ETag as shown. Nothing here ever shows a private key; the password leaves the form's
 * state once sent.
 */
import { useState } from 'preact/hooks';
import { ApiError, call, get, type Whoami } from './api';
import { when } from './format';
import { ConfirmRemove, FormButtons } from './forms';
import { useLive } from './live';
import { adminOnlyReason, DisabledReason, FieldProblem, NoticeLine, ProblemSummary, useWrite, type FieldProblems, type Notice } from './problems';
import { ErrorLine } from './notice';

export interface CertificateUse {
  readonly site: string | null;
  readonly binding: string | null;
  readonly as: 'certificate' | 'chain' | 'trustedCa' | 'crl';
}
/** An entry of GET /certificates (no key, ever). */
export interface ServerCertificate {
  readonly id: string;
  readonly friendlyName: string | null;
  readonly subject: string;
  readonly issuer: string;
  readonly sans: readonly string[];
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly thumbprintSha1: string;
  readonly kind: 'server' | 'ca' | 'admin';
  readonly files: { readonly certFile: string; readonly keyFile: string | null };
  readonly inStore: boolean;
  readonly usedBy: readonly CertificateUse[];
  readonly problems: readonly string[];
}
export interface CertificateListing {
  readonly etag: string;
  readonly certificates: readonly ServerCertificate[];
  readonly problems: readonly string[];
}

export const loadCertificates = async (): Promise<CertificateListing> => (await get<CertificateListing>('/certificates')).body;

/** The CN of a distinguished name (`CN=localhost, O=Example` → localhost), or the whole name. */
export function commonName(dn: string): string {
  return /(?:^|,\s*)CN=([^,]+)/.exec(dn)?.[1] ?? dn;
}

/** How a certificate is named in a list: its friendly name, else whom it is issued to. */
export const certificateName = (c: ServerCertificate): string => c.friendlyName ?? commonName(c.subject);

const KINDS: Readonly<Record<ServerCertificate['kind'], string>> = { server: 'Server', admin: 'Admin listener', ca: 'Certificate authority' };
const USES: Readonly<Record<CertificateUse['as'], string>> = { certificate: '', chain: ' (chain)', trustedCa: ' (trusted CA)', crl: ' (CRL)' };

function Expiration(props: { readonly cert: ServerCertificate }) {
  const { cert } = props;
  const expired = cert.daysLeft < 0 || cert.problems.includes('expired');
  const soon = !expired && cert.daysLeft <= 30;
  return (
    <td data-col="expiration" class={expired ? 'error' : soon ? 'warn' : ''}>
      {when(cert.notAfter).slice(0, 10)}
      {expired && <span class="badge bad">Expired</span>}
      {soon && <span class="badge warn">Expires in {cert.daysLeft} days</span>}
    </td>
  );
}

const STORE_THING = 'the certificate store';
/** A Remove refused because a binding uses the certificate: said plainly, with the bindings the API names. */
const inUse = (e: unknown): Notice | null => (e instanceof ApiError && e.code === 'certificate_in_use' ? { kind: 'error', text: `Cannot remove: the certificate is in use. ${e.message}` } : null);

/** base64 of a file picked in the browser (read here; nothing is uploaded but the JSON body). */
async function base64Of(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const createFieldOf = (path: string): string | null => (path === 'friendlyName' ? 'friendlyName' : /^hostNames(\[\d+\])?$/.test(path) ? 'hostNames' : null);
const importFieldOf = (path: string): string | null => (['pfx', 'password', 'friendlyName'].includes(path) ? path : null);

type Form = 'create' | 'import' | null;

export function CertificatesPage(props: { readonly who: Whoami; readonly eventTick: number }) {
  const { data, error, refresh } = useLive(loadCertificates, props.eventTick);
  const [form, setForm] = useState<Form>(null);
  const [confirming, setConfirming] = useState<ServerCertificate | null>(null);
  const reason = adminOnlyReason(props.who);
  const canAct = reason === null;

  const { busy, notice, problems, run, clear } = useWrite(refresh);
  /** A write to the store with the listing's ETag as shown. */
  const write = async (what: string, method: 'POST' | 'DELETE', path: string, body: unknown, fieldOf: (p: string) => string | null, done: (answer: unknown) => string): Promise<boolean> => {
    if (!data) return false;
    const outcome = await run({ what, thing: STORE_THING, fieldOf, done, send: async () => (await call<unknown>(method, path, { ifMatch: data.etag, ...(body === undefined ? {} : { body }) })).body, failed: inUse });
    return outcome.done;
  };

  const open = (which: Form) => {
    setForm(which);
    clear();
  };

  return (
    <section aria-labelledby="certificates-title">
      <h1 id="certificates-title">Server Certificates</h1>
      <p class="hint">Certificates the config names or the certificate store holds. A binding picks one on the site's Bindings… page. Private keys never leave the server.</p>
      <ErrorLine text={error} />
      <NoticeLine notice={notice} />
      <DisabledReason reason={reason} />
      <div class="toolbar">
        <button type="button" disabled={!canAct || busy || !data} aria-describedby={canAct ? undefined : 'actions-disabled'} title={reason ?? undefined} aria-expanded={form === 'create'} onClick={() => open(form === 'create' ? null : 'create')}>
          Create Self-Signed Certificate…
        </button>
        <button type="button" disabled={!canAct || busy || !data} aria-describedby={canAct ? undefined : 'actions-disabled'} title={reason ?? undefined} aria-expanded={form === 'import'} onClick={() => open(form === 'import' ? null : 'import')}>
          Import…
        </button>
      </div>
      {form === 'create' && canAct && (
        <CreateSelfSigned
          busy={busy}
          problems={problems}
          onCancel={() => open(null)}
          onCreate={async (body) => {
            if (await write('Create Self-Signed Certificate', 'POST', '/certificates/self-signed', body, createFieldOf, (a) => `Created ${body.friendlyName} (${(a as { id: string }).id}).`)) setForm(null);
          }}
        />
      )}
      {form === 'import' && canAct && (
        <ImportPfx
          busy={busy}
          problems={problems}
          onCancel={() => open(null)}
          onImport={async (body) => {
            if (await write('Import', 'POST', '/certificates/import', body, importFieldOf, (a) => `Imported ${certificateName((a as { certificate: ServerCertificate }).certificate)} (${(a as { id: string }).id}).`)) setForm(null);
          }}
        />
      )}
      {confirming && (
        <ConfirmRemove
          busy={busy}
          onCancel={() => setConfirming(null)}
          onYes={async () => {
            const cert = confirming;
            setConfirming(null);
            await write(`Remove ${certificateName(cert)}`, 'DELETE', `/certificates/${cert.id}`, undefined, () => null, () => `Removed ${certificateName(cert)} (${cert.id}).`);
          }}
        >
          Remove {certificateName(confirming)} (<code>{confirming.id}</code>) from the certificate store, with its key?
        </ConfirmRemove>
      )}
      {!data ? (
        <p class="loading">Loading…</p>
      ) : (
        <>
          {data.problems.map((p) => (
            <p key={p} class="warn">
              {p}
            </p>
          ))}
          <div class="scroll">
            <table class="certificates">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Issued To</th>
                  <th scope="col">Issued By</th>
                  <th scope="col">Expiration Date</th>
                  <th scope="col">Thumbprint</th>
                  <th scope="col">Used By</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.certificates.map((c) => (
                  <tr key={c.id} data-certificate={c.id}>
                    <th scope="row">
                      {certificateName(c)}
                      <div class="sub">
                        {KINDS[c.kind]}
                        {c.inStore ? ' · certificate store' : ''}
                      </div>
                      {c.problems
                        .filter((p) => p !== 'expired' && !p.startsWith('expires in'))
                        .map((p) => (
                          <div key={p} class="sub warn">
                            {p}
                          </div>
                        ))}
                    </th>
                    <td title={c.subject}>{commonName(c.subject)}</td>
                    <td title={c.issuer}>{commonName(c.issuer)}</td>
                    <Expiration cert={c} />
                    <td>
                      <code class="thumbprint">{c.thumbprintSha1}</code>
                    </td>
                    <td>
                      {c.usedBy.length === 0 ? (
                        <span class="sub">not used</span>
                      ) : (
                        <ul class="plain">
                          {c.usedBy.map((u, i) => (
                            <li key={i}>
                              {u.site ? <a href={`#/sites/${encodeURIComponent(u.site)}`}>{u.site}</a> : 'admin listener'} {(u.binding ?? '').replace(/^admin /, '')}
                              {USES[u.as]}
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    <td>
                      {c.inStore && (
                        <button type="button" aria-label={`Remove ${certificateName(c)}`} aria-describedby={canAct ? undefined : 'actions-disabled'} title={reason ?? undefined} disabled={!canAct || busy} onClick={() => setConfirming(c)}>
                          Remove
                        </button>
                      )}
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

function CreateSelfSigned(props: { readonly busy: boolean; readonly problems: FieldProblems; readonly onCreate: (body: { friendlyName: string; hostNames: string[] }) => Promise<void>; readonly onCancel: () => void }) {
  const [friendlyName, setFriendlyName] = useState('');
  const [hostNames, setHostNames] = useState('');
  const { problems } = props;
  return (
    <form
      class="panel"
      aria-labelledby="create-title"
      onSubmit={(e) => {
        e.preventDefault();
        void props.onCreate({ friendlyName: friendlyName.trim(), hostNames: hostNames.split(/[\s,]+/).filter(Boolean) });
      }}
    >
      <h2 id="create-title">Create Self-Signed Certificate</h2>
      <ProblemSummary problems={problems} />
      <div class="field">
        <label for="cert-friendly-name">Friendly name</label>
        <input id="cert-friendly-name" value={friendlyName} required aria-invalid={problems.byField.friendlyName ? true : undefined} aria-describedby="cert-friendly-name-problem" onInput={(e) => setFriendlyName(e.currentTarget.value)} />
        <FieldProblem id="cert-friendly-name-problem" problems={problems} field="friendlyName" />
      </div>
      <div class="field">
        <label for="cert-host-names">Host names</label>
        <input id="cert-host-names" value={hostNames} required placeholder="app.example.test, 127.0.0.1" aria-invalid={problems.byField.hostNames ? true : undefined} aria-describedby="cert-host-names-hint cert-host-names-problem" onInput={(e) => setHostNames(e.currentTarget.value)} />
        <span id="cert-host-names-hint" class="sub">
          DNS names or IP addresses, separated by commas or spaces; the first is the common name.
        </span>
        <FieldProblem id="cert-host-names-problem" problems={problems} field="hostNames" />
      </div>
      <FormButtons submit="Create" busy={props.busy} onCancel={props.onCancel} />
    </form>
  );
}

function ImportPfx(props: { readonly busy: boolean; readonly problems: FieldProblems; readonly onImport: (body: { pfx: string; password: string; friendlyName?: string }) => Promise<void>; readonly onCancel: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [password, setPassword] = useState('');
  const [friendlyName, setFriendlyName] = useState('');
  const [readError, setReadError] = useState<string | null>(null);
  const { problems } = props;
  return (
    <form
      class="panel"
      aria-labelledby="import-title"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!file) return;
        let pfx: string;
        try {
          pfx = await base64Of(file);
          setReadError(null);
        } catch (error) {
          setReadError(`${file.name} cannot be read: ${String(error)}`);
          return;
        }
        const sent = password;
        // The password lives only in the input until it is sent.
        setPassword('');
        await props.onImport({ pfx, password: sent, ...(friendlyName.trim() ? { friendlyName: friendlyName.trim() } : {}) });
      }}
    >
      <h2 id="import-title">Import</h2>
      <ProblemSummary problems={problems} />
      <div class="field">
        <label for="import-pfx">PFX file (.pfx, .p12)</label>
        <input id="import-pfx" type="file" required accept=".pfx,.p12,application/x-pkcs12" aria-invalid={problems.byField.pfx || readError ? true : undefined} aria-describedby="import-pfx-problem import-pfx-read" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
        {readError && (
          <p class="field-problem" id="import-pfx-read" role="alert">
            {readError}
          </p>
        )}
        <FieldProblem id="import-pfx-problem" problems={problems} field="pfx" />
      </div>
      <div class="field">
        <label for="import-password">Password</label>
        <input id="import-password" type="password" autocomplete="off" value={password} aria-invalid={problems.byField.password ? true : undefined} aria-describedby="import-password-problem" onInput={(e) => setPassword(e.currentTarget.value)} />
        <FieldProblem id="import-password-problem" problems={problems} field="password" />
      </div>
      <div class="field">
        <label for="import-friendly-name">Friendly name (optional: the PFX's own otherwise)</label>
        <input id="import-friendly-name" value={friendlyName} aria-invalid={problems.byField.friendlyName ? true : undefined} aria-describedby="import-friendly-name-problem" onInput={(e) => setFriendlyName(e.currentTarget.value)} />
        <FieldProblem id="import-friendly-name-problem" problems={problems} field="friendlyName" />
      </div>
      <FormButtons submit="Import" busy={props.busy || !file} onCancel={props.onCancel} />
    </form>
  );
}
