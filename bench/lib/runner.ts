/**
 * The generic runner: turns a suite's cases into result rows. Per case it prepares every
 * implementation (ours and the peers'), checks each once against its float64 reference, then
 * times them round-robin (warm-up, then rounds of one run per implementation and setting), so
 * that the ratios between them hold on a machine whose load drifts.
 */
import { collectGarbage } from './collect_garbage.js';
import * as xpu from '../../src/index.js';
import type { BenchCase, Variant, Workload } from '../suite.js';
import { failedCheck, type Check } from './check.js';
import { timedRun } from './gpu_time.js';
import type { Progress } from './progress.js';
import { pairedRatio } from './paired.js';
import { rowKey, type Row } from './records.js';
import { defaultPeak, rooflineFraction, type Roofline } from './roofline.js';
import { sizeLabel } from './table.js';
import { summarise, type RepeatOptions } from './timing.js';

export interface RunnerContext {
  suite: string;
  roofline: Roofline;
  progress: Progress;
  /** Warm-up and repeats for cases that do not set their own. */
  repeat: RepeatOptions;
  /**
   * Beyond repeat.warmup, warm-up runs continue until this many ms have passed (at most
   * WARMUP_MAX_EXTRA more runs): V8 optimises our op path (and a peer's JS) only after some calls,
   * and the first case of a suite paid for it (256^3 on cpu measured 140 GFLOP/s there against 192
   * once warm, numpy unaffected). The session sets WARMUP_MIN_MS; 0 or absent: none.
   */
  warmupMinMs?: number;
  /**
   * The clock the warm-up budget is measured with (ms); performance.now unless a test injects
   * one, so the warm-up logic can be tested without real time.
   */
  clock?: () => number;
}

export const WARMUP_MIN_MS = 250;
const WARMUP_MAX_EXTRA = 20;

/** One implementation of a case: ours (impl = device) or a peer. */
interface Impl {
  impl: string;
  ours: boolean;
  setup(): Workload;
  skip?: string;
}

/** One timed thing: an implementation under one setting, and the row it fills. */
interface Contender {
  impl: Impl;
  variant?: Variant;
  row: Row;
  workload?: Workload;
  wallMs: number[];
  gpuMs: number[];
}

const implsOf = (c: BenchCase): Impl[] => [
  { impl: c.device, ours: true, setup: c.setup, skip: c.skip },
  ...(c.peers ?? []).map((p) => ({ impl: p.impl, ours: false, setup: p.setup, skip: c.skip ?? p.skip })),
];

const variantsOf = (c: BenchCase): (Variant | undefined)[] => (c.variants?.length ? c.variants : [undefined]);

/** The progress ticks runCases will make for these cases: one per check and per run. */
export function plannedTicks(cases: BenchCase[], defaults: RepeatOptions): number {
  return cases.reduce((sum, c) => {
    const r = c.repeat ?? defaults;
    const impls = implsOf(c).length;
    return sum + impls + impls * variantsOf(c).length * (r.warmup + r.reps);
  }, 0);
}

export async function runCases(cases: BenchCase[], ctx: RunnerContext): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of cases) rows.push(...(await runCase(c, ctx)));
  return rows;
}

function newRow(c: BenchCase, suite: string, impl: Impl, variant: Variant | undefined): Row {
  const base = {
    suite,
    kernel: c.kernel,
    variant: variant?.name,
    impl: impl.impl,
    device: c.device,
    dtype: c.dtype,
    sizeLabel: c.sizeLabel ?? sizeLabel(c.size),
  };
  const row: Row = {
    key: rowKey(base),
    ...base,
    size: c.size,
    shape: c.shape,
    metric: c.metric ?? 'throughput',
    flops: c.flops,
    bytes: c.bytes,
    status: 'ok',
    note: c.note,
  };
  if (row.variant === undefined) delete row.variant;
  return row;
}

const addNote = (row: Row, note: string): void => {
  row.note = row.note ? `${row.note}; ${note}` : note;
};

function failure(e: unknown): { status: Row['status']; note: string } {
  const message = e instanceof Error ? e.message : String(e);
  // A tensor above the adapter's limits is a limit of the machine, not a bug of the kernel.
  if (e instanceof xpu.XpuOutOfMemoryError) return { status: 'skipped', note: `does not fit the device: ${message}` };
  return { status: 'failed', note: `failed: ${message}` };
}

