/**
 * A real browser for the console tests: Debian's Chromium (`apt-get install chromium`, .ci/run installs it)
 * driven by playwright-core. Each context can carry an administrator's client certificate (playwright's
 * `clientCertificates`: the browser presents it when the admin listener asks). Every page records its
 * console messages and uncaught errors, so a test can say that nothing was refused by the CSP.
 *
 * When a test fails, what its pages showed as they were closed (URL, visible text, errors, failed
 * requests, the last console lines) is reported as the test's diagnostic, which the failure summary at the
 * end of `npm test` prints under the failure: a timeout on a loaded CI machine says what the page was doing.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterEach } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does) or set GATEHOUSE_CHROMIUM`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 60_000, args: ['--disable-dev-shm-usage', '--disable-gpu'] });
}

export interface ConsoleOptions {
  /** The admin listener's URL (https://127.0.0.1:port). */
  readonly origin: string;
  /** An admin badge the browser presents. */
  readonly badge?: { readonly certFile: string; readonly keyFile: string } | { readonly pfxFile: string; readonly passphrase: string };
  readonly viewport?: { readonly width: number; readonly height: number };
}

export interface WatchedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** `type: text` of every console message, in order. */
  readonly messages: string[];
  /** Uncaught errors in the page. */
  readonly errors: string[];
  /** Console messages that say the Content-Security-Policy refused something. */
  cspViolations(): string[];
  close(): Promise<void>;
}

/** A new context and page (the server's test certificate is accepted: the test CA is not the browser's). */
export async function openConsole(browser: Browser, options: ConsoleOptions): Promise<WatchedPage> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: options.viewport ?? { width: 1280, height: 800 },
    ...(options.badge ? { clientCertificates: [{ origin: options.origin, ...('pfxFile' in options.badge ? { pfxPath: options.badge.pfxFile, passphrase: options.badge.passphrase } : { certPath: options.badge.certFile, keyPath: options.badge.keyFile }) }] } : {}),
  });
  const page = await context.newPage();
  const messages: string[] = [];
  const errors: string[] = [];
  page.on('console', (message) => messages.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => errors.push(error.message));
  const failedRequests: string[] = [];
  page.on('requestfailed', (request) => failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'failed'}`));
  page.on('response', (response) => {
    if (response.status() >= 500) failedRequests.push(`${response.request().method()} ${response.url()}: ${response.status()}`);
  });
  return {
    context,
    page,
    messages,
    errors,
    cspViolations: () => messages.filter((m) => /Content Security Policy|Content-Security-Policy|Refused to/i.test(m)),
    close: async () => {
      closedPages.push(await pageState(page, { messages, errors, failedRequests }));
      await context.close();
    },
  };
}

/** What the pages closed during the current test showed; reported only if the test fails. */
const closedPages: string[] = [];
/** The failure summary (scripts/failure-summary.ts) prints diagnostics that start with this. */
export const PAGE_STATE_PREFIX = 'page when closed:';
const TEXT_CHARS = 1500;
const LAST_LINES = 10;

async function pageState(page: Page, seen: { readonly messages: readonly string[]; readonly errors: readonly string[]; readonly failedRequests: readonly string[] }): Promise<string> {
  let text: string;
  try {
    text = (await page.locator('body').innerText({ timeout: 2000 })).replace(/\n{2,}/g, '\n').slice(0, TEXT_CHARS);
  } catch (e) {
    text = `(text not readable: ${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
  }
  const list = (name: string, lines: readonly string[]) => (lines.length ? `\n${name}:\n  ${lines.slice(-LAST_LINES).join('\n  ')}` : '');
  return `${PAGE_STATE_PREFIX} ${page.url()}\n${text}${list('uncaught errors', seen.errors)}${list('failed requests', seen.failedRequests)}${list('last console lines', seen.messages)}`;
}

afterEach((context) => {
  // `passed` (Node 20.12+) is not in the @types/node this project builds with.
  const t = context as unknown as { readonly passed?: boolean; diagnostic(message: string): void };
  if (t.passed === false) for (const state of closedPages) t.diagnostic(state);
  closedPages.length = 0;
});

/** A screenshot of the page's viewport into `file` (its folder made). */
export async function screenshot(page: Page, file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: false, animations: 'disabled' });
}
