/**
 * One measured ceiling of a device (bench/lib/roofline.ts): its FMA peak, read bandwidth or copy
 * bandwidth, from a probe made for that purpose (fma_peak.ts, bandwidth.ts), never from one of the
 * benchmarked kernels: a row is held to these, and a row above them is a measurement error.
 */
import { loadNative } from '../../src/backends/cpu/native.js';
import { summarise, type RepeatOptions, type Stats } from './timing.js';

export type CeilingKind = 'fma-f32' | 'fma-f16' | 'read' | 'copy';

export interface Ceiling {
  kind: CeilingKind;
  /** How it was measured, for the reader ('copyBufferToBuffer', 'native memcpy, 2 threads', ...). */
  method: string;
  /**
   * GFLOP/s (fma-*) or GB/s (read, copy), from the fastest pass: a ceiling is what the hardware
   * can do, and load from other processes only ever slows a pass down.
   */
  value: number;
  /** Milliseconds per pass over the timed passes (their spread says how loaded the machine was). */
  stats: Stats;
  /** The work of one pass: flops, or bytes (a copy counts what it reads plus what it writes). */
  perPass: number;
  /** Bytes the pass streams through (bandwidth probes): twice the last-level cache, so not a cache's bandwidth. */
  workingSetBytes?: number;
  threads?: number;
  /** Not measured on the hardware: a JS loop standing in for a missing native probe (addon absent). */
  estimate?: boolean;
  /** Measured again after the suites, because rows came out above the first measurement (session.ts). */
  recheck?: boolean;
}

/**
 * Timed passes of a cpu probe: many short ones (~10-30 ms each), of which the fastest counts. On a
 * machine shared with other processes a long pass is always interrupted; a short one now and then
 * is not.
 */
export const cpuPasses = (opts: RepeatOptions): number => Math.max(opts.reps, 12);

export function ceilingFrom(kind: CeilingKind, method: string, perPass: number, passMs: number[], extra: Partial<Ceiling> = {}): Ceiling {
  const stats = summarise(passMs);
  return { kind, method, value: perPass / (stats.minMs * 1e6), stats, perPass, ...extra };
}

/** The addon's probes (native/compute/probe.cc); seconds per timed pass. */
export interface NativeProbe {
  fma(iterations: number, passes: number): { seconds: number[]; flopsPerPass: number; isa: string; threads: number };
  read(bytes: number, passes: number): ProbePasses;
  copy(bytes: number, passes: number): ProbePasses;
}

export interface ProbePasses {
  seconds: number[];
  bytesPerPass: number;
  method: string;
  threads: number;
}

/** The addon's probe object, or null when the addon is absent or predates it. */
export function nativeProbe(): NativeProbe | null {
  const addon = loadNative().addon as unknown as { probe?: NativeProbe } | null;
  return addon?.probe && typeof addon.probe.fma === 'function' ? addon.probe : null;
}
