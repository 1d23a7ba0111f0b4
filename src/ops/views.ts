import { XpuIndexError, XpuShapeError, XpuValueError } from '../errors.js';
import { fmtValue } from '../format_value.js';
import { arrayArg, fmtShape, inferReshape, intArg, normalizeDim, viewStrides } from '../tensor/shape.js';
import { makeView, type Tensor } from '../tensor/tensor.js';
import { copyAs, tensorArg } from './common.js';
import { track } from '../autograd/record.js';

/**
 * Views share storage with their base: only shape, strides and offset change, no data moves.
 * reshape() and flatten() copy only when the layout leaves no other way, as in PyTorch.
 */

export function view(t: Tensor, shape: number[]): Tensor {
  tensorArg('view', 'input', t);
  const to = inferReshape('view', t.shape, shape);
  const st = viewStrides(t.shape, t.strides, to);
  if (!st) {
    throw new XpuShapeError("view size is not compatible with the input's strides", {
      op: 'view',
      arg: 'shape',
      expected: 'a shape that splits or merges only contiguous dims (use reshape() to copy)',
      got: fmtShape(shape),
    });
  }
  return track('reshape', t, makeView(t, to, st, t.offset), { shape: t.shape });
}

export function reshape(t: Tensor, shape: number[]): Tensor {
  tensorArg('reshape', 'input', t);
  const to = inferReshape('reshape', t.shape, shape);
  const st = viewStrides(t.shape, t.strides, to);
  if (st) return track('reshape', t, makeView(t, to, st, t.offset), { shape: t.shape });
  const c = copyAs('reshape', t);
  const v = makeView(c, to, viewStrides(c.shape, c.strides, to)!, 0);
  c.dispose();
  return track('reshape', t, v, { shape: t.shape });
}

export function permute(t: Tensor, dims: number[]): Tensor {
  tensorArg('permute', 'input', t);
  const nd = arrayArg('permute', 'dims', dims).map((d) => normalizeDim('permute', d, t.ndim, 'dims'));
  if (nd.length !== t.ndim || new Set(nd).size !== nd.length) {
    throw new XpuValueError("dims must be a permutation of the tensor's dims", {
      op: 'permute',
      arg: 'dims',
      expected: `a permutation of 0..${t.ndim - 1}`,
      got: fmtValue(dims),
    });
  }
  return track(
    'permute',
    t,
    makeView(
      t,
      nd.map((d) => t.shape[d]),
      nd.map((d) => t.strides[d]),
      t.offset,
    ),
    { dims: nd },
  );
}

export function transpose(t: Tensor, dim0: number, dim1: number): Tensor {
  tensorArg('transpose', 'input', t);
  const a = normalizeDim('transpose', dim0, t.ndim, 'dim0');
  const b = normalizeDim('transpose', dim1, t.ndim, 'dim1');
  const perm = Array.from({ length: t.ndim }, (_, i) => i);
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return t.ndim === 0 ? track('alias', t, makeView(t, [], [], t.offset)) : permute(t, perm);
}

/** 2-D transpose (t.T for matrices, a no-op view for 0-D and 1-D). */
export function t2(t: Tensor): Tensor {
  tensorArg('t', 'input', t);
  if (t.ndim > 2)
    throw new XpuShapeError('t() expects a tensor with <= 2 dims', { op: 't', arg: 'input', expected: '<= 2 dims', got: `${t.ndim} dims` });
  return t.ndim < 2 ? track('alias', t, makeView(t.check('t'), t.shape, t.strides, t.offset)) : transpose(t, 0, 1);
}

export function expand(t: Tensor, shape: number[]): Tensor {
  tensorArg('expand', 'input', t);
  arrayArg('expand', 'shape', shape).forEach((d) => intArg('expand', 'shape', d, { min: -1, rangeError: XpuShapeError }));
  if (shape.length < t.ndim) {
    throw new XpuShapeError('expand cannot drop dims', {
      op: 'expand',
      arg: 'shape',
      expected: `at least ${t.ndim} dims`,
      got: fmtShape(shape),
    });
  }
  const lead = shape.length - t.ndim;
  const outShape: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const src = i - lead;
    const want = shape[i];
    if (src < 0) {
      if (!Number.isInteger(want) || want < 0)
        throw new XpuShapeError('new leading dims need a size (-1 is not allowed there)', {
          op: 'expand',
          arg: 'shape',
          expected: 'integer sizes >= 0',
          got: fmtShape(shape),
        });
      outShape.push(want);
      strides.push(0);
      continue;
    }
    const have = t.shape[src];
    const size = want === -1 ? have : want;
    if (!Number.isInteger(size) || size < 0) {
      throw new XpuShapeError('invalid expanded size', {
        op: 'expand',
        arg: 'shape',
        expected: `a size >= 0 or -1 at dim ${i}`,
        got: fmtShape(shape),
      });
    }
    if (size !== have && have !== 1) {
      throw new XpuShapeError('expanded size must match the existing size or the existing size must be 1', {
        op: 'expand',
        arg: 'shape',
        expected: `size ${have} or any size where the size is 1, at dim ${i} (input ${fmtShape(t.shape)})`,
        got: fmtShape(shape),
      });
    }
    outShape.push(size);
    strides.push(size === have ? t.strides[src] : 0);
  }
  return track('expand', t, makeView(t, outShape, strides, t.offset)); // the engine sums the gradient back
}

