/**
 * The console in a real browser (Debian's Chromium driven by playwright-core) against a real Gatehouse,
 * real backends, a real administrator client certificate and token users: the files and their security
 * headers, sign-in by certificate and by token, Overview, Monitoring and Management with a drain under
 * load, a viewer who cannot act, a conflicting edit, and the CSP refusing inline script. The screenshots
 * of docs/console/ are made here (1280×800).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { CONSOLE_CSP } from '../../src/console/static.js';
import { openConsole, screenshot, type WatchedPage } from '../support/browser.js';
import type { Backend } from '../support/backends.js';
import { assertClean, signInWithToken, startConsoleGatehouse, type ConsoleGatehouse } from '../support/console-gatehouse.js';
import { REPO, type RunningGatehouse } from '../support/gatehouse.js';
import { within } from '../support/within.js';
import type { Badge } from './admin-api-helpers.js';
import { directRequest } from './e2e-helpers.js';

const SHOTS = join(REPO, 'docs', 'console');

/** What page functions use of the page (the tests compile without the DOM's types). */
interface PageGlobals {
  readonly document: { querySelector(selector: string): { readonly textContent: string | null } | null };
}

let fixture: ConsoleGatehouse;
let backends: readonly Backend[];
let running: RunningGatehouse;
let browser: Browser;
let alice: Badge;
let tokens: ConsoleGatehouse['tokens'];
let api: ConsoleGatehouse['api'];
let origin: string;

before(async () => {
  fixture = await startConsoleGatehouse();
  ({ backends, running, browser, alice, tokens, api, origin } = fixture);
});

after(async () => {
  await fixture?.stop();
});

/** One request of a new client (its own connection, no cookie) to the site: which server answered. */
async function hit(): Promise<{ status: number; server: string }> {
  const answer = await directRequest(running.port('web', 'http'), '/');
  return { status: answer.status, server: answer.body };
}

async function openFarm(watched: WatchedPage): Promise<void> {
  const { page } = watched;
  await page.getByRole('navigation', { name: 'Connections' }).getByRole('link', { name: 'web' }).click();
  await page.getByRole('heading', { name: 'Monitoring and Management' }).waitFor();
  await page.locator('table.monitoring tbody tr').nth(backends.length - 1).waitFor();
  await page.getByText('Live updates: live').waitFor();
}

const cell = (watched: WatchedPage, backend: Backend, column: string) => watched.page.locator(`tr[data-server="${backend.address}"] td[data-col="${column}"]`);

describe('the console files', () => {
  test('GET / gives the console with the CSP and the other security headers; assets revalidate; other paths 404', async () => {
    const index = await api('GET', '/');
    assert.equal(index.status, 200);
    assert.match(index.headers['content-type'] as string, /^text\/html/);
    assert.equal(index.headers['content-security-policy'], CONSOLE_CSP);
    assert.equal(index.headers['x-frame-options'], 'DENY');
    assert.equal(index.headers['referrer-policy'], 'no-referrer');
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.match(index.text, /<script type="module" src="app.js"><\/script>/);
    assert.doesNotMatch(index.text, /<script>|<style|style=/, 'nothing inline');
    const app = await api('GET', '/app.js');
    assert.equal(app.status, 200);
    assert.match(app.headers['content-type'] as string, /^text\/javascript/);
    const again = await api('GET', '/app.js', { headers: { 'if-none-match': app.headers.etag as string } });
    assert.equal(again.status, 304);
    assert.equal((await api('GET', '/console.css')).headers['content-type'], 'text/css; charset=utf-8');
    const missing = await api('GET', '/farms/web');
    assert.equal(missing.status, 404, 'hash routing: pages are #/… links');
    assert.equal(missing.headers['content-security-policy'], CONSOLE_CSP);
    assert.equal((await api('POST', '/', { body: {} })).status, 405);
  });

  test('GET /api/v1/whoami names the user, the role and how they signed in; 401 without credentials', async () => {
    assert.deepEqual((await api('GET', '/api/v1/whoami', { token: tokens.operator })).json, { user: 'operator-bot', role: 'operator', kind: 'token' });
    const badge = await api('GET', '/api/v1/whoami', { badge: alice });
    assert.equal(badge.status, 200);
    assert.equal(badge.json.user, 'CN=Alice Admin, O=Example');
    assert.equal(badge.json.role, 'administrator');
    assert.equal(badge.json.kind, 'certificate');
    assert.match(badge.json.thumbprint, /^[0-9A-F]{40}$/);
    assert.equal((await api('GET', '/api/v1/whoami')).status, 401);
  });
});

