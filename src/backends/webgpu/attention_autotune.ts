import type { AttentionSpec } from '../attention_spec.js';
import { COPY_KERNEL } from '../copy_kernel.js';
import { XpuValueError } from '../../errors.js';
import type { WebGPUBackend } from './backend.js';
import type { GemmAdapterInfo } from './gemm_config.js';
import { autotuneMode } from './gemm_tuner.js';
import {
  attentionCandidates,
  attentionConfigKey,
  withAttentionConfig,
  type AttentionConfig,
  type AttentionShape,
} from './attention_config.js';
import { attentionBucketKey, cachedTunedAttention, recordTunedAttention } from './attention_tuner.js';
import { medianWallMs, seededStorage } from './tuning_measure.js';

/** One attention problem to tune: q [batch, heads, l, e], k [batch, kvHeads, s, e], v [batch, kvHeads, s, ev]. */
export interface AttentionTuneShape {
  batch: number;
  heads: number;
  kvHeads: number;
  l: number;
  s: number;
  e: number;
  /** Default e. */
  ev?: number;
  causal?: boolean;
  dtype?: 'float32' | 'float16';
}

export interface TuneAttentionOptions {
  /** Timed runs per candidate (after one warm-up that compiles); the median counts. Default 3. */
  reps?: number;
  /** Re-measure even when cached (also XPU_AUTOTUNE=force). */
  force?: boolean;
  /** Write results to the disk cache (default true). */
  persist?: boolean;
  /** Measure only the candidates this accepts (e.g. to bound compile time); default all. */
  filter?: (config: AttentionConfig) => boolean;
}

export interface TunedAttention {
  shape: AttentionTuneShape;
  bucket: string;
  config: AttentionConfig;
  configKey: string;
  /** Median milliseconds of the winner on the measured problem. */
  ms: number;
  /** True when taken from the cache without measuring. */
  cached: boolean;
  /** Every candidate measured (empty when cached). */
  measured: { configKey: string; ms: number }[];
}

/** What chooseAttentionConfig sees for a shape (as attention.ts builds it from a spec). */
export function attentionShapeOf(sh: AttentionTuneShape, adapter?: GemmAdapterInfo): AttentionShape {
  const ev = sh.ev ?? sh.e;
  return {
    l: sh.l,
    s: sh.s,
    e: sh.e,
    ev,
    rows: sh.batch * sh.heads * sh.l,
    subgroups: !!adapter && adapter.features.has('subgroups') && adapter.subgroupMinSize !== undefined,
    kvHeads: sh.batch * sh.kvHeads,
    groupRows: (sh.heads / sh.kvHeads) * sh.l,
    causal: sh.causal === true,
    dtype: sh.dtype ?? 'float32',
  };
}

function checkShape(sh: AttentionTuneShape): void {
  const dims = [sh.batch, sh.heads, sh.kvHeads, sh.l, sh.s, sh.e, sh.ev ?? sh.e];
  const ok =
    typeof sh === 'object' &&
    sh !== null &&
    dims.every((x) => Number.isInteger(x) && x >= 1) &&
    sh.heads % sh.kvHeads === 0 &&
    (sh.dtype === undefined || sh.dtype === 'float32' || sh.dtype === 'float16');
  if (!ok) {
    throw new XpuValueError(
      'an attention shape is { batch, heads, kvHeads, l, s, e, ev?, causal?, dtype? } of positive integers, heads a multiple of kvHeads',
      {
        op: 'tuneAttention',
        arg: 'shapes',
        expected: '{ batch, heads, kvHeads, l, s, e }',
        got: JSON.stringify(sh),
      },
    );
  }
}

/**
 * Median milliseconds of `config` on the problem (wall time after synchronize): the attention
 * primitive on contiguous q, k, v with the default scale, and the cast of a float16 output, as
 * scaledDotProductAttention(q, k, v, { isCausal, enableGqa }) would launch them.
 */
