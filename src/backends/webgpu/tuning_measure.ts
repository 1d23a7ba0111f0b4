import type { Storage } from '../backend.js';
import { allocHost, castNumber, writeHost, type DType } from '../../tensor/dtype.js';

/**
 * What the autotuners (gemm_autotune.ts, attention_autotune.ts) share when they measure a
 * candidate: seeded inputs that leave the user's manualSeed stream alone, and a median wall time.
 */

/** A seeded uniform [-1, 1) array (an LCG of its own, not the runtime's Philox stream). */
export function seededValues(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a / 2 ** 31 - 1;
  }
  return out;
}

/** A storage of `n` seeded values (seededValues) in `dtype`, uploaded as tensor() would. */
export function seededStorage(
  backend: { upload(dtype: DType, data: ReturnType<typeof allocHost>, op: string): Storage },
  dtype: DType,
  n: number,
  seed: number,
): Storage {
  const values = seededValues(n, seed);
  const host = allocHost(dtype, n);
  for (let i = 0; i < n; i++) writeHost(host, dtype, i, castNumber(values[i], dtype));
  return backend.upload(dtype, host, 'tensor');
}

/**
 * Median milliseconds of `run` (which only enqueues) followed by `synchronize`, over `reps`
 * timed runs after one untimed run that compiles the pipelines; at least 1 us.
 */
export async function medianWallMs(run: () => void, synchronize: () => Promise<void>, reps: number): Promise<number> {
  run();
  await synchronize();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    run();
    await synchronize();
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  return Math.max(times[Math.floor(times.length / 2)], 1e-3);
}
