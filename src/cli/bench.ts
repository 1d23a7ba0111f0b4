import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchSuite } from '../../bench/suite.js';

/**
 * `xpu bench [suites...]`: each suite is a module bench/<name>.ts (built to dist/bench/<name>.js)
 * exporting `run(opts)` (the BenchSuite contract in bench/suite.ts). The CLI only finds, imports
 * and calls suites; what they measure and report is theirs.
 */

export interface BenchOptions {
  device: 'xpu' | 'cpu' | 'all';
  quick: boolean;
  json?: string;
}

/** dist/bench/, beside dist/src/ (this file is dist/src/cli/bench.js once built). */
const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

/** The suites that exist: every built module in bench/ but the contract itself. */
export function listSuites(): string[] {
  if (!existsSync(BENCH_DIR)) return [];
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.js') && f !== 'suite.js')
    .map((f) => f.slice(0, -3))
    .sort();
}

export async function runBench(names: string[], opts: BenchOptions): Promise<number> {
  const available = listSuites();
  const chosen = names.length ? names : available;
  if (!chosen.length) {
    console.error(`xpu bench: no suites found in ${BENCH_DIR} (build with \`npm run build\`)`);
    return 1;
  }
  const unknown = chosen.filter((n) => !available.includes(n));
  if (unknown.length) {
    console.error(`xpu bench: unknown suite ${unknown.map((n) => `'${n}'`).join(', ')}; available: ${available.join(', ') || 'none'}`);
    return 1;
  }
  for (const name of chosen) {
    const mod = (await import(pathToFileURL(join(BENCH_DIR, `${name}.js`)).href)) as Partial<BenchSuite>;
    if (typeof mod.run !== 'function') {
      console.error(`xpu bench: bench/${name} does not export run(opts)`);
      return 1;
    }
    // One JSON file per suite when several run, so they do not overwrite each other.
    const json = opts.json && chosen.length > 1 ? opts.json.replace(/(\.json)?$/, `.${name}.json`) : opts.json;
    await mod.run({ device: opts.device, quick: opts.quick, json });
  }
  return 0;
}
