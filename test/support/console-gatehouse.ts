/**
 * What every console test starts from: a test PKI, an administrator badge (Alice, a client certificate the
 * browser presents), operator and viewer tokens, real backends, a real Gatehouse whose https admin listener
 * serves the console, and Debian's Chromium. `config` adds sites and farms to the admin block (the
 * default: one http site `web` in front of farm `web` with every backend).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { issueClient } from '../../src/pki/index.js';
import { apiClient, makeToken, type Badge } from '../integration/admin-api-helpers.js';
import { launchChromium, type WatchedPage } from './browser.js';
import { startBackend, type Backend } from './backends.js';
import { startGatehouse, type RunningGatehouse } from './gatehouse.js';
import { createTestPki, type TestPki } from './test-pki.js';

export interface ConsoleGatehouse {
  readonly pki: TestPki;
  readonly alice: Badge;
  readonly tokens: { readonly operator: string; readonly viewer: string };
  readonly backends: readonly Backend[];
  readonly running: RunningGatehouse;
  readonly browser: Browser;
  /** The admin listener's https origin. */
  readonly origin: string;
  readonly api: ReturnType<typeof apiClient>;
  stop(): Promise<void>;
}

export interface ConsoleGatehouseOptions {
  /** Backend names (each answers its own name); default one, two, three. */
  readonly backends?: readonly string[];
  /** The config after the `admin:` block (sites, farms, …); default one http site `web` → farm `web`. */
  readonly config?: (backends: readonly Backend[], pki: TestPki) => string;
  /** Extra lines inside `admin:` (two-space indented), e.g. `  certificateStore: store`. */
  readonly admin?: string;
}

export const defaultConfig = (backends: readonly Backend[]) => `sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [${backends.map((b) => `{ address: ${b.address} }`).join(', ')}]
`;

export async function startConsoleGatehouse(options: ConsoleGatehouseOptions = {}): Promise<ConsoleGatehouse> {
  const pki = await createTestPki();
  const issued = await issueClient({ ca: pki.root, commonName: 'Alice Admin', organization: 'Example' });
  const alice = { certFile: join(pki.dir, 'alice-badge.pem'), keyFile: join(pki.dir, 'alice-badge.key') };
  await writeFile(alice.certFile, issued.certPem);
  await writeFile(alice.keyFile, issued.keyPem, { mode: 0o600 });
  const operator = await makeToken(pki.dir, 'operator');
  const viewer = await makeToken(pki.dir, 'viewer');
  const backends = await Promise.all((options.backends ?? ['one', 'two', 'three']).map((name) => startBackend(name, (_req, res, backend) => res.end(backend.name))));
  const running = await startGatehouse(
    `accessLog: off
admin:
  port: 0
  certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }
  trustedCaFile: ${pki.caFile}
  users:
    - { subject: "CN=Alice Admin, O=Example", role: administrator }
    - { name: operator-bot, tokenFile: ${operator.file}, role: operator }
    - { name: viewer-bot, tokenFile: ${viewer.file}, role: viewer }
${options.admin ?? ''}
${(options.config ?? defaultConfig)(backends, pki)}`,
    pki.dir,
  );
  const origin = (running.gatehouse.admin as { url: string }).url;
  const api = apiClient(() => origin, pki.caFile);
  const browser = await launchChromium();
  return {
    pki,
    alice,
    tokens: { operator: operator.token, viewer: viewer.token },
    backends,
    running,
    browser,
    origin,
    api,
    async stop() {
      await browser.close();
      await running.stop();
      await Promise.all(backends.map((b) => b.close()));
      await pki.cleanup();
    },
  };
}

/** Sign in on the console's sign-in page with a bearer token; resolves on the Overview. */
export async function signInWithToken(watched: WatchedPage, origin: string, token: string): Promise<void> {
  const { page } = watched;
  await page.goto(`${origin}/`);
  await page.getByRole('heading', { name: 'Gatehouse console: sign in' }).waitFor();
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}

/** Nothing refused by the CSP, no uncaught error; `allowed`: console errors the test caused on purpose. */
export function assertClean(watched: WatchedPage, allowed: RegExp[] = []): void {
  assert.deepEqual(watched.cspViolations(), [], 'no CSP violation');
  assert.deepEqual(watched.errors, [], 'no uncaught error in the page');
  const unexpected = watched.messages.filter((m) => m.startsWith('error:') && !allowed.some((re) => re.test(m)));
  assert.deepEqual(unexpected, [], 'no console error');
}
