import type { ReduceOp } from '../backends/backend.js';
import { XpuDTypeError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { fmtValue } from '../format_value.js';
import { dtypeInfo, isFloating, type ComputeKind, type DType } from '../tensor/dtype.js';
import { fmtShape, normalizeDim, normalizeDims, numberArg, numel } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { copyAs, tensorArg, wrap } from './common.js';
import { sqrt } from './math.js';
import { recordOp } from '../autograd/record.js';
import { isGradEnabled } from '../autograd/grad_mode.js';

/**
 * Reductions with PyTorch semantics: sum, prod, mean, max, min, argmax, argmin, var, std.
 * The input view is permuted so kept dims come first and reduced dims last (strides follow, no
 * copy), and one `reduce` primitive does the rest. The primitive writes 32-bit results; narrower
 * result dtypes (float16, int8, uint8, bool) are a cast afterwards.
 *
 * Differences from PyTorch, forced by our dtype set: integer sums/prods give int32 (PyTorch
 * int64), and uint32 sums/prods give uint32; both wrap on overflow. max/min with a dim return
 * the values only (PyTorch's amax/amin; torch.max(x, dim) also returns indices: use argmax).
 */

/** `dim` of a reduction: one dim, a list of dims, or undefined/null/[] for every dim. */
export type Dims = number | readonly number[] | null | undefined;
/** keepdim as a boolean, or inside an options object ({ keepdim: true }). */
export type KeepdimArg = boolean | { keepdim?: boolean } | undefined;

export interface VarOptions {
  /** Subtracted from the element count in the divisor (Bessel's correction); default 1. */
  correction?: number;
  keepdim?: boolean;
}

function checkInput(op: string, x: unknown): Tensor {
  return tensorArg(op, 'input', x);
}

/** keepdim as a boolean, given as a boolean or as { keepdim } (also for any / all, logsumexp, norm). */
export function keepdimValue(op: string, arg: KeepdimArg): boolean {
  if (arg === undefined || typeof arg === 'boolean') return arg === true;
  if (typeof arg === 'object' && arg !== null && (arg.keepdim === undefined || typeof arg.keepdim === 'boolean'))
    return arg.keepdim === true;
  throw new XpuTypeError('keepdim must be a boolean', {
    op,
    arg: 'keepdim',
    expected: 'a boolean or { keepdim: boolean }',
    got: fmtValue(arg),
  });
}

/** The sorted, distinct dims to reduce. A 0-d tensor accepts dim 0 or -1 and has nothing to reduce. */
export function reducedDims(op: string, x: Tensor, dim: Dims): number[] {
  if (dim === undefined || dim === null) return normalizeDims(op, undefined, x.ndim);
  const ok = typeof dim === 'number' || (Array.isArray(dim) && dim.every((d) => typeof d === 'number'));
  if (!ok)
    throw new XpuTypeError('dim must be a number or an array of numbers', {
      op,
      arg: 'dim',
      expected: 'a number, number[] or undefined',
      got: fmtValue(dim),
    });
  // PyTorch reads an empty dim list as "every dim".
  if (Array.isArray(dim) && dim.length === 0) return normalizeDims(op, undefined, x.ndim);
  const dims = normalizeDims(op, dim, x.ndim);
  return x.ndim === 0 ? [] : dims;
}

interface ReduceCall {
  op: string;
  kind: ReduceOp;
  accKind: ComputeKind;
  /** The result dtype; the primitive writes its 32-bit twin and we cast when they differ. */
  dtype: DType;
  correction?: number;
  /** max/min/argmax/argmin have no identity, so an empty reduction is an error. */
  needsElements?: boolean;
}

/** The 32-bit dtype the primitive writes for a result of `dtype`. */
function wideDType(dtype: DType): DType {
  if (isFloating(dtype)) return 'float32';
  return dtypeInfo(dtype).compute === 'u32' ? 'uint32' : 'int32';
}

function runReduce(x: Tensor, dim: Dims, keepdim: boolean, c: ReduceCall): Tensor {
  const reduced = reducedDims(c.op, x, dim);
  const isReduced = x.shape.map((_, d) => reduced.includes(d));
  const kept = x.shape.map((_, d) => d).filter((d) => !isReduced[d]);
  const order = [...kept, ...reduced];
  const outShape = keepdim ? x.shape.map((s, d) => (isReduced[d] ? 1 : s)) : kept.map((d) => x.shape[d]);
  const n = numel(reduced.map((d) => x.shape[d]));
  if (c.needsElements && n === 0 && numel(outShape) > 0) {
    throw new XpuShapeError('cannot reduce over a zero-size dim: the operation has no identity', {
      op: c.op,
      arg: 'dim',
      expected: `reduced dims of non-zero size (input ${fmtShape(x.shape)})`,
      got: `dims [${reduced.join(', ')}]`,
    });
  }
  const wide = wideDType(c.dtype);
  const storage = x.device.backend.reduce({
    op: c.kind,
    input: { storage: x.ref.storage, dtype: x.dtype, strides: order.map((d) => x.strides[d]), offset: x.offset },
    shape: order.map((d) => x.shape[d]),
    keptRank: kept.length,
    accKind: c.accKind,
    outDtype: wide,
    correction: c.correction,
  });
  const out = wrap(x.device, storage, outShape, wide);
  if (wide === c.dtype) return out;
  const cast = copyAs(c.op, out, c.dtype);
  out.dispose();
  return cast;
}

/** sum/prod: floats keep their dtype (accumulated in f32); integers and bool give int32, uint32 stays uint32. */
function accumulateDType(dtype: DType): { accKind: ComputeKind; dtype: DType } {
  if (isFloating(dtype)) return { accKind: 'f32', dtype };
  if (dtype === 'uint32') return { accKind: 'u32', dtype: 'uint32' };
  return { accKind: 'i32', dtype: 'int32' };
}

function checkFloat(op: string, x: Tensor): void {
  if (!isFloating(x.dtype)) {
    throw new XpuDTypeError('needs a floating point input', {
      op,
      arg: 'input',
      expected: "float32 or float16 (cast with .to('float32'))",
      got: x.dtype,
    });
  }
}

/** Records reduction `op` of x (src/autograd/formulas/reduce.ts) when x needs grad. */
function tracked(op: string, x: Tensor, dim: Dims, keepdim: boolean, out: Tensor, extra: Record<string, unknown> = {}): Tensor {
  if (x.requiresGrad && isGradEnabled())
    recordOp(op, [x], out, { dims: reducedDims(op, x, dim), keepdim, shape: x.shape.slice(), ...extra });
  return out;
}

export function sum(x: Tensor, dim?: Dims, keepdim?: KeepdimArg): Tensor {
  const op = 'sum';
  const t = checkInput(op, x);
  const kd = keepdimValue(op, keepdim);
  return tracked(op, t, dim, kd, runReduce(t, dim, kd, { op, kind: 'sum', ...accumulateDType(t.dtype) }));
}

export function prod(x: Tensor, dim?: Dims, keepdim?: KeepdimArg): Tensor {
  const op = 'prod';
  const t = checkInput(op, x);
  const kd = keepdimValue(op, keepdim);
  return tracked(op, t, dim, kd, runReduce(t, dim, kd, { op, kind: 'prod', ...accumulateDType(t.dtype) }));
}

export function mean(x: Tensor, dim?: Dims, keepdim?: KeepdimArg): Tensor {
  const op = 'mean';
  const t = checkInput(op, x);
  checkFloat(op, t);
  const kd = keepdimValue(op, keepdim);
  return tracked(op, t, dim, kd, runReduce(t, dim, kd, { op, kind: 'mean', accKind: 'f32', dtype: t.dtype }));
}

function extreme(op: 'max' | 'min', x: Tensor, dim: Dims, keepdim: KeepdimArg): Tensor {
  const t = checkInput(op, x);
  const kd = keepdimValue(op, keepdim);
  return tracked(
    op,
    t,
    dim,
    kd,
    runReduce(t, dim, kd, { op, kind: op, accKind: dtypeInfo(t.dtype).compute, dtype: t.dtype, needsElements: true }),
  );
}

/** The largest value over `dim` (all dims by default), NaN winning as in PyTorch; values only (amax). */
export const max = (x: Tensor, dim?: Dims, keepdim?: KeepdimArg): Tensor => extreme('max', x, dim, keepdim);
/** The smallest value over `dim` (all dims by default), NaN winning as in PyTorch; values only (amin). */
export const min = (x: Tensor, dim?: Dims, keepdim?: KeepdimArg): Tensor => extreme('min', x, dim, keepdim);

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, dim: number | null | undefined, keepdim: KeepdimArg): Tensor {
  const t = checkInput(op, x);
  if (dim !== undefined && dim !== null && typeof dim !== 'number') {
    throw new XpuTypeError('dim must be a single dim', {
      op,
      arg: 'dim',
      expected: 'a number or undefined (index into the flattened input)',
      got: fmtValue(dim),
    });
  }
  // With no dim, PyTorch indexes the flattened input: reducing every dim in order gives exactly that.
  const dims = dim === undefined || dim === null ? undefined : normalizeDim(op, dim, t.ndim);
  return runReduce(t, dims, keepdimValue(op, keepdim), {
    op,
    kind: op,
    accKind: dtypeInfo(t.dtype).compute,
    dtype: 'int32',
    needsElements: true,
  });
}

