import type { MatmulSpec } from '../backend.js';
import { XpuValueError } from '../../errors.js';
import type { DType } from '../../tensor/dtype.js';
import type { WebGPUBackend } from './backend.js';
import { gemmConfigKey, type GemmConfig } from './gemm_config.js';
import { autotuneMode, bucketKey, cachedTuned, candidates, parseBucket, recordTuned, withGemmConfig, type Bucket } from './gemm_tuner.js';
import { medianWallMs, seededStorage } from './tuning_measure.js';

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

/**
 * Median GFLOP/s of `config` on the bucket's representative problem (wall time after
 * synchronize): the matmul primitive on contiguous A [m, k] and B [k, n] (or B = W^T of a
 * contiguous W [n, k] when B is read along k), as matmul(a, w) / matmul(a, w.T) would launch it.
 */
async function measure(backend: WebGPUBackend, b: Bucket, config: GemmConfig, reps: number): Promise<number> {
  const a = seededStorage(backend, b.dtype, b.m * b.k, 1);
  const w = seededStorage(backend, b.dtype, b.n * b.k, 2);
  const spec: MatmulSpec = {
    a: { storage: a, dtype: b.dtype, strides: [b.k, 1], offset: 0 },
    b: { storage: w, dtype: b.dtype, strides: b.bAlongK ? [1, b.k] : [b.n, 1], offset: 0 },
    batchShape: [],
    m: b.m,
    n: b.n,
    k: b.k,
    outDtype: b.dtype,
  };
  try {
    const run = () => withGemmConfig(config, () => backend.release(backend.matmul(spec)));
    const ms = await medianWallMs(run, () => backend.synchronize(), reps);
    return (2 * b.m * b.n * b.k) / (ms * 1e6);
  } finally {
    backend.release(a);
    backend.release(w);
  }
}

/**
 * Tunes the buckets of `shapes` ([m, n, k] each) on one xpu device: measures every candidate,
 * keeps the fastest, records it (used at once by matmul in this process, and written to the disk
 * cache). A bucket already tuned is reused unless `force` or XPU_AUTOTUNE=force.
 */
export async function tuneGemmOn(
  backend: WebGPUBackend,
  shapes: readonly (readonly [number, number, number])[],
  options: TuneGemmOptions = {},
): Promise<TunedGemm[]> {
  const dtype: DType = options.dtype ?? 'float32';
  const reps = options.reps ?? 3;
  if (!Number.isInteger(reps) || reps < 1)
    throw new XpuValueError('reps must be a positive integer', { op: 'tuneGemm', arg: 'reps', expected: '>= 1', got: String(reps) });
  const force = options.force === true || autotuneMode() === 'force';
  const adapter = backend.adapter;
  const out: TunedGemm[] = [];
  for (const shape of shapes) {
    const [m, n, k] = shape;
    if (![m, n, k].every((x) => Number.isInteger(x) && x >= 1)) {
      throw new XpuValueError('a GEMM shape is [m, n, k] of positive integers', {
        op: 'tuneGemm',
        arg: 'shapes',
        expected: '[m, n, k]',
        got: JSON.stringify(shape),
      });
    }
    const key = bucketKey(m, n, k, dtype, { bAlongK: options.bAlongK === true });
    const hit = force ? undefined : cachedTuned(adapter, key);
    if (hit) {
      recordTuned(adapter, key, hit, false);
      out.push({
        shape: [m, n, k],
        bucket: key,
        config: hit.config,
        configKey: gemmConfigKey(hit.config),
        gflops: hit.gflops,
        cached: true,
        measured: [],
      });
      continue;
    }
    const bucket = parseBucket(key);
    const measured: { config: GemmConfig; configKey: string; gflops: number }[] = [];
    for (const c of candidates(adapter, bucket)) {
      try {
        measured.push({ config: c, configKey: gemmConfigKey(c), gflops: await measure(backend, bucket, c, reps) });
      } catch (e) {
        process.emitWarning(`xpu: GEMM candidate ${gemmConfigKey(c)} failed on ${key}: ${(e as Error).message}`, { code: 'XPU_AUTOTUNE' });
      }
    }
    if (!measured.length) throw new XpuValueError('no GEMM candidate ran', { op: 'tuneGemm', arg: 'shapes', got: key });
    const best = measured.reduce((x, y) => (y.gflops > x.gflops ? y : x));
    recordTuned(
      adapter,
      key,
      { config: best.config, gflops: best.gflops, measuredAt: new Date().toISOString() },
      options.persist !== false,
    );
    out.push({
      shape: [m, n, k],
      bucket: key,
      config: best.config,
      configKey: best.configKey,
      gflops: best.gflops,
      cached: false,
      measured: measured.map(({ configKey, gflops }) => ({ configKey, gflops })),
    });
  }
  return out;
}