async function measure(backend: WebGPUBackend, sh: AttentionTuneShape, config: AttentionConfig, reps: number): Promise<number> {
  const dtype = sh.dtype ?? 'float32';
  const ev = sh.ev ?? sh.e;
  const q = seededStorage(backend, dtype, sh.batch * sh.heads * sh.l * sh.e, 1);
  const k = seededStorage(backend, dtype, sh.batch * sh.kvHeads * sh.s * sh.e, 2);
  const v = seededStorage(backend, dtype, sh.batch * sh.kvHeads * sh.s * ev, 3);
  const rowMajor = (h: number, rows: number, cols: number) => [h * rows * cols, rows * cols, cols, 1];
  const spec: AttentionSpec = {
    q: { storage: q, dtype, strides: rowMajor(sh.heads, sh.l, sh.e), offset: 0 },
    k: { storage: k, dtype, strides: rowMajor(sh.kvHeads, sh.s, sh.e), offset: 0 },
    v: { storage: v, dtype, strides: rowMajor(sh.kvHeads, sh.s, ev), offset: 0 },
    batch: sh.batch,
    heads: sh.heads,
    kvHeads: sh.kvHeads,
    l: sh.l,
    s: sh.s,
    e: sh.e,
    ev,
    scale: 1 / Math.sqrt(sh.e),
    causal: sh.causal === true,
    captures: [],
    op: 'scaledDotProductAttention',
  };
  const n = sh.batch * sh.heads * sh.l * ev;
  const once = () => {
    const out = backend.attention(spec);
    if (dtype === 'float32') return backend.release(out);
    const cast = backend.map({
      kernel: COPY_KERNEL,
      inputs: [{ storage: out, dtype: 'float32', strides: [1], offset: 0 }],
      outShape: [n],
      outDtype: dtype,
      argKind: 'f32',
    });
    backend.release(out);
    backend.release(cast);
  };
  try {
    return await medianWallMs(
      () => withAttentionConfig(config, once),
      () => backend.synchronize(),
      reps,
    );
  } finally {
    backend.release(q);
    backend.release(k);
    backend.release(v);
  }
}

/**
 * Tunes the buckets of `shapes` on one xpu device: measures every attentionCandidates config on
 * the shape, keeps the fastest, records it (used at once by attention in this process, and
 * written to the disk cache). A bucket already tuned is reused unless `force` or XPU_AUTOTUNE=force.
 */
export async function tuneAttentionOn(
  backend: WebGPUBackend,
  shapes: readonly AttentionTuneShape[],
  options: TuneAttentionOptions = {},
): Promise<TunedAttention[]> {
  const reps = options.reps ?? 3;
  if (!Number.isInteger(reps) || reps < 1)
    throw new XpuValueError('reps must be a positive integer', { op: 'tuneAttention', arg: 'reps', expected: '>= 1', got: String(reps) });
  const force = options.force === true || autotuneMode() === 'force';
  const adapter = backend.adapter;
  const out: TunedAttention[] = [];
  for (const sh of shapes) {
    checkShape(sh);
    const p = attentionShapeOf(sh, adapter);
    const key = attentionBucketKey(p);
    const hit = force ? undefined : cachedTunedAttention(adapter, key);
    if (hit) {
      recordTunedAttention(adapter, key, hit, false);
      out.push({
        shape: sh,
        bucket: key,
        config: hit.config,
        configKey: attentionConfigKey(hit.config),
        ms: hit.ms,
        cached: true,
        measured: [],
      });
      continue;
    }
    const measured: { config: AttentionConfig; configKey: string; ms: number }[] = [];
    for (const c of attentionCandidates(p, adapter)) {
      if (options.filter && !options.filter(c)) continue;
      try {
        measured.push({ config: c, configKey: attentionConfigKey(c), ms: await measure(backend, sh, c, reps) });
      } catch (e) {
        process.emitWarning(`xpu: attention candidate ${attentionConfigKey(c)} failed on ${key}: ${(e as Error).message}`, {
          code: 'XPU_AUTOTUNE',
        });
      }
    }
    if (!measured.length) throw new XpuValueError('no attention candidate ran', { op: 'tuneAttention', arg: 'shapes', got: key });
    const best = measured.reduce((x, y) => (y.ms < x.ms ? y : x));
    const config: AttentionConfig = {
      path: best.config.path,
      bq: best.config.bq,
      bk: best.config.bk,
      wg: best.config.wg,
      chunk: best.config.chunk,
    };
    recordTunedAttention(adapter, key, { config, ms: best.ms, measuredAt: new Date().toISOString() }, options.persist !== false);
    out.push({
      shape: sh,
      bucket: key,
      config,
      configKey: best.configKey,
      ms: best.ms,
      cached: false,
      measured: measured.map(({ configKey, ms }) => ({ configKey, ms })),
    });
  }
  return out;
}
