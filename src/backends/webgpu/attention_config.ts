import { pow2 } from './gemm_tuner.js';
import type { GemmAdapterInfo } from './gemm_config.js';

/**
 * Which attention kernel and tiles to run: a deterministic function of the adapter and the
 * problem's shape bucket (as chooseGemmConfig is for GEMM), a candidate list for measuring
 * (bench/attention.ts times them; tests run them all), and an override hook for tuners and tests.
 */

export interface AttentionConfig {
  /** 'prefill': kernels/attention/flash_prefill.wgsl; 'decode': split-K flash_decode + decode_reduce. */
  path: 'prefill' | 'decode';
  /** Prefill: queries per workgroup (one invocation each). */
  bq: number;
  /** Prefill: keys per tile in workgroup memory. */
  bk: number;
  /** Decode: invocations per workgroup (a power of two). */
  wg: number;
  /** Decode: keys per split (a power of two, at most MAX_CHUNK). */
  chunk: number;
  /** Decode: reductions with subgroup operations. */
  subgroups: boolean;
}

/** What the choice may depend on about a problem. */
export interface AttentionShape {
  l: number;
  s: number;
  e: number;
  ev: number;
  /** B * H * L: independent query rows. */
  rows: number;
  /** The adapter has `subgroups`. */
  subgroups: boolean;
  /** A block mask's block size: prefill tiles must divide it. */
  blockSize?: number;
}

export const MAX_CHUNK = 1024;
/** Query rows at or below which split-K decoding runs instead of the prefill kernel. */
export const DECODE_MAX_L = 4;
/** Workgroups decoding aims for (enough to fill the device; lavapipe runs one per core thread). */
const DECODE_TARGET_GROUPS = 128;

const isSoftware = (a?: Pick<GemmAdapterInfo, 'architecture' | 'vendor'>): boolean => !!a && (a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|mesa/i.test(a.vendor));

/** Workgroup memory of the prefill kernel: Q tile, one K or V tile (vec4 rows), scores, row vectors. */
export function prefillBytes(bq: number, bk: number, e: number, ev: number): number {
  const e4 = Math.ceil(e / 4);
  const ev4 = Math.ceil(ev / 4);
  return 16 * (bq * e4 + bk * Math.max(e4, ev4)) + 4 * (bq * bk + 2 * bq);
}

/** The largest key tile (a multiple of 16, down from `want`) whose tiles fit in workgroup memory. */
function fitBk(bq: number, want: number, e: number, ev: number, storage: number): number {
  let bk = want;
  while (bk > 16 && prefillBytes(bq, bk, e, ev) > storage) bk /= 2;
  return bk;
}

function decodeChunk(p: AttentionShape): number {
  const splits = Math.max(1, Math.ceil(DECODE_TARGET_GROUPS / Math.max(1, p.rows)));
  return Math.min(MAX_CHUNK, Math.max(64, pow2(Math.ceil(p.s / splits))));
}

/** The deterministic default for an adapter and problem. */
export function heuristicAttentionConfig(p: AttentionShape, adapter?: GemmAdapterInfo): AttentionConfig {
  const storage = adapter?.maxWorkgroupStorageBytes ?? 16384;
  const soft = isSoftware(adapter);
  // Query rows per workgroup (4 per invocation row of 16) and keys per tile (a multiple of 16,
  // as large as workgroup memory allows).
  let bq = soft ? 16 : 32;
  let bk = fitBk(bq, 32, p.e, p.ev, storage);
  if (p.blockSize) {
    bq = Math.min(bq, p.blockSize);
    bk = Math.min(bk, p.blockSize);
  }
  // Few rows: a smaller query tile wastes fewer invocations.
  while (bq > 4 && bq / 2 >= p.l) bq /= 2;
  const wg = soft && p.subgroups ? 8 : 64;
  const path = p.l <= DECODE_MAX_L && p.s >= 2 * 64 ? 'decode' : 'prefill';
  return { path, bq, bk, wg, chunk: decodeChunk(p), subgroups: p.subgroups };
}

/** Configs worth measuring for a problem (the heuristic first), all valid for it. */
export function attentionCandidates(p: AttentionShape, adapter?: GemmAdapterInfo): AttentionConfig[] {
  const storage = adapter?.maxWorkgroupStorageBytes ?? 16384;
  const base = heuristicAttentionConfig(p, adapter);
  const list: AttentionConfig[] = [base];
  for (const bq of [8, 16, 32, 64]) {
    for (const bk of [16, 32]) {
      if (prefillBytes(bq, bk, p.e, p.ev) > storage || (p.blockSize && (bq > p.blockSize || bk > p.blockSize))) continue;
      list.push({ ...base, path: 'prefill', bq, bk });
    }
  }
  for (const wg of [8, 32, 64]) {
    for (const chunk of [128, 256, 512]) list.push({ ...base, path: 'decode', wg, chunk, subgroups: false });
    if (p.subgroups) list.push({ ...base, path: 'decode', wg, subgroups: true });
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
  return c.path === 'prefill' ? `prefill:${c.bq}x${c.bk}` : `decode:${c.wg}:${c.chunk}:${c.subgroups ? 'subgroup' : 'workgroup'}`;
}

export type AttentionConfigChooser = (heuristic: AttentionConfig, p: AttentionShape) => AttentionConfig | undefined;
let override: AttentionConfigChooser | null = null;

/** A tuner, benchmark or test picks the config (undefined: the heuristic); null restores it. */
export function setAttentionConfigOverride(chooser: AttentionConfigChooser | null): void {
  override = chooser;
}

/** The config for a problem: the override if it answers, else the heuristic. Always valid. */
export function chooseAttentionConfig(p: AttentionShape, adapter?: GemmAdapterInfo): AttentionConfig {
  const h = heuristicAttentionConfig(p, adapter);
  const c = override?.(h, p) ?? h;
  return sanitize(c, p, adapter);
}

/** Clamps a config into what the kernels accept for this problem (tiles dividing the block size, memory). */
function sanitize(c: AttentionConfig, p: AttentionShape, adapter?: GemmAdapterInfo): AttentionConfig {
  const storage = adapter?.maxWorkgroupStorageBytes ?? 16384;
  let { bq, bk, wg, chunk } = c;
  bq = pow2(Math.max(4, Math.min(64, bq)));
  bk = fitBk(bq, pow2(Math.max(16, Math.min(64, bk))), p.e, p.ev, storage);
  while (bq > 4 && prefillBytes(bq, bk, p.e, p.ev) > storage) bq /= 2;
  if (p.blockSize) { bq = Math.min(bq, p.blockSize); bk = Math.min(bk, p.blockSize); }
  wg = pow2(Math.max(1, Math.min(256, wg)));
  chunk = Math.min(MAX_CHUNK, pow2(Math.max(wg, chunk)));
  return { ...c, bq, bk, wg, chunk, subgroups: c.subgroups && p.subgroups };
}
