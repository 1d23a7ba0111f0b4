import { XpuDeviceError } from '../../errors.js';

/**
 * When the cpu's elementwise maps, row ops, reductions and rotary go to the native addon
 * (native/compute/elementwise.cc, rows.cc; bridges native_map.ts, native_rows.ts) instead of the
 * TypeScript loops (map_fast.ts, rows_fast.ts, reduce_fast.ts, rotary_fast.ts).
 *
 * Handing a job to the addon costs a N-API call (~1-2 us) and, on the compute thread, two thread
 * wake-ups and a notice back to the event loop; the TypeScript loops cost ~1-2 ns per element for
 * arithmetic and ~30-60 ns where an exp is involved (V8's Math.exp). So: below NATIVE_MIN elements
 * TypeScript; below QUEUE_MIN on the JS thread (single-threaded, vectorised) when the queue is
 * idle; from QUEUE_MIN, or whenever earlier native jobs are pending (order: an input may be the
 * output of one), on the compute thread, returning at once with the output marked as written by
 * the job. QUEUE_MIN is where the kernels start to use a second thread (kParallelMin in
 * native/compute/vexp.h): below it the compute thread would run them on one thread too, and only
 * the hand-off would be added (a 1M-element add took 1.2 ms queued, ~0.6 ms inline).
 *
 * XPU_CPU_ELEMENTWISE: `auto` (default), `ts` (never native), `native` (native for every case
 * the addon covers, whatever its size; an error where the addon is missing: for tests). Read at
 * the first op that asks.
 */
export const NATIVE_MIN = 1 << 12;
export const QUEUE_MIN = 1 << 21;
/**
 * exp, sigmoid and silu cost ~2.5 cycles an element in double (vexp.h), against numpy's float32
 * exp at ~0.6: they are worth a second thread from 2^19 elements (kParallelMinHeavy), where one
 * thread held a 1M exp at 0.63x numpy. On a busy box that second thread may stall at the barrier.
 */
export const HEAVY_QUEUE_MIN = 1 << 19;
let queueMin = QUEUE_MIN;

/** For tests: queue jobs from a smaller size, so the queued path runs without huge tensors. */
export function setQueueMinForTests(n: number): void {
  queueMin = n;
}

export type EwPath = 'auto' | 'ts' | 'native';

let cachedPath: EwPath | undefined;

/** Read once per process (every small op asks; process.env is a slow lookup), as XPU_POISON is. */
export function ewPath(): EwPath {
  if (cachedPath === undefined) {
    const v = (process.env.XPU_CPU_ELEMENTWISE ?? 'auto').toLowerCase();
    cachedPath = v === 'ts' || v === 'typescript' ? 'ts' : v === 'native' ? 'native' : 'auto';
  }
  return cachedPath;
}

/** Whether a case of n elements goes native at all (before looking at the addon). */
export function wantsNative(path: EwPath, n: number): boolean {
  return path === 'native' || (path === 'auto' && n >= NATIVE_MIN);
}

/** Run inline (JS thread, one thread) rather than queued: small enough and nothing pending. */
export function runsInline(n: number, idle: boolean, heavy = false): boolean {
  return idle && n < (heavy ? Math.min(queueMin, HEAVY_QUEUE_MIN) : queueMin);
}

/** The addon lacks a kernel: under XPU_CPU_ELEMENTWISE=native that is an error, else TypeScript runs. */
export function missingNative(path: EwPath, op: string, what: string): null {
  if (path === 'native') {
    throw new XpuDeviceError(`XPU_CPU_ELEMENTWISE=native, but ${what}`, {
      op,
      arg: 'XPU_CPU_ELEMENTWISE',
      expected: 'the native addon with its elementwise kernels (rebuild it)',
      got: what,
    });
  }
  return null;
}
