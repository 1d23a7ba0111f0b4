import { XpuDTypeError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { dtypeInfo, isFloating, resultType, type DType, type PromotionOperand } from '../tensor/dtype.js';
import { fmtShape, intArg, numberArg } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { copyAs, optionsArg, tensorArg } from './common.js';
import { parametricOp, run, unaryOp } from './elementwise.js';
import { TERNARY } from './elementwise_table.js';
import { needsGrad, recordOp, track } from '../autograd/record.js';

/**
 * The hand-written functions of elementwise ops that take options, parameters or more than two
 * operands (gelu, round, the parametric activations; clamp, lerp and maskedFill with torch's dtype
 * and NaN rules). Each is declared by its entry in src/ops/elementwise_table.ts (kind 'wrapper',
 * with the doc comment), and scripts/gen_ops.ts exports it as `xpu.<name>` and installs its Tensor
 * method from there. clip, clamp's alias, is exported by src/index.ts directly.
 */

export function gelu(x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return unaryOp(options.approximate === 'tanh' ? 'gelu_tanh' : 'gelu', x);
}

export function round(x: Tensor, options: { decimals?: number } = {}): Tensor {
  const decimals = intArg('round', 'decimals', optionsArg('round', options).decimals ?? 0, { min: -38, max: 38 });
  if (decimals === 0) return unaryOp('round', x);
  return parametricOp('round', 'roundDecimals', x, [Math.fround(10 ** Math.abs(decimals)), decimals < 0 ? 1 : 0]);
}

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return parametricOp('leakyRelu', 'leakyRelu', x, [numberArg('leakyRelu', 'negativeSlope', negativeSlope)]);
}

export function elu(x: Tensor, alpha = 1): Tensor {
  return parametricOp('elu', 'elu', x, [numberArg('elu', 'alpha', alpha)]);
}

export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return parametricOp('softplus', 'softplus', x, [numberArg('softplus', 'beta', beta), numberArg('softplus', 'threshold', threshold)]);
}

type Bound = Tensor | number | null | undefined;

/** The smallest and largest values of an integer dtype (a bound beyond them clamps nothing more). */
function intRange(dtype: DType): [number, number] {
  switch (dtype) {
    case 'int8':
      return [-128, 127];
    case 'uint8':
    case 'bool':
      return [0, 255];
    case 'int32':
      return [-(2 ** 31), 2 ** 31 - 1];
    default:
      return [0, 2 ** 32 - 1];
  }
}

/** A tensor or a number (a boolean too where `bool`): anything else is an XpuTypeError. */
function tensorOrNumberArg(op: string, arg: string, x: unknown, bool = false): void {
  if (x instanceof Tensor) tensorArg(op, arg, x);
  else if (typeof x !== 'number' && !(bool && typeof x === 'boolean')) {
    throw new XpuTypeError('must be a tensor or a number', {
      op,
      arg,
      expected: bool ? 'Tensor, number or boolean' : 'Tensor or number',
      got: typeName(x),
    });
  }
}

function boundArg(op: string, arg: string, x: unknown): void {
  if (x === undefined || x === null) return;
  if (x instanceof Tensor) tensorArg(op, arg, x);
  else if (typeof x !== 'number')
    throw new XpuTypeError('must be a tensor, a number or absent', {
      op,
      arg,
      expected: 'Tensor, number, null or undefined',
      got: typeName(x),
    });
}

export function clamp(x: Tensor, min?: Bound, max?: Bound): Tensor {
  return clampAs('clamp', x, min, max);
}

/** Alias of clamp, as torch.clip. */
export function clip(x: Tensor, min?: Bound, max?: Bound): Tensor {
  return clampAs('clip', x, min, max);
}

function clampAs(op: string, x: Tensor, min: Bound, max: Bound): Tensor {
  tensorArg(op, 'input', x);
  boundArg(op, 'min', min);
  boundArg(op, 'max', max);
  const given = [min, max].filter((b): b is Tensor | number => b !== undefined && b !== null);
  if (given.length === 0)
    throw new XpuValueError('at least one of min and max must be given', {
      op,
      arg: 'min',
      expected: 'a tensor or a number for min or max',
      got: 'neither',
    });
  const dtype = resultType(
    [x, ...given].map((t): PromotionOperand => (t instanceof Tensor ? { dtype: t.dtype, zeroDim: t.ndim === 0 } : t)),
  );
  // torch's clamp_min / clamp_max with one number ignore a NaN bound: x, in the result dtype.
  if (given.length === 1 && typeof given[0] === 'number' && Number.isNaN(given[0])) return track('alias', x, copyAs(op, x, dtype));
  const kind = dtypeInfo(dtype).compute;
  const [lo, hi] = kind === 'f32' ? [-Infinity, Infinity] : intRange(dtype);
  // Number bounds outside an integer dtype's range saturate to it (the same elements clamp).
  const fit = (b: Bound, absent: number): Tensor | number => {
    if (b instanceof Tensor) return b;
    if (b === undefined || b === null) return absent;
    return kind === 'f32' ? b : Math.min(hi, Math.max(lo, b));
  };
  const out = run(op, TERNARY.clamp, [x, fit(min, lo), fit(max, hi)], dtype, dtype, ['input', 'min', 'max']);
  if (needsGrad(x, min, max)) recordOp('clamp', [x, min ?? null, max ?? null], out);
  return out;
}

export function lerp(start: Tensor, end: Tensor, weight: Tensor | number): Tensor {
  const op = 'lerp';
  tensorArg(op, 'input', start);
  tensorArg(op, 'end', end);
  tensorOrNumberArg(op, 'weight', weight);
  if (!isFloating(start.dtype))
    throw new XpuDTypeError('needs floating point tensors', { op, arg: 'input', expected: 'float32 or float16', got: start.dtype });
  for (const [arg, t] of [
    ['end', end],
    ['weight', weight],
  ] as const) {
    if (t instanceof Tensor && t.dtype !== start.dtype)
      throw new XpuDTypeError('must have the dtype of input', { op, arg, expected: start.dtype, got: t.dtype });
  }
  // A number weight stays float32 for float16 tensors (torch computes half ops in float).
  const argDtype = weight instanceof Tensor ? start.dtype : 'float32';
  const out = run(op, TERNARY.lerp, [start, end, weight], argDtype, start.dtype, ['input', 'end', 'weight']);
  if (needsGrad(start, end, weight)) recordOp(op, [start, end, weight], out);
  return out;
}

export function maskedFill(x: Tensor, mask: Tensor, value: Tensor | number | boolean): Tensor {
  const op = 'maskedFill';
  tensorArg(op, 'input', x);
  tensorArg(op, 'mask', mask);
  tensorOrNumberArg(op, 'value', value, true);
  if (value instanceof Tensor && value.ndim !== 0) {
    throw new XpuShapeError('value must be a 0-d tensor', {
      op,
      arg: 'value',
      expected: 'a number or a 0-d tensor',
      got: `a tensor of shape ${fmtShape(value.shape)}`,
    });
  }
  if (mask.dtype !== 'bool') throw new XpuDTypeError('mask must be bool', { op, arg: 'mask', expected: 'bool', got: mask.dtype });
  const out = run(op, TERNARY.maskedFill, [x, mask, value], x.dtype, x.dtype, ['input', 'mask', 'value']);
  if (needsGrad(x, value)) recordOp(op, [x, mask, value], out);
  return out;
}
