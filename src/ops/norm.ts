import type { RowOp, Storage } from '../backends/backend.js';
import { XpuDTypeError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { fmtValue } from '../format_value.js';
import { isFloating, type DType } from '../tensor/dtype.js';
import { checkShape, contiguousStrides, fmtShape, normalizeDim, numberArg, shapeEq } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, copyAs, optionsArg, tensorArg, wrap } from './common.js';
import { needsGrad, recordOp } from '../autograd/record.js';
import { isGradEnabled } from '../autograd/grad_mode.js';

/**
 * Row-wise normalisations with PyTorch semantics: softmax, logSoftmax, layerNorm, rmsNorm. Each
 * is one `rows` primitive over a strided view whose trailing dims form a row; the primitive
 * computes in f32 and writes float32, so float16 inputs are cast back afterwards.
 */

export interface LayerNormOptions {
  /** Scale, of shape normalizedShape. */
  weight?: Tensor | null;
  /** Shift, of shape normalizedShape. */
  bias?: Tensor | null;
  /** Added to the variance; default 1e-5. */
  eps?: number;
}

export interface RmsNormOptions {
  weight?: Tensor | null;
  /** Added to the mean square; default torch.finfo(x.dtype).eps (2^-23 for float32, 2^-10 for float16). */
  eps?: number | null;
}

/** torch.finfo(dtype).eps: the gap between 1 and the next representable value. */
const FINFO_EPS: Partial<Record<DType, number>> = { float32: 2 ** -23, float16: 2 ** -10 };

function checkFloatInput(op: string, input: unknown): Tensor {
  const x = tensorArg(op, 'input', input);
  if (!isFloating(x.dtype)) {
    throw new XpuDTypeError('needs a floating point input', {
      op,
      arg: 'input',
      expected: "float32 or float16 (cast with .to('float32'))",
      got: x.dtype,
    });
  }
  return x;
}

/** Casts the primitive's float32 result back to the input's dtype. */
function finish(op: string, x: Tensor, storage: Storage): Tensor {
  const out = wrap(x.device, storage, x.shape, 'float32');
  if (x.dtype === 'float32') return out;
  const cast = copyAs(op, out, x.dtype);
  out.dispose();
  return cast;
}

function softmaxLike(op: 'softmax' | 'logSoftmax', kind: RowOp, x: Tensor, dim: number): Tensor {
  const out = softmaxRows(op, kind, x, dim);
  if (x.requiresGrad && isGradEnabled()) recordOp(op, [x], out, { dim: normalizeDim(op, dim, x.ndim) });
  return out;
}

function softmaxRows(op: 'softmax' | 'logSoftmax', kind: RowOp, x: Tensor, dim: number): Tensor {
  const t = checkFloatInput(op, x);
  if (typeof dim !== 'number') throw new XpuTypeError('dim is required', { op, arg: 'dim', expected: 'a number', got: fmtValue(dim) });
  const d = normalizeDim(op, dim, t.ndim);
  if (t.ndim === 0) {
    // A scalar is a row of one element.
    return finish(
      op,
      t,
      t.device.backend.rows({
        op: kind,
        input: { storage: t.ref.storage, dtype: t.dtype, strides: [1], offset: t.offset },
        shape: [1],
        rowRank: 1,
        outStrides: [1],
        eps: 0,
      }),
    );
  }
  // Move `dim` last in the input's view and in the output's contiguous layout alike, so the
  // output lands in the original shape without a copy.
  const order = [...t.shape.map((_, i) => i).filter((i) => i !== d), d];
  const outStrides = contiguousStrides(t.shape);
  return finish(
    op,
    t,
    t.device.backend.rows({
      op: kind,
      input: { storage: t.ref.storage, dtype: t.dtype, strides: order.map((i) => t.strides[i]), offset: t.offset },
      shape: order.map((i) => t.shape[i]),
      rowRank: 1,
      outStrides: order.map((i) => outStrides[i]),
      eps: 0,
    }),
  );
}

/** softmax over `dim`: exp(x - max) / sum(exp(x - max)). A row of only -Infinity gives NaN, as in PyTorch. */
export const softmax = (x: Tensor, dim: number): Tensor => softmaxLike('softmax', 'softmax', x, dim);
/** log(softmax(x)) over `dim`, computed stably as x - max - log(sum(exp(x - max))). */
export const logSoftmax = (x: Tensor, dim: number): Tensor => softmaxLike('logSoftmax', 'logsoftmax', x, dim);

