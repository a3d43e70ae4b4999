/**
 * The console's Client Certificates and Failed Request Tracing pages in Chromium, against a real Gatehouse
 * whose https site `secure` requires client certificates with a CRL (the root's, revoking Revoked Rita) and
 * online revocation checks (`whenUnknown: deny`): an operator makes the tracing rules in the console
 * (add, a 422 shown at the field, edit, remove); real curl clients then get 403.13 (Rita, revoked by the
 * CRL), 403.16 (Ivan, whose issuing CA has no CRL and whose certificate names no distribution point:
 * revocation status unknown) and 200 (Alice, and a contractor whose certificate expires in 10 days); the
 * traces appear in Failed Request Tracing, newest first; their Compact View shows the 403.16 and its
 * reason, the 403.13 and the revocation, and for the 200 X-ARR-ClientCert decoded with Alice's subject
 * and thumbprint beside its base64, and the request and response headers; Client Certificates lists each certificate with its verdict, the
 * expiring one marked in words, and its filters narrow the list through the API's query; a conflicting
 * edit is said and reloaded; a viewer sees the actions disabled with the reason. Screenshots at 1280×800.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueClient } from '../../src/pki/index.js';
import { openConsole, screenshot, type WatchedPage } from '../support/browser.js';
import { curl } from '../support/clients.js';
import { assertClean, defaultConfig, signInWithToken, startConsoleGatehouse, type ConsoleGatehouse } from '../support/console-gatehouse.js';
import { REPO } from '../support/gatehouse.js';
import type { ClientFiles } from '../support/test-pki.js';

const SHOTS = join(REPO, 'docs', 'console');

let fixture: ConsoleGatehouse;
let contractor: ClientFiles;

before(async () => {
  fixture = await startConsoleGatehouse({
    // The default http site `web` → farm `web`, and before it the secure site.
    config: (backends, pki) =>
      defaultConfig(backends).replace(
        'sites:\n',
        `sites:
  - name: secure
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl:
      requireSsl: true
      clientCertificates: require
      trustedCaFile: ${pki.caFile}
      crlFile: ${pki.crlFile}
      revocation: { online: true, fetchTimeout: 2s, whenUnknown: deny }
    farm: web
`,
      ),
  });
  const issued = await issueClient({ ca: fixture.pki.root, commonName: 'Casey Contractor', organization: 'Example Corp', days: 10 });
  contractor = { issued, certFile: join(fixture.pki.dir, 'contractor.pem'), keyFile: join(fixture.pki.dir, 'contractor.key') };
  await writeFile(contractor.certFile, issued.certPem);
  await writeFile(contractor.keyFile, issued.keyPem, { mode: 0o600 });
});

after(async () => {
  await fixture?.stop();
});

/** A real client with a client certificate on the secure site. */
async function visit(client: ClientFiles, path: string) {
  return curl(`${fixture.running.url('secure', 'https')}${path}`, { cacert: fixture.pki.caFile, cert: client.certFile, key: client.keyFile });
}

async function flushTraces(): Promise<void> {
  await Promise.all(fixture.running.gatehouse.listeners.flatMap((l) => l.bindings.map((b) => b.site.tracer?.writer.flush())));
}

async function rulesOf(site: string): Promise<unknown> {
  const answer = await fixture.api('GET', `/api/v1/sites/${site}/tracing`, { token: fixture.tokens.viewer });
  assert.equal(answer.status, 200, answer.text);
  return answer.json.tracing?.rules ?? null;
}

/** A new page signed in with `token`, on Failed Request Tracing with site `secure` chosen. */
async function tracingAs(token: string): Promise<WatchedPage> {
  const watched = await openConsole(fixture.browser, { origin: fixture.origin });
  await signInWithToken(watched, fixture.origin, token);
  await openTracing(watched);
  return watched;
}

async function openTracing(watched: WatchedPage): Promise<void> {
  const { page } = watched;
  await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'Failed Request Tracing' }).click();
  await page.getByRole('heading', { name: 'Failed Request Tracing', exact: true }).waitFor();
  await page.getByLabel('Site').selectOption('secure');
  await page.getByRole('table', { name: 'Rules of site secure' }).waitFor();
}

async function fillRule(watched: WatchedPage, fields: { path?: string; statusCodes?: string; timeTaken?: string }): Promise<void> {
  const { page } = watched;
  if (fields.path !== undefined) await page.getByLabel('Path', { exact: true }).fill(fields.path);
  if (fields.statusCodes !== undefined) await page.getByLabel('Status code(s)').fill(fields.statusCodes);
  if (fields.timeTaken !== undefined) await page.getByLabel('Time taken').fill(fields.timeTaken);
}