export function narrow(t: Tensor, dim: number, start: number, length: number): Tensor {
  tensorArg('narrow', 'input', t);
  const d = normalizeDim('narrow', dim, t.ndim);
  noZeroDim('narrow', t);
  intArg('narrow', 'start', start);
  intArg('narrow', 'length', length);
  const size = t.shape[d];
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(s) || s < 0 || !Number.isInteger(length) || length < 0 || s + length > size) {
    throw new XpuIndexError('range out of bounds', {
      op: 'narrow',
      arg: 'start',
      expected: `start + length <= ${size} with start in [${-size}, ${size}]`,
      got: `start ${start}, length ${length}`,
    });
  }
  const shape = t.shape.slice();
  shape[d] = length;
  return track('slice', t, makeView(t, shape, t.strides, t.offset + s * t.strides[d]), { shape: t.shape, dim: d, start: s, step: 1 });
}

/**
 * narrow, slice and select index into a dim, which a 0-d tensor does not have (normalizeDim lets
 * dim 0 through for it, as PyTorch does for reductions), so they refuse it as PyTorch does.
 */
function noZeroDim(op: string, t: Tensor): void {
  if (t.ndim === 0)
    throw new XpuIndexError(`${op}() cannot be applied to a 0-d tensor`, {
      op,
      arg: 'input',
      expected: 'a tensor with at least 1 dim',
      got: 'a 0-d tensor',
    });
}

/** Python-style slice along a dim: start/end clamp, negative indices count from the end, step > 0. */
export function slice(t: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  tensorArg('slice', 'input', t);
  const d = normalizeDim('slice', dim, t.ndim);
  noZeroDim('slice', t);
  const size = t.shape[d];
  intArg('slice', 'start', start);
  // Python's x[a:None]: a missing end (undefined or null) runs to the end of the dim.
  if (end !== undefined && end !== null) intArg('slice', 'end', end);
  intArg('slice', 'step', step, { min: 1 });
  const clamp = (v: number) => Math.min(size, Math.max(0, v < 0 ? v + size : v));
  const s = clamp(start);
  const e = Math.max(s, clamp(end ?? size));
  const shape = t.shape.slice();
  const strides = t.strides.slice();
  shape[d] = Math.ceil((e - s) / step);
  strides[d] = t.strides[d] * step;
  return track('slice', t, makeView(t, shape, strides, t.offset + s * t.strides[d]), { shape: t.shape, dim: d, start: s, step });
}

/** The slice at `index` along `dim`, with that dim removed (t[i] for dim 0). */
export function select(t: Tensor, dim: number, index: number): Tensor {
  tensorArg('select', 'input', t);
  const d = normalizeDim('select', dim, t.ndim);
  noZeroDim('select', t);
  const size = t.shape[d];
  intArg('select', 'index', index, { min: -size, max: size - 1, rangeError: XpuIndexError });
  const i = index < 0 ? index + size : index;
  return track(
    'select',
    t,
    makeView(
      t,
      t.shape.filter((_, j) => j !== d),
      t.strides.filter((_, j) => j !== d),
      t.offset + i * t.strides[d],
    ),
    { shape: t.shape, dim: d, index: i },
  );
}

export function squeeze(t: Tensor, dim?: number | number[]): Tensor {
  tensorArg('squeeze', 'input', t);
  const dims =
    dim === undefined || dim === null
      ? t.shape.map((_, i) => i)
      : (Array.isArray(dim) ? dim : [dim]).map((d) => normalizeDim('squeeze', d, t.ndim));
  const drop = new Set(dims.filter((d) => t.shape[d] === 1));
  return track(
    'reshape',
    t,
    makeView(
      t,
      t.shape.filter((_, i) => !drop.has(i)),
      t.strides.filter((_, i) => !drop.has(i)),
      t.offset,
    ),
    { shape: t.shape },
  );
}

export function unsqueeze(t: Tensor, dim: number): Tensor {
  tensorArg('unsqueeze', 'input', t);
  const d = normalizeDim('unsqueeze', dim, t.ndim + 1);
  const shape = t.shape.slice();
  const strides = t.strides.slice();
  const stride = d < t.ndim ? t.shape[d] * t.strides[d] : 1;
  shape.splice(d, 0, 1);
  strides.splice(d, 0, stride);
  return track('reshape', t, makeView(t, shape, strides, t.offset), { shape: t.shape });
}

export function flatten(t: Tensor, startDim = 0, endDim = -1): Tensor {
  tensorArg('flatten', 'input', t);
  if (t.ndim === 0) return reshape(t, [1]);
  const s = normalizeDim('flatten', startDim, t.ndim, 'startDim');
  const e = normalizeDim('flatten', endDim, t.ndim, 'endDim');
  if (s > e)
    throw new XpuValueError('startDim must not come after endDim', { op: 'flatten', arg: 'startDim', expected: `<= ${e}`, got: String(s) });
  const merged = t.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(t, [...t.shape.slice(0, s), merged, ...t.shape.slice(e + 1)]);
}

/** `t` itself if it is already contiguous, else a contiguous copy. */
export function contiguous(t: Tensor): Tensor {
  tensorArg('contiguous', 'input', t);
  return track('alias', t, t.isContiguous() ? makeView(t, t.shape, t.strides, t.offset) : copyAs('contiguous', t));
}

export function clone(t: Tensor): Tensor {
  return track('alias', t, copyAs('clone', tensorArg('clone', 'input', t)));
}
