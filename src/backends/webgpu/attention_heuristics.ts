import type { DType } from '../../tensor/dtype.js';
import { isSoftwareAdapter, type AdapterInfo as GemmAdapterInfo } from './adapter.js';
import { pow2 } from './tuning_table.js';

/**
 * The attention configs (kernel and tiles) and the deterministic heuristics: the default per
 * adapter and problem, the candidate list for measuring (bench/attention.ts times them; tests run
 * them all), and the clamp every chosen config goes through. The choice itself (override, tuned
 * tables, heuristic) is attention_config.ts's chooseAttentionConfig, which re-exports this module.
 */

export interface AttentionConfig {
  /**
   * 'prefill': kernels/attention/flash_prefill.wgsl; 'decode': split-K flash_decode +
   * decode_reduce; 'texture': flash_prefill_tex.wgsl on packed textures, one subgroup per
   * workgroup (adapters with fixed-size subgroups; problems within the texture limits).
   */
  path: 'prefill' | 'decode' | 'texture';
  /** Prefill: queries per workgroup (4 or 8: at most PREFILL_LANES); texture: 16 or 32 (a multiple of the subgroup). */
  bq: number;
  /** Prefill: keys per tile (PREFILL_LANES x 1, 2 or 4); texture: 4 or 8 keys per lane (4 x subgroup x 1 or 2). */
  bk: number;
  /** Decode: invocations per workgroup (a power of two). */
  wg: number;
  /** Decode: keys per split (a runtime bound: a power of two, at most MAX_CHUNK). */
  chunk: number;
}

/** What the choice may depend on about a problem. */
export interface AttentionShape {
  l: number;
  s: number;
  e: number;
  ev: number;
  /** B * H * L: independent query rows. */
  rows: number;
  /** The adapter has `subgroups` (no kernel uses them today; kept for the tuner's key). */
  subgroups: boolean;
  /** A block mask's block size: prefill tiles must divide it. */
  blockSize?: number;
  /** Decode: B * Hkv (workgroups per split and row block). */
  kvHeads?: number;
  /** Decode: query rows sharing one KV head (Hq / Hkv * L). */
  groupRows?: number;
  /** The causal mask (part of the tuner's bucket; default false). */
  causal?: boolean;
  /** q's dtype (part of the tuner's bucket; default float32). */
  dtype?: DType;
  /** The adapter's subgroup size where it is fixed (min = max) and subgroups are enabled: the texture path's lanes. */
  fixedSubgroup?: number;
  /** B * Hkv (texture layers of k and v; default rows / l). */
  kvLayers?: number;
  /** Texture limits (default the WebGPU minimums 8192 and 256). */
  maxTexture?: number;
  maxLayers?: number;
}

/** Prefill invocations per workgroup: lavapipe's SIMD width (one coroutine, cheap barriers). */
export const PREFILL_LANES = 8;
/** The largest prefill key tile. */
export const BK_MAX = 4 * PREFILL_LANES;
/** Decode: keys per split at most (workgroup memory DECODE_ROWS x MAX_CHUNK floats = 8 KiB). */
export const MAX_CHUNK = 256;
/** Decode: query rows of one KV head per workgroup at most. */
export const DECODE_ROWS = 8;
/** Query rows from which the heuristic picks the texture prefill (where it fits). */
export const TEXTURE_MIN_L = 16;
/** Query rows at or below which split-K decoding runs instead of the prefill kernel. */
export const DECODE_MAX_L = 4;

/**
 * Decode's split size: enough workgroups (B * Hkv * row blocks * splits) to keep every core
 * (lavapipe: one workgroup per thread at a time) or GPU core busy with some slack for balance,
 * splits no shorter than 32 keys.
 */
function decodeChunk(p: AttentionShape, soft: boolean): number {
  const target = soft ? 32 : 256;
  const perSplit = Math.max(1, (p.kvHeads ?? p.rows) * Math.ceil((p.groupRows ?? 1) / DECODE_ROWS));
  const splits = Math.max(1, Math.ceil(target / perSplit));
  return Math.min(MAX_CHUNK, Math.max(32, pow2(Math.ceil(p.s / splits))));
}

/** The largest power of two dividing the block size (tiles must not straddle blocks). */
const blockLimit = (p: AttentionShape): number => (p.blockSize ? p.blockSize & -p.blockSize : 1 << 30);

/** Whether the texture prefill with tiles (bq, bk) can run this problem. */
export function textureFits(p: AttentionShape, bq: number, bk: number): boolean {
  const sg = p.fixedSubgroup ?? 0;
  if (![4, 8, 16, 32].includes(sg) || bq % sg !== 0 || bk % (4 * sg) !== 0 || bk / (4 * sg) > 2) return false;
  if (bq > blockLimit(p) || bk > blockLimit(p) || p.l <= DECODE_MAX_L || p.s < 1 || p.e < 1 || p.ev < 1) return false;
  const lim = p.maxTexture ?? 8192;
  const layers = Math.max(Math.ceil(p.rows / Math.max(1, p.l)), p.kvLayers ?? 0);
  const lPad = Math.ceil(p.l / bq) * bq;
  const sPad = Math.ceil(p.s / bk) * bk;
  const e4 = Math.ceil(p.e / 4);
  return layers <= (p.maxLayers ?? 256) && lPad <= lim && sPad <= lim && 4 * e4 <= lim && Math.ceil(p.ev / 4) <= 4 * sg * 8;
}

