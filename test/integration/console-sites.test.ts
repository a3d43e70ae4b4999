/**
 * The console's Server Certificates, Sites → a site → Bindings… and SSL Settings in a real browser (Debian's
 * Chromium driven by playwright-core) with Alice's administrator badge, against a real Gatehouse and a real
 * backend that echoes what it receives. The seed's four steps done entirely in the console: Create
 * Self-Signed Certificate, add an https binding with it, Require SSL + Require client certificates + Apply;
 * then real curl with a client certificate gets 200 and the backend sees X-ARR-ClientCert, without one
 * 403.7. Also: Import… of a PFX (a wrong password shown at its field) and Remove; a bad SSL setting shows `gatehouse validate`'s problem at its field and leaves the config
 * file as it was; a viewer and an operator see the pages with the actions disabled and the reason; a
 * binding is edited (a conflicting edit by another user shown, not overwritten) and removed. The
 * screenshots docs/console/server-certificates.png, bindings.png and ssl-settings.png are made here.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDocument } from 'yaml';
import { toPfx } from '../../src/pki/index.js';
import { openConsole, screenshot, type WatchedPage } from '../support/browser.js';
import { startBackend, type Backend, type EchoReply } from '../support/backends.js';
import { curl } from '../support/clients.js';
import { assertClean, defaultConfig, signInWithToken, startConsoleGatehouse, type ConsoleGatehouse } from '../support/console-gatehouse.js';
import { REPO } from '../support/gatehouse.js';
import { assertRefused, freePort, validate, waitUntilRefused } from './cli-helpers.js';
import { directRequest } from './e2e-helpers.js';

const SHOTS = join(REPO, 'docs', 'console');
/** What the browser's fetch logs for the answers a test asks for on purpose (422, 412). */
const REFUSED_ON_PURPOSE = [/status of 4(09|12|22)/];

let fixture: ConsoleGatehouse;
let echo: Backend;
/** The https port the seed's binding listens on, and the certificate made in the console for it. */
let httpsPort: number;
let certificateId: string;

before(async () => {
  echo = await startBackend('app-1');
  fixture = await startConsoleGatehouse({
    backends: ['spare'],
    config: () => defaultConfig([echo]),
  });
});

after(async () => {
  await fixture?.stop();
  await echo?.close();
});

const asAlice = () => openConsole(fixture.browser, { origin: fixture.origin, badge: fixture.alice });
const api = (method: string, path: string, options: { body?: unknown; ifMatch?: string } = {}) => fixture.api(method, `/api/v1${path}`, { badge: fixture.alice, ...options });
const site = async () => (await api('GET', '/sites/web')).json as { etag: string; bindings: { id: string; protocol: string; address: string; port: number; hostName: string | null; certificate: { id?: string } | null }[]; ssl: Record<string, unknown> };

async function openSite(watched: WatchedPage, tab: 'Bindings…' | 'SSL Settings'): Promise<void> {
  const { page } = watched;
  const nav = page.getByRole('navigation', { name: 'Connections' });
  const link = nav.locator('a[href="#/sites/web"]');
  // The Sites node of the Connections tree opens on a click, as in IIS Manager.
  if (!(await link.isVisible())) await nav.getByText('Sites', { exact: true }).click();
  await link.click();
  await page.getByRole('heading', { name: 'web', exact: true }).waitFor();
  await page.getByRole('navigation', { name: 'Site web' }).getByRole('link', { name: tab }).click();
  await page.getByRole('heading', { name: `${tab.replace('…', '')}: web` }).waitFor();
}

