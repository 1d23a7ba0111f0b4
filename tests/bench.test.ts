import Ajv from 'ajv';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../bench/lib/chromium.js';
import { compare } from '../bench/lib/check.js';
import { compareResults, timeVerdict } from '../bench/lib/compare.js';
import { ceilingRows, rooflineCell } from '../bench/lib/console_report.js';
import { rooflineChart } from '../bench/lib/html/charts.js';
import { NumpyPeer } from '../bench/lib/numpy_peer.js';
import { parseDtypes, parseSizes } from '../bench/lib/options.js';
import { medianIntervalRank, pairedRatio } from '../bench/lib/paired.js';
import type { Progress } from '../bench/lib/progress.js';
import { rowKey, SCHEMA_VERSION, type BenchResults, type Row } from '../bench/lib/records.js';
import { deviceRoofline, rooflineFraction, type DeviceRoofline, type Roofline } from '../bench/lib/roofline.js';
import type { Ceiling } from '../bench/lib/ceiling.js';
import { parseCacheSize, rotationBytes } from '../bench/lib/rotation.js';
import { plannedTicks, runCases } from '../bench/lib/runner.js';
import type { Stats } from '../bench/lib/timing.js';
import type { BenchCase, Suite, Workload } from '../bench/suite.js';
import { runSession } from '../bench/lib/session.js';
import { KNOWN_SUITES, resolveSuites } from '../src/cli/bench.js';
import * as xpu from '../src/index.js';
import { ensureBuilt, ROOT, xpuCli } from './cli_run.js';

// The runtime opens nothing at import (tests/helpers.ts does this for the other files).
await xpu.ready();

/**
 * The benchmark machinery (not the speed of anything): the runner's timing, checks and flags,
 * the results file against its JSON Schema, the HTML report in headless Chromium, and
 * `xpu bench compare`.
 */