describe('the console in Chromium', () => {
  test('signed in by the administrator client certificate: the Overview shows sites, farms, certificates and the last reload', async () => {
    const watched = await openConsole(browser, { origin, badge: alice });
    try {
      const { page } = watched;
      await page.goto(`${origin}/`);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      assert.match((await page.getByTestId('who').textContent()) ?? '', /CN=Alice Admin, O=Example · administrator · client certificate/);
      await page.getByRole('row', { name: /web .*Require SSL: no · Client certificates: Ignore/ }).waitFor();
      await page.getByRole('row', { name: /web 3 \/ 3/ }).waitFor();
      await page.getByText(/None within 30 days|days left/).first().waitFor();
      await page.getByText('Live updates: live').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'a certificate user has nothing to sign out of');
      await screenshot(page, join(SHOTS, 'overview.png'));
      assertClean(watched);
    } finally {
      await watched.close();
    }
  });

  test('signed in by token, an operator drains a server from Monitoring and Management under load: no request fails, new clients stop reaching it', async () => {
    const watched = await openConsole(browser, { origin });
    try {
      const { page } = watched;
      await signInWithToken(watched, origin, tokens.operator);
      assert.match((await page.getByTestId('who').textContent()) ?? '', /operator-bot · operator · token/);
      await openFarm(watched);
      const drained = backends[0] as Backend;
      let stop = false;
      let drainedAt = Number.POSITIVE_INFINITY;
      const failures: string[] = [];
      const afterDrain: string[] = [];
      let sent = 0;
      const deadline = Date.now() + 60_000;
      // Four clients in a loop, bounded in count and time; each request a new client (its own connection).
      const load = Array.from({ length: 4 }, async () => {
        while (!stop && sent < 20_000 && Date.now() < deadline) {
          const startedAt = Date.now();
          sent++;
          try {
            const answer = await hit();
            if (answer.status !== 200) failures.push(`status ${answer.status}`);
            if (startedAt > drainedAt) afterDrain.push(answer.server);
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
      });
      // Traffic reaches every server first, and the live table shows it.
      await page.waitForFunction(
        (selector) => Number((globalThis as unknown as PageGlobals).document.querySelector(selector)?.textContent?.replace(/,/g, '') ?? 0) > 0,
        `tr[data-server="${drained.address}"] td[data-col="total"]`,
        { timeout: 20_000 },
      );
      // Drain with the keyboard: focus the server's Drain button and press Enter.
      await page.getByRole('button', { name: `Drain ${drained.address}` }).focus();
      await page.keyboard.press('Enter');
      await cell(watched, drained, 'state').filter({ hasText: 'Drain' }).waitFor();
      drainedAt = Date.now();
      await page.getByTestId('notice').filter({ hasText: `Drain ${drained.address}: done.` }).waitFor();
      const until = Date.now() + 20_000;
      while (afterDrain.length < 60 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
      stop = true;
      await within(Promise.all(load), 30_000, 'the load loop ends');
      assert.deepEqual(failures, [], 'no request failed');
      assert.ok(afterDrain.length >= 60, `${afterDrain.length} new clients after the drain`);
      assert.equal(afterDrain.filter((name) => name === drained.name).length, 0, 'no new client reached the drained server');
      const farm = await api('GET', '/api/v1/farms/web', { token: tokens.operator });
      assert.equal(farm.json.servers[0].state, 'drain');
      assert.equal(await page.getByRole('button', { name: `Drain ${drained.address}` }).isDisabled(), true, 'Drain is done: its button is off');
      await screenshot(page, join(SHOTS, 'monitoring-and-management.png'));
      // Back to available for the next tests, from the console too.
      await page.getByRole('button', { name: `Make Available ${drained.address}` }).click();
      await cell(watched, drained, 'state').filter({ hasText: 'Available' }).waitFor();
      assertClean(watched, [/status of 401/]);
    } finally {
      await watched.close();
    }
  });

  test('a viewer sees the actions disabled, with the reason', async () => {
    const watched = await openConsole(browser, { origin });
    try {
      const { page } = watched;
      await signInWithToken(watched, origin, tokens.viewer);
      await openFarm(watched);
      const reason = page.getByTestId('disabled-reason');
      assert.match((await reason.textContent()) ?? '', /viewer-bot has the role viewer; they need operator or administrator/);
      const buttons = page.locator('main button');
      const count = await buttons.count();
      assert.equal(count, 1 + backends.length * 5, 'Reset Counters and five actions per server');
      for (let i = 0; i < count; i++) {
        const button = buttons.nth(i);
        assert.equal(await button.isDisabled(), true, `${await button.textContent()} is disabled`);
        assert.equal(await button.getAttribute('aria-describedby'), 'actions-disabled', 'the reason is tied to the button');
      }
      assertClean(watched, [/status of 401/]);
    } finally {
      await watched.close();
    }
  });

  test('a conflicting edit (another user changed the farm) is shown as such, the farm reloaded, nothing overwritten', async () => {
    const watched = await openConsole(browser, { origin });
    try {
      const { page } = watched;
      // The page's timers (its refreshes) stop when the clock is paused: what it shows goes stale, as it
      // does when another user acts between two refreshes.
      await page.clock.install();
      await signInWithToken(watched, origin, tokens.operator);
      await openFarm(watched);
      await page.clock.pauseAt(Date.now() + 60_000);
      const target = backends[2] as Backend;
      const etag = (await api('GET', '/api/v1/farms/web', { badge: alice })).headers.etag as string;
      const other = await api('POST', `/api/v1/farms/web/servers/${encodeURIComponent(target.address)}/health`, { badge: alice, body: { healthy: false }, ifMatch: etag });
      assert.equal(other.status, 200, other.text);
      assert.equal(await cell(watched, target, 'health').textContent(), 'Healthy', 'the page still shows the farm as it was');
      await page.getByRole('button', { name: `Drain ${target.address}` }).click();
      await page.getByRole('alert').filter({ hasText: `Another user changed this farm since it was shown: Drain ${target.address} was not done.` }).waitFor();
      await cell(watched, target, 'health').filter({ hasText: 'Unhealthy' }).waitFor();
      const farm = await api('GET', '/api/v1/farms/web', { badge: alice });
      const server = farm.json.servers.find((s: { address: string }) => s.address === target.address);
      assert.equal(server.state, 'available', 'the drain was not applied over the other change');
      assert.equal(server.health, 'unhealthy');
      await api('POST', `/api/v1/farms/web/servers/${encodeURIComponent(target.address)}/health`, { badge: alice, body: { healthy: true }, ifMatch: farm.headers.etag as string });
      assertClean(watched, [/status of 401/, /status of 412/]);
    } finally {
      await watched.close();
    }
  });

  test('the live stream resumes after a cut with Last-Event-ID: the events in between are replayed', async () => {
    const watched = await openConsole(browser, { origin, badge: alice });
    try {
      const { page } = watched;
      const streams: { lastEventId: string | undefined }[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/api/v1/events/stream') streams.push({ lastEventId: request.headers()['last-event-id'] });
      });
      await page.goto(`${origin}/#/farms/web`);
      await page.getByText('Live updates: live').waitFor();
      const target = backends[1] as Backend;
      const mark = async (healthy: boolean) => {
        const etag = (await api('GET', '/api/v1/farms/web', { badge: alice })).headers.etag as string;
        assert.equal((await api('POST', `/api/v1/farms/web/servers/${encodeURIComponent(target.address)}/health`, { badge: alice, body: { healthy }, ifMatch: etag })).status, 200);
      };
      await mark(false); // an event the page sees live: it has an id to resume from
      await cell(watched, target, 'health').filter({ hasText: 'Unhealthy' }).waitFor();
      const seen = (await api('GET', '/api/v1/events?since=0', { badge: alice })).json.last as number;
      // The cut: the admin listener closes every connection it holds (the stream's among them).
      (running.gatehouse.admin as { server: { closeAllConnections(): void } }).server.closeAllConnections();
      await page.getByText(/Live updates: reconnecting/).waitFor();
      await mark(true); // while the page is cut off (it reconnects after the server's retry: 3 s)
      await page.getByText('Live updates: live').waitFor({ timeout: 20_000 });
      await cell(watched, target, 'health').filter({ hasText: 'Healthy' }).waitFor();
      const resumed = streams.filter((s) => s.lastEventId !== undefined);
      assert.ok(resumed.length >= 1, `a reconnect sent Last-Event-ID: ${JSON.stringify(streams)}`);
      assert.ok(Number(resumed[0]?.lastEventId) >= seen, `resumed from the last event seen (${seen}): ${JSON.stringify(streams)}`);
      assert.equal(streams[0]?.lastEventId, undefined, 'the first connection starts live');
      assertClean(watched, [/net::ERR/]);
    } finally {
      await watched.close();
    }
  });

  test('the CSP is in force (an injected inline script does not run) and the console reads on a narrow window', async () => {
    const watched = await openConsole(browser, { origin, badge: alice, viewport: { width: 400, height: 800 } });
    try {
      const { page } = watched;
      await page.goto(`${origin}/#/farms/web`);
      await page.getByRole('heading', { name: 'Monitoring and Management' }).waitFor();
      // The browser reports the refusal on the console (an event that may come after evaluate returns).
      const refusal = page.waitForEvent('console', { predicate: (message) => /Content Security Policy/i.test(message.text()), timeout: 10_000 });
      // Page code (a string: the tests compile without the DOM's types).
      const ran = await page.evaluate(`(() => { const script = document.createElement('script'); script.textContent = 'window.inlineRan = true'; document.head.append(script); return window.inlineRan === true; })()`);
      assert.equal(ran, false, 'inline script refused');
      assert.match((await refusal).text(), /script-src 'self'/);
      // The heading shows before the farm's data arrives: wait for the row's button (it must become visible).
      await page.getByRole('button', { name: `Drain ${(backends[1] as Backend).address}` }).waitFor({ state: 'visible', timeout: 10_000 });
      const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
      assert.ok(overflow <= 0, `no sideways scrolling of the page at 400 px (the table scrolls in its box): ${overflow}px`);
    } finally {
      await watched.close();
    }
  });
});
