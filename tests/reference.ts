import { contiguousStrides, xpu } from './helpers.js';

/**
 * Host-side helpers for the reduce and norm tests: strided reads that build the logical contents
 * of a view from its base data (with strides written out by hand in each test, not taken from the
 * tensor), and output poisoning so a kernel that writes nothing cannot pass on stale memory.
 */

/** The row-major contents of the view (shape, strides, offset) over `base`. */
export function viewHost(base: ArrayLike<number>, shape: readonly number[], strides: readonly number[], offset = 0): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const cs = contiguousStrides(shape);
  for (let i = 0; i < n; i++) {
    let e = offset;
    for (let d = 0; d < shape.length; d++) e += (Math.floor(i / cs[d]) % shape[d]) * strides[d];
    out[i] = base[e];
  }
  return out;
}

/**
 * Fills and frees blocks of `numels` elements with NaN on the device, so the caching allocator
 * hands poisoned memory to the next outputs of those sizes.
 */
export function poison(device: string, ...numels: number[]): void {
  for (const n of numels) xpu.full([n], NaN, { device }).dispose();
}

/**
 * Groups the elements of a row-major array of `shape` by their kept coordinates: one group per
 * output element (in row-major order), each in row-major order of the reduced dims.
 */
export function groups(data: ArrayLike<number>, shape: readonly number[], dims: readonly number[]): number[][] {
  const rank = shape.length;
  const reduced = new Set(dims.map((d) => (d < 0 ? d + rank : d)));
  const kept = shape.map((_, d) => d).filter((d) => !reduced.has(d));
  const outCount = kept.reduce((a, d) => a * shape[d], 1);
  const out: number[][] = Array.from({ length: outCount }, () => []);
  const cs = contiguousStrides(shape);
  for (let i = 0; i < data.length; i++) {
    let o = 0;
    for (const d of kept) o = o * shape[d] + (Math.floor(i / cs[d]) % shape[d]);
    out[o].push(data[i]);
  }
  return out;
}
