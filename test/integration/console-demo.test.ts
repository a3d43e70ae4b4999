/**
 * The console of `npm start` (gatehouse demo) in Chromium, as a new user opens it: the printed console URL,
 * with the demo client certificate imported from the printed PFX and password (playwright's
 * `clientCertificates` with a PFX, as a user imports it into the browser). The certificate signs the user
 * in as an administrator of the demo; Overview shows the demo site and farm; Monitoring and Management
 * drains a demo backend, and requests through the demo site then reach only the other one.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, openConsole } from '../support/browser.js';
import { assertClean } from '../support/console-gatehouse.js';
import { RunningCli } from '../support/gatehouse.js';
import { tempDir } from '../support/temp.js';
import { freePort } from './cli-helpers.js';
import { curlIn } from './e2e-helpers.js';

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

describe('the console of npm start', () => {
  test('the printed URL opens in Chromium with the printed PFX: administrator, Overview, and a drain from Monitoring and Management', { timeout: 240_000 }, async (t) => {
    const dir = await tempDir(t, 'gatehouse-console-demo-');
    const ports = new Set<number>();
    for (let i = 0; i < 20 && ports.size < 3; i++) ports.add(await freePort());
    const [port, httpPort, adminPort] = [...ports] as [number, number, number];
    const cli = new RunningCli(t, ['demo', '--state', 'state', '--port', String(port), '--http-port', String(httpPort), '--admin-port', String(adminPort)], dir);
    await cli.waitFor('stdout', /^Ctrl-C stops everything\.$/m, 60_000);
    const output = cli.stdout;
    const url = /^ {2}console\s+(https:\/\/\S+)$/m.exec(output)?.[1];
    const pfx = /^ {2}client certificate (\S+)\s+PFX password: (\S+)$/m.exec(output);
    const backends = /^ {2}backends\s+(.+)$/m.exec(output)?.[1]?.split(', ');
    assert.ok(url && pfx && backends?.length === 2, output);

    const watched = await openConsole(browser, { origin: url.replace(/\/$/, ''), badge: { pfxFile: join(dir, pfx[1] as string), passphrase: pfx[2] as string } });
    try {
      const { page } = watched;
      await page.goto(url);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      assert.match((await page.getByTestId('who').textContent()) ?? '', /CN=Demo User.*administrator.*client certificate/);
      const overview = page.getByRole('main');
      await overview.getByText('demo-backends').first().waitFor();
      await overview.getByText('demo', { exact: true }).first().waitFor();

      await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'demo-backends' }).click();
      await page.getByRole('heading', { name: 'Monitoring and Management' }).waitFor();
      const rows = page.locator('table.monitoring tbody tr');
      await rows.nth(1).waitFor();
      const drained = (await rows.first().getAttribute('data-server')) as string;
      await rows.first().getByRole('button', { name: 'Drain' }).click();
      await page.locator(`tr[data-server="${drained}"] td[data-col="state"]`).getByText(/drain/i).waitFor();

      // New clients through the demo site (the printed curl with the certificate) now reach the other
      // backend only (the demo names its backends backend-1 and backend-2, in the printed order).
      const other = `backend-${2 - backends.indexOf(drained)}`;
      for (let i = 0; i < 6; i++) {
        const answer = await curlIn(dir, ['--cacert', 'state/demo-ca.pem', '--cert', 'state/client.pem', '--key', 'state/client.key', `https://localhost:${port}/`]);
        assert.equal(answer.status, 200, answer.stderr);
        assert.equal((JSON.parse(answer.body) as { answeredBy: string }).answeredBy, other, `request ${i} after draining ${drained}`);
      }
      assertClean(watched);
    } finally {
      await watched.close();
    }
    cli.child.kill('SIGINT');
    assert.deepEqual(await cli.waitExit(20_000), { code: 0, signal: null });
  });
});