async function runCase(c: BenchCase, ctx: RunnerContext): Promise<Row[]> {
  const repeat = c.repeat ?? ctx.repeat;
  const impls = implsOf(c);
  const contenders: Contender[] = impls.flatMap((impl) =>
    variantsOf(c).map((variant) => ({ impl, variant, row: newRow(c, ctx.suite, impl, variant), wallMs: [], gpuMs: [] })),
  );
  const label = `${ctx.suite} ${c.kernel} ${c.device} ${c.dtype} ${c.sizeLabel ?? sizeLabel(c.size)}`;
  const workloads = new Map<Impl, Workload>();
  try {
    for (const impl of impls)
      await prepare(
        impl,
        contenders.filter((k) => k.impl === impl),
        workloads,
        repeat,
        label,
        ctx.progress,
      );
    await timeRoundRobin(c, contenders, repeat, label, ctx.progress, ctx.warmupMinMs ?? 0, ctx.clock ?? (() => performance.now()));
    for (const k of contenders) finishRow(k, ctx.roofline, c);
    setRelative(contenders);
    for (const k of contenders) ctx.progress.row(rowLine(k.row));
  } finally {
    for (const w of workloads.values()) {
      try {
        await w.dispose();
      } catch {
        // A workload that cannot free its inputs must not stop the run; emptyCache below still does.
      }
    }
    if (c.device === 'xpu') {
      await xpu.accelerator.synchronize().catch(() => {});
      xpu.accelerator.emptyCache(); // the next case must not find this one's blocks still reserved
    }
  }
  return contenders.map((k) => k.row);
}

const skipTicks = (progress: Progress, n: number): void => {
  for (let i = 0; i < n; i++) progress.tick();
};

/**
 * Sets up one implementation and checks it once; its contenders get the workload, or the reason
 * they have none (a skip, a limit, a failure), which leaves the other implementations running.
 */
async function prepare(
  impl: Impl,
  own: Contender[],
  workloads: Map<Impl, Workload>,
  repeat: RepeatOptions,
  label: string,
  progress: Progress,
): Promise<void> {
  const runs = own.length * (repeat.warmup + repeat.reps);
  if (impl.skip) {
    for (const k of own) {
      k.row.status = 'skipped';
      addNote(k.row, impl.skip);
    }
    return skipTicks(progress, 1 + runs);
  }
  progress.tick(`${label}: check ${impl.impl}`);
  let check: Check;
  try {
    const w = impl.setup();
    workloads.set(impl, w);
    // check() reports its own failures; one that throws anyway is a failed check, not a crash.
    check = await w.check().catch((e: unknown) => failedCheck(e, 0));
  } catch (e) {
    const f = failure(e);
    for (const k of own) {
      k.row.status = f.status;
      addNote(k.row, f.note);
    }
    return skipTicks(progress, runs);
  }
  for (const k of own) {
    k.workload = workloads.get(impl);
    k.row.check = check;
    k.row.units = k.workload?.units;
    if (!check.ok) k.row.status = 'wrong';
  }
}

/**
 * Warm-up runs for every contender, then rounds of one timed run each, so that load from other
 * processes falls on all of them alike. A contender whose run throws is marked and dropped.
 */
async function timeRoundRobin(
  c: BenchCase,
  contenders: Contender[],
  repeat: RepeatOptions,
  label: string,
  progress: Progress,
  warmupMinMs: number,
  clock: () => number,
): Promise<void> {
  const gpuTimed = (k: Contender) => k.impl.ours && c.device === 'xpu' && c.gpuTime !== false;
  const runOnce = async (k: Contender, samples: boolean, tickLabel: string | null) => {
    const w = k.workload;
    if (!w) return tickLabel === null ? undefined : skipTicks(progress, 1);
    if (tickLabel !== null) progress.tick(tickLabel);
    if (c.device === 'cpu') settle();
    const undo = k.variant?.apply();
    try {
      const t = await timedRun(w, defaultSync(k.impl, c), gpuTimed(k));
      if (samples) {
        k.wallMs.push(t.wallMs / w.units);
        if (t.gpuMs !== undefined) k.gpuMs.push(t.gpuMs / w.units);
      }
    } catch (e) {
      const f = failure(e);
      k.row.status = f.status;
      addNote(k.row, f.note);
      k.workload = undefined; // no further runs for this one; runCase disposes its workload
    } finally {
      undo?.();
    }
  };
  const live = contenders.filter((k) => k.workload);
  for (const k of live) {
    const t0 = clock();
    for (let i = 0; i < repeat.warmup; i++) await runOnce(k, false, `${label}: warm-up ${k.row.impl}`);
    for (let i = 0; i < WARMUP_MAX_EXTRA && clock() - t0 < warmupMinMs; i++) await runOnce(k, false, null);
  }
  for (let r = 0; r < repeat.reps; r++) for (const k of live) await runOnce(k, true, `${label}: run ${r + 1}/${repeat.reps}`);
}

