/**
 * One `xpu bench` run: plan every suite, measure the roofline once, run every suite's cases
 * under one progress bar, and gather it all into one results object (written as JSON and HTML by
 * the caller).
 */
import type { BenchCase, DeviceName, Suite, SuiteContext, SuitePlan } from '../suite.js';
import { runEnvironment } from './env.js';
import { createProgress, silentProgress } from './progress.js';
import { SCHEMA_VERSION, type BenchResults, type Row, type SuiteRecord } from './records.js';
import { deviceRoofline, measureRoofline, rooflineSteps, type Roofline } from './roofline.js';
import { holdToRoofline, plannedTicks, runCases, WARMUP_MIN_MS } from './runner.js';
import { sizeLabel } from './table.js';
import type { RepeatOptions } from './timing.js';

/** A suite the run was asked for: its module's Suite, or why the runner does not run it. */
export interface SuiteEntry {
  name: string;
  suite?: Suite;
  /** Without a suite: 'not-available' (planned, not written yet) or 'standalone' (runs on its own). */
  status?: 'not-available' | 'standalone';
}

export interface SessionOptions {
  suites: SuiteEntry[];
  device: 'xpu' | 'cpu' | 'all';
  devices: DeviceName[];
  dtypes?: string[];
  sizes?: number[];
  quick: boolean;
  peers: boolean;
  /** Show a progress bar (or per-row lines when stderr is not a terminal). */
  progress: boolean;
  /** Overrides the measured roofline (tests). */
  roofline?: Roofline;
  /** Measures the ceilings (default measureRoofline; tests inject their own). */
  measure?: (devices: DeviceName[], quick: boolean, step?: (label: string) => void) => Promise<Roofline>;
}

export const defaultRepeat = (quick: boolean): RepeatOptions => (quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 7 });

const TIMING =
  'warm-up runs, then timed runs (implementations and settings of one case interleaved round-robin); ' +
  'median, min, max and spread = (max - min) / median of the time per op; wall = run + synchronize, GPU = the sum of ' +
  "the kernels' timestamp-query times in the same runs (this runtime on xpu only); each implementation checked once " +
  'against a float64 reference before its timed runs';

/**
 * A ceiling measured while other processes held the cores comes out low, and a row measured in a
 * quieter moment then lands above it. Where rows came out above their roofline, that device's
 * probes run once more after the suites, each ceiling becomes the better of the two measurements
 * (the second marked `recheck`), and those devices' rows are held to it again; what is still
 * above is a measurement error of the row.
 */
async function recheckCeilings(
  rows: Row[],
  plans: Map<string, SuitePlan>,
  roofline: Roofline,
  opts: SessionOptions,
  measure: NonNullable<SessionOptions['measure']>,
): Promise<void> {
  const devices = [...new Set(rows.filter((r) => r.roofline?.flag).map((r) => r.device))];
  if (!devices.length) return;
  const again = await measure(devices, opts.quick);
  for (const d of devices) {
    const first = roofline[d];
    const second = again[d];
    if (!first || !second) continue;
    roofline[d] = deviceRoofline(d, [...(first.ceilings ?? []), ...(second.ceilings ?? []).map((c) => ({ ...c, recheck: true }))]);
  }
  const cases = new Map<string, BenchCase>();
  for (const [suite, plan] of plans)
    for (const c of plan.cases)
      cases.set(caseKey({ suite, kernel: c.kernel, device: c.device, dtype: c.dtype, sizeLabel: c.sizeLabel ?? sizeLabel(c.size) }), c);
  for (const row of rows) {
    const c = cases.get(caseKey(row));
    if (devices.includes(row.device) && c) holdToRoofline(row, c, roofline);
  }
}

const caseKey = (r: Pick<Row, 'suite' | 'kernel' | 'device' | 'dtype' | 'sizeLabel'>): string =>
  [r.suite, r.kernel, r.device, r.dtype, r.sizeLabel].join('/');

export async function runSession(opts: SessionOptions): Promise<BenchResults> {
  const environment = runEnvironment();
  const ctx: SuiteContext = { devices: opts.devices, dtypes: opts.dtypes, sizes: opts.sizes, quick: opts.quick, peers: opts.peers };
  const repeat = defaultRepeat(opts.quick);

  const records: SuiteRecord[] = [];
  const plans = new Map<string, SuitePlan>();
  for (const e of opts.suites) {
    if (!e.suite) {
      const standalone = e.status === 'standalone';
      records.push({
        name: e.name,
        status: standalone ? 'standalone' : 'not-available',
        notes: [],
        error: standalone ? 'measures and reports on its own, after this run; its rows are not in this file' : 'not available yet',
      });
      continue;
    }
    try {
      const p = await e.suite.plan(ctx);
      plans.set(e.name, p);
      records.push({ name: e.name, status: 'ran', description: e.suite.description, notes: p.notes, settings: p.settings, peers: p.peers });
    } catch (err) {
      records.push({
        name: e.name,
        status: 'failed',
        description: e.suite.description,
        notes: [],
        error: `planning failed: ${(err as Error).stack ?? err}`,
      });
    }
  }

  const measureOwnRoofline = !opts.roofline;
  const total =
    (measureOwnRoofline ? rooflineSteps(opts.devices) : 0) + [...plans.values()].reduce((s, p) => s + plannedTicks(p.cases, repeat), 0);
  const progress = opts.progress ? createProgress(total) : silentProgress;
  const rows: Row[] = [];
  let roofline: Roofline = opts.roofline ?? {};
  try {
    const measure = opts.measure ?? measureRoofline;
    if (measureOwnRoofline) roofline = await measure(opts.devices, opts.quick, (label) => progress.tick(label));
    for (const [name, plan] of plans) {
      const record = records.find((r) => r.name === name) as SuiteRecord;
      try {
        rows.push(...(await runCases(plan.cases, { suite: name, roofline, progress, repeat, warmupMinMs: WARMUP_MIN_MS })));
      } catch (err) {
        record.status = 'failed';
        record.error = `run failed: ${(err as Error).stack ?? err}`;
      } finally {
        await plan.dispose?.();
      }
    }
    if (measureOwnRoofline) await recheckCeilings(rows, plans, roofline, opts, measure);
  } finally {
    progress.stop();
  }

  return {
    schemaVersion: SCHEMA_VERSION,
    createdBy: 'xpu bench',
    environment,
    settings: {
      suites: opts.suites.map((s) => s.name),
      device: opts.device,
      devices: opts.devices,
      dtypes: opts.dtypes ?? null,
      sizes: opts.sizes ?? null,
      quick: opts.quick,
      peers: opts.peers,
      timing: TIMING,
    },
    roofline,
    suites: records,
    rows,
  };
}
