import type { Device } from '../../device/device.js';
import { XpuValueError } from '../../errors.js';
import { tensor } from '../../ops/creation.js';
import { matmul } from '../../ops/matmul.js';
import { transpose } from '../../ops/views.js';
import type { DType } from '../../tensor/dtype.js';
import { scope } from '../../tensor/scope_api.js';
import type { WebGPUBackend } from './backend.js';
import { gemmConfigKey, type GemmConfig } from './gemm_config.js';
import { autotuneMode, bucketKey, cachedTuned, candidates, parseBucket, recordTuned, withGemmConfig, type Bucket } from './gemm_tuner.js';
import { medianWallMs, seededValues } from './tuning_measure.js';

export interface TuneGemmOptions {
  dtype?: 'float32' | 'float16';
  /** B read along k (x @ W^T, the Linear weight); default false. */
  bAlongK?: boolean;
  /** Timed runs per candidate (after one warm-up); the median counts. Default 3. */
  reps?: number;
  /** Re-measure even when cached (also XPU_AUTOTUNE=force). */
  force?: boolean;
  /** Write results to the disk cache (default true). */
  persist?: boolean;
}

export interface TunedGemm {
  shape: [number, number, number];
  bucket: string;
  config: GemmConfig;
  configKey: string;
  gflops: number;
  /** True when taken from the cache without measuring. */
  cached: boolean;
  /** Every candidate measured (empty when cached). */
  measured: { configKey: string; gflops: number }[];
}

/** Median GFLOP/s of `config` on the bucket's representative problem (wall time after synchronize). */
async function measure(device: Device, backend: WebGPUBackend, b: Bucket, config: GemmConfig, reps: number): Promise<number> {
  const a = tensor(seededValues(b.m * b.k, 1), { device, dtype: b.dtype, shape: [b.m, b.k] });
  const w = b.bAlongK ? tensor(seededValues(b.n * b.k, 2), { device, dtype: b.dtype, shape: [b.n, b.k] }) : tensor(seededValues(b.k * b.n, 2), { device, dtype: b.dtype, shape: [b.k, b.n] });
  try {
    const run = () => withGemmConfig(config, () => scope(() => { matmul(a, b.bAlongK ? transpose(w, 0, 1) : w); }));
    const ms = await medianWallMs(run, () => backend.synchronize(), reps);
    return (2 * b.m * b.n * b.k) / (ms * 1e6);
  } finally {
    a.dispose();
    w.dispose();
  }
}

/**
 * Tunes the buckets of `shapes` ([m, n, k] each) on one xpu device: measures every candidate,
 * keeps the fastest, records it (used at once by matmul in this process, and written to the disk
 * cache). A bucket already tuned is reused unless `force` or XPU_AUTOTUNE=force.
 */
export async function tuneGemmOn(device: Device, backend: WebGPUBackend, shapes: readonly (readonly [number, number, number])[], options: TuneGemmOptions = {}): Promise<TunedGemm[]> {
  const dtype: DType = options.dtype ?? 'float32';
  const reps = options.reps ?? 3;
  if (!Number.isInteger(reps) || reps < 1) throw new XpuValueError('reps must be a positive integer', { op: 'tuneGemm', arg: 'reps', expected: '>= 1', got: String(reps) });
  const force = options.force === true || autotuneMode() === 'force';
  const adapter = backend.adapter;
  const out: TunedGemm[] = [];
  for (const shape of shapes) {
    const [m, n, k] = shape;
    if (![m, n, k].every((x) => Number.isInteger(x) && x >= 1)) {
      throw new XpuValueError('a GEMM shape is [m, n, k] of positive integers', { op: 'tuneGemm', arg: 'shapes', expected: '[m, n, k]', got: JSON.stringify(shape) });
    }
    const key = bucketKey(m, n, k, dtype, { bAlongK: options.bAlongK === true });
    const hit = force ? undefined : cachedTuned(adapter, key);
    if (hit) {
      recordTuned(adapter, key, hit, false);
      out.push({ shape: [m, n, k], bucket: key, config: hit.config, configKey: gemmConfigKey(hit.config), gflops: hit.gflops, cached: true, measured: [] });
      continue;
    }
    const bucket = parseBucket(key);
    const measured: { config: GemmConfig; configKey: string; gflops: number }[] = [];
    for (const c of candidates(adapter, bucket)) {
      try {
        measured.push({ config: c, configKey: gemmConfigKey(c), gflops: await measure(device, backend, bucket, c, reps) });
      } catch (e) {
        process.emitWarning(`xpu: GEMM candidate ${gemmConfigKey(c)} failed on ${key}: ${(e as Error).message}`, { code: 'XPU_AUTOTUNE' });
      }
    }
    if (!measured.length) throw new XpuValueError('no GEMM candidate ran', { op: 'tuneGemm', arg: 'shapes', got: key });
    const best = measured.reduce((x, y) => (y.gflops > x.gflops ? y : x));
    recordTuned(adapter, key, { config: best.config, gflops: best.gflops, measuredAt: new Date().toISOString() }, options.persist !== false);
    out.push({ shape: [m, n, k], bucket: key, config: best.config, configKey: best.configKey, gflops: best.gflops, cached: false, measured: measured.map(({ configKey, gflops }) => ({ configKey, gflops })) });
  }
  return out;
}