/**
 * Before a timed cpu run: a short pause for the thread pools of whatever ran before (ours spins
 * ~200 us after a GEMM, native/compute/inline_team.cc; the peers are told not to spin) to go idle,
 * so that no implementation starts with another one's threads still on the cores. A busy wait on
 * this thread, not a timer: on this VM a core left idle for milliseconds is descheduled, and every
 * implementation's next run paid for waking it (numpy's 256^3 went from 0.3 to 6.7 ms after a
 * 2 ms setTimeout pause). A full garbage collection first: no implementation's timed run pays
 * for the collection another one's allocations started (collect_garbage.ts). The wait is 3 ms
 * because V8 finishes a full collection on background threads after gc() returns: with 0.5 ms,
 * the first 4096x4096 GEMV of an in-process run took 3.0-3.1 ms against 2.1 ms for the next ones
 * (those threads held a core), with 3 ms 2.23-2.26 ms; a child-process peer (numpy) never paid it.
 */
const SETTLE_MS = 3;
const settle = (): void => {
  collectGarbage();
  const end = performance.now() + SETTLE_MS;
  while (performance.now() < end) {
    // spin
  }
};

/** accelerator.synchronize() for this runtime on xpu, nothing on cpu; peers bring their own. */
function defaultSync(impl: Impl, c: BenchCase): (() => Promise<void>) | undefined {
  if (!impl.ours) return undefined;
  // cpu: the native GEMM runs on the addon's compute thread; wait for it as for the GPU.
  return c.device === 'xpu' ? () => xpu.accelerator.synchronize() : () => xpu.accelerator.device('cpu').backend.synchronize();
}

function finishRow(k: Contender, roofline: Roofline, c: BenchCase): void {
  const row = k.row;
  if (row.status === 'skipped' || row.status === 'failed' || !k.wallMs.length) return;
  row.wall = summarise(k.wallMs);
  if (k.gpuMs.length === k.wallMs.length) row.gpu = summarise(k.gpuMs);
  const ms = row.wall.medianMs;
  if (row.flops > 0) row.gflops = row.flops / (ms * 1e6);
  if (row.bytes > 0) row.gbps = row.bytes / (ms * 1e6);
  holdToRoofline(row, c, roofline);
}

/** Sets (or clears) a timed row's roofline fraction: its case's traffic and peak against the device's ceilings. */
export function holdToRoofline(row: Row, c: BenchCase, roofline: Roofline): void {
  if (!row.wall) return;
  const peak = c.peak === undefined ? defaultPeak(row.dtype) : c.peak;
  row.roofline = rooflineFraction(
    row.flops,
    row.bytes,
    row.wall.medianMs,
    roofline[row.device],
    { readBytes: c.readBytes, writeBytes: c.writeBytes },
    peak,
  );
  if (!row.roofline) delete row.roofline;
}

/**
 * Each row's median over the reference's (ours under the first setting), and for the other rows
 * the per-round ratio with its confidence interval (paired.ts): whether the difference is beyond
 * this run's noise.
 */
function setRelative(contenders: Contender[]): void {
  if (contenders.length < 2) return;
  const [refK] = contenders;
  const ref = refK.row;
  if (!ref.wall) return;
  for (const k of contenders) {
    if (!k.row.wall) continue;
    k.row.relative = { to: ref.key, ratio: k.row.wall.medianMs / ref.wall.medianMs };
    const paired = k === refK ? undefined : pairedRatio(k.wallMs, refK.wallMs);
    if (paired) k.row.relative.paired = paired;
  }
}

function rowLine(r: Row): string {
  const what = `${r.suite} ${r.kernel}${r.variant ? ` [${r.variant}]` : ''} ${r.impl}${r.impl === r.device ? '' : `@${r.device}`} ${r.dtype} ${r.sizeLabel}`;
  if (!r.wall) return `${what}: ${r.status}${r.note ? ` (${r.note})` : ''}`;
  const rate =
    r.metric === 'latency'
      ? `${(r.wall.medianMs * 1000).toFixed(1)} µs/op`
      : r.gflops !== undefined && r.roofline?.bound === 'compute'
        ? `${r.gflops.toFixed(2)} GFLOP/s`
        : `${(r.gbps ?? 0).toFixed(2)} GB/s`;
  return `${what}: ${rate}${r.status === 'wrong' ? ' WRONG' : ''}${r.roofline?.flag ? ` (${Math.round(r.roofline.fraction * 100)}% of its roofline: a measurement error)` : ''}`;
}