/** Index (int32) of the first largest value over `dim`, or into the flattened input; NaN wins. */
export const argmax = (x: Tensor, dim?: number | null, keepdim?: KeepdimArg): Tensor => argExtreme('argmax', x, dim, keepdim);
/** Index (int32) of the first smallest value over `dim`, or into the flattened input; NaN wins. */
export const argmin = (x: Tensor, dim?: number | null, keepdim?: KeepdimArg): Tensor => argExtreme('argmin', x, dim, keepdim);

function varOptions(op: string, options: VarOptions | boolean | undefined): { correction: number; keepdim: boolean } {
  if (options === undefined || typeof options === 'boolean') return { correction: 1, keepdim: options === true };
  if (typeof options !== 'object' || options === null) {
    throw new XpuValueError('options must be an object or a boolean keepdim', {
      op,
      arg: 'options',
      expected: '{ correction?: number, keepdim?: boolean } or a boolean',
      got: fmtValue(options),
    });
  }
  const correction = numberArg(op, 'correction', options.correction ?? 1);
  if (!Number.isFinite(correction) || correction < 0) {
    throw new XpuValueError('correction must be a finite number >= 0', {
      op,
      arg: 'correction',
      expected: 'a number >= 0 (0: population, 1: sample variance)',
      got: fmtValue(correction),
    });
  }
  return { correction, keepdim: keepdimValue(op, { keepdim: options.keepdim }) };
}

