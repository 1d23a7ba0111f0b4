/**
 * A PNG of one chart of an HTML report, taken in headless Chromium (the README's chart image):
 *
 *   node dist/bench/tools/screenshot.js REPORT.html OUT.png [CHART_ID]
 *
 * CHART_ID is a figure's id in the report (e.g. chart-elementwise-add); the first chart when left out.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../lib/chromium.js';

async function main(argv: string[]): Promise<void> {
  const [report, out, id] = argv;
  if (!report || !out) throw new Error('usage: node dist/bench/tools/screenshot.js REPORT.html OUT.png [CHART_ID]');
  // deviceScaleFactor 2: a sharp image on high-density screens, still a small PNG.
  const chromium = await launchChromium({ width: 1200, height: 900, deviceScaleFactor: 2 });
  try {
    const page = await chromium.context.newPage();
    await page.goto(pathToFileURL(resolve(report)).href);
    const figure = page.locator(id ? `figure#${id}` : 'figure.chart').first();
    await figure.locator('svg').screenshot({ path: out });
    process.stdout.write(`wrote ${resolve(out)} (${id ?? (await figure.getAttribute('id'))})\n`);
  } finally {
    await chromium.close();
  }
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
