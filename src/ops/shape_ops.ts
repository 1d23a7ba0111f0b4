import { XpuShapeError, XpuValueError } from '../errors.js';
import { fmtValue } from '../format_value.js';
import { arrayArg, intArg, normalizeDim, normalizeDims } from '../tensor/shape.js';
import { makeView, type Tensor } from '../tensor/tensor.js';
import { copyAs, runMap, tensorArg } from './common.js';
import { COPY_KERNEL } from './copy_kernel.js';
import { dtypeInfo } from '../tensor/dtype.js';
import { cat } from './structural.js';
import { narrow, reshape, view } from './views.js';
import { differentiable, track } from '../autograd/record.js';

/**
 * Shape ops: split / chunk (views, no copy), repeat / tile (one copy of an expanded view), flip
 * (one copy through negative strides), roll (a cat of two slices per rolled dim). pad is in
 * pad.ts. Results of the copying ops are fresh contiguous tensors, as in torch.
 */

/** Integers from a number or an array argument (repeat(2, 3) and repeat([2, 3]) alike). */
function intList(op: string, arg: string, x: unknown, min = -Number.MAX_SAFE_INTEGER): number[] {
  const list = typeof x === 'number' ? [x] : arrayArg(op, arg, x);
  return list.map((v) => intArg(op, arg, v, { min }));
}

/**
 * Splits into views along `dim`: chunks of `splitSize` (the last may be smaller), or of the
 * given sizes, which must add up to the dim's size (torch.split).
 */
export function split(x: Tensor, splitSizeOrSections: number | number[], dim = 0): Tensor[] {
  const op = 'split';
  tensorArg(op, 'input', x);
  const d = normalizeDim(op, dim, x.ndim);
  if (x.ndim === 0)
    throw new XpuShapeError('cannot split a 0-d tensor', {
      op,
      arg: 'input',
      expected: 'a tensor with at least 1 dim',
      got: 'a 0-d tensor',
    });
  const n = x.shape[d];
  let sizes: number[];
  if (typeof splitSizeOrSections === 'number') {
    const s = intArg(op, 'splitSizeOrSections', splitSizeOrSections, { min: 0 });
    if (s === 0 && n !== 0)
      throw new XpuValueError('split size can be 0 only for a dim of size 0', {
        op,
        arg: 'splitSizeOrSections',
        expected: 'a size >= 1',
        got: '0',
      });
    sizes = s === 0 ? [0] : Array.from({ length: Math.max(1, Math.ceil(n / s)) }, (_, i) => Math.min(s, n - i * s));
  } else {
    sizes = intList(op, 'splitSizeOrSections', splitSizeOrSections, 0);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n)
      throw new XpuShapeError("section sizes must add up to the dim's size", {
        op,
        arg: 'splitSizeOrSections',
        expected: `sizes adding up to ${n}`,
        got: `${fmtValue(splitSizeOrSections)} (sum ${total})`,
      });
  }
  // One node for all the pieces: its backward is one cat of their gradients (zeros for a piece
  // that got none), where a node per narrow would zero-pad each piece to the whole and add them.
  return differentiable(
    'split',
    [x],
    () => {
      let start = 0;
      return sizes.map((s) => {
        const v = narrow(x, d, start, s);
        start += s;
        return v;
      });
    },
    { dim: d, sizes, shape: x.shape },
  );
}

/**
 * Splits into at most `chunks` views of ceil(size / chunks) along `dim` (fewer when the dim runs
 * out, as torch.chunk); a dim of size 0 gives `chunks` empty views.
 */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const op = 'chunk';
  tensorArg(op, 'input', x);
  const c = intArg(op, 'chunks', chunks, { min: 1 });
  const d = normalizeDim(op, dim, x.ndim);
  if (x.ndim === 0)
    throw new XpuShapeError('chunk expects at least a 1-dim tensor', {
      op,
      arg: 'input',
      expected: 'a tensor with at least 1 dim',
      got: 'a 0-d tensor',
    });
  const n = x.shape[d];
  if (n === 0) return Array.from({ length: c }, () => narrow(x, d, 0, 0));
  return split(x, Math.ceil(n / c), d);
}

/**
 * x repeated along each dim (torch.Tensor.repeat): repeats has at least x.ndim entries; extra
 * leading entries add dims. A view of shape [r0, s0, r1, s1, ...] with zero strides on the r's,
 * copied once (in groups of three repeated dims, so that no copy has more than MAX_RANK dims).
 */
export function repeat(x: Tensor, repeats: number | number[]): Tensor {
  const op = 'repeat';
  tensorArg(op, 'input', x);
  const reps = intList(op, 'repeats', repeats, 0);
  if (reps.length < x.ndim) {
    throw new XpuShapeError('repeats must have at least as many entries as the tensor has dims', {
      op,
      arg: 'repeats',
      expected: `at least ${x.ndim} entries`,
      got: fmtValue(repeats),
    });
  }
  return differentiable('repeat', [x], () => repeatDims(op, x, reps), { reps, shape: x.shape });
}

