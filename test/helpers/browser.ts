/**
 * Real Chromium for the console's browser tests, driven by playwright-core through the
 * Debian package's executable (nothing is downloaded). `chromiumMissing()` says why the tests
 * cannot run here (so they skip with that reason); `.ci/run` installs the package, so CI runs them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './processes.js';

/** The Debian package's browser (`apt-get install -y chromium`); NUBIS_CHROMIUM overrides it. */
export const CHROMIUM = process.env.NUBIS_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run on this machine, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  if (!fs.existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}: install the Debian package chromium (apt-get install -y chromium) to run the console's browser tests`;
  return undefined;
}

/** Launches headless Chromium (no sandbox: tests run as root in CI). The caller closes it. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-extensions'],
  });
}

/** Where screenshots go for people to look at (gitignored). */
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');

/** Saves a full-page screenshot as test-results/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Whether the console is built (npm run build puts it in dist/web). */
export function consoleBuilt(): boolean {
  return fs.existsSync(path.join(ROOT, 'dist', 'web', 'index.html'));
}
