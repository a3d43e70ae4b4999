/**
 * Server Farms → a farm's settings in Chromium, signed in with Alice's administrator badge, each checked
 * with real requests through the site: Servers (add a new backend and see it take traffic, a weight and
 * the distribution following it, a disabled server getting no new requests, a removed one, Take Farm
 * Offline / Bring Online), Load Balance (a hash algorithm, its option's 422 shown at the field, then the
 * hash keeping a key on one server), Server Affinity (a client with the cookie sticks), Health Test (a 422 at
 * the field; a URL test that fails on one backend turns it unhealthy in Monitoring and Management), and a
 * viewer or operator who cannot change the settings. The screenshots of these pages are written here.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openConsole, screenshot, type WatchedPage } from '../support/browser.js';
import { startBackend, type Backend } from '../support/backends.js';
import { assertClean, defaultConfig, signInWithToken, startConsoleGatehouse, type ConsoleGatehouse } from '../support/console-gatehouse.js';
import { REPO } from '../support/gatehouse.js';
import { directRequest } from './e2e-helpers.js';

const SHOTS = join(REPO, 'docs', 'console');

let fixture: ConsoleGatehouse;
/** In the farm at the start: alpha, bravo, charlie; delta is added from the console. */
let backends: Record<'alpha' | 'bravo' | 'charlie' | 'delta', Backend>;
/** Backends whose /health answers 503. */
const sick = new Set<string>(['delta']);

before(async () => {
  const started = await Promise.all(
    (['alpha', 'bravo', 'charlie', 'delta'] as const).map((name) =>
      startBackend(name, (req, res, backend) => {
        if (req.url === '/health') {
          res.statusCode = sick.has(backend.name) ? 503 : 200;
          res.end(sick.has(backend.name) ? 'down' : 'ok');
          return;
        }
        res.end(backend.name);
      }),
    ),
  );
  backends = { alpha: started[0]!, bravo: started[1]!, charlie: started[2]!, delta: started[3]! };
  fixture = await startConsoleGatehouse({
    backends: [],
    config: () => defaultConfig([backends.alpha, backends.bravo, backends.charlie]),
  });
});

after(async () => {
  await fixture?.stop();
  await Promise.all(Object.values(backends ?? {}).map((b) => b.close()));
});

/** One request of a new client (its own connection) to the site, with `headers`. */
async function hit(headers: Record<string, string> = {}): Promise<{ status: number; server: string; setCookie: string[] }> {
  const answer = await directRequest(fixture.running.port('web', 'http'), '/', headers);
  const setCookie = answer.headers['set-cookie'] ?? [];
  return { status: answer.status, server: answer.body, setCookie };
}

/** `count` requests (bounded), counted by the server that answered; every one must be a 200. */
async function spread(count: number, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const answer = await hit(headers);
    assert.equal(answer.status, 200, `request ${i}: ${answer.status} ${answer.server}`);
    counts[answer.server] = (counts[answer.server] ?? 0) + 1;
  }
  return counts;
}

const farm = async () => (await fixture.api('GET', '/api/v1/farms/web', { badge: fixture.alice })).json as { etag: string; algorithm: string; enabled: boolean; loadBalancing: Record<string, unknown>; healthTest: Record<string, unknown>; affinity: Record<string, unknown> | null; servers: { address: string; weight: number; enabled: boolean; health: string }[] };

async function openAsAlice(path: string): Promise<WatchedPage> {
  const watched = await openConsole(fixture.browser, { origin: fixture.origin, badge: fixture.alice });
  await watched.page.goto(`${fixture.origin}/#/farms/web${path}`);
  return watched;
}

const done = (watched: WatchedPage, what: string) => watched.page.getByTestId('notice').filter({ hasText: `${what}: done` }).waitFor({ timeout: 30_000 });

