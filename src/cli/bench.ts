import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DeviceName, StandaloneSuite, Suite } from '../../bench/suite.js';

/**
 * `xpu bench [suites...]` and `xpu bench compare A.json B.json`. A suite is a module
 * bench/<name>.ts (built to dist/bench/<name>.js) exporting `suite`, or `run(opts)` for a
 * standalone one (the contracts in bench/suite.ts); the runner and reports live in bench/lib.
 * This file resolves names and options, and writes what the run produced.
 */

export interface BenchOptions {
  device: 'xpu' | 'cpu' | 'all';
  quick: boolean;
  dtype?: string;
  sizes?: string;
  peers: boolean;
  json?: string;
  html?: string;
}

/** Every suite of the benchmark plan, in the order `all` runs them; not all are written yet. */
export const KNOWN_SUITES = ['elementwise', 'gemm', 'attention', 'quant', 'collectives', 'model', 'compile', 'train'] as const;

/** dist/bench/, beside dist/src/ (this file is dist/src/cli/bench.js once built). */
const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

const moduleOf = (name: string): string => join(BENCH_DIR, `${name}.js`);

/** The known suites whose module is built. */
export function listSuites(): string[] {
  return KNOWN_SUITES.filter((n) => existsSync(moduleOf(n)));
}

const fail = (line: string): number => {
  process.stderr.write(`xpu bench: ${line}\n`);
  return 1;
};

type Loaded = { suite: Suite } | { standalone: StandaloneSuite };

/** What a built module exports (a runner suite first), or why it exports neither. */
async function load(name: string): Promise<Loaded | string> {
  const mod = (await import(pathToFileURL(moduleOf(name)).href)) as { suite?: Suite; run?: StandaloneSuite['run'] };
  if (mod.suite && typeof mod.suite.plan === 'function') return { suite: mod.suite };
  if (typeof mod.run === 'function') return { standalone: { run: mod.run } };
  return `bench/${name} exports neither \`suite\` nor run(opts) (the contracts in bench/suite.ts)`;
}

/**
 * Which suites a command line names: `all` (or nothing) is every known suite, the ones not
 * written yet listed as missing; a named suite that is not available is an error.
 */
export function resolveSuites(names: string[], available: string[]): { chosen: string[]; missing: string[] } | { error: string } {
  const unknown = names.filter((n) => n !== 'all' && !(KNOWN_SUITES as readonly string[]).includes(n));
  if (unknown.length) return { error: `unknown suite ${unknown.map((n) => `'${n}'`).join(', ')}; suites: ${KNOWN_SUITES.join(', ')}, all` };
  const all = !names.length || names.includes('all');
  const chosen = all ? [...KNOWN_SUITES] : [...new Set(names)];
  const missing = chosen.filter((n) => !available.includes(n));
  if (!all && missing.length) {
    return {
      error: `suite ${missing.map((n) => `'${n}'`).join(', ')} not available yet (available: ${available.join(', ') || 'none; build with `npm run build`'})`,
    };
  }
  if (missing.length === chosen.length) return { error: 'no suite to run (build with `npm run build`)' };
  return { chosen, missing };
}