const schema = JSON.parse(readFileSync(join(ROOT, 'bench', 'schema', 'results.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true }).compile<BenchResults>(schema);
const schemaErrors = (data: unknown): string => (validate(data) ? '' : JSON.stringify(validate.errors?.slice(0, 5), null, 1));

const STATS: Stats = { medianMs: 1, minMs: 1, maxMs: 1, spread: 0, samples: 1 };
const ceiling = (kind: Ceiling['kind'], value: number): Ceiling => ({ kind, method: 'test', value, stats: STATS, perPass: value * 1e6 });
/** A cpu roofline with round numbers: 1 GFLOP/s, 10 GB/s read and copy. */
const CPU_ROOFLINE: DeviceRoofline = deviceRoofline('cpu', [ceiling('fma-f32', 1), ceiling('read', 10), ceiling('copy', 10)]);

/** out = 2 * x on the host, with an optional error added to every output: a kernel we can make wrong. */
function scaleWorkload(n: number, error = 0, log?: string[], setting?: () => string): Workload {
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) + 2);
  const out = new Float32Array(n);
  return {
    units: 2,
    run: () => {
      log?.push(setting?.() ?? 'run');
      for (let k = 0; k < 2; k++) for (let i = 0; i < n; i++) out[i] = 2 * x[i] + error;
    },
    check: async () => {
      for (let i = 0; i < n; i++) out[i] = 2 * x[i] + error;
      return compare(
        out,
        Float64Array.from(x, (v) => 2 * v),
        1e-6,
      );
    },
    dispose: () => {},
  };
}

const baseCase = (kernel: string, setup: () => Workload, extra: Partial<BenchCase> = {}): BenchCase => ({
  kernel,
  device: 'cpu',
  dtype: 'float32',
  size: 4096,
  flops: 1e6,
  bytes: 4e6,
  setup,
  ...extra,
});

function countingProgress(): Progress & { ticks: number } {
  const p = { ticks: 0, tick: () => void p.ticks++, row: () => {}, stop: () => {} };
  return p;
}

describe('bench runner', () => {
  const repeat = { warmup: 1, reps: 3 };

  it('keeps warming a contender up until warmupMinMs has passed (bounded), without extra progress ticks', async () => {
    // An injected clock that each run moves on by 5 ms: the warm-up logic without real time.
    let now = 0;
    const clock = () => now;
    const log: string[] = [];
    const slow = (): Workload => {
      const w = scaleWorkload(64, 0, log);
      const run = w.run;
      return {
        ...w,
        run: () => {
          run();
          now += 5;
        },
      };
    };
    const cases = [baseCase('slow', slow)];
    const progress = countingProgress();
    await runCases(cases, { suite: 'unit', roofline: {}, progress, repeat, warmupMinMs: 40, clock });
    // check() does not log; 1 warm-up (to 5 ms), 7 more until 40 ms have passed, then 3 timed runs.
    expect(log.length).toBe(1 + 7 + 3);
    expect(progress.ticks).toBe(plannedTicks(cases, repeat));
    log.length = 0;
    await runCases(cases, { suite: 'unit', roofline: {}, progress: countingProgress(), repeat, warmupMinMs: 1e6, clock });
    expect(log.length).toBe(1 + 20 + 3); // at most WARMUP_MAX_EXTRA more
    log.length = 0;
    await runCases(cases, { suite: 'unit', roofline: {}, progress: countingProgress(), repeat, warmupMinMs: 0, clock });
    expect(log.length).toBe(1 + 3); // no budget: only repeat.warmup
  });

  it('times and checks each case, marks a wrong result, and gives the fraction of the bound that applies', async () => {
    const cases = [baseCase('scale', () => scaleWorkload(4096)), baseCase('scale-wrong', () => scaleWorkload(4096, 1e-2))];
    const progress = countingProgress();
    const rows = await runCases(cases, { suite: 'unit', roofline: { cpu: CPU_ROOFLINE }, progress, repeat });
    expect(progress.ticks).toBe(plannedTicks(cases, repeat));

    const [good, wrong] = rows;
    expect(good).toMatchObject({ key: 'unit/scale/cpu/cpu/float32/4K', status: 'ok', units: 2, check: { ok: true } });
    expect(good.wall?.samples).toBe(3);
    const w = good.wall as Stats;
    expect(w.minMs).toBeLessThanOrEqual(w.medianMs);
    expect(w.medianMs).toBeLessThanOrEqual(w.maxMs);
    expect(w.spread).toBeCloseTo((w.maxMs - w.minMs) / w.medianMs, 12);
    // 1e6 flops at 1 GFLOP/s is 1 ms; 4e6 bytes at 10 GB/s is 0.4 ms: compute is the bound.
    expect(good.roofline).toMatchObject({ bound: 'compute', boundMs: 1 });
    expect(good.roofline?.fraction).toBeCloseTo(1 / w.medianMs, 9);
    expect(good.gbps).toBeCloseTo(4e6 / (w.medianMs * 1e6), 9);
    expect(good.gpu).toBeUndefined(); // no GPU on cpu

    // A wrong result is timed like any other, and marked.
    expect(wrong).toMatchObject({ status: 'wrong', check: { ok: false } });
    expect(wrong.check?.relErr).toBeGreaterThan(1e-6);
    expect(wrong.wall?.samples).toBe(3);
    expect(schemaErrors(resultsWith(rows))).toBe('');
  });

  it('records a device limit as skipped and an exception as failed, and runs the other cases', async () => {
    const cases = [
      baseCase('too-big', () => {
        throw new xpu.XpuOutOfMemoryError('allocation is above the device limits', { op: 'test' });
      }),
      baseCase('broken', () => {
        throw new Error('kernel exploded');
      }),
      baseCase('capped', () => scaleWorkload(16), { skip: 'above the cpu size cap' }),
      baseCase('fine', () => scaleWorkload(16)),
    ];
    const progress = countingProgress();
    const rows = await runCases(cases, { suite: 'unit', roofline: {}, progress, repeat });
    expect(rows.map((r) => r.status)).toEqual(['skipped', 'failed', 'skipped', 'ok']);
    expect(rows[0].note).toMatch(/does not fit the device/);
    expect(rows[1].note).toMatch(/kernel exploded/);
    expect(rows[2].note).toBe('above the cpu size cap');
    for (const r of rows.slice(0, 3)) expect(r.wall).toBeUndefined();
    expect(rows[3].roofline).toBeUndefined(); // no roofline measured: no fraction
    expect(progress.ticks).toBe(plannedTicks(cases, repeat));
    expect(schemaErrors(resultsWith(rows))).toBe('');
  });

  it('times peers and settings round-robin on the same inputs and relates every row to ours', async () => {
    let setting = 'none';
    const log: string[] = [];
    const variants = ['a', 'b'].map((name) => ({
      name,
      apply: () => {
        const before = setting;
        setting = name;
        return () => void (setting = before);
      },
    }));
    const c = baseCase('scale', () => scaleWorkload(64, 0, log, () => `ours:${setting}`), {
      variants,
      peers: [{ impl: 'peer-lib', setup: () => scaleWorkload(64, 0, log, () => `peer:${setting}`) }],
    });
    const rows = await runCases([c], { suite: 'unit', roofline: {}, progress: countingProgress(), repeat });
    expect(rows.map((r) => r.key)).toEqual([
      'unit/scale[a]/cpu/cpu/float32/4K',
      'unit/scale[b]/cpu/cpu/float32/4K',
      'unit/scale[a]/peer-lib/cpu/float32/4K',
      'unit/scale[b]/peer-lib/cpu/float32/4K',
    ]);
    // Warm-up once each, then rounds of one run per contender, each under its own setting.
    const round = ['ours:a', 'ours:b', 'peer:a', 'peer:b'];
    expect(log).toEqual([...round, ...round, ...round, ...round]);
    expect(setting).toBe('none'); // every setting undone
    for (const r of rows) {
      expect(r.status).toBe('ok');
      expect(r.relative?.to).toBe(rows[0].key);
      expect(r.relative?.ratio).toBeCloseTo((r.wall?.medianMs ?? NaN) / (rows[0].wall?.medianMs ?? NaN), 9);
    }
    // Every row but the reference also gets the round-by-round ratio over its rounds.
    expect(rows[0].relative?.paired).toBeUndefined();
    for (const r of rows.slice(1)) expect(r.relative?.paired?.rounds).toBe(repeat.reps);
  });

  it('relates a peer to ours round by round: a burst of load that hits both runs of a round cancels', async () => {
    // Self-timed workloads (as the numpy peer is): ours 10 ms a run, the peer 11 ms, except that
    // rounds 2, 4 and 5 ran under load, which made each run of those rounds 3x slower; the
    // peer's warm-up run (not a sample) is 5 ms.
    const load = [1, 3, 1, 3, 3, 1, 1];
    const timed = (ms: number[]): Workload => {
      let run = 0;
      let last = 0;
      return {
        units: 1,
        run: () => void (last = ms[run++]),
        selfTimedMs: () => last,
        check: async () => compare(new Float32Array(1), new Float64Array(1), 1),
        dispose: () => {},
      };
    };
    const c = baseCase('burst', () => timed([10, ...load.map((l) => 10 * l)]), {
      peers: [{ impl: 'peer-lib', setup: () => timed([5, ...load.map((l) => 11 * l)]) }],
    });
    const rows = await runCases([c], { suite: 'unit', roofline: {}, progress: countingProgress(), repeat: { warmup: 1, reps: 7 } });
    const paired = rows[1].relative?.paired;
    expect(paired).toMatchObject({ rounds: 7, verdict: 'slower' });
    expect(paired?.median).toBeCloseTo(1.1, 12);
    expect(paired?.lo).toBeCloseTo(1.1, 12);
    expect(paired?.hi).toBeCloseTo(1.1, 12);
    expect(paired?.coverage).toBeCloseTo(1 - 2 / 128, 12);
    expect(schemaErrors(resultsWith(rows))).toBe('');
    expect(
      schemaErrors(
        resultsWith([{ ...rows[1], relative: { to: rows[0].key, ratio: 1.1, paired: { ...paired!, verdict: 'maybe' as 'parity' } } }]),
      ),
    ).not.toBe('');
  });
});

describe('paired ratios: how sure a ratio between two contenders is', () => {
  it('picks the order statistics of the sign-test interval for a median', () => {
    // n = 7: only the extremes reach 95% (1 - 2/128); n = 20: the 6th smallest and largest.
    expect(medianIntervalRank(7, 0.95)).toEqual({ j: 1, coverage: 1 - 2 / 128 });
    const r20 = medianIntervalRank(20, 0.95);
    expect(r20.j).toBe(6);
    expect(r20.coverage).toBeGreaterThanOrEqual(0.95);
    expect(medianIntervalRank(20, 0.99).j).toBeLessThan(6);
    // Too few rounds for 95%: the extremes, and a coverage that says it is less.
    expect(medianIntervalRank(4, 0.95)).toEqual({ j: 1, coverage: 1 - 2 / 16 });
  });

  it('says parity when the interval holds 1, and which side is faster when it does not', () => {
    const ref = [10, 10, 10, 10, 10, 10, 10];
    expect(pairedRatio([9, 9.5, 9.2, 9.1, 9.3, 9.4, 9.6], ref)?.verdict).toBe('faster');
    expect(pairedRatio([11, 10.5, 10.2, 10.1, 10.3, 10.4, 10.6], ref)?.verdict).toBe('slower');
    const parity = pairedRatio([9.8, 10.3, 10.1, 9.9, 10.2, 9.7, 10.05], ref);
    expect(parity).toMatchObject({ verdict: 'parity', lo: 0.97, hi: 1.03, rounds: 7 });
    expect(parity?.median).toBeCloseTo(1.005, 12);
    // An even count: the median is the mean of the middle two.
    expect(pairedRatio([1, 2, 3, 4], [1, 1, 1, 1])?.median).toBe(2.5);
  });

  it('gives none where rounds do not pair or are too few, or a time is not positive', () => {
    expect(pairedRatio([1, 2], [1, 2])).toBeUndefined();
    expect(pairedRatio([1, 2, 3], [1, 2])).toBeUndefined();
    expect(pairedRatio([1, 0, 3], [1, 2, 3])).toBeUndefined();
    expect(pairedRatio([1, NaN, 3], [1, 2, 3])).toBeUndefined();
  });
});

describe('roofline: the ceilings and the bound each row is held to', () => {
  const repeat = { warmup: 1, reps: 3 };
  // Injected ceilings, two probes of some kinds: f32 peak 100 GFLOP/s, f16 200, read 40 GB/s, copy 20 GB/s.
  const r = deviceRoofline('xpu', [
    ceiling('fma-f32', 80),
    ceiling('fma-f32', 100),
    ceiling('fma-f16', 200),
    ceiling('read', 30),
    ceiling('read', 40),
    ceiling('copy', 15),
    ceiling('copy', 20),
  ]);

  it('takes the best probe of each kind, and never a read bandwidth below the copy bandwidth', () => {
    expect(r).toMatchObject({ peakGflops: 100, peakGflopsF16: 200, readGBps: 40, bandwidthGBps: 20 });
    expect(deviceRoofline('cpu', [ceiling('read', 5), ceiling('copy', 8)])).toMatchObject({ readGBps: 8, peakGflops: 0 });
    expect(deviceRoofline('cpu', [ceiling('fma-f32', 1), ceiling('copy', 8)]).peakGflopsF16).toBeUndefined();
    const marked = ceilingRows({ xpu: r })
      .filter((x) => x[2].endsWith('*'))
      .map((x) => x[1]);
    expect(marked.sort()).toEqual(['copy', 'fma-f16', 'fma-f32', 'read']);
  });

  it('holds reads to the read bandwidth, a copy to the copy bandwidth, a mix to both, and unsplit bytes to copy', () => {
    // A GEMV: 4e8 bytes read, 10 ms at 40 GB/s; its 1e8 flops take 1 ms at the peak.
    const gemv = rooflineFraction(1e8, 4e8, 20, r, { readBytes: 4e8, writeBytes: 0 });
    expect(gemv).toMatchObject({ bound: 'memory', traffic: 'read', bandwidthGBps: 40, fraction: 0.5 });
    expect(gemv?.boundMs).toBeCloseTo(10, 9);
    expect(gemv?.flag).toBeUndefined();
    // A copy: 2e8 read + 2e8 written, 20 ms at 20 GB/s.
    const copy = rooflineFraction(0, 4e8, 40, r, { readBytes: 2e8, writeBytes: 2e8 });
    expect(copy).toMatchObject({ traffic: 'copy', bandwidthGBps: 20 });
    expect(copy?.boundMs).toBeCloseTo(20, 9);
    // An add: 2e8 read at 40 GB/s (5 ms) and 1e8 written at what a copy leaves for writing
    // (2 / 20 - 1 / 40 = 0.075 ns per byte: 7.5 ms).
    const add = rooflineFraction(0, 3e8, 25, r, { writeBytes: 1e8 });
    expect(add?.traffic).toBe('read+write');
    expect(add?.boundMs).toBeCloseTo(12.5, 9);
    expect(add?.bandwidthGBps).toBeCloseTo(24, 9);
    // A GEMV's output is a few KiB beside its weight: a read, though its write is counted too.
    const gemvOut = rooflineFraction(0, 4e8 + 4e4, 20, r, { writeBytes: 4e4 });
    expect(gemvOut?.traffic).toBe('read');
    expect(gemvOut?.boundMs).toBeCloseTo(10 + (4e4 * 0.075) / 1e6, 9);
    // A case that does not split its bytes is held to the copy bandwidth, as before the split.
    expect(rooflineFraction(0, 4e8, 40, r)).toMatchObject({ traffic: 'copy', boundMs: 20 });
  });

  it('holds flops to the f32 peak, f16 rows to the higher of the f16 and f32 peaks, and rows without FMAs to none', () => {
    // 1e9 flops: 10 ms at 100 GFLOP/s, 5 ms at 200; their 1 kB is nothing.
    expect(rooflineFraction(1e9, 1e3, 20, r, {}, 'float32')).toMatchObject({
      bound: 'compute',
      boundMs: 10,
      peakGflops: 100,
      fraction: 0.5,
    });
    expect(rooflineFraction(1e9, 1e3, 20, r, {}, 'float16')).toMatchObject({ bound: 'compute', boundMs: 5, peakGflops: 200 });
    expect(rooflineFraction(1e9, 1e3, 20, CPU_ROOFLINE, {}, 'float16')?.peakGflops).toBe(1); // no f16 peak: f32's
    // An f16 peak below the f32 one (lavapipe emulates f16): f16 data computed in f32 can reach f32's.
    const slowF16 = deviceRoofline('xpu', [ceiling('fma-f32', 100), ceiling('fma-f16', 20), ceiling('copy', 20)]);
    expect(rooflineFraction(1e9, 1e3, 20, slowF16, {}, 'float16')?.peakGflops).toBe(100);
    const int8 = rooflineFraction(1e9, 4e8, 20, r, { readBytes: 4e8 }, null);
    expect(int8).toMatchObject({ bound: 'memory', boundMs: 10 });
    expect(int8?.peakGflops).toBeUndefined();
  });

  it('flags a row above its roofline as a measurement error: in the row, the table, the schema and the chart', async () => {
    // 1e9 flops in 5 ms is 200 GFLOP/s against a 100 GFLOP/s peak.
    expect(rooflineFraction(1e9, 1e3, 5, r)).toMatchObject({ bound: 'compute', fraction: 2, flag: 'above-roofline' });
    expect(rooflineFraction(1e9, 1e3, 10, r)?.flag).toBeUndefined(); // at the roofline exactly: not flagged
    // Through the runner, against ceilings so low that any run beats them: no clock decides it.
    const tiny = deviceRoofline('cpu', [ceiling('fma-f32', 1e-9), ceiling('read', 1e-9), ceiling('copy', 1e-9)]);
    const [row] = await runCases([baseCase('scale', () => scaleWorkload(64))], {
      suite: 'unit',
      roofline: { cpu: tiny },
      progress: countingProgress(),
      repeat,
    });
    expect(row.status).toBe('ok'); // the result is right; the measurement is what is wrong
    expect(row.roofline?.flag).toBe('above-roofline');
    expect(rooflineCell(row)).toMatch(/ABOVE: error/);
    expect(schemaErrors(resultsWith([row], { cpu: tiny }))).toBe('');
    // The schema wants the flag exactly on the rows above 1.
    expect(schemaErrors(resultsWith([{ ...row, roofline: { fraction: 2, bound: 'compute', boundMs: 1 } }]))).not.toBe('');
    expect(
      schemaErrors(resultsWith([{ ...row, roofline: { fraction: 0.5, bound: 'compute', boundMs: 1, flag: 'above-roofline' } }])),
    ).not.toBe('');
    // The report's roofline chart rings it.
    const chart = rooflineChart('cpu', [row], { cpu: tiny });
    expect(chart?.caption).toMatch(/1 row\(s\) ringed in red are above their roofline/);
    expect(rooflineChart('cpu', [{ ...row, roofline: undefined, flops: 0 }], { cpu: tiny })).toBeNull(); // no intensity: no point
  });

  it('without the addon, the cpu ceilings come from JS loops and say so', () => {
    ensureBuilt();
    const lib = (f: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'bench', 'lib', f)).href);
    const script = `const { cpuFmaPeak } = await import(${lib('fma_peak.js')});
      const { cpuReadBandwidth, cpuCopyBandwidth } = await import(${lib('bandwidth.js')});
      const opts = { warmup: 0, reps: 1 };
      process.stdout.write(JSON.stringify([cpuFmaPeak(opts), cpuReadBandwidth(opts, 16 * 2 ** 20), cpuCopyBandwidth(opts, 16 * 2 ** 20)]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, XPU_NATIVE: 'off' },
      encoding: 'utf8',
    });
    const [fma, read, copy] = JSON.parse(out) as Ceiling[];
    expect(fma).toMatchObject({ kind: 'fma-f32', estimate: true, method: expect.stringContaining('JS estimate') });
    expect(read).toMatchObject({ kind: 'read', estimate: true, method: expect.stringContaining('JS estimate') });
    // Float32Array.set is a real copy (memcpy), on one thread: measured, not estimated.
    expect(copy).toMatchObject({ kind: 'copy', method: expect.stringContaining('one thread'), workingSetBytes: 16 * 2 ** 20 });
    expect(copy.estimate).toBeUndefined();
    for (const c of [fma, read, copy]) expect(c.value).toBeGreaterThan(0);
  });

  it('spans twice the last-level cache when it rotates inputs and probes bandwidth, within bounds', () => {
    expect(parseCacheSize('266240K')).toBe(266240 * 1024);
    expect(parseCacheSize('32M')).toBe(32 * 2 ** 20);
    expect(rotationBytes(260 * 2 ** 20)).toBe(520 * 2 ** 20);
    expect(rotationBytes(0)).toBe(96 * 2 ** 20); // unknown cache: the old minimum
    expect(rotationBytes(4 * 2 ** 30)).toBe(2 ** 30); // capped: the memory is shared
  });
});

describe('bench session: ceilings measured again where rows beat them', () => {
  const suite: Suite = {
    name: 'unit',
    description: 'test',
    plan: async () => ({ cases: [baseCase('scale', () => scaleWorkload(64))], notes: [] }),
  };
  // Ceilings no run can reach, and ceilings every run beats: no clock decides the outcome.
  const high = (): Roofline => ({ cpu: deviceRoofline('cpu', [ceiling('fma-f32', 1e9), ceiling('read', 1e9), ceiling('copy', 1e9)]) });
  const low = (): Roofline => ({ cpu: deviceRoofline('cpu', [ceiling('fma-f32', 1e-9), ceiling('read', 1e-9), ceiling('copy', 1e-9)]) });
  const session = async (measures: (() => Roofline)[]) => {
    const calls: string[][] = [];
    const results = await runSession({
      suites: [{ name: 'unit', suite }],
      device: 'cpu',
      devices: ['cpu'],
      quick: true,
      peers: false,
      progress: false,
      measure: async (devices) => {
        calls.push(devices);
        return measures[calls.length - 1]();
      },
    });
    return { calls, results };
  };

  it('measures again after the suites, keeps the better ceilings, and holds the rows to them', async () => {
    // A first measurement taken while the box was busy (low), then the real ceilings.
    const { calls, results } = await session([low, high]);
    expect(calls).toEqual([['cpu'], ['cpu']]);
    expect(results.roofline.cpu?.peakGflops).toBe(1e9);
    expect(results.roofline.cpu?.ceilings?.filter((c) => c.recheck).map((c) => c.kind)).toEqual(['fma-f32', 'read', 'copy']);
    expect(results.rows[0].roofline?.flag).toBeUndefined();
    expect(results.rows[0].roofline?.fraction).toBeLessThan(1);
    expect(schemaErrors(results)).toBe('');
  });

  it('keeps the flag when the second measurement agrees, and measures once when no row beat the ceilings', async () => {
    const again = await session([low, low]);
    expect(again.calls).toHaveLength(2);
    expect(again.results.rows[0].roofline?.flag).toBe('above-roofline');
    const once = await session([high, low]);
    expect(once.calls).toHaveLength(1);
    expect(once.results.rows[0].roofline?.flag).toBeUndefined();
  });
});

describe('numpy peer', () => {
  it('reports a python that exits before reading its request as a reason, never an uncaught EPIPE', async () => {
    // /bin/false exits at once: the info request is written into a closed pipe.
    const started = await NumpyPeer.spawnScript('/bin/false', '/nonexistent.py', { ...process.env });
    expect(typeof started).toBe('string');
    expect(started as string).toMatch(/numpy peer (exited|closed its input)/);
  });
});

describe('bench options and suite names', () => {
  it('parses sizes and dtypes, and rejects what they are not', () => {
    expect(parseSizes('4M, 256,64K,256')).toEqual([256, 65536, 4 * 2 ** 20]);
    expect(() => parseSizes('4X')).toThrow(/--sizes: '4X'/);
    expect(() => parseSizes('0')).toThrow(/--sizes/);
    expect(parseDtypes('f32,float16')).toEqual(['float32', 'float16']);
    expect(parseDtypes('all')).toContain('int8');
    expect(() => parseDtypes('f64')).toThrow(/--dtype: 'f64'/);
  });

  it('runs every available suite for `all` and lists the rest; a named suite not written yet is an error', () => {
    expect(resolveSuites(['all'], ['elementwise'])).toEqual({
      chosen: ['elementwise', 'gemm', 'attention', 'quant', 'collectives', 'model', 'compile', 'train'],
      missing: ['gemm', 'attention', 'quant', 'collectives', 'model', 'compile', 'train'],
    });
    expect(resolveSuites([], ['elementwise', 'gemm'])).toMatchObject({
      missing: ['attention', 'quant', 'collectives', 'model', 'compile', 'train'],
    });
    expect(resolveSuites(['attention'], ['elementwise'])).toEqual({
      error: "suite 'attention' not available yet (available: elementwise)",
    });
    expect(resolveSuites(['nope'], ['elementwise'])).toMatchObject({ error: expect.stringContaining("unknown suite 'nope'") });
    expect(resolveSuites(['elementwise'], ['elementwise'])).toEqual({ chosen: ['elementwise'], missing: [] });
  });
});

describe('xpu bench (CLI)', () => {
  beforeAll(ensureBuilt);

  it('says in one line that a planned suite is not available yet, and exits non-zero', async (ctx) => {
    // The built CLI's view: a suite exists once dist/bench/<name>.js does.
    const missing = KNOWN_SUITES.find((n) => !existsSync(join(ROOT, 'dist', 'bench', `${n}.js`)));
    if (!missing) return ctx.skip(); // every planned suite exists: nothing left to refuse
    const failure = await xpuCli(['bench', missing]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^xpu bench: suite '${missing}' not available yet \\(available: .*elementwise`)),
    ]);
  });
});