describe('Server Farms → a farm in Chromium (administrator badge)', () => {
  test('the farm\'s features are tabs; Monitoring and Management stays the default', async () => {
    const watched = await openAsAlice('');
    try {
      const { page } = watched;
      await page.getByRole('heading', { name: 'Monitoring and Management' }).waitFor();
      const tabs = page.getByRole('navigation', { name: 'Farm features' });
      assert.deepEqual(await tabs.getByRole('link').allTextContents(), ['Monitoring and Management', 'Servers', 'Health Test', 'Load Balance', 'Server Affinity']);
      assert.equal(await tabs.getByRole('link', { name: 'Monitoring and Management' }).getAttribute('aria-current'), 'page');
      await tabs.getByRole('link', { name: 'Servers' }).click();
      await page.getByRole('heading', { name: 'Servers' }).waitFor();
      assert.match(page.url(), /#\/farms\/web\/servers$/);
      assertClean(watched);
    } finally {
      await watched.close();
    }
  });

  test('on a narrow window (400 px) the farm pages do not scroll sideways (the servers table scrolls in its box)', async () => {
    const watched = await openConsole(fixture.browser, { origin: fixture.origin, badge: fixture.alice, viewport: { width: 400, height: 800 } });
    try {
      const { page } = watched;
      for (const [path, ready] of [
        ['servers', 'Add Server'],
        ['health-test', 'Apply'],
        ['load-balance', 'Apply'],
        ['affinity', 'Apply'],
      ] as const) {
        await page.goto(`${fixture.origin}/#/farms/web/${path}`);
        await page.getByRole('button', { name: ready, exact: true }).waitFor({ state: 'visible' });
        const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
        assert.ok(overflow <= 0, `${path}: no sideways scrolling at 400 px: ${overflow}px`);
      }
      assertClean(watched);
    } finally {
      await watched.close();
    }
  });

  test('Servers: add a new backend (it takes traffic), set a weight (the distribution follows), disable one (no new requests), remove one, take the farm offline and back', async () => {
    const watched = await openAsAlice('/servers');
    try {
      const { page } = watched;
      await page.getByRole('heading', { name: 'Servers' }).waitFor();
      await page.locator('table.servers tbody tr').nth(2).waitFor();
      const { alpha, bravo, charlie, delta } = backends;
      // Add Server: the new backend takes its share of new clients.
      await page.getByLabel('Server address').fill(delta.address);
      await page.getByLabel('Weight', { exact: true }).fill('100');
      await page.getByRole('button', { name: 'Add Server' }).click();
      await done(watched, `Add Server ${delta.address}`);
      await page.locator(`table.servers tr[data-server="${delta.address}"]`).waitFor();
      assert.equal((await farm()).servers.length, 4);
      const even = await spread(40);
      assert.ok((even.delta ?? 0) >= 5, `the added server takes traffic: ${JSON.stringify(even)}`);

      // Weight: alpha 300, the others 100: alpha takes about half of new requests (300 / 600).
      await page.getByLabel(`Weight of ${alpha.address}`).fill('300');
      await page.getByRole('button', { name: `Apply ${alpha.address}` }).click();
      await done(watched, `Apply ${alpha.address}`);
      assert.equal((await farm()).servers.find((s) => s.address === alpha.address)?.weight, 300);
      const weighted = await spread(60);
      const share = (weighted.alpha ?? 0) / 60;
      assert.ok(share >= 0.4 && share <= 0.6, `alpha's share follows its weight (expected about 0.5): ${JSON.stringify(weighted)}`);

      // Enabled off: bravo gets no new request.
      await page.getByLabel(`Enabled ${bravo.address}`).uncheck();
      await page.getByRole('button', { name: `Apply ${bravo.address}` }).click();
      await done(watched, `Apply ${bravo.address}`);
      assert.equal((await farm()).servers.find((s) => s.address === bravo.address)?.enabled, false);
      const withoutBravo = await spread(30);
      assert.equal(withoutBravo.bravo ?? 0, 0, `a disabled server gets no new requests: ${JSON.stringify(withoutBravo)}`);

      // Remove: charlie leaves the farm and the file.
      await page.getByRole('button', { name: `Remove ${charlie.address}` }).click();
      await page.getByRole('button', { name: 'Yes, remove' }).click();
      await done(watched, `Remove ${charlie.address}`);
      await page.locator(`table.servers tr[data-server="${charlie.address}"]`).waitFor({ state: 'detached' });
      assert.deepEqual((await farm()).servers.map((s) => s.address), [alpha.address, bravo.address, delta.address]);
      const withoutCharlie = await spread(20);
      assert.equal(withoutCharlie.charlie ?? 0, 0, JSON.stringify(withoutCharlie));

      // Take Farm Offline: the site answers 502.4; Bring Online: 200 again.
      await page.getByRole('button', { name: 'Take Farm Offline' }).click();
      await done(watched, 'Take Farm Offline');
      const offline = await hit();
      assert.equal(offline.status, 502);
      assert.match(offline.server, /502\.4/);
      await page.getByRole('button', { name: 'Bring Online' }).click();
      await done(watched, 'Bring Online');
      assert.equal((await hit()).status, 200);
      await page.getByTestId('farm-status').filter({ hasText: 'Farm online' }).waitFor();
      await screenshot(page, join(SHOTS, 'servers.png'));
      assertClean(watched);
    } finally {
      await watched.close();
    }
  });

  test('Load Balance: a hash algorithm shows its option; a missing variable is a 422 shown at the field; then one key stays on one server', async () => {
    const watched = await openAsAlice('/load-balance');
    try {
      const { page } = watched;
      await page.getByRole('heading', { name: 'Load Balance' }).waitFor();
      const algorithm = page.getByLabel('Load balance algorithm');
      await algorithm.waitFor();
      assert.equal(await algorithm.inputValue(), 'weightedRoundRobin');
      assert.equal(await page.getByLabel('Server variable').count(), 0, 'no hash option for round robin');
      await algorithm.selectOption({ label: 'Server variable hash' });
      const variable = page.getByLabel('Server variable');
      await variable.waitFor();
      await page.getByRole('button', { name: 'Apply' }).click();
      const problem = page.locator('[data-field="lb-hashServerVariable"]');
      await problem.waitFor();
      assert.match((await problem.textContent()) ?? '', /REMOTE_ADDR|HTTP_/);
      assert.equal(await variable.getAttribute('aria-invalid'), 'true');
      assert.equal((await farm()).algorithm, 'weightedRoundRobin', 'nothing changed');
      await variable.fill('HTTP_X_USER');
      await page.getByRole('button', { name: 'Apply' }).click();
      await done(watched, 'Apply Load Balance');
      await page.getByTestId('algorithm-in-force').filter({ hasText: 'Server variable hash' }).waitFor();
      const now = await farm();
      assert.equal(now.algorithm, 'serverVariableHash');
      assert.equal(now.loadBalancing.hashServerVariable, 'HTTP_X_USER');
      for (const user of ['ada', 'grace']) {
        const counts = await spread(8, { 'x-user': user });
        assert.equal(Object.keys(counts).length, 1, `one key, one server: ${user} → ${JSON.stringify(counts)}`);
      }
      await screenshot(page, join(SHOTS, 'load-balance.png'));
      assertClean(watched, [/status of 422/]);
    } finally {
      await watched.close();
    }
  });

  test('Server Affinity: cookie affinity on; a client that sends its cookie sticks to its server', async () => {
    const watched = await openAsAlice('/affinity');
    try {
      const { page } = watched;
      await page.getByRole('heading', { name: 'Server Affinity' }).waitFor();
      await page.getByTestId('affinity-in-force').filter({ hasText: 'no client affinity' }).waitFor();
      await page.getByLabel('Client affinity').check();
      await page.getByLabel('Cookie name').fill('GatehouseAffinity');
      await page.getByLabel('SameSite').selectOption('Lax');
      await page.getByRole('button', { name: 'Apply' }).click();
      await done(watched, 'Apply Server Affinity');
      await page.getByTestId('affinity-in-force').filter({ hasText: 'client affinity by cookie GatehouseAffinity' }).waitFor();
      assert.equal((await farm()).affinity?.cookieName, 'GatehouseAffinity');
      // New clients are spread (alpha 300, delta 100; bravo is disabled): find one placed on delta, the smaller share.
      let cookie = '';
      for (let i = 0; i < 24 && !cookie; i++) {
        const first = await hit();
        assert.equal(first.status, 200);
        const set = first.setCookie.find((c) => c.startsWith('GatehouseAffinity='));
        assert.ok(set, `a new client gets the affinity cookie: ${JSON.stringify(first.setCookie)}`);
        if (first.server === 'delta') cookie = set.split(';')[0] as string;
      }
      assert.ok(cookie, 'some new client was placed on delta');
      const sticky = await spread(12, { cookie });
      assert.deepEqual(sticky, { delta: 12 }, 'the client with the cookie stays on its server');
      await screenshot(page, join(SHOTS, 'server-affinity.png'));
      assertClean(watched);
    } finally {
      await watched.close();
    }
  });

  test('Health Test: a bad interval is a 422 at the field; a URL test failing on one backend shows it unhealthy in Monitoring and Management', async () => {
    const watched = await openAsAlice('/health-test');
    try {
      const { page } = watched;
      await page.getByRole('heading', { name: 'Health Test' }).waitFor();
      const interval = page.getByLabel('Interval (seconds)');
      await interval.waitFor();
      assert.equal(await interval.inputValue(), '30');
      await page.getByLabel('URL', { exact: true }).fill('/health');
      await interval.fill('soon');
      await page.getByRole('button', { name: 'Apply' }).click();
      const problem = page.locator('[data-field="health-interval"]');
      await problem.waitFor();
      assert.match((await problem.textContent()) ?? '', /duration/);
      assert.equal(await page.getByLabel('URL', { exact: true }).inputValue(), '/health', 'the form keeps what was typed');
      assert.equal((await farm()).healthTest.url, undefined, 'nothing changed');
      await interval.fill('1');
      await page.getByLabel('Time-out (seconds)').fill('2');
      await page.getByLabel('Acceptable status codes').fill('200-299');
      await page.getByLabel('Response match').fill('ok');
      await page.getByRole('button', { name: 'Apply' }).click();
      await done(watched, 'Apply Health Test');
      const now = await farm();
      assert.equal(now.healthTest.url, '/health');
      assert.equal(now.healthTest.intervalMs, 1000);
      await screenshot(page, join(SHOTS, 'health-test.png'));
      await page.getByRole('navigation', { name: 'Farm features' }).getByRole('link', { name: 'Monitoring and Management' }).click();
      await page.getByRole('heading', { name: 'Monitoring and Management' }).waitFor();
      const health = (b: Backend) => page.locator(`tr[data-server="${b.address}"] td[data-col="health"]`);
      await health(backends.delta).filter({ hasText: 'Unhealthy' }).waitFor({ timeout: 20_000 });
      assert.equal(await health(backends.alpha).textContent(), 'Healthy');
      assert.equal((await farm()).servers.find((s) => s.address === backends.delta.address)?.health, 'unhealthy');
      const afterTest = await spread(10);
      assert.equal(afterTest.delta ?? 0, 0, `an unhealthy server takes no new requests: ${JSON.stringify(afterTest)}`);
      assertClean(watched, [/status of 422/]);
    } finally {
      await watched.close();
    }
  });

  test('a conflicting edit: another user changed the farm since the page showed it; Apply is refused as such and the farm reloaded', async () => {
    const watched = await openConsole(fixture.browser, { origin: fixture.origin, badge: fixture.alice });
    try {
      const { page } = watched;
      // Paused timers stop the page's refreshes: what it shows goes stale, as when another user acts between two.
      await page.clock.install();
      await page.goto(`${fixture.origin}/#/farms/web/load-balance`);
      await page.getByTestId('algorithm-in-force').waitFor();
      await page.clock.pauseAt(Date.now() + 60_000);
      const before = await farm();
      const other = await fixture.api('PATCH', `/api/v1/farms/web/servers/${encodeURIComponent(backends.alpha.address)}`, { badge: fixture.alice, body: { weight: 200 }, ifMatch: before.etag });
      assert.equal(other.status, 200, other.text);
      await page.getByLabel('Load balance algorithm').selectOption({ label: 'Least current request' });
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.getByRole('alert').filter({ hasText: 'Another user changed this farm since it was shown: Apply Load Balance was not done.' }).waitFor();
      assert.equal((await farm()).algorithm, before.algorithm, 'not applied over the other change');
      // The farm is fetched again after the 412: wait for the form to show it (bounded), then check.
      const select = page.getByLabel('Load balance algorithm');
      const id = JSON.stringify(await select.getAttribute('id'));
      await page.waitForFunction(`document.getElementById(${id})?.value === ${JSON.stringify(before.algorithm)}`, undefined, { timeout: 10_000 }).catch(() => undefined);
      assert.equal(await select.inputValue(), before.algorithm, 'the form shows the farm as it is now');
      assertClean(watched, [/status of 412/]);
    } finally {
      await watched.close();
    }
  });
});

describe('who may change the settings', () => {
  test('a viewer sees every settings control disabled with the reason, and the API refuses the write', async () => {
    const watched = await openConsole(fixture.browser, { origin: fixture.origin });
    try {
      const { page } = watched;
      await signInWithToken(watched, fixture.origin, fixture.tokens.viewer);
      for (const [path, heading] of [
        ['servers', 'Servers'],
        ['health-test', 'Health Test'],
        ['load-balance', 'Load Balance'],
        ['affinity', 'Server Affinity'],
      ] as const) {
        await page.goto(`${fixture.origin}/#/farms/web/${path}`);
        await page.getByRole('heading', { name: heading }).waitFor();
        await page.locator('main form button[type="submit"]').first().waitFor();
        assert.match((await page.getByTestId('disabled-reason').textContent()) ?? '', /viewer-bot has the role viewer; changing a farm's settings needs administrator/);
        const controls = page.locator('main button, main input, main select');
        const count = await controls.count();
        assert.ok(count > 0);
        for (let i = 0; i < count; i++) assert.equal(await controls.nth(i).isDisabled(), true, `${heading}: control ${i} is disabled`);
        assert.equal(await page.locator('main button').first().getAttribute('aria-describedby'), 'settings-disabled', 'the reason is tied to the controls');
      }
      const refused = await fixture.api('PATCH', `/api/v1/farms/web/servers/${encodeURIComponent(backends.alpha.address)}`, { token: fixture.tokens.viewer, body: { weight: 5 }, ifMatch: (await farm()).etag });
      assert.equal(refused.status, 403);
      assertClean(watched, [/status of 401/]);
    } finally {
      await watched.close();
    }
  });

  test('an operator may act on Monitoring and Management, but the settings say they need administrator', async () => {
    const watched = await openConsole(fixture.browser, { origin: fixture.origin });
    try {
      const { page } = watched;
      await signInWithToken(watched, fixture.origin, fixture.tokens.operator);
      await page.goto(`${fixture.origin}/#/farms/web`);
      await page.getByRole('heading', { name: 'Monitoring and Management' }).waitFor();
      await page.getByRole('button', { name: 'Reset Counters' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Reset Counters' }).isDisabled(), false, 'the operator acts on Monitoring and Management');
      await page.getByRole('navigation', { name: 'Farm features' }).getByRole('link', { name: 'Load Balance' }).click();
      await page.getByRole('heading', { name: 'Load Balance' }).waitFor();
      assert.match((await page.getByTestId('disabled-reason').textContent()) ?? '', /operator-bot has the role operator; changing a farm's settings needs administrator/);
      assert.equal(await page.getByRole('button', { name: 'Apply' }).isDisabled(), true);
      assertClean(watched, [/status of 401/]);
    } finally {
      await watched.close();
    }
  });
});
