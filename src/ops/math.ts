import { binaryOp, parametricOp, unaryOp, type TensorOrScalar } from './elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import { intArg, numberArg } from '../tensor/shape.js';
import { optionsArg, tensorArg } from './common.js';

/** Named elementwise functions (the public API); each is also a Tensor method. */
export const add = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('add', a, b);
export const sub = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('sub', a, b);
export const mul = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('mul', a, b);
export const div = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('div', a, b);
export const pow = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('pow', a, b);
export const maximum = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('maximum', a, b);
export const minimum = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('minimum', a, b);
export const eq = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('eq', a, b);
export const ne = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('ne', a, b);
export const lt = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('lt', a, b);
export const le = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('le', a, b);
export const gt = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('gt', a, b);
export const ge = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('ge', a, b);

export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unaryOp('rsqrt', x);
export const sin = (x: Tensor): Tensor => unaryOp('sin', x);
export const cos = (x: Tensor): Tensor => unaryOp('cos', x);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
export const silu = (x: Tensor): Tensor => unaryOp('silu', x);
/** GELU; approximate 'tanh' uses the tanh form, 'none' (default) the exact erf form. */
export const gelu = (x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor =>
  unaryOp(options.approximate === 'tanh' ? 'gelu_tanh' : 'gelu', x);

// ---- issue 15: rounding, special functions, logical ops, integer division, activations ----
export const floor = (x: Tensor): Tensor => unaryOp('floor', x);
export const ceil = (x: Tensor): Tensor => unaryOp('ceil', x);
export const trunc = (x: Tensor): Tensor => unaryOp('trunc', x);
/**
 * Rounds half to even (torch.round); with `decimals` (float inputs), to that many decimal places
 * (negative: tens, hundreds...), computed in float32 steps as torch does: round(x 10^d) / 10^d.
 */
export function round(x: Tensor, options: { decimals?: number } = {}): Tensor {
  const decimals = intArg('round', 'decimals', optionsArg('round', options).decimals ?? 0, { min: -38, max: 38 });
  if (decimals === 0) return unaryOp('round', x);
  return parametricOp('round', 'roundDecimals', x, [Math.fround(10 ** Math.abs(decimals)), decimals < 0 ? 1 : 0]);
}
/** -1, 0 or 1 (sign(NaN) = 0 and sign(-0) = 0, as torch 1.13); bool stays bool. */
export const sign = (x: Tensor): Tensor => unaryOp('sign', x);
export const erf = (x: Tensor): Tensor => unaryOp('erf', x);
/** log(1 + x), accurate near 0. */
export const log1p = (x: Tensor): Tensor => unaryOp('log1p', x);
/** e^x - 1, accurate near 0. */
export const expm1 = (x: Tensor): Tensor => unaryOp('expm1', x);
/** 1 / x; integer inputs give float32. */
export const reciprocal = (x: Tensor): Tensor => unaryOp('reciprocal', x);
/** x * x in x's dtype (bool gives int32). */
export const square = (x: Tensor): Tensor => unaryOp('square', x);
export const isnan = (x: Tensor): Tensor => unaryOp('isnan', x);
export const isinf = (x: Tensor): Tensor => unaryOp('isinf', x);
export const isfinite = (x: Tensor): Tensor => unaryOp('isfinite', x);
/** Elementwise not (x == 0) as bool; NaN counts as true, as in torch. */
export const logicalNot = (x: Tensor): Tensor => unaryOp('logicalNot', x);
const logical = (name: 'logicalAnd' | 'logicalOr' | 'logicalXor', a: Tensor, b: Tensor): Tensor => {
  tensorArg(name, 'input', a);
  tensorArg(name, 'other', b); // torch takes tensors only here
  return binaryOp(name, a, b);
};
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => logical('logicalAnd', a, b);
export const logicalOr = (a: Tensor, b: Tensor): Tensor => logical('logicalOr', a, b);
export const logicalXor = (a: Tensor, b: Tensor): Tensor => logical('logicalXor', a, b);
/** floor(a / b) (Python's //); integer division by zero throws on cpu (as torch) and gives 0 on xpu. */
export const floorDivide = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('floorDivide', a, b);
/** a mod b with the sign of b (Python's %, torch.remainder). */
export const remainder = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('remainder', a, b);
/** a mod b with the sign of a (C's fmod, torch.fmod). */
export const fmod = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binaryOp('fmod', a, b);

// Activations (torch.nn.functional's), float inputs only as in torch.
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => parametricOp('leakyRelu', 'leakyRelu', x, [numberArg('leakyRelu', 'negativeSlope', negativeSlope)]);
export const elu = (x: Tensor, alpha = 1): Tensor => parametricOp('elu', 'elu', x, [numberArg('elu', 'alpha', alpha)]);
/** log(1 + e^(beta x)) / beta, and x itself where beta x > threshold. */
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor =>
  parametricOp('softplus', 'softplus', x, [numberArg('softplus', 'beta', beta), numberArg('softplus', 'threshold', threshold)]);
export const hardswish = (x: Tensor): Tensor => unaryOp('hardswish', x);
export const mish = (x: Tensor): Tensor => unaryOp('mish', x);