describe('xpu bench elementwise --quick: JSON and HTML report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xpu-bench-test-'));
  const json = join(dir, 'run.json');
  const html = join(dir, 'report.html');
  let stdout = '';
  let results: BenchResults;
  const hasXpu = xpu.accelerator.isAvailable();

  beforeAll(async () => {
    ensureBuilt();
    ({ stdout } = await xpuCli(['bench', 'elementwise', '--quick', '--sizes', '64K', '--peers', '--json', json, '--html', html]));
    results = JSON.parse(readFileSync(json, 'utf8'));
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes JSON the schema accepts: device info, versions, commit, the roofline, and every row checked', () => {
    expect(schemaErrors(results)).toBe('');
    expect(results.environment.packages.webgpu).toBe('0.6.2');
    expect(results.environment.git.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(results.suites.find((s) => s.name === 'elementwise')?.status).toBe('ran');
    const devices: ('xpu' | 'cpu')[] = hasXpu ? ['xpu', 'cpu'] : ['cpu'];
    expect(Object.keys(results.roofline).sort()).toEqual([...devices].sort());
    for (const d of devices) {
      const r = results.roofline[d] as DeviceRoofline;
      expect(r.bandwidthGBps).toBeGreaterThan(0);
      expect(r.peakGflops).toBeGreaterThan(0);
      expect(r.readGBps).toBeGreaterThanOrEqual(r.bandwidthGBps);
      // Measured by the probes, not by a benchmarked kernel; each over twice the last-level cache.
      expect(new Set(r.ceilings?.map((c) => c.kind))).toEqual(
        new Set(['fma-f32', 'read', 'copy', ...(r.peakGflopsF16 ? ['fma-f16'] : [])]),
      );
      for (const c of r.ceilings ?? [])
        if (c.kind === 'read' || c.kind === 'copy') expect(c.workingSetBytes, `${d} ${c.method}`).toBeGreaterThanOrEqual(64 * 2 ** 20);
    }
    for (const op of ['add', 'softmax', 'layerNorm', 'clone'])
      for (const d of devices) {
        const row = results.rows.find((r) => r.key === `elementwise/${op}/${d}/${d}/float32/64K`);
        expect(row, `${op} on ${d}`).toMatchObject({ status: 'ok', check: { ok: true } });
        expect(row?.roofline?.fraction).toBeGreaterThan(0);
      }
    for (const r of results.rows) expect(r.status, r.key).toBe('ok');
    // The table is printed, and says where the files went.
    expect(stdout).toContain('Roofline');
    expect(stdout).toContain(`wrote ${json}`);
  });

  it.runIf(hasXpu)('has GPU kernel times beside wall times on xpu, and the peer beside ours', () => {
    const timestamps = xpu.accelerator.getDeviceInfo().features.includes('timestamp-query');
    for (const op of ['add', 'softmax', 'layerNorm']) {
      const row = results.rows.find((r) => r.key === `elementwise/${op}/xpu/xpu/float32/64K`) as Row;
      if (!timestamps) {
        expect(row.gpu).toBeUndefined();
        continue;
      }
      expect(row.gpu?.medianMs, op).toBeGreaterThan(0);
      // The kernels' GPU time is part of the wall time (the same runs), give or take the clocks.
      expect(row.gpu?.minMs, op).toBeLessThanOrEqual((row.wall as Stats).maxMs);
    }
    const peer = results.rows.find((r) => r.key === 'elementwise/add/tfjs-webgpu/xpu/float32/64K');
    expect(peer, results.suites[0].notes.join('; ')).toMatchObject({
      status: 'ok',
      relative: { to: 'elementwise/add/xpu/xpu/float32/64K' },
    });
  });

  it('writes a self-contained HTML report whose charts Chromium draws', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (Debian's chromium package; scripts/setup.sh installs it as root)`).toBe(true);
    const chromium = await launchChromium({ width: 1200, height: 900 });
    try {
      const page = await chromium.context.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(html).href);
      expect(requests).toEqual([pathToFileURL(html).href]); // no external resource

      const figures = await page.locator('figure.chart').evaluateAll((els) =>
        els.map((f) => {
          // Data marks only (lines, points, rules, bars), not axes or legends.
          const marks = [...f.querySelectorAll('svg .role-mark path, svg .role-mark line')].map((m) =>
            (m as SVGGraphicsElement).getBoundingClientRect(),
          );
          return {
            id: f.id,
            marks: marks.length,
            drawn: marks.filter((b) => b.width > 0 || b.height > 0).length,
            svg: f.querySelector('svg')?.getBoundingClientRect().width ?? 0,
          };
        }),
      );
      const ids = figures.map((f) => f.id);
      expect(ids).toEqual(
        expect.arrayContaining([
          'chart-elementwise-add',
          'chart-elementwise-softmax',
          'chart-elementwise-latency',
          'chart-roofline-cpu',
          ...(hasXpu ? ['chart-roofline-xpu'] : []),
        ]),
      );
      for (const f of figures) {
        expect(f.svg, f.id).toBeGreaterThan(200);
        expect(f.drawn, `${f.id}: ${f.drawn} of ${f.marks} marks drawn`).toBeGreaterThanOrEqual(3);
      }

      // The screenshot of a chart is a picture, not a blank: decode its pixels in the browser.
      const png = await page.locator('figure#chart-elementwise-add svg').screenshot();
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      const blank = await chromium.context.newPage();
      const pixels = await blank.evaluate(async (b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
        ctx.drawImage(bitmap, 0, 0);
        const d = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
        const colours = new Set<number>();
        let coloured = 0; // neither white nor grey: the series' lines and points
        for (let i = 0; i < d.length; i += 4) {
          colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
          const spread = Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]);
          if (spread > 60) coloured++;
        }
        return { width: bitmap.width, height: bitmap.height, colours: colours.size, coloured: coloured / (d.length / 4) };
      }, png.toString('base64'));
      expect(pixels.width).toBeGreaterThan(300);
      expect(pixels.colours).toBeGreaterThan(20);
      expect(pixels.coloured).toBeGreaterThan(0.002);
    } finally {
      await chromium.close();
    }
  });
});

