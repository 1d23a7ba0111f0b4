import { expect } from 'vitest';
import * as xpu from '../src/index.js';

// The runtime opens nothing at import: open the GPU here, as a program does before its first xpu
// tensor, so every test file that uses the runtime (through these helpers) can pick 'xpu'.
await xpu.ready();

/**
 * Shared test helpers: the devices to run on, seeded host data, and the float64 reference checks
 * (relative error ||out - ref|| / ||ref||, DESIGN.md's correctness rule).
 */

/** Every device the suite must cover. In CI (XPU_REQUIRE_GPU=1) a missing xpu is a failure. */
export function testDevices(): ('cpu' | 'xpu')[] {
  if (xpu.accelerator.isAvailable()) return ['cpu', 'xpu'];
  if (process.env.XPU_REQUIRE_GPU === '1') throw new Error(`xpu device required but unavailable: ${xpu.accelerator.unavailable()}`);
  return ['cpu'];
}

/** A small seeded PRNG (mulberry32) for host-side data, independent of xpu's generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n normal-ish samples in float64 (sum of uniforms), never all zeros. */
export function randomData(n: number, seed: number, scale = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() + r() + r() - 1.5) * 2 * scale;
  return out;
}

export function randomInts(n: number, seed: number, lo: number, hi: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
}

export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (out[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Asserts shape, length and relative error against a float64 reference. */
export function expectClose(out: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what = ''): void {
  expect(out.length, `${what} length`).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    // NaN and infinities must sit in the same places.
    if (!Number.isFinite(ref[i]) || !Number.isFinite(out[i])) {
      expect(
        Object.is(out[i], ref[i]) || (Number.isNaN(out[i]) && Number.isNaN(ref[i])),
        `${what} element ${i}: ${out[i]} vs ${ref[i]}`,
      ).toBe(true);
    }
  }
  const finiteOut: number[] = [];
  const finiteRef: number[] = [];
  for (let i = 0; i < ref.length; i++)
    if (Number.isFinite(ref[i])) {
      finiteOut.push(out[i]);
      finiteRef.push(ref[i]);
    }
  const err = relErr(finiteOut, finiteRef);
  expect(err, `${what} relative error ${err}`).toBeLessThan(tol);
}

/** Element-by-element equality (integers, bools, exact ops). */
export function expectEqual(out: ArrayLike<number>, ref: ArrayLike<number>, what = ''): void {
  expect(Array.from(out), what).toEqual(Array.from(ref));
}

/** Reference strided read: the element of a row-major float64 array at `coords`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Runs fn, expects it to throw an XpuError of class `cls`, and returns the error for checks. */
export function caught<E extends Error>(fn: () => unknown, cls: new (...a: never[]) => E): E {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(cls);
  expect(err).toBeInstanceOf(xpu.XpuError);
  return err as E;
}

/** Awaits `p`, expects it to reject with an XpuError of class `cls`, and returns the error. */
export async function caughtAsync<E extends Error>(p: Promise<unknown>, cls: new (...a: never[]) => E): Promise<E> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(cls);
  expect(err).toBeInstanceOf(xpu.XpuError);
  return err as E;
}

/** Tolerance for a float dtype after a few ops (DESIGN.md bounds). */
export const TOL = { float32: 1e-5, float16: 2e-3 } as const;

export { xpu };