/** var in float32 whatever the input's float dtype, so std can take the root before rounding. */
function variance32(op: string, x: Tensor, dim: Dims, options: VarOptions | boolean | undefined): Tensor {
  const t = checkInput(op, x);
  checkFloat(op, t);
  const { correction, keepdim } = varOptions(op, options);
  return runReduce(t, dim, keepdim, { op, kind: 'var', accKind: 'f32', dtype: 'float32', correction });
}

function castTo(op: string, t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  const cast = copyAs(op, t, dtype);
  t.dispose();
  return cast;
}

/**
 * Variance over `dim` with divisor max(0, N - correction) (default correction 1, as PyTorch).
 * Exported as `var` from the public API.
 */
export function variance(x: Tensor, dim?: Dims, options?: VarOptions | boolean): Tensor {
  const v = variance32('var', x, dim, options);
  const { correction, keepdim } = varOptions('var', options);
  return tracked('var', x, dim, keepdim, castTo('var', v, x.dtype), { correction });
}

/** Standard deviation: sqrt(var), computed in float32 and rounded once to the input's dtype. */
export function std(x: Tensor, dim?: Dims, options?: VarOptions | boolean): Tensor {
  const v = variance32('std', x, dim, options);
  const s = sqrt(v);
  v.dispose();
  const { correction, keepdim } = varOptions('std', options);
  return tracked('std', x, dim, keepdim, castTo('std', s, x.dtype), { correction });
}
