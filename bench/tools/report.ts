/**
 * The HTML report of a saved run, rendered again from its JSON (after a change to the report, or
 * for a run made without --html):
 *
 *   node dist/bench/tools/report.js RUN.json REPORT.html
 */
import { readResults } from '../lib/json.js';
import { writeHtml } from '../lib/html/report.js';

async function main(argv: string[]): Promise<void> {
  const [json, html] = argv;
  if (!json || !html) throw new Error('usage: node dist/bench/tools/report.js RUN.json REPORT.html');
  process.stdout.write(`wrote ${await writeHtml(html, readResults(json))}\n`);
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
