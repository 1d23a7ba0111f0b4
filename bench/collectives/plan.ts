/**
 * What the collectives benchmark measures, nccl-tests style: the sizes (bytes of the whole
 * buffer, as nccl-tests reports them), iterations per size, element counts, and the bus-bandwidth
 * factor per collective (nccl-tests' PERFORMANCE.md: busbw = algbw x factor).
 */

export type Coll = 'allReduce' | 'allGather' | 'reduceScatter' | 'allToAll' | 'broadcast';
export const COLLS: readonly Coll[] = ['allReduce', 'allGather', 'reduceScatter', 'allToAll', 'broadcast'];

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** 8 B, then x8, then x4 steps up to 256 MiB (64 MiB, the target size, is one of them). */
export const FULL_SIZES = [8, 64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB];
export const QUICK_SIZES = [8, 4 * KiB, 256 * KiB, 4 * MiB, 64 * MiB];
/** The size the target compares at (busbw >= 0.9x the C++ baseline on 4 ranks). */
export const TARGET_BYTES = 64 * MiB;

export function busFactor(coll: Coll, n: number): number {
  if (coll === 'allReduce') return (2 * (n - 1)) / n;
  if (coll === 'broadcast') return 1;
  return (n - 1) / n;
}

/**
 * Elements of the whole buffer for `bytes` of float32: the split collectives need a multiple of
 * the rank count (nccl-tests rounds the same way), and at least one element per rank.
 */
export function countFor(coll: Coll, bytes: number, n: number): number {
  const c = Math.floor(bytes / 4);
  if (coll === 'allReduce' || coll === 'broadcast') return Math.max(1, c);
  return Math.max(n, c - (c % n));
}

/** Fewer iterations as sizes grow: a 256 MiB all-reduce takes about half a second here. */
export function iterations(bytes: number, quick: boolean): { warmup: number; iters: number } {
  if (bytes <= MiB) return quick ? { warmup: 3, iters: 10 } : { warmup: 5, iters: 20 };
  if (bytes <= 16 * MiB) return quick ? { warmup: 1, iters: 5 } : { warmup: 2, iters: 10 };
  return quick ? { warmup: 1, iters: 3 } : { warmup: 1, iters: 5 };
}

/** One size of the plan, as both the TypeScript ranks and the C++ baseline receive it. */
export interface SizeSpec {
  bytes: number;
  warmup: number;
  iters: number;
}

export interface RankPlan {
  colls: Coll[];
  /** Devices to measure; xpu rows are allReduce only (staging is the same for every collective). */
  devices: ('cpu' | 'xpu')[];
  sizes: SizeSpec[];
}

/** What a rank (rank 0) or the C++ baseline prints per measured case, after `ROW `. */
export interface Row {
  impl: 'xpu.dist' | 'c++ baseline';
  coll: Coll;
  device: 'cpu' | 'xpu';
  inPlace: boolean;
  bytes: number;
  count: number;
  /** Per iteration, the slowest rank's time. */
  times_us: number[];
  /** xpu only: mean per iteration of the slowest rank's staging (download + upload). */
  stage_us?: number;
  /** Mean per iteration of the slowest rank's time inside the engine. */
  engine_us?: number;
  wrong: number;
}
