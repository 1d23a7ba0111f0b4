import { XpuIndexError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { fmtValue, typeName } from '../format_value.js';

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function fmtShape(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/**
 * The one check for every integer argument of a public op (sizes, counts, indices, steps...):
 * not a number (a BigInt, a string, null) is an XpuTypeError; NaN, an infinity or a fraction is
 * an XpuValueError; outside [min, max] it is `rangeError` (XpuIndexError for indices, by default
 * XpuValueError). Nothing after this check ever sees NaN, so no op can make a shape of [NaN].
 */
export function intArg(
  op: string,
  arg: string,
  x: unknown,
  range: { min?: number; max?: number; rangeError?: typeof XpuValueError; expected?: string } = {},
): number {
  const { min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, rangeError = XpuValueError } = range;
  const expected =
    range.expected ??
    (min === -Number.MAX_SAFE_INTEGER
      ? max === Number.MAX_SAFE_INTEGER
        ? 'an integer'
        : `an integer <= ${max}`
      : max === Number.MAX_SAFE_INTEGER
        ? `an integer >= ${min}`
        : `an integer in [${min}, ${max}]`);
  if (typeof x !== 'number') throw new XpuTypeError('must be a number', { op, arg, expected: 'number', got: typeName(x) });
  if (!Number.isInteger(x)) throw new XpuValueError('must be an integer', { op, arg, expected, got: fmtValue(x) });
  if (x < min || x > max) throw new rangeError('out of range', { op, arg, expected, got: fmtValue(x) });
  return x;
}

/** A number argument (a scalar, eps, a scale...): typeof number, and finite when `finite`. */
export function numberArg(op: string, arg: string, x: unknown, finite = false): number {
  if (typeof x !== 'number') throw new XpuTypeError('must be a number', { op, arg, expected: 'number', got: typeName(x) });
  if (finite && !Number.isFinite(x))
    throw new XpuValueError('must be a finite number', { op, arg, expected: 'a finite number', got: fmtValue(x) });
  return x;
}

/** An array argument (a shape, a list of dims): anything else is an XpuTypeError. */
export function arrayArg(op: string, arg: string, x: unknown, expected = 'number[]'): unknown[] {
  if (!Array.isArray(x)) throw new XpuTypeError('must be an array', { op, arg, expected, got: typeName(x) });
  return x;
}

export function checkShape(op: string, arg: string, shape: unknown): number[] {
  const list = arrayArg(op, arg, shape, 'an array of non-negative integers');
  const bad = list.findIndex((d) => typeof d !== 'number');
  if (bad >= 0)
    throw new XpuTypeError('shape entries must be numbers', {
      op,
      arg,
      expected: 'an array of non-negative integers',
      got: `${typeName(list[bad])} at index ${bad}`,
    });
  if (!list.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    throw new XpuShapeError('invalid shape', { op, arg, expected: 'an array of non-negative integers', got: fmtValue(shape) });
  }
  return list.slice() as number[];
}

/** Wraps a possibly negative dim into [0, rank) (a 0-d tensor accepts 0 and -1, as PyTorch). */
export function normalizeDim(op: string, dim: unknown, rank: number, arg = 'dim'): number {
  const r = Math.max(rank, 1);
  const d = intArg(op, arg, dim, { min: -r, max: r - 1, rangeError: XpuIndexError });
  return d < 0 ? d + r : d;
}

/** Normalizes a dims argument (undefined = all dims), sorted and without repeats. */
export function normalizeDims(op: string, dims: number | readonly number[] | undefined, rank: number): number[] {
  if (dims === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...arrayArg(op, 'dim', dims)];
  const out = list.map((d) => normalizeDim(op, d, rank));
  if (new Set(out).size !== out.length) {
    throw new XpuValueError('dims repeat', { op, arg: 'dim', expected: 'distinct dims', got: fmtValue(list) });
  }
  return out.sort((a, b) => a - b);
}

/** NumPy/PyTorch broadcasting of several shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else {
        throw new XpuShapeError('shapes cannot be broadcast together', {
          op,
          arg: 'input',
          expected: 'sizes that are equal or 1 in each trailing dim',
          got: shapes.map(fmtShape).join(' and '),
        });
      }
    }
  }
  return out;
}

/** Strides that read a tensor of (shape, strides) as if expanded to `target` (0 where broadcast). */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[lead + i] = shape[i] === 1 ? 0 : strides[i];
  return out;
}

/**
 * Merges adjacent dims that every operand walks contiguously, so kernels index fewer dims.
 * Returns the merged shape and each operand's merged strides.
 */
export function coalesce(shape: Shape, stridesList: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && stridesList.every((s, k) => outStrides[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      stridesList.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      stridesList.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Infers a -1 entry and checks that a reshape keeps the element count. */
export function inferReshape(op: string, from: Shape, to: readonly number[]): number[] {
  const n = numel(from);
  const out = arrayArg(op, 'shape', to).slice() as number[];
  const bad = out.findIndex((d) => typeof d !== 'number');
  if (bad >= 0)
    throw new XpuTypeError('shape entries must be numbers', {
      op,
      arg: 'shape',
      expected: 'integers >= 0 and at most one -1',
      got: `${typeName(out[bad])} at index ${bad}`,
    });
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1 || out.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new XpuShapeError('invalid target shape', { op, arg: 'shape', expected: 'integers >= 0 and at most one -1', got: fmtShape(to) });
  }
  if (neg === 1) {
    const known = out.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const idx = out.indexOf(-1);
    if (known === 0 || n % known !== 0) {
      throw new XpuShapeError('cannot infer the -1 dim', { op, arg: 'shape', expected: `a shape with ${n} elements`, got: fmtShape(to) });
    }
    out[idx] = n / known;
  }
  if (numel(out) !== n) {
    throw new XpuShapeError('shape does not match the number of elements', {
      op,
      arg: 'shape',
      expected: `a shape with ${n} elements (from ${fmtShape(from)})`,
      got: fmtShape(to),
    });
  }
  return out;
}

/**
 * Strides for viewing (shape, strides) as `to` without a copy, or null when the memory layout
 * does not allow it (PyTorch's view rules: only contiguous runs of dims can be split or merged).
 */
export function viewStrides(shape: Shape, strides: readonly number[], to: Shape): number[] | null {
  const n = numel(shape);
  if (n === 0) return contiguousStrides(to);
  const oldS: number[] = [],
    oldT: number[] = [];
  for (let i = 0; i < shape.length; i++)
    if (shape[i] !== 1) {
      oldS.push(shape[i]);
      oldT.push(strides[i]);
    }
  const out = new Array<number>(to.length);
  let oi = 0;
  let ni = 0;
  while (ni < to.length || oi < oldS.length) {
    // Skip size-1 target dims: any stride works.
    if (ni < to.length && to[ni] === 1) {
      out[ni] = 1;
      ni++;
      continue;
    }
    if (oi >= oldS.length || ni >= to.length) return null;
    // Take a chunk of old dims that is contiguous and a chunk of new dims with equal size.
    let oldSize = oldS[oi];
    let oEnd = oi;
    let newSize = to[ni];
    let nEnd = ni;
    while (oldSize !== newSize) {
      if (oldSize < newSize) {
        oEnd++;
        if (oEnd >= oldS.length) return null;
        if (oldT[oEnd - 1] !== oldT[oEnd] * oldS[oEnd]) return null;
        oldSize *= oldS[oEnd];
      } else {
        nEnd++;
        if (nEnd >= to.length) return null;
        newSize *= to[nEnd];
      }
    }
    for (let k = oi; k < oEnd; k++) if (oldT[k] !== oldT[k + 1] * oldS[k + 1]) return null;
    let st = oldT[oEnd];
    for (let k = nEnd; k >= ni; k--) {
      out[k] = st;
      st *= to[k];
    }
    oi = oEnd + 1;
    ni = nEnd + 1;
  }
  return out;
}
