/**
 * Headless Chromium for the HTML report: the tests render the report in it, and
 * bench/tools/screenshot.ts makes the README's chart image with it. It is Debian's `chromium`
 * package (scripts/setup.sh installs it), driven through playwright-core, which downloads no
 * browser of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.XPU_CHROMIUM ?? '/usr/bin/chromium';

/** No network, no first-run or update machinery, no GPU: a quiet, reproducible browser. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Chromium {
  /** A persistent context on the fresh profile: open pages with context.newPage(). */
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Chromium on a fresh profile directory, removed again by close(). Playwright takes the
 * profile as launchPersistentContext's argument (it refuses --user-data-dir among the args).
 */
export async function launchChromium(
  page: { width: number; height: number; deviceScaleFactor?: number } = { width: 1200, height: 900 },
): Promise<Chromium> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'xpu-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ARGS,
      viewport: { width: page.width, height: page.height },
      deviceScaleFactor: page.deviceScaleFactor ?? 1,
    });
    return {
      context,
      close: async () => {
        await context.close().catch(() => {});
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}