describe("the seed's four steps, entirely in the console", () => {
  test('Create Self-Signed Certificate, add an https binding with it, Require SSL + Require client certificates, Apply; curl with a client certificate 200 and X-ARR-ClientCert, without 403.7', async () => {
    const watched = await asAlice();
    const { page } = watched;
    try {
      await page.goto(`${fixture.origin}/`);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();

      // 1. Server Certificates → Create Self-Signed Certificate…
      await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'Server Certificates' }).click();
      await page.getByRole('heading', { name: 'Server Certificates' }).waitFor();
      await page.getByRole('button', { name: 'Create Self-Signed Certificate…' }).click();
      await page.getByLabel('Friendly name').fill('Web site (localhost)');
      await page.getByLabel('Host names').fill('localhost, 127.0.0.1');
      await page.getByRole('button', { name: 'Create', exact: true }).click();
      const created = page.getByRole('status').filter({ hasText: /Created Web site \(localhost\) \(([0-9A-F]{40})\)/ });
      await created.waitFor();
      certificateId = /\(([0-9A-F]{40})\)/.exec((await created.textContent()) ?? '')?.[1] as string;
      const listing = (await api('GET', '/certificates')).json as { certificates: { id: string; friendlyName: string; inStore: boolean; sans: string[] }[] };
      const made = listing.certificates.find((c) => c.id === certificateId);
      assert.ok(made?.inStore, 'the store holds it');
      assert.equal(made.friendlyName, 'Web site (localhost)');
      assert.deepEqual(made.sans, ['DNS:localhost', 'IP Address:127.0.0.1']);
      await page.locator(`tr[data-certificate="${certificateId}"]`).waitFor();
      assert.doesNotMatch(await page.content(), /PRIVATE KEY/, 'no key on the page');

      // 2. Sites → web → Bindings… → Add… an https binding with it.
      httpsPort = await freePort();
      await openSite(watched, 'Bindings…');
      await page.getByRole('button', { name: 'Add…' }).click();
      await page.getByLabel('Type').selectOption('https');
      await page.getByLabel('IP address').fill('127.0.0.1');
      await page.getByLabel('Port').fill(String(httpsPort));
      await page.getByLabel('SSL certificate').selectOption(certificateId);
      await page.getByRole('button', { name: 'OK' }).click();
      await page.getByRole('status').filter({ hasText: 'Add binding: saved and reloaded.' }).waitFor();
      await page.locator(`tr[data-binding="https-127.0.0.1-${httpsPort}-*"]`).waitFor();
      await page.getByRole('button', { name: 'Add…' }).click({ trial: true });
      const added = (await site()).bindings.find((b) => b.port === httpsPort);
      assert.equal(added?.protocol, 'https');
      assert.equal(added?.certificate?.id, certificateId);
      const storePem = join(dirname(fixture.running.configFile), 'certificates', `${certificateId}.pem`);
      const open = await curl(`https://localhost:${httpsPort}/open`, { cacert: storePem });
      assert.equal(open.status, 200, `https answers with the new certificate before SSL Settings: ${open.stderr}`);
      await screenshot(page, join(SHOTS, 'bindings.png'));

      // 3. SSL Settings: Require SSL, Client certificates: Require, the test CA; Apply.
      await page.getByRole('navigation', { name: 'Site web' }).getByRole('link', { name: 'SSL Settings' }).click();
      await page.getByRole('heading', { name: 'SSL Settings: web' }).waitFor();
      await page.getByLabel('Require SSL').check();
      await page.getByRole('group', { name: 'Client certificates' }).getByLabel('Require').check();
      await page.getByLabel('Trusted CA file').fill(fixture.pki.caFile);
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.getByRole('status').filter({ hasText: 'SSL Settings applied: validated, saved and reloaded.' }).waitFor();
      const ssl = (await site()).ssl;
      assert.equal(ssl.requireSsl, true);
      assert.equal(ssl.clientCertificates, 'require');
      assert.equal(ssl.trustedCaFile, fixture.pki.caFile);
      // The page's data reloaded after the write: the form is enabled again.
      await page.getByRole('button', { name: 'Apply' }).click({ trial: true });
      await screenshot(page, join(SHOTS, 'ssl-settings.png'));

      // 4. The farm behind it, with real curl: with a client certificate 200 and X-ARR-ClientCert; without, 403.7.
      const withBadge = await curl(`https://localhost:${httpsPort}/hello`, { cacert: storePem, cert: fixture.pki.clients.valid.certFile, key: fixture.pki.clients.valid.keyFile });
      assert.equal(withBadge.status, 200, withBadge.stderr + withBadge.body);
      const seen = JSON.parse(withBadge.body) as EchoReply;
      assert.equal(seen.server, 'app-1');
      assert.equal(seen.headers['x-arr-clientcert'], new X509Certificate(readFileSync(fixture.pki.clients.valid.certFile)).raw.toString('base64'));
      const without = await curl(`https://localhost:${httpsPort}/hello`, { cacert: storePem });
      assert.equal(without.status, 403, without.stderr + without.body);
      assert.match(without.body, /403\.7/);

      // Server Certificates shows where the new certificate is used.
      await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'Server Certificates' }).click();
      await page.locator(`tr[data-certificate="${certificateId}"]`).getByText(`https://127.0.0.1:${httpsPort}`).waitFor();
      await screenshot(page, join(SHOTS, 'server-certificates.png'));
      // Remove refuses a certificate a binding uses, and says so.
      await page.getByRole('button', { name: 'Remove Web site (localhost)' }).click();
      await page.getByRole('button', { name: 'Yes, remove' }).click();
      await page.getByRole('alert').filter({ hasText: 'Cannot remove: the certificate is in use.' }).waitFor();
      assert.ok((await api('GET', '/certificates')).json.certificates.some((c: { id: string }) => c.id === certificateId));
      assertClean(watched, REFUSED_ON_PURPOSE);
    } finally {
      await watched.close();
    }
  });
});

