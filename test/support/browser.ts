/**
 * A real browser for the console tests: Debian's Chromium (`apt-get install chromium`, .ci/run installs it)
 * driven by playwright-core. Each context can carry an administrator's client certificate (playwright's
 * `clientCertificates`: the browser presents it when the admin listener asks). Every page records its
 * console messages and uncaught errors, so a test can say that nothing was refused by the CSP.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
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
  return {
    context,
    page,
    messages,
    errors,
    cspViolations: () => messages.filter((m) => /Content Security Policy|Content-Security-Policy|Refused to/i.test(m)),
    close: () => context.close(),
  };
}

/** A screenshot of the page's viewport into `file` (its folder made). */
export async function screenshot(page: Page, file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: false, animations: 'disabled' });
}
