/**
 * The console's Config and Audit pages in Chromium (Alice's administrator badge, token users): an edit
 * saved (the file on disk changes, the reload is in force: a new server answers), a bad edit (its problem
 * at its line, the file unchanged), a conflicting edit (another user's change between load and Save: the
 * conflict said, the user's text kept), the history, the diff view, Restore (the old file back byte for
 * byte), the Audit page (who, when, the result, a failed write), and a viewer and an operator who cannot
 * save or restore. Screenshots: docs/console/config.png (diff open), docs/console/audit.png.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openConsole, screenshot, type WatchedPage } from '../support/browser.js';
import type { Backend } from '../support/backends.js';
import { assertClean, signInWithToken, startConsoleGatehouse, type ConsoleGatehouse } from '../support/console-gatehouse.js';
import { REPO } from '../support/gatehouse.js';
import { makeTempDir, type TempDir } from '../support/temp.js';
import { within } from '../support/within.js';
import { makeToken } from './admin-api-helpers.js';
import { directRequest } from './e2e-helpers.js';

const SHOTS = join(REPO, 'docs', 'console');

let fixture: ConsoleGatehouse;
let tokenDir: TempDir;
let ciToken: string;
/** The config as Gatehouse started with it (three servers). */
let original: Buffer;
/** The text Alice saved (four servers). */
let saved: string;
/** The text the token user wrote while Alice's page was open. */
let theirs: string;

const serversLine = (backends: readonly Backend[]) => `    servers: [${backends.map((b) => `{ address: ${b.address} }`).join(', ')}]`;

before(async () => {
  tokenDir = await makeTempDir('gatehouse-console-config-');
  const ci = await makeToken(tokenDir.dir, 'ci-admin');
  ciToken = ci.token;
  fixture = await startConsoleGatehouse({
    backends: ['one', 'two', 'three', 'four'],
    // One more user in admin.users (the lines follow the fixture's users), and the audit log named.
    admin: `    - { name: ci-admin, tokenFile: ${ci.file}, role: administrator }\n  auditLog: admin-audit.log`,
    config: (backends) => `drainTimeout: 30s
sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
# The application servers.
farms:
  - name: web
${serversLine(backends.slice(0, 3))}
`,
  });
  original = await readFile(fixture.running.configFile);
});

after(async () => {
  await fixture?.stop();
  await tokenDir?.remove();
});

const configFile = () => fixture.running.configFile;
const disk = () => readFile(configFile(), 'utf8');
const configEtag = async () => (await fixture.api('GET', '/api/v1/config', { token: fixture.tokens.viewer })).headers.etag as string;

async function openConfig(watched: WatchedPage): Promise<void> {
  const { page } = watched;
  await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'Config' }).click();
  await page.getByRole('heading', { name: 'Config', exact: true }).waitFor();
  await page.getByRole('heading', { name: 'History' }).waitFor();
}

async function asAlice<T>(run: (watched: WatchedPage) => Promise<T>, allowed: RegExp[] = []): Promise<T> {
  const watched = await openConsole(fixture.browser, { origin: fixture.origin, badge: fixture.alice });
  try {
    await watched.page.goto(`${fixture.origin}/`);
    await watched.page.getByRole('heading', { name: 'Overview' }).waitFor();
    const result = await run(watched);
    assertClean(watched, allowed);
    return result;
  } finally {
    await watched.close();
  }
}

const editor = (watched: WatchedPage) => watched.page.getByLabel('Config YAML (editable)');