export async function runBench(names: string[], opts: BenchOptions): Promise<number> {
  const available = listSuites();
  const resolved = resolveSuites(names, available);
  if ('error' in resolved) return fail(resolved.error);
  const { chosen, missing } = resolved;
  if (missing.length) process.stderr.write(`xpu bench: not available yet, skipped: ${missing.join(', ')}\n`);

  // Parse everything before the runtime opens the GPU, so a typo costs nothing.
  const { parseDtypes, parseSizes } = await import('../../bench/lib/options.js');
  let dtypes: string[] | undefined;
  let sizes: number[] | undefined;
  try {
    dtypes = opts.dtype ? parseDtypes(opts.dtype) : undefined;
    sizes = opts.sizes ? parseSizes(opts.sizes) : undefined;
  } catch (e) {
    return fail((e as Error).message);
  }

  // --html needs the optional charting packages: say so now, not after the whole run.
  if (opts.html) {
    const { loadCharting, MissingOptionalPackage } = await import('../../bench/lib/optional.js');
    try {
      await loadCharting('xpu bench --html (its charts)');
    } catch (e) {
      if (e instanceof MissingOptionalPackage) return fail(e.message);
      throw e;
    }
  }

  const xpu = await import('../index.js');
  if (opts.device !== 'cpu') await xpu.ready();
  const devices: DeviceName[] = [];
  if (opts.device !== 'cpu') {
    if (xpu.accelerator.isAvailable()) devices.push('xpu');
    else if (opts.device === 'xpu') return fail(`--device xpu, but there is no xpu device: ${xpu.accelerator.unavailable()}`);
    else process.stderr.write(`xpu bench: no xpu device (${xpu.accelerator.unavailable()}); measuring cpu only\n`);
  }
  if (opts.device !== 'xpu') devices.push('cpu');

  const loaded = new Map<string, Loaded>();
  for (const name of chosen.filter((n) => available.includes(n))) {
    const l = await load(name);
    if (typeof l === 'string') return fail(l);
    loaded.set(name, l);
  }
  const standalone = [...loaded].flatMap(([name, l]) => ('standalone' in l ? [{ name, run: l.standalone.run }] : []));
  const onlyStandalone = standalone.length === loaded.size;

  let status = 0;
  if (!onlyStandalone) {
    const { runSession } = await import('../../bench/lib/session.js');
    const { printResults } = await import('../../bench/lib/console_report.js');
    const results = await runSession({
      suites: chosen.map((name) => {
        const l = loaded.get(name);
        if (!l) return { name, status: 'not-available' as const };
        return 'suite' in l ? { name, suite: l.suite } : { name, status: 'standalone' as const };
      }),
      device: opts.device,
      devices,
      dtypes,
      sizes,
      quick: opts.quick,
      peers: opts.peers,
      progress: true,
    });
    printResults(results);
    if (opts.json) {
      const { writeJson } = await import('../../bench/lib/json.js');
      process.stdout.write(`wrote ${writeJson(opts.json, results)}\n`);
    }
    if (opts.html) {
      const { writeHtml } = await import('../../bench/lib/html/report.js');
      process.stdout.write(`wrote ${await writeHtml(opts.html, results)}\n`);
    }
    const ourWrong = results.rows.filter((r) => r.status === 'wrong' && r.impl === r.device);
    if (ourWrong.length) status = fail(`${ourWrong.length} of this runtime's rows failed the correctness check`);
    else if (results.suites.some((s) => s.status === 'failed')) status = fail('a suite failed (see above)');
  }
  // Standalone suites write their own JSON: the given file when they run alone, else beside it.
  for (const s of standalone) {
    process.stdout.write(`\n${s.name} (a standalone suite: its own report)\n`);
    if (opts.html || dtypes || sizes || opts.peers) process.stdout.write(`note: ${s.name} ignores --html, --dtype, --sizes and --peers\n`);
    await s.run({
      device: opts.device,
      quick: opts.quick,
      json: opts.json && !onlyStandalone ? opts.json.replace(/(\.json)?$/, `.${s.name}.json`) : opts.json,
    });
  }
  return status;
}

export interface CompareOptions {
  threshold: string;
  /** false (--no-fail): report regressions but exit 0. */
  fail: boolean;
}

/** `xpu bench compare`: 0, or 1 when a row regressed (bench/lib/compare.ts), 2 when the files cannot be compared. */
export async function runCompare(fileA: string, fileB: string, opts: CompareOptions): Promise<number> {
  const { compareResults, isRegression, printComparison } = await import('../../bench/lib/compare.js');
  const { readResults } = await import('../../bench/lib/json.js');
  const threshold = Number(opts.threshold) / 100;
  if (!(threshold >= 0)) {
    fail(`--threshold must be a percentage >= 0, got ${opts.threshold}`);
    return 2;
  }
  let list;
  try {
    list = compareResults(readResults(fileA), readResults(fileB), threshold);
  } catch (e) {
    fail((e as Error).message);
    return 2;
  }
  printComparison(list, fileA, fileB, threshold);
  return opts.fail && list.some(isRegression) ? 1 : 0;
}
