import * as m from '../../ops/math.js';
import type { TensorOrScalar } from '../../ops/elementwise.js';
import { all, any } from '../../ops/logical_reduce.js';
import { allclose, clamp, clip, isclose, lerp, maskedFill, type IscloseOptions } from '../../ops/pointwise.js';
import { logsumexp, norm } from '../../ops/reduce_ops.js';
import type { Dims, KeepdimArg } from '../../ops/reduce.js';
import { Tensor } from '../tensor.js';

type Un = () => Tensor;
type Bound = Tensor | number | null | undefined;

declare module '../tensor.js' {
  interface Tensor {
    floor: Un; ceil: Un; trunc: Un; sign: Un; erf: Un; log1p: Un; expm1: Un; reciprocal: Un; square: Un;
    isnan: Un; isinf: Un; isfinite: Un; logicalNot: Un;
    /** Rounds half to even; with decimals, to that many decimal places (torch.round). */
    round(options?: { decimals?: number }): Tensor;
    logicalAnd(other: Tensor): Tensor;
    logicalOr(other: Tensor): Tensor;
    logicalXor(other: Tensor): Tensor;
    floorDivide(other: TensorOrScalar): Tensor;
    remainder(other: TensorOrScalar): Tensor;
    fmod(other: TensorOrScalar): Tensor;
    clamp(min?: Bound, max?: Bound): Tensor;
    clip(min?: Bound, max?: Bound): Tensor;
    lerp(end: Tensor, weight: Tensor | number): Tensor;
    maskedFill(mask: Tensor, value: Tensor | number | boolean): Tensor;
    isclose(other: Tensor, options?: IscloseOptions): Tensor;
    allclose(other: Tensor, options?: IscloseOptions): Promise<boolean>;
    any(dim?: Dims, keepdim?: KeepdimArg): Tensor;
    all(dim?: Dims, keepdim?: KeepdimArg): Tensor;
    logsumexp(dim: number | number[], keepdim?: KeepdimArg): Tensor;
    norm(p?: number | 'fro', dim?: Dims, keepdim?: KeepdimArg): Tensor;
  }
}

const P = Tensor.prototype;
for (const name of ['floor', 'ceil', 'trunc', 'sign', 'erf', 'log1p', 'expm1', 'reciprocal', 'square', 'isnan', 'isinf', 'isfinite', 'logicalNot'] as const) {
  const fn = m[name];
  P[name] = function (this: Tensor) { return fn(this); };
}
for (const name of ['logicalAnd', 'logicalOr', 'logicalXor'] as const) {
  const fn = m[name];
  P[name] = function (this: Tensor, other: Tensor) { return fn(this, other); };
}
for (const name of ['floorDivide', 'remainder', 'fmod'] as const) {
  const fn = m[name];
  P[name] = function (this: Tensor, other: TensorOrScalar) { return fn(this, other); };
}
P.round = function (options) { return m.round(this, options); };
P.clamp = function (min, max) { return clamp(this, min, max); };
P.clip = function (min, max) { return clip(this, min, max); };
P.lerp = function (end, weight) { return lerp(this, end, weight); };
P.maskedFill = function (mask, value) { return maskedFill(this, mask, value); };
P.isclose = function (other, options) { return isclose(this, other, options); };
P.allclose = function (other, options) { return allclose(this, other, options); };
P.any = function (dim, keepdim) { return any(this, dim, keepdim); };
P.all = function (dim, keepdim) { return all(this, dim, keepdim); };
P.logsumexp = function (dim, keepdim) { return logsumexp(this, dim, keepdim); };
P.norm = function (p, dim, keepdim) { return norm(this, p, dim, keepdim); };
