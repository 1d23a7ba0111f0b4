import * as m from '../../ops/math.js';
import { where, type TensorOrScalar } from '../../ops/elementwise.js';
import { Tensor } from '../tensor.js';

type Bin = (other: TensorOrScalar) => Tensor;
type Un = () => Tensor;

declare module '../tensor.js' {
  interface Tensor {
    add: Bin; sub: Bin; mul: Bin; div: Bin; pow: Bin; maximum: Bin; minimum: Bin;
    eq: Bin; ne: Bin; lt: Bin; le: Bin; gt: Bin; ge: Bin;
    neg: Un; abs: Un; exp: Un; log: Un; sqrt: Un; rsqrt: Un; sin: Un; cos: Un; tanh: Un;
    sigmoid: Un; relu: Un; silu: Un;
    gelu(options?: { approximate?: 'none' | 'tanh' }): Tensor;
    /** where(cond, this, other): this where cond is true. */
    where(cond: Tensor, other: TensorOrScalar): Tensor;
  }
}

const P = Tensor.prototype;
for (const name of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
  const fn = m[name];
  P[name] = function (this: Tensor, other: TensorOrScalar) { return fn(this, other); };
}
for (const name of ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'silu'] as const) {
  const fn = m[name];
  P[name] = function (this: Tensor) { return fn(this); };
}
P.gelu = function (options) { return m.gelu(this, options); };
P.where = function (cond, other) { return where(cond, this, other); };