function checkNormalizedShape(op: string, x: Tensor, normalizedShape: unknown): number[] {
  checkShape(op, 'normalizedShape', normalizedShape); // a typed error for a non-array or a non-number entry
  if (!Array.isArray(normalizedShape) || normalizedShape.length === 0 || !normalizedShape.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new XpuShapeError('normalizedShape must be a non-empty list of sizes', {
      op,
      arg: 'normalizedShape',
      expected: 'an array of 1 or more non-negative integers',
      got: fmtValue(normalizedShape),
    });
  }
  const k = normalizedShape.length;
  if (k > x.ndim || !shapeEq(x.shape.slice(x.ndim - k), normalizedShape)) {
    throw new XpuShapeError('normalizedShape must equal the trailing dims of the input', {
      op,
      arg: 'normalizedShape',
      expected: `the last dims of the input ${fmtShape(x.shape)}`,
      got: fmtShape(normalizedShape),
    });
  }
  return normalizedShape.slice();
}

/**
 * weight/bias as the primitive reads them: float32, contiguous, from element 0 of their storage.
 * Returns the tensor to read and whether it is a temporary to dispose.
 */
function affineParam(op: string, arg: 'weight' | 'bias', x: Tensor, p: Tensor, normalizedShape: number[]): { t: Tensor; temp: boolean } {
  tensorArg(op, arg, p);
  checkSameDevice(op, [x, p], ['input', arg]);
  if (!isFloating(p.dtype)) throw new XpuDTypeError('must be floating point', { op, arg, expected: 'float32 or float16', got: p.dtype });
  if (!shapeEq(p.shape, normalizedShape)) {
    throw new XpuShapeError('shape must equal normalizedShape', { op, arg, expected: fmtShape(normalizedShape), got: fmtShape(p.shape) });
  }
  if (p.dtype === 'float32' && p.isContiguous() && p.offset === 0) return { t: p, temp: false };
  return { t: copyAs(op, p, 'float32'), temp: true };
}

function checkEps(op: string, value: unknown): number {
  const eps = numberArg(op, 'eps', value);
  if (!Number.isFinite(eps) || eps < 0) {
    throw new XpuValueError('eps must be a finite number >= 0', { op, arg: 'eps', expected: 'a finite number >= 0', got: fmtValue(eps) });
  }
  return eps;
}

function normalize(
  op: string,
  kind: RowOp,
  x: Tensor,
  normalizedShape: unknown,
  eps: number,
  weight?: Tensor | null,
  bias?: Tensor | null,
): Tensor {
  const shape = checkNormalizedShape(op, x, normalizedShape);
  const params = [
    weight === undefined || weight === null ? undefined : affineParam(op, 'weight', x, weight, shape),
    bias === undefined || bias === null ? undefined : affineParam(op, 'bias', x, bias, shape),
  ];
  try {
    return finish(
      op,
      x,
      x.device.backend.rows({
        op: kind,
        input: { storage: x.ref.storage, dtype: x.dtype, strides: x.strides.slice(), offset: x.offset },
        shape: x.shape.slice(),
        rowRank: shape.length,
        outStrides: contiguousStrides(x.shape),
        weight: params[0]?.t.ref.storage,
        bias: params[1]?.t.ref.storage,
        eps,
      }),
    );
  } finally {
    for (const p of params) if (p?.temp) p.t.dispose();
  }
}

/** LayerNorm over the trailing dims `normalizedShape`: (x - mean) / sqrt(var + eps) * weight + bias (biased var). */
export function layerNorm(x: Tensor, normalizedShape: number[], options: LayerNormOptions = {}): Tensor {
  const op = 'layerNorm';
  const t = checkFloatInput(op, x);
  optionsArg(op, options);
  const eps = checkEps(op, options.eps ?? 1e-5);
  const out = normalize(op, 'layernorm', t, normalizedShape, eps, options.weight, options.bias);
  if (needsGrad(t, options.weight, options.bias))
    recordOp(op, [t, options.weight ?? null, options.bias ?? null], out, { k: normalizedShape.length, eps });
  return out;
}

/** RMSNorm over the trailing dims `normalizedShape`: x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: Tensor, normalizedShape: number[], options: RmsNormOptions = {}): Tensor {
  const op = 'rmsNorm';
  const t = checkFloatInput(op, x);
  optionsArg(op, options);
  const eps = options.eps ?? FINFO_EPS[t.dtype];
  const e = checkEps(op, eps);
  const out = normalize(op, 'rmsnorm', t, normalizedShape, e, options.weight);
  if (needsGrad(t, options.weight)) recordOp(op, [t, options.weight ?? null], out, { k: normalizedShape.length, eps: e });
  return out;
}
