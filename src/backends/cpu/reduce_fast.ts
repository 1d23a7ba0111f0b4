import type { ReduceSpec } from '../backend.js';
import { castNumber, dtypeInfo, f16BitsToNumber, writeHost, type HostArray } from '../../tensor/dtype.js';
import { coalesce, numel } from '../../tensor/shape.js';
import { loadRow } from './host_rows.js';
import { StridedWalker } from './indexing.js';
import { reduceRow } from './reduce.js';
import type { CpuStorage } from './storage.js';

/**
 * The cpu reduction when each output's reduced elements are one run at a fixed stride (the
 * reduced dims merge into one: the last dim, every element, or one strided dim): a loop per row
 * instead of the generic walker's steps and reads per element. Float sums and means accumulate
 * straight from the typed array in float64, in four interleaved partial sums (more independent
 * adds in flight; as accurate as one float64 sum at any length these arrays reach); max and min
 * run on the array too, with NaN winning as in reduce.ts; every other case loads the row into
 * float64 once (host_rows.ts, a loop per dtype) and runs reduce.ts's reduceRow on it.
 * Returns false when the reduced dims do not merge (the generic path runs).
 */
export function fastReduce(spec: ReduceSpec, out: CpuStorage): boolean {
  const { input, shape, keptRank, outDtype } = spec;
  const red = coalesce(shape.slice(keptRank), [input.strides.slice(keptRank)]);
  const r = numel(shape.slice(keptRank));
  if (red.shape.length > 1 || r === 0) return false;
  const stride = red.shape.length ? red.strides[0][0] : 1;
  const keptShape = shape.slice(0, keptRank);
  const rows = numel(keptShape);
  const walker = new StridedWalker(keptShape, [input.strides.slice(0, keptRank)], [input.offset]);
  const src = (input.storage as CpuStorage).data;
  const dst = out.data;
  const direct = directRow(spec);
  const row = direct ? null : new Float64Array(r);
  for (let o = 0; o < rows; o++) {
    const base = walker.e[0];
    let v: number;
    if (direct) v = direct(src, base, stride, r);
    else {
      loadRow(row!, src, input.dtype, base, stride, r, spec.accKind);
      v = reduceRow(spec, row!);
    }
    writeHost(dst, outDtype, o, castNumber(v, outDtype));
    walker.next();
  }
  return true;
}

type RowFn = (src: HostArray, base: number, stride: number, n: number) => number;

/** A loop straight over the array for float sum / mean / max / min (f32 accumulation kind). */
function directRow(spec: ReduceSpec): RowFn | null {
  const { dtype } = spec.input;
  if (spec.accKind !== 'f32' || !dtypeInfo(dtype).isFloat) return null;
  const f16 = dtype === 'float16';
  switch (spec.op) {
    case 'sum':
      return f16 ? (s, b, t, n) => sumF16(s as Uint16Array, b, t, n) : (s, b, t, n) => sumF32(s as Float32Array, b, t, n);
    case 'mean':
      return f16 ? (s, b, t, n) => sumF16(s as Uint16Array, b, t, n) / n : (s, b, t, n) => sumF32(s as Float32Array, b, t, n) / n;
    case 'max':
      return f16 ? (s, b, t, n) => maxF16(s as Uint16Array, b, t, n, 1) : (s, b, t, n) => maxF32(s as Float32Array, b, t, n, 1);
    case 'min':
      return f16 ? (s, b, t, n) => maxF16(s as Uint16Array, b, t, n, -1) : (s, b, t, n) => maxF32(s as Float32Array, b, t, n, -1);
    default:
      return null;
  }
}

function sumF32(src: Float32Array, base: number, stride: number, n: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let j = 0;
  if (stride === 1) {
    for (; j + 3 < n; j += 4) {
      s0 += src[base + j];
      s1 += src[base + j + 1];
      s2 += src[base + j + 2];
      s3 += src[base + j + 3];
    }
    for (; j < n; j++) s0 += src[base + j];
  } else {
    for (; j + 3 < n; j += 4) {
      const e = base + j * stride;
      s0 += src[e];
      s1 += src[e + stride];
      s2 += src[e + 2 * stride];
      s3 += src[e + 3 * stride];
    }
    for (; j < n; j++) s0 += src[base + j * stride];
  }
  return s0 + s1 + (s2 + s3);
}

function sumF16(src: Uint16Array, base: number, stride: number, n: number): number {
  let s0 = 0,
    s1 = 0;
  let j = 0;
  for (; j + 1 < n; j += 2) {
    s0 += f16BitsToNumber(src[base + j * stride]);
    s1 += f16BitsToNumber(src[base + (j + 1) * stride]);
  }
  if (j < n) s0 += f16BitsToNumber(src[base + j * stride]);
  return s0 + s1;
}

/** max (sign 1) or min (sign -1), NaN winning: the first NaN is kept (v > NaN is false). */
function maxF32(src: Float32Array, base: number, stride: number, n: number, sign: number): number {
  let best = src[base];
  for (let j = 1; j < n; j++) {
    const v = src[base + j * stride];
    if ((sign > 0 ? v > best : v < best) || (v !== v && best === best)) best = v;
  }
  return best;
}

function maxF16(src: Uint16Array, base: number, stride: number, n: number, sign: number): number {
  let best = f16BitsToNumber(src[base]);
  for (let j = 1; j < n; j++) {
    const v = f16BitsToNumber(src[base + j * stride]);
    if ((sign > 0 ? v > best : v < best) || (v !== v && best === best)) best = v;
  }
  return best;
}
