import { settings } from '../../settings.js';
import { isSoftwareAdapter, readAdapterInfo, type AdapterInfo } from './adapter.js';

/**
 * The GEMM configs (kernel and tile sizes) and the deterministic heuristics that pick one per
 * adapter and problem. Below the tables: chooseGemmConfig (gemm_config.ts) asks the tuner's tables
 * (gemm_tuner.ts) first, which in turn list and validate candidates from here.
 */

export type GemmAdapterInfo = AdapterInfo;

/** The adapter facts of a Dawn device (the backend reads them once: WebGPUBackend.adapter). */
export const gemmAdapterInfo = readAdapterInfo;

/**
 * Tile strategies of kernels/gemm.wgsl, and the original one-invocation-per-output kernel.
 * 'texture' is register blocking whose A and B are first packed into rgba32float textures
 * (kernels/gemm_pack.wgsl, gemm_texture.ts): the fastest on lavapipe, where a texel fetch is a
 * vector load and a storage load with a per-invocation address is a scalar load per lane.
 */
export type GemmVariant = 'register' | 'shared' | 'texture' | 'naive';
export const GEMM_VARIANTS: readonly GemmVariant[] = ['register', 'shared', 'texture', 'naive'];

/** kernels/gemm.wgsl: a WG_X x WG_Y workgroup, TM x TN outputs per invocation. */
export interface TileConfig {
  path: 'tile';
  variant: 'register' | 'shared' | 'texture';
  wgX: number;
  wgY: number;
  tm: number;
  /** A multiple of 4 (vec4 columns). */
  tn: number;
  /** K-tile of the shared variant (a multiple of 4). */
  tk: number;
  /**
   * Texture variant only: lanes per subgroup that share their A rows through subgroupBroadcast
   * (gemm_codegen.ts subgroupTileMain); then wgX = sg, tm is a multiple of sg, and the adapter's
   * subgroups are exactly sg wide. Absent or 0: every invocation reads its own rows.
   */
  sg?: number;
  /**
   * Texture variant only: K cut into this many slices run as batch entries into f32 partials,
   * then summed (gemm_texture.ts splitKProblem), for small outputs with a long K. Applies to a
   * plain f32 product with K a multiple of 4 x splitK; otherwise the GEMM runs unsplit.
   */
  splitK?: number;
}

/** kernels/gemv.wgsl: split-K over `wg` invocations, `cols` output columns per workgroup. */
export interface GemvConfig {
  path: 'gemv';
  wg: number;
  /** A multiple of 4. */
  cols: number;
  subgroups: boolean;
}

/** kernels/matmul_naive.wgsl, kept selectable as the benchmark's baseline. */
export interface NaiveConfig {
  path: 'naive';
}

export type GemmConfig = TileConfig | GemvConfig | NaiveConfig;

/** Layout facts that change the best kernel (B read along k is the Linear-weight case). */
export interface GemmShapeHints {
  bAlongK: boolean;
}

/** The largest M the small-M (GEMV) kernel specialises for. */
export const GEMV_MAX_M = 8;

/** XPU_GEMM_VARIANT (settings.ts; an unknown value is an XpuValueError). */
export function gemmVariantFromEnv(): GemmVariant | undefined {
  return settings.XPU_GEMM_VARIANT;
}

/**
 * The default tile strategy for an adapter. Measured on lavapipe (bench/gemm.ts, see
 * bench/results/README.md): register blocking beats shared-memory tiles, as the pre-project peer
 * probes found; GPUs with real shared memory are expected to prefer the shared variant until the
 * autotuner measures them.
 */
function defaultVariant(a: GemmAdapterInfo): 'register' | 'shared' {
  return isSoftwareAdapter(a) ? 'register' : 'shared';
}

/**
 * Where the texture variant is the default: software adapters (lavapipe) from 64 rows and 32
 * columns and k on. Below that the two packing passes cost more than the faster loads save.
 * The backend still falls back to register tiles when the problem cannot be packed (batched
 * operands, a dim past the texture size limit).
 */
export const TEXTURE_MIN = { m: 64, n: 32, k: 32 };
const textureByDefault = (a: GemmAdapterInfo, m: number, n: number, k: number): boolean =>
  isSoftwareAdapter(a) && m >= TEXTURE_MIN.m && n >= TEXTURE_MIN.n && k >= TEXTURE_MIN.k;

export function heuristicGemmConfig(
  adapter: GemmAdapterInfo,
  m: number,
  n: number,
  k: number,
  hints: GemmShapeHints = { bAlongK: false },
): GemmConfig {
  const forced = gemmVariantFromEnv();
  if (forced === 'naive') return { path: 'naive' };
  // Small M against a weight read along k (x @ W^T, the decode step): split-K GEMV. Along n, the
  // flat tiles below were faster on lavapipe (each invocation then reads whole vec4 rows of B).
  // On lavapipe the flat tiles also caught up from M = 5 on (bench/gemm.ts, linear-decode-strategy
  // at M = 8), so split-K stops at 4 rows there; a GPU keeps it up to 8 rows.
  const splitKRows = isSoftwareAdapter(adapter) ? 4 : GEMV_MAX_M;
  if (m <= splitKRows && k >= 128 && hints.bAlongK) return splitKConfig(adapter);
  if (forced === undefined && textureByDefault(adapter, m, n, k)) {
    const c = defaultTileConfig(adapter, m, 'texture');
    const s = splitKFor(c, m, n, k);
    return s > 1 ? { ...c, splitK: s } : c;
  }
  return defaultTileConfig(adapter, m, forced);
}