describe('Server Certificates: Import… and Remove', () => {
  test('a PFX picked in the browser: a wrong password shown at its field, the right one imports it; Remove after a confirmation', async () => {
    const watched = await asAlice();
    const { page } = watched;
    // A PFX made now, of a certificate the config does not use (so nothing holds it when it is removed).
    const password = 'Imp0rt me';
    const pfxFile = join(fixture.pki.dir, 'shop.pfx');
    await writeFile(pfxFile, toPfx({ issued: fixture.pki.otherServer.issued, password }));
    const id = fixture.pki.otherServer.issued.cert.fingerprint.replace(/:/g, '');
    try {
      await page.goto(`${fixture.origin}/#/certificates`);
      await page.getByRole('heading', { name: 'Server Certificates' }).waitFor();
      await page.getByRole('button', { name: 'Import…' }).click();
      await page.getByLabel('PFX file').setInputFiles(pfxFile);
      await page.getByLabel('Password').fill('not the password');
      await page.getByLabel('Friendly name').fill('Imported from PFX');
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      const problem = page.locator('#import-password-problem');
      await problem.waitFor();
      assert.match((await problem.textContent()) ?? '', /password.*wrong password/);
      assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not kept once sent');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      await page.getByRole('status').filter({ hasText: `Imported Imported from PFX (${id}).` }).waitFor();
      await page.locator(`tr[data-certificate="${id}"]`).waitFor();
      const stored = (await api('GET', '/certificates')).json.certificates.find((c: { id: string }) => c.id === id);
      assert.equal(stored?.inStore, true);
      assert.equal(stored?.friendlyName, 'Imported from PFX');
      const html = await page.content();
      assert.doesNotMatch(html, /PRIVATE KEY/);
      assert.ok(!html.includes(password), 'the password is not on the page');

      await page.getByRole('button', { name: 'Remove Imported from PFX' }).click();
      await page.getByRole('group').filter({ hasText: `Remove Imported from PFX (${id}) from the certificate store, with its key?` }).waitFor();
      await page.getByRole('button', { name: 'Yes, remove' }).click();
      await page.getByRole('status').filter({ hasText: `Removed Imported from PFX (${id}).` }).waitFor();
      await page.locator(`tr[data-certificate="${id}"]`).waitFor({ state: 'detached' });
      assert.ok(!(await api('GET', '/certificates')).json.certificates.some((c: { id: string; inStore: boolean }) => c.id === id && c.inStore));
      assertClean(watched, REFUSED_ON_PURPOSE);
    } finally {
      await watched.close();
    }
  });
});

