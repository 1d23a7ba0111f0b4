import { XpuDTypeError, XpuTypeError, XpuValueError } from '../errors.js';
import { fmtValue, typeName } from '../format_value.js';
import { isFloating, type DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { copyAs, tensorArg } from './common.js';
import { full } from './creation.js';
import { where } from './elementwise.js';
import { emptyReduction, reducedShape } from './logical_reduce.js';
import { abs, add, exp, isinf, log, ne, pow, sqrt, square, sub } from './math.js';
import { keepdimValue, max, min, reducedDims, sum, type Dims, type KeepdimArg } from './reduce.js';
import { reshape } from './views.js';
import { differentiable, needsGrad } from '../autograd/record.js';

/**
 * Reductions composed of the reduce primitive and elementwise maps: logsumexp and norm. Both
 * compute in float32 (a float16 input is cast first, its result cast back), so intermediate
 * squares and exponentials neither round to float16 nor overflow it.
 */

/** Disposes every temporary once the result exists. */
function chain(temps: Tensor[], result: Tensor): Tensor {
  for (const t of temps) t.dispose();
  return result;
}

function asFloat32(op: string, x: Tensor): Tensor {
  return x.dtype === 'float32' ? x : copyAs(op, x, 'float32');
}

function finish(op: string, r: Tensor, dtype: DType): Tensor {
  if (r.dtype === dtype) return r;
  const c = copyAs(op, r, dtype);
  r.dispose();
  return c;
}

/** The result tensor as reducedShape gives it: keepdim's shape, or the reduced dims dropped (a view). */
function dropDims(r: Tensor, shape: number[]): Tensor {
  const v = reshape(r, shape);
  r.dispose();
  return v;
}

/**
 * log(sum(exp(x))) over `dim` (required, as torch), stably: m = max, with infinite maxima
 * replaced by 0 as torch does (so a row of -inf gives -inf and one with +inf gives inf, not NaN),
 * then log(sum(exp(x - m))) + m. Integer inputs give float32; an empty reduction gives -inf.
 */
export function logsumexp(x: Tensor, dim: number | number[], keepdim?: KeepdimArg): Tensor {
  if (!needsGrad(x)) return logsumexpOf(x, dim, keepdim);
  const attrs = { dims: reducedDims('logsumexp', x, dim), keepdim: keepdimValue('logsumexp', keepdim), shape: x.shape.slice() };
  return differentiable('logsumexp', [x], () => logsumexpOf(x, dim, keepdim), attrs);
}

function logsumexpOf(x: Tensor, dim: number | number[], keepdim?: KeepdimArg): Tensor {
  const op = 'logsumexp';
  tensorArg(op, 'input', x);
  if (dim === undefined || dim === null)
    throw new XpuTypeError('dim is required', { op, arg: 'dim', expected: 'a dim or an array of dims', got: typeName(dim) });
  const dims = reducedDims(op, x, dim);
  const kd = keepdimValue(op, keepdim);
  const dtype: DType = isFloating(x.dtype) ? x.dtype : 'float32';
  const shape = reducedShape(x, dims, kd);
  if (emptyReduction(x, dims)) return full(shape, -Infinity, { dtype, device: x.device });
  const xf = asFloat32(op, x);
  const m = max(xf, dim, true);
  const inf = isinf(m);
  const mf = where(inf, 0, m);
  const d = sub(xf, mf);
  const e = exp(d);
  const s = sum(e, dim, true);
  const l = log(s);
  const r = chain([m, inf, d, e, s, l, ...(xf === x ? [] : [xf])], add(l, mf));
  mf.dispose();
  return finish(op, dropDims(r, shape), dtype);
}

/**
 * The p-norm over `dim` (all dims by default), as torch.norm: p = 'fro' or 2 (sqrt of the sum of
 * squares), 1, Infinity (max |x|), -Infinity (min |x|), 0 (the count of nonzeros), any other
 * number (sum |x|^p)^(1/p). Float inputs only; the result has the input's dtype; an empty
 * reduction gives 0 for every p, as torch.
 */
export function norm(x: Tensor, p: number | 'fro' = 'fro', dim?: Dims, keepdim?: KeepdimArg): Tensor {
  if (!needsGrad(x)) return normOf(x, p, dim, keepdim);
  const attrs = { dims: reducedDims('norm', x, dim), keepdim: keepdimValue('norm', keepdim), shape: x.shape.slice(), p };
  return differentiable('norm', [x], () => normOf(x, p, dim, keepdim), attrs);
}

function normOf(x: Tensor, p: number | 'fro', dim?: Dims, keepdim?: KeepdimArg): Tensor {
  const op = 'norm';
  tensorArg(op, 'input', x);
  if (p === ('nuc' as never))
    throw new XpuValueError('the nuclear norm is not supported', { op, arg: 'p', expected: "a number or 'fro'", got: "'nuc'" });
  if (p !== 'fro' && typeof p !== 'number')
    throw new XpuTypeError("must be a number or 'fro'", { op, arg: 'p', expected: "number or 'fro'", got: typeName(p) });
  if (!isFloating(x.dtype))
    throw new XpuDTypeError('needs a floating point input', { op, arg: 'input', expected: 'float32 or float16', got: x.dtype });
  const dims = reducedDims(op, x, dim);
  if (p === 'fro' && dim !== undefined && dim !== null && dims.length > 2)
    throw new XpuValueError("'fro' takes at most 2 dims", {
      op,
      arg: 'dim',
      expected: 'at most 2 dims (use p = 2 for a vector norm)',
      got: fmtValue(dim),
    });
  const kd = keepdimValue(op, keepdim);
  const shape = reducedShape(x, dims, kd);
  if (emptyReduction(x, dims)) return full(shape, 0, { dtype: x.dtype, device: x.device });
  const xf = asFloat32(op, x);
  const temps = xf === x ? [] : [xf];
  let r: Tensor;
  if (p === 'fro' || p === 2) {
    const sq = square(xf);
    const s = sum(sq, dim, true);
    r = chain([...temps, sq, s], sqrt(s));
  } else if (p === 0) {
    const nz = ne(xf, 0);
    const s = sum(nz, dim, true);
    r = chain([...temps, nz, s], copyAs(op, s, 'float32'));
  } else {
    const a = abs(xf);
    if (p === 1) r = chain([...temps, a], sum(a, dim, true));
    else if (p === Infinity) r = chain([...temps, a], max(a, dim, true));
    else if (p === -Infinity) r = chain([...temps, a], min(a, dim, true));
    else {
      const ap = pow(a, p);
      const s = sum(ap, dim, true);
      r = chain([...temps, a, ap, s], pow(s, 1 / p));
    }
  }
  return finish(op, dropDims(r, shape), x.dtype);
}