/**
 * The small-M split-K kernel's config. On lavapipe a workgroup runs on one CPU thread, and one
 * subgroup (8 lanes) per workgroup measured 2x faster than 64 invocations at M = 1 (K = N = 4096):
 * no barrier round, and the reduction is one subgroupAdd. GPUs want more invocations in flight
 * per output.
 */
export function splitKConfig(adapter: GemmAdapterInfo): GemvConfig {
  const sg = adapter.features.has('subgroups') && adapter.subgroupMinSize !== undefined;
  if (isSoftwareAdapter(adapter) && sg) return { path: 'gemv', wg: adapter.subgroupMinSize as number, cols: 4, subgroups: true };
  return { path: 'gemv', wg: 64, cols: 4, subgroups: sg };
}

/**
 * K slices for a small output with a long K: up to SPLIT_K_TARGET workgroups in flight (lavapipe
 * runs one workgroup per CPU thread: 2 threads x 2 here), each slice still >= 1024 deep and K a
 * multiple of 4 slices. 1 = no split. Measured with bench/tools/splitk_probe.ts: 64 x 64 x 65536
 * 1.7x (k8 over the unsplit kernel), 128 x 128 x 16384 (4 tiles already) 0.9x with k2, hence 4.
 */
const SPLIT_K_TARGET = 4;
export function splitKFor(c: TileConfig, m: number, n: number, k: number): number {
  const tiles = Math.ceil(m / (c.wgY * c.tm)) * Math.ceil(n / (c.wgX * c.tn));
  let s = 1;
  while (tiles * s * 2 <= SPLIT_K_TARGET && k / (s * 2) >= 1024 && k % (4 * s * 2) === 0) s *= 2;
  return s;
}

/**
 * The subgroup size when the adapter's subgroups have one fixed size that divides 32 (lavapipe:
 * 8, or 16 with LP_NATIVE_VECTOR_WIDTH=512), else undefined: the subgroup-shared tiles need it.
 */
export function fixedSubgroup(a: GemmAdapterInfo): number | undefined {
  const s = a.subgroupMinSize;
  return a.features.has('subgroups') && s !== undefined && s === a.subgroupMaxSize && s >= 4 && s <= 32 && 32 % s === 0 ? s : undefined;
}

/** Rows per invocation for a few-row problem: M rounded up to 1, 2, 4 or 8. */
const fewRows = (m: number): number => (m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8);

/** The tile kernel's config for an adapter and row count (the strategy may be forced). */
export function defaultTileConfig(adapter: GemmAdapterInfo, m: number, variant: GemmVariant = defaultVariant(adapter)): TileConfig {
  if (variant === 'texture') {
    if (m <= 32) return { path: 'tile', variant, wgX: 16, wgY: 4, tm: m <= 16 ? 4 : 8, tn: 8, tk: 4 };
    // Fixed-size subgroups (lavapipe: 8 lanes, one SIMD row): the lanes of a subgroup share 32
    // rows of A through subgroupBroadcast, each lane 8 (16 from 512 rows and columns) columns:
    // 2-3x the storage-buffer register tiles there (bench/tools/gemm_probe.ts, bench/results).
    const sg = fixedSubgroup(adapter);
    if (sg)
      return m >= 512
        ? { path: 'tile', variant, wgX: sg, wgY: 4, tm: 32, tn: 16, tk: 4, sg }
        : { path: 'tile', variant, wgX: sg, wgY: 2, tm: 32, tn: 8, tk: 4, sg };
    // 16 x 8 outputs per invocation, 8 x 8 invocations (a 128 x 64 tile): the best per-lane
    // texture tile on lavapipe at 512-2048: 24 texel fetches per 512 FMAs.
    return { path: 'tile', variant, wgX: 8, wgY: 8, tm: 16, tn: 8, tk: 4 };
  }
  if (variant === 'shared') {
    // 128 x 128 tiles, 8 x 8 per invocation: the best shared-memory shape in the peer probes
    // (16 KiB of workgroup memory); 64 x 128 where the adapter has less.
    const big: TileConfig = { path: 'tile', variant, wgX: 16, wgY: 16, tm: 8, tn: 8, tk: 16 };
    return 4 * big.tk * (big.wgY * big.tm + big.wgX * big.tn) <= adapter.maxWorkgroupStorageBytes ? big : { ...big, tm: 4 };
  }
  // Few rows: one row of invocations, each computing all M rows (up to 8) of 8 columns, so a
  // decode-sized problem does not compute dozens of rows of padding.
  if (m <= GEMV_MAX_M) return { path: 'tile', variant: 'register', wgX: 32, wgY: 1, tm: fewRows(m), tn: 8, tk: 4 };
  if (m <= 32) return { path: 'tile', variant: 'register', wgX: 16, wgY: 4, tm: m <= 16 ? 4 : 8, tn: 8, tk: 4 };
  // 4 x 8 outputs per invocation, 16 x 16 invocations: the peer probes' best on lavapipe
  // (shared/notes/peer-baselines.md), confirmed by bench/gemm.ts.
  return { path: 'tile', variant: 'register', wgX: 16, wgY: 16, tm: 4, tn: 8, tk: 4 };
}

export function gemmConfigKey(c: GemmConfig): string {
  switch (c.path) {
    case 'tile':
      return `tile:${c.variant}:${c.wgX}x${c.wgY}:${c.tm}x${c.tn}:${c.tk}${c.sg ? `:sg${c.sg}` : ''}${(c.splitK ?? 1) > 1 ? `:k${c.splitK}` : ''}`;
    case 'gemv':
      return `gemv:${c.wg}:${c.cols}:${c.subgroups ? 'subgroup' : 'workgroup'}`;
    case 'naive':
      return 'naive';
  }
}