describe('Config in Chromium', () => {
  test('Alice adds a farm server in the YAML and saves: the file on disk changes, the reload is in force, the new server takes requests', async () => {
    const before = (await fixture.api('GET', '/api/v1/status', { token: fixture.tokens.viewer })).json.lastReload;
    await asAlice(async (watched) => {
      const { page } = watched;
      await openConfig(watched);
      const text = await editor(watched).inputValue();
      assert.equal(text, original.toString('utf8'), 'the editor holds the file as on disk');
      assert.equal(await page.getByRole('button', { name: 'Save' }).isDisabled(), true, 'nothing to save yet');
      saved = text.replace(serversLine(fixture.backends.slice(0, 3)), serversLine(fixture.backends)).replace('drainTimeout: 30s', 'drainTimeout: 45s');
      assert.notEqual(saved, text);
      await editor(watched).fill(saved);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('status').filter({ hasText: 'Save: written and reloaded' }).waitFor();
      assert.equal(await editor(watched).inputValue(), saved);
    });
    assert.equal(await disk(), saved, 'the file on disk is the saved text');
    const status = (await fixture.api('GET', '/api/v1/status', { token: fixture.tokens.viewer })).json.lastReload;
    assert.equal(status.ok, true);
    assert.ok(Date.parse(status.at) > Date.parse(before?.at ?? '1970-01-01T00:00:00Z'), 'a new reload');
    const farm = (await fixture.api('GET', '/api/v1/farms/web', { token: fixture.tokens.viewer })).json;
    assert.equal(farm.servers.length, 4);
    const fourth = fixture.backends[3] as Backend;
    const port = fixture.running.port('web', 'http');
    const answered: string[] = [];
    await within(
      (async () => {
        // Round robin over four servers: a new client reaches the fourth within a few requests.
        for (let i = 0; i < 16 && !answered.includes(fourth.name); i++) answered.push((await directRequest(port, '/')).body);
      })(),
      10_000,
      'requests to the site',
    );
    assert.ok(answered.includes(fourth.name), `the fourth server answers: ${answered.join(', ')}`);
  });

  test('a bad edit: the problem with its line (a click goes to it), the user\'s text kept, the file on disk unchanged', async () => {
    const before = await readFile(configFile());
    await asAlice(async (watched) => {
      const { page } = watched;
      await openConfig(watched);
      const bad = (await editor(watched).inputValue()).replace('  - name: web\n    servers', '  - name: web\n    colour: blue\n    servers');
      const line = bad.split('\n').indexOf('    colour: blue') + 1;
      assert.ok(line > 0);
      await editor(watched).fill(bad);
      await page.getByRole('button', { name: 'Save' }).click();
      const alert = page.getByRole('alert').filter({ hasText: 'not saved, the config has' });
      await alert.waitFor();
      assert.match((await alert.textContent()) ?? '', /the file on disk is unchanged/);
      const problem = alert.getByRole('button', { name: new RegExp(`^Line ${line}: farms\\[0\\]\\.colour: `) });
      await problem.click();
      await page.locator(`.config-gutter span.hl[data-line="${line}"]`).waitFor();
      const selected = await editor(watched).evaluate((el) => {
        const area = el as unknown as { value: string; selectionStart: number; selectionEnd: number };
        return area.value.slice(area.selectionStart, area.selectionEnd);
      });
      assert.equal(selected, '    colour: blue', 'the line is selected in the editor');
      assert.equal(await editor(watched).inputValue(), bad, 'the text is kept');
    }, [/status of 422/]);
    assert.deepEqual(await readFile(configFile()), before, 'the file on disk is byte-identical');
  });

  test('a conflicting edit: another user changes the config between load and Save; the conflict is said, the current config reloaded, the user\'s text kept', async () => {
    await asAlice(async (watched) => {
      const { page } = watched;
      await openConfig(watched);
      const loaded = await editor(watched).inputValue();
      const mine = `${loaded}# Alice's note\n`;
      await editor(watched).fill(mine);
      theirs = loaded.replace('drainTimeout: 45s', 'drainTimeout: 60s');
      const put = await fixture.api('PUT', '/api/v1/config', { token: ciToken, body: { yaml: theirs }, ifMatch: await configEtag() });
      assert.equal(put.status, 200, put.text);
      await page.getByRole('button', { name: 'Save' }).click();
      const alert = page.getByRole('alert').filter({ hasText: 'Another user changed the config since you opened it' });
      await alert.waitFor();
      assert.match((await alert.textContent()) ?? '', /Your text is kept below; the current config has been reloaded/);
      assert.equal(await page.getByLabel('Your kept text').inputValue(), mine, 'the user\'s text is kept');
      assert.equal(await editor(watched).inputValue(), theirs, 'the editor shows the current config');
      // The user may take their text back into the editor, on top of the current ETag, on purpose.
      await page.getByRole('button', { name: 'Put my text back in the editor' }).click();
      assert.equal(await editor(watched).inputValue(), mine);
    }, [/status of 412/]);
    assert.equal(await disk(), theirs, 'the other user\'s change stays: nothing overwritten');
  });

  test('the history lists the versions; the diff view shows the removed and added lines, against the current config and the version before', async () => {
    const history = (await fixture.api('GET', '/api/v1/config/history', { token: fixture.tokens.viewer })).json;
    assert.equal(history.versions.length, 2, 'the original (replaced by Alice) and Alice\'s (replaced by ci-admin)');
    const [aliceVersion, oldest] = history.versions;
    await asAlice(async (watched) => {
      const { page } = watched;
      await openConfig(watched);
      const rows = page.locator('table.history tbody tr');
      await rows.nth(history.versions.length - 1).waitFor();
      assert.equal(await rows.count(), history.versions.length);
      for (const [i, v] of history.versions.entries()) assert.equal(await rows.nth(i).getAttribute('data-version'), v.id, 'newest first');
      assert.match((await page.locator(`tr[data-version="${aliceVersion.id}"]`).textContent()) ?? '', /CN=Alice Admin, O=Example.*token user ci-admin/);

      // The original against the current config: the old servers line and drainTimeout removed, the new ones added.
      await page.locator(`tr[data-version="${oldest.id}"]`).getByRole('button', { name: /with the current config/ }).click();
      const diff = page.getByTestId('diff');
      await diff.waitFor();
      const removed = await diff.locator('tr[data-change="del"] code').allTextContents();
      const added = await diff.locator('tr[data-change="add"] code').allTextContents();
      assert.deepEqual(removed, ['drainTimeout: 30s', serversLine(fixture.backends.slice(0, 3))]);
      assert.deepEqual(added, ['drainTimeout: 60s', serversLine(fixture.backends)]);
      assert.equal(await diff.locator('tr[data-change="del"] td.diff-mark').first().textContent(), '− removed');
      await page.getByText('2 lines removed, 2 added').waitFor();

      // Alice's version against the one before it (the original): her change only.
      await page.locator(`tr[data-version="${aliceVersion.id}"]`).getByRole('button', { name: /with the version before it/ }).click();
      await diff.getByRole('heading', { name: /^Diff: the version replaced .* → the version replaced / }).waitFor();
      assert.deepEqual(await diff.locator('tr[data-change="add"] code').allTextContents(), ['drainTimeout: 45s', serversLine(fixture.backends)]);
      assert.deepEqual(await diff.locator('tr[data-change="del"] code').allTextContents(), ['drainTimeout: 30s', serversLine(fixture.backends.slice(0, 3))]);
      assert.equal(await page.locator(`tr[data-version="${oldest.id}"]`).getByRole('button', { name: /with the version before it/ }).isDisabled(), true, 'the oldest has none before it');
      await diff.scrollIntoViewIfNeeded();
      await screenshot(page, join(SHOTS, 'config.png'));
    });
  });

  test('Restore (confirmed first) brings back the original file byte for byte, reloaded', async () => {
    const history = (await fixture.api('GET', '/api/v1/config/history', { token: fixture.tokens.viewer })).json;
    const oldest = history.versions.at(-1);
    await asAlice(async (watched) => {
      const { page } = watched;
      await openConfig(watched);
      await page.locator(`tr[data-version="${oldest.id}"]`).getByRole('button', { name: /^Restore / }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      // Cancel first: nothing happens.
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(await disk(), theirs);
      await page.locator(`tr[data-version="${oldest.id}"]`).getByRole('button', { name: /^Restore / }).click();
      await dialog.getByRole('button', { name: 'Restore this version' }).click();
      await page.getByRole('status').filter({ hasText: /^Restore the version replaced .*: written and reloaded/ }).waitFor();
      assert.equal(await editor(watched).inputValue(), original.toString('utf8'), 'the editor shows the restored config');
    });
    assert.deepEqual(await readFile(configFile()), original, 'the original file, byte for byte');
    assert.equal((await fixture.api('GET', '/api/v1/farms/web', { token: fixture.tokens.viewer })).json.servers.length, 3, 'in force');
  });
});

describe('Audit in Chromium', () => {
  test('who changed what, when, and the result: Alice\'s writes by subject, the token user by name, the failed ones with status and code', async () => {
    const lines = (await fixture.api('GET', '/api/v1/audit?limit=1000', { token: fixture.tokens.viewer })).json.entries as { id: string; phase: string; result?: string }[];
    const writes = [...new Set(lines.map((l) => l.id))];
    await asAlice(async (watched) => {
      const { page } = watched;
      await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'Audit' }).click();
      await page.getByRole('heading', { name: 'Audit', exact: true }).waitFor();
      const rows = page.locator('table.audit tbody tr');
      await rows.nth(writes.length - 1).waitFor();
      assert.equal(await rows.count(), writes.length, 'one row per write');
      assert.equal(await rows.first().getAttribute('data-audit'), writes.at(-1), 'newest first');
      const first = await rows.first().textContent();
      assert.match(first ?? '', /CN=Alice Admin, O=Example/);
      assert.match(first ?? '', /restoreConfigVersion/);
      assert.match(first ?? '', /Applied/);
      assert.match(first ?? '', /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
      const ci = page.locator('table.audit tbody tr', { hasText: 'ci-admin' });
      assert.equal(await ci.count(), 1);
      assert.match((await ci.textContent()) ?? '', /putConfig.*config\.replace.*Applied/);
      const failed = page.locator('table.audit tbody tr', { hasText: 'Failed' });
      assert.equal(await failed.count(), 2, 'the bad edit and the conflict');
      assert.match((await failed.nth(0).locator('td[data-col="result"]').textContent()) ?? '', /Failed 412 precondition_failed/);
      assert.match((await failed.nth(1).locator('td[data-col="result"]').textContent()) ?? '', /Failed 422 invalid_config/);
      assert.match((await rows.filter({ hasText: 'Applied' }).last().textContent()) ?? '', /etag: "[0-9a-f]{32}" → etag: "[0-9a-f]{32}", historyId: \d{8}T\d{9}Z-[0-9a-f]{12}/, 'before → after');
      await screenshot(page, join(SHOTS, 'audit.png'));

      // Filters: failed writes only, then one user's.
      await page.getByLabel('Result').selectOption('failed');
      await page.getByRole('button', { name: 'Filter' }).click();
      await rows.nth(2).waitFor({ state: 'detached' });
      assert.equal(await rows.count(), 2);
      assert.equal(await rows.filter({ hasText: 'Failed' }).count(), 2, 'the failed writes only');
      await page.getByLabel('Result').selectOption('');
      await page.getByLabel('User').fill('ci-admin');
      await page.getByRole('button', { name: 'Filter' }).click();
      await rows.nth(1).waitFor({ state: 'detached' });
      assert.equal(await rows.count(), 1);
      assert.match((await rows.first().textContent()) ?? '', /ci-admin/, "ci-admin's write only");
    });
  });
});