describe('SSL Settings: a bad setting', () => {
  test("a trusted CA file that does not exist: gatehouse validate's problem shown at the field, the config file unchanged", async () => {
    assert.ok(httpsPort, 'runs after the seed');
    const file = fixture.running.configFile;
    const before = readFileSync(file);
    // What `gatehouse validate` prints for the same config with that value.
    const wouldBe = parseDocument(before.toString('utf8'));
    wouldBe.setIn(['sites', 0, 'ssl', 'trustedCaFile'], 'no-such-ca.pem');
    const wouldBeFile = join(dirname(file), 'would-be.yaml');
    await writeFile(wouldBeFile, wouldBe.toString());
    const validated = await validate(dirname(file), wouldBeFile);
    await rm(wouldBeFile);
    assert.notEqual(validated.code, 0, validated.stdout);
    const line = `${validated.stdout}\n${validated.stderr}`.split('\n').find((l) => l.includes('sites[0].ssl.trustedCaFile: '));
    assert.ok(line, `${validated.stdout}\n${validated.stderr}`);
    const message = line.slice(line.indexOf('sites[0].ssl.trustedCaFile: ') + 'sites[0].ssl.trustedCaFile: '.length);

    const watched = await asAlice();
    const { page } = watched;
    try {
      await page.goto(`${fixture.origin}/#/sites/web/ssl`);
      await page.getByRole('heading', { name: 'SSL Settings: web' }).waitFor();
      const field = page.getByLabel('Trusted CA file');
      await field.fill('no-such-ca.pem');
      await page.getByRole('button', { name: 'Apply' }).click();
      const problem = page.locator('#ssl-trusted-ca-problem');
      await problem.waitFor();
      const shown = (await problem.textContent()) ?? '';
      assert.ok(shown.includes('sites[0].ssl.trustedCaFile'), shown);
      assert.ok(shown.includes(message), `the field shows validate's problem "${message}": ${shown}`);
      assert.equal(await problem.getAttribute('role'), 'alert');
      assert.equal(await field.getAttribute('aria-invalid'), 'true');
      assert.match((await field.getAttribute('aria-describedby')) ?? '', /ssl-trusted-ca-problem/);
      await page.getByRole('alert').filter({ hasText: 'Apply was not saved: the config would not be valid' }).waitFor();
      assert.equal(await field.inputValue(), 'no-such-ca.pem', 'what was typed stays, to be fixed');
      assert.deepEqual(readFileSync(file), before, 'the config file is unchanged');
      assert.equal((await site()).ssl.trustedCaFile, fixture.pki.caFile);
      assertClean(watched, REFUSED_ON_PURPOSE);
    } finally {
      await watched.close();
    }
  });
});

describe('roles', () => {
  for (const role of ['viewer', 'operator'] as const) {
    test(`a${role === 'operator' ? 'n' : ''} ${role} sees Server Certificates, Bindings… and SSL Settings with every action disabled and the reason`, async () => {
      const watched = await openConsole(fixture.browser, { origin: fixture.origin });
      const { page } = watched;
      try {
        await signInWithToken(watched, fixture.origin, fixture.tokens[role]);
        const reason = `Actions are disabled: ${role}-bot has the role ${role}; they need administrator.`;
        await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'Server Certificates' }).click();
        await page.locator('tr[data-certificate]').first().waitFor();
        assert.equal(await page.getByTestId('disabled-reason').textContent(), reason);
        for (const name of ['Create Self-Signed Certificate…', 'Import…']) {
          const button = page.getByRole('button', { name, exact: true });
          assert.equal(await button.isDisabled(), true, name);
          assert.equal(await button.getAttribute('aria-describedby'), 'actions-disabled');
        }
        for (const button of await page.getByRole('button', { name: /^Remove / }).all()) assert.equal(await button.isDisabled(), true);

        await openSite(watched, 'Bindings…');
        await page.locator('tr[data-binding]').first().waitFor();
        assert.equal(await page.getByTestId('disabled-reason').textContent(), reason);
        assert.equal(await page.getByRole('button', { name: 'Add…' }).isDisabled(), true);
        const rowButtons = await page.getByRole('button', { name: /^(Edit|Remove) / }).all();
        assert.ok(rowButtons.length >= 4, 'edit and remove for each binding');
        for (const button of rowButtons) assert.equal(await button.isDisabled(), true);

        await page.getByRole('navigation', { name: 'Site web' }).getByRole('link', { name: 'SSL Settings' }).click();
        await page.getByRole('heading', { name: 'SSL Settings: web' }).waitFor();
        assert.equal(await page.getByTestId('disabled-reason').textContent(), reason);
        assert.equal(await page.getByRole('button', { name: 'Apply' }).isDisabled(), true);
        assert.equal(await page.getByLabel('Require SSL').isChecked(), true, 'the settings are shown');
        assert.equal(await page.getByLabel('Require SSL').isDisabled(), true);
        assert.equal(await page.getByLabel('Trusted CA file').inputValue(), fixture.pki.caFile);
        // The API refuses the write the page does not offer.
        const current = await site();
        const refused = await fixture.api('PUT', '/api/v1/sites/web/ssl', { token: fixture.tokens[role], body: { requireSsl: false }, ifMatch: current.etag });
        assert.equal(refused.status, 403);
        // Readable in a narrow window: nothing scrolls sideways but the tables inside their box.
        await page.setViewportSize({ width: 400, height: 800 });
        for (const hash of ['#/certificates', '#/sites/web/bindings', '#/sites/web/ssl', '#/sites/web']) {
          await page.goto(`${fixture.origin}/${hash}`);
          await page.getByTestId('disabled-reason').or(page.getByRole('heading', { name: 'web', exact: true })).first().waitFor();
          assert.ok((await page.evaluate('document.documentElement.scrollWidth')) as number <= 400, `${hash} fits 400 px`);
        }
        // The 401: the console's first /whoami, before the token is typed.
        assertClean(watched, [/status of 401/]);
      } finally {
        await watched.close();
      }
    });
  }
});

