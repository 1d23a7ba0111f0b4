import { binaryOp, unaryOp, type TensorOrScalar } from './elementwise.js';
import type { Tensor } from '../tensor/tensor.js';

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