/** A results file around the given rows, as a run would write it. */
function resultsWith(rows: Row[], roofline: Roofline = {}): BenchResults {
  return {
    schemaVersion: SCHEMA_VERSION,
    createdBy: 'xpu bench',
    environment: {
      date: '2026-01-01T00:00:00.000Z',
      command: 'test',
      node: 'v20.0.0',
      platform: 'test',
      cpu: { model: 'test', cores: 2, memGiB: 8 },
      loadAverage: [0, 0, 0],
      packages: { xpu: '0.1.0', webgpu: '0.6.2' },
      mesa: null,
      git: { commit: null, dirty: null },
      xpu: { unavailable: 'test' },
      env: {},
    },
    settings: { suites: ['unit'], device: 'cpu', devices: ['cpu'], dtypes: null, sizes: null, quick: true, peers: false, timing: 'test' },
    roofline,
    suites: [{ name: 'unit', status: 'ran', notes: [] }],
    rows,
  };
}

/** A timed row whose runs spread `half` ms either side of the median. */
function timedRow(kernel: string, medianMs: number, status: Row['status'] = 'ok', half = 0): Row {
  const base = { suite: 'unit', kernel, impl: 'xpu', device: 'xpu' as const, dtype: 'float32', sizeLabel: '1M' };
  return {
    key: rowKey(base),
    ...base,
    size: 2 ** 20,
    metric: 'throughput',
    flops: 0,
    bytes: 8 * 2 ** 20,
    status,
    units: 1,
    wall: { medianMs, minMs: medianMs - half, maxMs: medianMs + half, spread: (2 * half) / medianMs, samples: 7 },
    check: { elements: 16, relErr: status === 'ok' ? 0 : 0.5, bound: 1e-6, ok: status === 'ok' },
  };
}