describe('Bindings…: edit and remove', () => {
  test('add an http binding, edit it (a conflicting edit by another user shown and kept), then remove it; real requests follow each change', async () => {
    const [first, second] = [await freePort(), await freePort()];
    const watched = await asAlice();
    const { page } = watched;
    try {
      await page.goto(`${fixture.origin}/`);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      await openSite(watched, 'Bindings…');

      await page.getByRole('button', { name: 'Add…' }).click();
      await page.getByLabel('Type').selectOption('http');
      await page.getByLabel('IP address').fill('127.0.0.1');
      await page.getByLabel('Port').fill(String(first));
      await page.getByLabel('Host name').fill('old.example.test');
      await page.keyboard.press('Enter');
      await page.getByRole('status').filter({ hasText: 'Add binding: saved and reloaded.' }).waitFor();
      const addedId = `http-127.0.0.1-${first}-old.example.test`;
      await page.locator(`tr[data-binding="${addedId}"]`).waitFor();
      const at = (await site()).bindings.findIndex((b) => b.id === addedId);
      // Require SSL is on: the site's http binding answers 403.4.
      assert.match((await directRequest(first, '/', { host: 'old.example.test' })).body, /403\.4/);

      // Another user edits the same binding while the form is open: the console says so and keeps their change.
      await page.getByRole('button', { name: `Edit http 127.0.0.1:${first} (old.example.test)` }).click();
      await page.getByLabel('Host name').fill('new.example.test');
      const theirs = await api('PUT', `/sites/web/bindings/${addedId}`, { body: { protocol: 'http', address: '127.0.0.1', port: first, hostName: 'theirs.example.test' }, ifMatch: (await site()).etag });
      assert.equal(theirs.status, 200, theirs.text);
      await page.getByRole('button', { name: 'OK' }).click();
      await page.getByRole('alert').filter({ hasText: 'Another user changed site web since it was shown: Edit binding' }).waitFor();
      const theirsId = `http-127.0.0.1-${first}-theirs.example.test`;
      await page.locator(`tr[data-binding="${theirsId}"]`).waitFor();
      assert.equal((await site()).bindings[at]?.id, theirsId, 'their change stays');

      // Edit it: new port and host name, in the same place.
      await page.getByRole('button', { name: `Edit http 127.0.0.1:${first} (theirs.example.test)` }).click();
      assert.equal(await page.getByLabel('Host name').inputValue(), 'theirs.example.test');
      await page.getByLabel('Port').fill(String(second));
      await page.getByLabel('Host name').fill('new.example.test');
      await page.getByRole('button', { name: 'OK' }).click();
      await page.getByRole('status').filter({ hasText: `Edit binding ${theirsId}: saved and reloaded.` }).waitFor();
      const editedId = `http-127.0.0.1-${second}-new.example.test`;
      await page.locator(`tr[data-binding="${editedId}"]`).waitFor();
      assert.equal((await site()).bindings[at]?.id, editedId, 'the binding keeps its position');
      assert.match((await directRequest(second, '/', { host: 'new.example.test' })).body, /403\.4/);
      await waitUntilRefused(first);

      // Remove it.
      await page.getByRole('button', { name: `Remove http 127.0.0.1:${second} (new.example.test)` }).click();
      await page.getByRole('button', { name: 'Yes, remove' }).click();
      await page.getByRole('status').filter({ hasText: `Remove binding http 127.0.0.1:${second} (new.example.test): saved and reloaded.` }).waitFor();
      await page.locator(`tr[data-binding="${editedId}"]`).waitFor({ state: 'detached' });
      assert.ok(!(await site()).bindings.some((b) => b.id === editedId));
      await waitUntilRefused(second);
      await assertRefused(second);
      // The seed's https binding is still served.
      assert.equal((await curl(`https://localhost:${httpsPort}/still`, { cacert: join(dirname(fixture.running.configFile), 'certificates', `${certificateId}.pem`), cert: fixture.pki.clients.valid.certFile, key: fixture.pki.clients.valid.keyFile })).status, 200);
      assertClean(watched, REFUSED_ON_PURPOSE);
    } finally {
      await watched.close();
    }
  });
});