/** Texture prefill tiles worth measuring (the first is the default). */
const TEXTURE_TILES: [number, number][] = [
  [32, 32],
  [16, 32],
];

/** The deterministic default for an adapter and problem. */
export function heuristicAttentionConfig(p: AttentionShape, adapter?: GemmAdapterInfo): AttentionConfig {
  const soft = isSoftwareAdapter(adapter);
  // 8 query rows against 32 keys per tile on long sequences (measured on lavapipe at L = 1024,
  // H = 2, E = 128: 8x32 6.6 GFLOP/s, 8x16 6.1, 8x8 2.8, 4x16 4.4); short ones take 8 keys, whose
  // pipeline compiles in half the time (lavapipe: ~2-3 s instead of ~5 s) and wastes fewer keys.
  let bq = 8;
  let bk = p.s >= 256 ? 32 : 8;
  bq = Math.min(bq, blockLimit(p));
  bk = Math.min(bk, blockLimit(p));
  const wg = soft ? 32 : 64;
  const path = p.l <= DECODE_MAX_L && p.s >= 2 * 64 ? 'decode' : 'prefill';
  const base: AttentionConfig = { path, bq: Math.max(4, bq), bk: Math.max(PREFILL_LANES, bk), wg, chunk: decodeChunk(p, soft) };
  // The texture prefill on lavapipe (measured at L = 512..2048, E = 128; see docs/attention.md)
  // where the adapter has fixed-size subgroups and the problem fits the texture limits.
  if (soft && path === 'prefill' && p.l >= TEXTURE_MIN_L) {
    const sg = p.fixedSubgroup ?? 0;
    const [tq, tk] = TEXTURE_TILES[0];
    if (textureFits(p, tq, tk * (sg / 8))) return { ...base, path: 'texture', bq: tq, bk: tk * (sg / 8) };
  }
  return base;
}

/** Configs worth measuring for a problem (the heuristic first), all valid for it. */
export function attentionCandidates(p: AttentionShape, adapter?: GemmAdapterInfo): AttentionConfig[] {
  const base = heuristicAttentionConfig(p, adapter);
  const list: AttentionConfig[] = [base];
  // 4-row tiles measured slower everywhere (4x16 4.4 vs 8x16 6.1 GFLOP/s at L = 1024) and are
  // only reachable through an override now.
  for (const bq of [8]) {
    for (const bk of [8, 16, 32]) {
      if (bq > blockLimit(p) || bk > blockLimit(p)) continue;
      list.push({ ...base, path: 'prefill', bq, bk });
    }
  }
  const sg = p.fixedSubgroup ?? 0;
  for (const [tq, tk] of TEXTURE_TILES) {
    const bk = (tk * sg) / 8;
    if (sg && textureFits(p, tq, bk)) list.push({ ...base, path: 'texture', bq: tq, bk });
  }
  for (const wg of [8, 32, 64]) {
    for (const chunk of [64, 128, 256]) list.push({ ...base, path: 'decode', wg, chunk });
  }
  const seen = new Set<string>();
  return list.filter((c) => {
    const k = attentionConfigKey(c);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function attentionConfigKey(c: AttentionConfig): string {
  return c.path === 'decode' ? `decode:${c.wg}:${c.chunk}` : `${c.path}:${c.bq}x${c.bk}`;
}

/** Clamps a config into what the kernels accept for this problem (tiles dividing the block size, bounds). */
export function sanitizeAttentionConfig(c: AttentionConfig, p: AttentionShape): AttentionConfig {
  let { bq, bk, wg, chunk } = c;
  if (c.path === 'texture') {
    if (textureFits(p, bq, bk))
      return { path: 'texture', bq, bk, wg: pow2(Math.max(1, Math.min(256, wg))), chunk: Math.min(MAX_CHUNK, pow2(Math.max(1, chunk))) };
    // Not for this adapter or problem: the storage-buffer prefill with its default tiles.
    const h = heuristicAttentionConfig({ ...p, fixedSubgroup: undefined });
    return sanitizeAttentionConfig({ ...h, path: p.l <= DECODE_MAX_L && p.s >= 2 * 64 ? 'decode' : 'prefill', wg, chunk }, p);
  }
  bq = Math.min(pow2(Math.max(4, Math.min(PREFILL_LANES, bq))), Math.max(4, blockLimit(p)));
  bk = Math.max(PREFILL_LANES, Math.min(BK_MAX, blockLimit(p), pow2(bk)));
  wg = pow2(Math.max(1, Math.min(256, wg)));
  chunk = Math.min(MAX_CHUNK, pow2(Math.max(1, chunk)));
  return { path: c.path, bq, bk, wg, chunk };
}
