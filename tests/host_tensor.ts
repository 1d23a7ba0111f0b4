import type { DType } from '../src/tensor/dtype.js';
import { randomData, randomInts, rng, xpu } from './helpers.js';

/**
 * Float64 host tensors for exact references: a shape and a function from coordinates to a value.
 * Views (transpose, slice, select) are index maps here, computed independently of the library's
 * stride arithmetic, so a test compares the device's view logic with plain index math.
 */
export interface HostTensor {
  shape: number[];
  at: (c: number[]) => number;
}

export const numelOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A row-major host tensor over `data`. */
export function hostTensor(shape: number[], data: ArrayLike<number>): HostTensor {
  return {
    shape,
    at: (c) => {
      let flat = 0;
      for (let d = 0; d < shape.length; d++) flat = flat * shape[d] + c[d];
      return data[flat];
    },
  };
}

export function permuteH(h: HostTensor, perm: number[]): HostTensor {
  return {
    shape: perm.map((p) => h.shape[p]),
    at: (c) => {
      const src = new Array<number>(perm.length);
      perm.forEach((p, j) => (src[p] = c[j]));
      return h.at(src);
    },
  };
}

export function transposeH(h: HostTensor, a: number, b: number): HostTensor {
  const perm = h.shape.map((_, i) => i);
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return permuteH(h, perm);
}

/** h[..., start:end:step, ...] along dim (non-negative start/end within range). */
export function sliceH(h: HostTensor, dim: number, start: number, end: number, step = 1): HostTensor {
  const shape = h.shape.slice();
  shape[dim] = Math.max(0, Math.ceil((end - start) / step));
  return { shape, at: (c) => h.at(c.map((v, d) => (d === dim ? start + v * step : v))) };
}

/** Visits every coordinate in row-major order. */
export function forEachIndex(shape: readonly number[], fn: (c: number[]) => void): void {
  const n = numelOf(shape);
  const c = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    fn(c);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++c[d] < shape[d]) break;
      c[d] = 0;
    }
  }
}

/** The values of h in row-major order. */
export function flatValues(h: HostTensor): number[] {
  const out: number[] = [];
  forEachIndex(h.shape, (c) => out.push(h.at(c)));
  return out;
}

/** n random values exactly representable in `dtype` (never all zero), so copies compare exactly. */
export function exactValues(dtype: DType, n: number, seed: number): number[] {
  switch (dtype) {
    case 'float32':
      return Array.from(Float32Array.from(randomData(n, seed, 100)));
    case 'float16':
      return Array.from(randomInts(n, seed, -2047, 2047), (v) => v / 16);
    case 'int32':
      return Array.from(randomInts(n, seed, -2_000_000_000, 2_000_000_000));
    case 'uint32': {
      const r = rng(seed);
      return Array.from({ length: n }, () => Math.floor(r() * 2 ** 32));
    }
    case 'int8':
      return Array.from(randomInts(n, seed, -128, 127));
    case 'uint8':
      return Array.from(randomInts(n, seed, 0, 255));
    case 'bool':
      return Array.from(randomInts(n, seed, 0, 1));
  }
}

/** A device tensor and its host twin over the same random values. */
export function randomPair(device: string, dtype: DType, shape: number[], seed: number): { t: xpu.Tensor; h: HostTensor } {
  const values = exactValues(dtype, numelOf(shape), seed);
  return { t: xpu.tensor(Float64Array.from(values), { device, dtype, shape }), h: hostTensor(shape, values) };
}

/**
 * Fills the device's allocator cache with a block of sentinel values of the given size and frees
 * it, so the next output of that size most likely reuses it: an element a kernel forgets to write
 * then shows up as the sentinel instead of a lucky zero.
 */
export function poison(device: string, dtype: DType, shape: number[]): void {
  xpu.full(shape, dtype === 'bool' ? true : 77, { device, dtype }).dispose();
}