describe('Failed Request Tracing and Client Certificates in Chromium', () => {
  test('an operator makes the tracing rules in the console: add, a bad status list refused at its field, edit, remove', async () => {
    const watched = await tracingAs(fixture.tokens.operator);
    try {
      const { page } = watched;
      await page.getByText('Tracing is off for secure').waitFor();
      // Add: every 403 on the site.
      await page.getByRole('button', { name: 'Add Rule…' }).click();
      await fillRule(watched, { path: '*', statusCodes: '403' });
      await page.getByLabel('Status code(s)').press('Enter');
      await page.getByTestId('tracing-notice').getByText('Add rule: done').waitFor();
      assert.deepEqual(await rulesOf('secure'), [{ path: '*', statusCodes: '403' }]);

      // A status list that is not one: 422, shown at the field, nothing written.
      await page.getByRole('button', { name: 'Add Rule…' }).click();
      await fillRule(watched, { path: '/reports/*', statusCodes: '403.x' });
      await page.getByRole('button', { name: 'Save' }).click();
      const fieldError = page.locator('#rule-statusCodes-error');
      await fieldError.waitFor();
      assert.match((await fieldError.textContent()) ?? '', /not a status code list/);
      assert.equal(await page.getByLabel('Status code(s)').getAttribute('aria-invalid'), 'true');
      await page.getByRole('alert').filter({ hasText: 'was refused (422)' }).waitFor();
      assert.deepEqual(await rulesOf('secure'), [{ path: '*', statusCodes: '403' }], 'nothing written');
      await page.getByRole('button', { name: 'Cancel' }).click();

      // Add one on time taken, then edit rule 1 to keep 200s too, then remove rule 2.
      await page.getByRole('button', { name: 'Add Rule…' }).click();
      await fillRule(watched, { path: '/slow/*', statusCodes: '', timeTaken: '5s' });
      await page.getByRole('button', { name: 'Save' }).click();
      await page.locator('tr[data-rule="2"]').waitFor();
      await page.getByRole('button', { name: 'Edit rule 1' }).click();
      assert.equal(await page.getByLabel('Status code(s)').inputValue(), '403', 'the form shows the rule');
      await fillRule(watched, { statusCodes: '200,403.13,403.16' });
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByTestId('tracing-notice').getByText('Edit rule 1: done').waitFor();
      await page.getByRole('button', { name: 'Remove rule 2' }).click();
      await page.getByTestId('tracing-notice').getByText('Remove rule 2: done').waitFor();
      assert.deepEqual(await rulesOf('secure'), [{ path: '*', statusCodes: '200,403.13,403.16' }]);
      await page.locator('tr[data-rule="1"]').getByText('200,403.13,403.16').waitFor();
      assert.equal(await page.locator('tr[data-rule="2"]').count(), 0);

      // Another user changes the site while the page shows it: the page's PUT leaves with the ETag it showed,
      // and the other change lands just before it (held until then), so the remove is not done, the page says so and reloads.
      let other: Awaited<ReturnType<ConsoleGatehouse['api']>> | undefined;
      await page.route('**/api/v1/sites/secure/tracing', async (route) => {
        if (route.request().method() !== 'PUT') return route.continue();
        const current = await fixture.api('GET', '/api/v1/sites/secure/tracing', { token: fixture.tokens.operator });
        other = await fixture.api('PUT', '/api/v1/sites/secure/tracing', { token: fixture.tokens.operator, ifMatch: current.json.etag, body: { tracing: { maxFiles: 40, rules: current.json.tracing.rules } } });
        await route.continue();
      });
      await page.getByRole('button', { name: 'Remove rule 1' }).click();
      await page.getByRole('alert').filter({ hasText: 'Another user changed site secure since it was shown: Remove rule 1 was not done' }).waitFor();
      assert.equal(other?.status, 200, other?.text);
      assert.deepEqual(await rulesOf('secure'), [{ path: '*', statusCodes: '200,403.13,403.16' }], 'the rule stays');
      await page.unroute('**/api/v1/sites/secure/tracing');
      await page.getByText('Trace files kept per site: 40').waitFor();
      assertClean(watched, [/status of (401|412|422)/]);
    } finally {
      await watched.close();
    }
  });

  test('a revoked certificate (403.13) and one whose revocation status is unknown (403.16) appear in Failed Request Tracing; the Compact View shows why, and X-ARR-ClientCert decoded for a 200', async () => {
    const { pki } = fixture;
    const revoked = await visit(pki.clients.revoked, '/payroll/slip?month=11');
    assert.equal(revoked.status, 403, revoked.stderr);
    assert.match(revoked.body, /^HTTP Error 403\.13 /);
    const unknown = await visit(pki.clients.viaIntermediate, '/payroll/branch');
    assert.equal(unknown.status, 403, unknown.stderr);
    assert.match(unknown.body, /^HTTP Error 403\.16 /);
    const ok = await visit(pki.clients.valid, '/payroll/summary');
    assert.equal(ok.status, 200, ok.stderr);
    assert.equal((await visit(contractor, '/payroll/summary')).status, 200);
    await flushTraces();
    const listed = await fixture.api('GET', '/api/v1/traces?site=secure', { token: fixture.tokens.viewer });
    assert.deepEqual(listed.json.traces.map((t: { status: string }) => t.status), ['200.0', '200.0', '403.16', '403.13'], 'newest first');

    const watched = await openConsole(fixture.browser, { origin: fixture.origin, badge: fixture.alice });
    try {
      const { page } = watched;
      await page.goto(`${fixture.origin}/#/tracing`);
      await page.getByRole('heading', { name: 'Trace files' }).waitFor();
      const rows = page.locator('table.traces tbody tr');
      await rows.nth(3).waitFor();
      assert.deepEqual(await page.locator('table.traces tbody tr td:nth-child(4)').allTextContents(), ['200.0', '200.0', '403.16', '403.13'], 'the list, newest first');
      await screenshot(page, join(SHOTS, 'failed-request-tracing.png'));

      // The 403.16: its Compact View says why.
      await page.getByRole('link', { name: /Compact View of .* 403\.16 \/payroll\/branch/ }).click();
      await page.getByRole('heading', { name: 'Compact View' }).waitFor();
      await page.getByTestId('cv-status').getByText('403.16').waitFor();
      assert.match((await page.getByTestId('cv-reason').textContent()) ?? '', /^403\.16: client certificate revocation status unknown \(.*Ivan Intermediate.*names no CRL distribution point or OCSP responder/);
      assert.equal(await page.getByTestId('door-verdict').textContent(), '403.16');
      await page.getByText('No client certificate was forwarded to a server: Gatehouse answered the request itself.').waitFor();
      await page.locator('tr[data-event="MODULE_SET_RESPONSE_ERROR_STATUS"]').waitFor();
      assert.ok((await page.locator('table.events tbody tr').count()) >= 5, 'the event list');

      // The 403.13: revoked by the CRL.
      await page.getByRole('link', { name: 'Failed Request Tracing' }).first().click();
      await page.getByRole('link', { name: /Compact View of .* 403\.13 \/payroll\/slip/ }).click();
      await page.getByTestId('cv-status').getByText('403.13').waitFor();
      assert.match((await page.getByTestId('door-reason').textContent()) ?? '', /client certificate revoked \(CRL .*Revoked Rita/);

      // Alice's 200: X-ARR-ClientCert decoded beside its base64, the routing decision.
      await page.goto(`${fixture.origin}/#/tracing`);
      await page.getByRole('link', { name: /Compact View of .* 200\.0 \/payroll\/summary/ }).last().click();
      await page.getByTestId('cert-subject').waitFor();
      const alice = new X509Certificate(pki.clients.valid.issued.certPem);
      assert.match((await page.getByTestId('cert-subject').textContent()) ?? '', /CN=Alice Badge/);
      assert.match((await page.getByTestId('cert-issuer').textContent()) ?? '', /CN=Gatehouse Test Root/);
      assert.equal(await page.getByTestId('cert-thumbprint').textContent(), alice.fingerprint.replace(/:/g, ''));
      const base64 = ((await page.locator('pre.base64').textContent()) ?? '').trim();
      assert.deepEqual(Buffer.from(base64, 'base64'), alice.raw, 'the base64 beside it is the certificate forwarded');
      const server = (await page.getByTestId('routed-server').textContent()) ?? '';
      assert.ok(fixture.backends.some((b) => b.address === server), `a farm server was chosen: ${server}`);
      await page.locator('tr[data-event="ARR_REQUEST_ROUTED"]').waitFor();
      await page.getByRole('table', { name: 'X-ARR-ClientCert decoded as a certificate' }).waitFor();
      await page.getByRole('table', { name: 'Response headers as the client got them' }).getByRole('rowheader', { name: /^content-length$/i }).waitFor();
      await screenshot(page, join(SHOTS, 'compact-view.png'));
      assertClean(watched);
    } finally {
      await watched.close();
    }
  });

  test('Client Certificates lists each certificate with its verdict and refusals, the expiring one marked; the filters narrow it through the API', async () => {
    const watched = await openConsole(fixture.browser, { origin: fixture.origin, badge: fixture.alice });
    try {
      const { page } = watched;
      await page.goto(`${fixture.origin}/`);
      await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'Client Certificates' }).click();
      await page.getByRole('heading', { name: 'Client Certificates' }).waitFor();
      const row = (name: string) => page.locator('table.client-certificates tbody tr').filter({ hasText: name });
      await row('Casey Contractor').waitFor();
      assert.equal(await page.locator('table.client-certificates tbody tr').count(), 4);
      assert.match((await row('Revoked Rita').locator('td[data-col="verdict"]').textContent()) ?? '', /Revoked \(403\.13\)/);
      assert.match((await row('Revoked Rita').locator('td[data-col="rejections"]').textContent()) ?? '', /403\.13 × 1/);
      assert.match((await row('Ivan Intermediate').locator('td[data-col="verdict"]').textContent()) ?? '', /Revocation status unknown \(403\.16\)/);
      assert.match((await row('Alice Badge').locator('td[data-col="verdict"]').textContent()) ?? '', /Accepted/);
      assert.match((await row('Alice Badge').locator('td[data-col="rejections"]').textContent()) ?? '', /none/);
      assert.match((await row('Casey Contractor').locator('td[data-col="expiry"]').textContent()) ?? '', /Expires in (9|10) days/, 'said in words, not only in colour');
      assert.doesNotMatch((await row('Alice Badge').locator('td[data-col="expiry"]').textContent()) ?? '', /Expire/);
      await screenshot(page, join(SHOTS, 'client-certificates.png'));

      // Filters: each is the API's query parameter, and the list follows.
      const requested: string[] = [];
      page.on('request', (request) => {
        if (request.url().includes('/api/v1/client-certificates')) requested.push(new URL(request.url()).search);
      });
      await page.getByLabel('Verdict').selectOption('revoked');
      await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('table.client-certificates tbody tr').length === 1);
      await row('Revoked Rita').waitFor();
      assert.ok(requested.includes('?verdict=revoked'), requested.join(' '));
      await page.getByLabel('Verdict').selectOption('');
      await page.getByLabel('Expiring within (days)').fill('30');
      await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('table.client-certificates tbody tr').length === 1);
      await row('Casey Contractor').waitFor();
      assert.ok(requested.includes('?expiringWithin=30'), requested.join(' '));
      await page.getByLabel('Expiring within (days)').fill('');
      await page.getByLabel('Site').selectOption('web');
      await page.getByText('No client certificate seen that matches the filter.').waitFor();
      assert.ok(requested.includes('?site=web'), requested.join(' '));
      const api = await fixture.api('GET', '/api/v1/client-certificates?site=secure&verdict=accepted', { token: fixture.tokens.viewer });
      assert.deepEqual(api.json.clientCertificates.map((c: { subject: string }) => /CN=([^,]+)/.exec(c.subject)?.[1]).sort(), ['Alice Badge', 'Casey Contractor']);
      assertClean(watched);
    } finally {
      await watched.close();
    }
  });

  test('a viewer sees the rules and the traces, every action disabled with the reason; the API refuses their write', async () => {
    const watched = await tracingAs(fixture.tokens.viewer);
    try {
      const { page } = watched;
      await page.locator('tr[data-rule="1"]').waitFor();
      assert.match((await page.getByTestId('disabled-reason').textContent()) ?? '', /Actions are disabled: viewer-bot has the role viewer; they need operator or administrator\./);
      for (const name of ['Add Rule…', 'Edit rule 1', 'Remove rule 1']) {
        const button = page.getByRole('button', { name });
        assert.equal(await button.isDisabled(), true, `${name} is disabled`);
        assert.equal(await button.getAttribute('aria-describedby'), 'tracing-disabled');
      }
      await page.locator('table.traces tbody tr').first().waitFor();
      const current = await fixture.api('GET', '/api/v1/sites/secure/tracing', { token: fixture.tokens.viewer });
      const refused = await fixture.api('PUT', '/api/v1/sites/secure/tracing', { token: fixture.tokens.viewer, ifMatch: current.json.etag, body: { tracing: null } });
      assert.equal(refused.status, 403);
      // Narrow window: the pages stay inside it (tables scroll in their box).
      await page.setViewportSize({ width: 400, height: 800 });
      await page.goto(`${fixture.origin}/#/client-certificates`);
      await page.locator('table.client-certificates tbody tr').first().waitFor();
      const sideways = await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
        return doc.scrollWidth - doc.clientWidth;
      });
      assert.ok(sideways <= 1, `no sideways scrolling at 400 px (${sideways})`);
      assertClean(watched, [/status of 401/]);
    } finally {
      await watched.close();
    }
  });
});