describe('a refused reload, and a narrow window', () => {
  test('a valid config whose reload is refused (a binding on a port in use): the reason and "the file was put back" are said, the text kept, the file unchanged', async () => {
    const before = await readFile(configFile());
    const busyPort = Number((fixture.backends[0] as Backend).address.split(':').pop());
    await asAlice(async (watched) => {
      const { page } = watched;
      await openConfig(watched);
      const text = (await editor(watched).inputValue()).replace('bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]', `bindings: [{ protocol: http, address: 127.0.0.1, port: ${busyPort} }]`);
      assert.match(text, new RegExp(`port: ${busyPort} }]`));
      await editor(watched).fill(text);
      await page.getByRole('button', { name: 'Save' }).click();
      const alert = page.getByRole('alert').filter({ hasText: 'the reload was refused' });
      await alert.waitFor();
      assert.match((await alert.textContent()) ?? '', /the file was put back as it was \(nothing changed\)\. Reason: .*put back/);
      assert.equal(await editor(watched).inputValue(), text, 'the text is kept');
    }, [/status of 409/]);
    assert.deepEqual(await readFile(configFile()), before, 'the file on disk is as it was');
  });

  test('at 400 px the Config and Audit pages do not scroll sideways (the editor, history and audit tables scroll in their boxes)', async () => {
    const watched = await openConsole(fixture.browser, { origin: fixture.origin, badge: fixture.alice, viewport: { width: 400, height: 800 } });
    try {
      const { page } = watched;
      await page.goto(`${fixture.origin}/#/config`);
      await page.locator('table.history tbody tr').first().waitFor();
      assert.ok(((await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number) <= 0, 'Config: no sideways scrolling');
      await page.goto(`${fixture.origin}/#/audit`);
      await page.locator('table.audit tbody tr').first().waitFor();
      assert.ok(((await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number) <= 0, 'Audit: no sideways scrolling');
      assertClean(watched);
    } finally {
      await watched.close();
    }
  });
});

describe('a viewer and an operator', () => {
  for (const role of ['viewer', 'operator'] as const) {
    test(`a ${role} reads the config and the audit, but Save and Restore are disabled with the reason`, async () => {
      const before = await readFile(configFile());
      const watched = await openConsole(fixture.browser, { origin: fixture.origin });
      try {
        const { page } = watched;
        await signInWithToken(watched, fixture.origin, fixture.tokens[role]);
        await openConfig(watched);
        await page.getByTestId('config-view').waitFor();
        assert.equal(await page.locator('textarea#config-yaml').count(), 0, 'no editor');
        assert.equal(((await page.getByTestId('config-view').textContent()) ?? ''), original.toString('utf8'));
        assert.equal(await page.getByTestId('disabled-reason').textContent(), `Save and Restore are disabled: ${role}-bot has the role ${role}; they need administrator.`);
        const save = page.getByRole('button', { name: 'Save' });
        assert.equal(await save.isDisabled(), true);
        assert.equal(await save.getAttribute('aria-describedby'), 'config-disabled');
        const restores = page.getByRole('button', { name: /^Restore / });
        await restores.first().waitFor();
        for (const button of await restores.all()) assert.equal(await button.isDisabled(), true);
        await page.locator('table.history tbody tr').first().getByRole('button', { name: /with the current config/ }).click();
        await page.getByTestId('diff').waitFor();
        await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'Audit' }).click();
        await page.locator('table.audit tbody tr').first().waitFor();
        assertClean(watched, [/status of 401/]); // the sign-in page's first /whoami, before the token
      } finally {
        await watched.close();
      }
      assert.deepEqual(await readFile(configFile()), before);
    });
  }
});