function repeatDims(op: string, x: Tensor, reps: number[]): Tensor {
  const lead = reps.length - x.ndim;
  let cur = lead > 0 || x.ndim === 0 ? view(x, [...Array<number>(lead).fill(1), ...x.shape]) : x;
  const owned: Tensor[] = cur === x ? [] : [cur];
  const repeated = reps.map((r, i) => i).filter((i) => reps[i] !== 1);
  for (let g = 0; g < repeated.length || g === 0; g += 3) {
    const group = new Set(repeated.slice(g, g + 3));
    const shape: number[] = [];
    const strides: number[] = [];
    cur.shape.forEach((s, i) => {
      if (group.has(i)) (shape.push(reps[i]), strides.push(0));
      shape.push(s);
      strides.push(cur.strides[i]);
    });
    const expanded = makeView(cur, shape, strides, cur.offset);
    const copy = copyAs(op, expanded);
    expanded.dispose();
    const next = reshape(
      copy,
      cur.shape.map((s, i) => (group.has(i) ? s * reps[i] : s)),
    );
    copy.dispose();
    owned.push(next);
    cur = next;
  }
  const out = owned.pop()!;
  for (const t of owned) t.dispose();
  return out;
}

/** torch.tile: repeat, with dims padded by leading 1s when there are fewer than x.ndim. */
export function tile(x: Tensor, dims: number | number[]): Tensor {
  const op = 'tile';
  tensorArg(op, 'input', x);
  const reps = intList(op, 'dims', dims, 0);
  const all = [...Array<number>(Math.max(0, x.ndim - reps.length)).fill(1), ...reps];
  return differentiable('repeat', [x], () => repeatDims(op, x, all), { reps: all, shape: x.shape });
}

/**
 * x reversed along `dims` (torch.flip): one copy of a view with those strides negated, starting
 * at the last element of each flipped dim.
 */
export function flip(x: Tensor, dims: number | number[]): Tensor {
  const op = 'flip';
  tensorArg(op, 'input', x);
  const list = intList(op, 'dims', dims);
  const ds = normalizeDims(op, list, x.ndim);
  if (x.ndim === 0) return track('alias', x, copyAs(op, x));
  let offset = x.offset;
  const strides = x.strides.map((s, i) => {
    if (!ds.includes(i)) return s;
    offset += (x.shape[i] - 1) * s;
    return -s;
  });
  if (x.numel === 0) return track('alias', x, copyAs(op, x));
  return track(
    'flip',
    x,
    runMap({
      device: x.device,
      kernel: COPY_KERNEL,
      outShape: x.shape,
      outDtype: x.dtype,
      argKind: dtypeInfo(x.dtype).compute,
      inputs: [{ storage: x.ref.storage, dtype: x.dtype, strides, offset }],
    }),
    { dims: ds },
  );
}

/**
 * x rolled by `shifts` along `dims` (torch.roll): element i moves to (i + shift) mod size. With
 * no dims, the flattened tensor rolls and keeps its shape. Each rolled dim is one cat of the two
 * slices [size - shift, size) and [0, size - shift).
 */
export function roll(x: Tensor, shifts: number | number[], dims?: number | number[]): Tensor {
  const op = 'roll';
  tensorArg(op, 'input', x);
  const sh = intList(op, 'shifts', shifts);
  if (dims === undefined || dims === null) {
    if (sh.length !== 1)
      throw new XpuShapeError('without dims, shifts must be one number', {
        op,
        arg: 'shifts',
        expected: 'one shift',
        got: fmtValue(shifts),
      });
    const flat = reshape(x, [x.numel]);
    const rolled = roll(flat, sh, 0);
    flat.dispose();
    const out = reshape(rolled, x.shape.slice());
    rolled.dispose();
    return out;
  }
  const ds = intList(op, 'dims', dims).map((d) => normalizeDim(op, d, x.ndim, 'dims'));
  if (ds.length !== sh.length)
    throw new XpuShapeError('shifts and dims must have the same length', {
      op,
      arg: 'dims',
      expected: `${sh.length} dims`,
      got: fmtValue(dims),
    });
  if (x.ndim === 0)
    throw new XpuShapeError('cannot roll a 0-d tensor along a dim', {
      op,
      arg: 'dims',
      expected: 'no dims for a 0-d tensor',
      got: fmtValue(dims),
    });
  let cur = x;
  ds.forEach((d, j) => {
    const n = cur.shape[d];
    const s = n === 0 ? 0 : ((sh[j] % n) + n) % n;
    if (s === 0) return;
    const a = narrow(cur, d, n - s, s);
    const b = narrow(cur, d, 0, n - s);
    const next = cat([a, b], d);
    a.dispose();
    b.dispose();
    if (cur !== x) cur.dispose();
    cur = next;
  });
  return cur === x ? track('alias', x, copyAs(op, x)) : cur;
}
