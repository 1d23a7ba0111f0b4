import type { DType } from '../../tensor/dtype.js';
import { settings } from '../../settings.js';
import { measuringGemmConfig, tunedGemmConfig } from './gemm_tuner.js';
import {
  defaultTileConfig,
  GEMV_MAX_M,
  gemmVariantFromEnv,
  heuristicGemmConfig,
  splitKConfig,
  type GemmAdapterInfo,
  type GemmConfig,
  type GemmShapeHints,
  type GemvConfig,
  type TileConfig,
} from './gemm_heuristics.js';

export * from './gemm_heuristics.js';

/**
 * Which GEMM kernel and tile sizes to run for a problem: one deterministic function of the
 * adapter and the shape bucket. The autotuner's tables (gemm_tuner.ts: tuneGemm results, the
 * disk cache, the shipped kernels/tuned/gemm.json) come before the heuristics
 * (gemm_heuristics.ts, re-exported here); XPU_GEMM_VARIANT overrides the tile strategy.
 * gemmConfigFor is the one place a launch's config is chosen (matmul and qmatmul).
 */

/**
 * Picks the kernel and tile sizes for C[m, n] = A[m, k] B[k, n] (per batch entry). Deterministic:
 * the same adapter and shape bucket give the same config, so pipelines are reused.
 */
export function chooseGemmConfig(
  adapter: GemmAdapterInfo,
  m: number,
  n: number,
  k: number,
  dtype: DType,
  hints: GemmShapeHints = { bAlongK: false },
): GemmConfig {
  const measuring = measuringGemmConfig();
  if (measuring) return measuring;
  const chosen = configOverride?.(adapter, m, n, k, dtype, hints);
  if (chosen) return chosen;
  // gemm_tuner.ts: this process's tuneGemm results, the on-disk cache (XPU_AUTOTUNE=on|force),
  // then the shipped table kernels/tuned/gemm.json; XPU_GEMM_VARIANT still wins over all three.
  if (gemmVariantFromEnv() === undefined) {
    const tuned = tunedGemmConfig(adapter, m, n, k, dtype, hints);
    if (tuned) return tuned;
  }
  return heuristicGemmConfig(adapter, m, n, k, hints);
}

/** What the GEMM choice needs beyond the problem's size (gemmConfigFor). */
export interface GemmQuery {
  m: number;
  n: number;
  k: number;
  dtype: DType;
  hints: GemmShapeHints;
  /**
   * A quantized weight (qmatmul): the split-K GEMV for up to GEMV_MAX_M rows, storage-buffer
   * tiles otherwise (the dequantizing mm_readB has no texture or naive form).
   */
  quantized?: boolean;
  /** The product has an epilogue (bias, activation, residual, scaling): the naive kernel has none. */
  fused?: boolean;
  /** Whether the texture variant can run the problem with this config (operands packable); default yes. */
  texturePackable?: (c: TileConfig) => boolean;
  /** Whether a config's kernel fits the adapter's limits; default yes. */
  fits?: (c: GemmConfig) => boolean;
}

/**
 * The one place a GEMM configuration is chosen, for matmul and qmatmul alike: chooseGemmConfig
 * (the measured candidate, the override, the tuned tables, the heuristic), then what the problem
 * and the adapter allow. The naive baseline gives way to the default tiles when the product has
 * an epilogue, the texture variant to register tiles when the operands cannot be packed, and a
 * config whose kernel exceeds the adapter's limits (workgroup memory of shared-memory tiles) to
 * register tiles; if those do not fit either, compiling throws a typed error.
 */
export function gemmConfigFor(adapter: GemmAdapterInfo, q: GemmQuery): GemmConfig {
  if (q.quantized) return quantizedGemmConfig(adapter, q);
  let c = chooseGemmConfig(adapter, q.m, q.n, q.k, q.dtype, q.hints);
  if (c.path === 'naive') {
    if (!q.fused) return c;
    c = defaultTileConfig(adapter, q.m);
  }
  if (c.path === 'tile' && c.variant === 'texture') {
    if (q.texturePackable?.(c) ?? true) return c;
    c = defaultTileConfig(adapter, q.m, 'register');
  }
  return !q.fits || q.fits(c) ? c : defaultTileConfig(adapter, q.m, 'register');
}

/**
 * The quantized GEMM's config. Up to GEMV_MAX_M rows (or with XPU_QGEMM_PATH=gemv) the dense
 * GEMV's split-K shape (one subgroup per workgroup on lavapipe, 64 invocations on a GPU), with
 * more columns per workgroup: a packed word carries 4 or 8 weights, so the activations loaded for
 * a chunk are reused across 16 columns (kernels/quant/qgemv.wgsl; 8 on GPUs, not measured yet);
 * XPU_QGEMV_WG / XPU_QGEMV_COLS reshape it. Otherwise the dense choice for B read along k, where
 * a texture (packed f32 operands) or naive choice maps to the best register tiles.
 */
function quantizedGemmConfig(adapter: GemmAdapterInfo, q: GemmQuery): TileConfig | GemvConfig {
  const forced = settings.XPU_QGEMM_PATH;
  if ((q.m <= GEMV_MAX_M && forced !== 'tile') || forced === 'gemv') {
    const base = splitKConfig(adapter);
    const cols = base.wg <= 16 ? 16 : 8;
    return { ...base, wg: settings.XPU_QGEMV_WG ?? base.wg, cols: settings.XPU_QGEMV_COLS ?? cols };
  }
  const c = chooseGemmConfig(adapter, q.m, q.n, q.k, q.dtype, q.hints);
  return c.path === 'tile' && c.variant !== 'texture' ? c : defaultTileConfig(adapter, q.m, 'register');
}

/** The deterministic heuristic behind chooseGemmConfig (no override, no tuned table). */
export type GemmConfigChooser = (
  adapter: GemmAdapterInfo,
  m: number,
  n: number,
  k: number,
  dtype: DType,
  hints: GemmShapeHints,
) => GemmConfig | undefined;

let configOverride: GemmConfigChooser | null = null;

/**
 * Lets a tuner or a benchmark run chosen candidates: `chooser` is asked first and its answer wins
 * unless it returns undefined. null restores the heuristics.
 */
export function setGemmConfigOverride(chooser: GemmConfigChooser | null): void {
  configOverride = chooser;
}