describe('xpu bench compare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xpu-bench-compare-'));
  // slower: 25% slower and every B run slower than every A run; noisy: the same 25%, inside the runs' ranges.
  const a = resultsWith([
    timedRow('slower', 2, 'ok', 0.1),
    timedRow('noisy', 2, 'ok', 0.6),
    timedRow('faster', 4, 'ok', 0.1),
    timedRow('steady', 10, 'ok', 0.1),
    timedRow('broke', 1),
    timedRow('dropped', 1),
  ]);
  const b = resultsWith([
    timedRow('slower', 2.5, 'ok', 0.1),
    timedRow('noisy', 2.5, 'ok', 0.4),
    timedRow('faster', 1, 'ok', 0.1),
    timedRow('steady', 10.5, 'ok', 0.1),
    timedRow('broke', 1, 'wrong'),
    timedRow('added', 1),
  ]);
  const quiet = resultsWith(b.rows.filter((r) => ['noisy', 'faster', 'steady'].includes(r.kernel)));
  const fileA = join(dir, 'a.json');
  const fileB = join(dir, 'b.json');
  const fileQuiet = join(dir, 'quiet.json');
  writeFileSync(fileA, JSON.stringify(a));
  writeFileSync(fileB, JSON.stringify(b));
  writeFileSync(fileQuiet, JSON.stringify(quiet));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(ensureBuilt);

  it('crafted files are valid results files (and the schema rejects a row marked ok whose check failed)', () => {
    expect(schemaErrors(a)).toBe('');
    expect(schemaErrors(b)).toBe('');
    const bad = resultsWith([{ ...timedRow('x', 1), check: { elements: 1, relErr: 1, bound: 1e-6, ok: false } }]);
    expect(schemaErrors(bad)).not.toBe('');
    expect(schemaErrors({ ...a, roofline: { gpu: CPU_ROOFLINE } })).not.toBe('');
  });

  it("flags a change only beyond the threshold and beyond both runs' spread", () => {
    const s = (median: number, min: number, max: number): Stats => ({
      medianMs: median,
      minMs: min,
      maxMs: max,
      spread: (max - min) / median,
      samples: 5,
    });
    expect(timeVerdict(s(10, 9.5, 10.5), s(12, 11, 13), 0.1)).toBe('regression'); // 11 > 10.5: no overlap
    expect(timeVerdict(s(10, 9, 11.5), s(12, 11, 13), 0.1)).toBe('within noise'); // 11 < 11.5: the ranges overlap
    expect(timeVerdict(s(10, 9.9, 10.1), s(10.5, 10.4, 10.6), 0.1)).toBe('same'); // below the threshold, however tight
    expect(timeVerdict(s(10, 9.9, 10.1), s(10.5, 10.4, 10.6), 0.04)).toBe('regression');
    expect(timeVerdict(s(10, 9.5, 10.5), s(8, 7, 9), 0.1)).toBe('improvement');
    expect(timeVerdict(s(10, 8, 12), s(8, 7, 9), 0.1)).toBe('within noise');
  });

  it('gives B/A per matching row with its verdict', () => {
    const byKernel = new Map(compareResults(a, b, 0.1).map((c) => [c.key.split('/')[1], c]));
    expect(byKernel.get('slower')).toMatchObject({ ratio: 1.25, verdict: 'regression' });
    expect(byKernel.get('noisy')).toMatchObject({ ratio: 1.25, verdict: 'within noise' });
    expect(byKernel.get('faster')).toMatchObject({ ratio: 0.25, verdict: 'improvement' });
    expect(byKernel.get('steady')).toMatchObject({ ratio: 1.05, verdict: 'same' });
    expect(byKernel.get('broke')?.verdict).toBe('now wrong');
    expect(byKernel.get('dropped')?.verdict).toBe('only in A');
    expect(byKernel.get('added')?.verdict).toBe('only in B');
    // A tighter threshold turns the 5% slowdown, outside both runs' ranges, into a regression.
    expect(compareResults(a, b, 0.04).find((c) => c.key.includes('/steady/'))?.verdict).toBe('regression');
  });

  it('prints the ratios from the command line and exits 1 on a regression, 0 without one, 2 on a bad file', async () => {
    const failure = await xpuCli(['bench', 'compare', fileA, fileB]).then(
      () => null,
      (e: { code: number; stdout: string }) => e,
    );
    expect(failure?.code).toBe(1);
    const stdout = failure?.stdout ?? '';
    expect(stdout).toMatch(/unit\/slower\/xpu\/xpu\/float32\/1M.*1\.25x.*REGRESSION/);
    expect(stdout).toMatch(/unit\/noisy\/.*1\.25x.*within noise/);
    expect(stdout).toMatch(/unit\/faster\/.*0\.250x.*faster/);
    expect(stdout).toMatch(/unit\/steady\/.*1\.05x/);
    expect(stdout).toContain(
      "2 regression(s), 1 improvement(s), 1 beyond ±10% but within the runs' spread, 1 within ±10%, 2 row(s) in one run only",
    );
    await expect(xpuCli(['bench', 'compare', fileA, fileB, '--no-fail'])).resolves.toBeDefined();
    await expect(xpuCli(['bench', 'compare', fileA, fileQuiet])).resolves.toBeDefined(); // noise and gains only
    await expect(xpuCli(['bench', 'compare', fileA, join(dir, 'missing.json')])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('missing.json'),
    });
  });
});
