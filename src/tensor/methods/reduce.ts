import * as r from '../../ops/reduce.js';
import type { Dims, KeepdimArg, VarOptions } from '../../ops/reduce.js';
import { Tensor } from '../tensor.js';

type Reduction = (dim?: Dims, keepdim?: KeepdimArg) => Tensor;
type ArgReduction = (dim?: number | null, keepdim?: KeepdimArg) => Tensor;
type Moment = (dim?: Dims, options?: VarOptions | boolean) => Tensor;

declare module '../tensor.js' {
  interface Tensor {
    /** Sum over `dim` (all dims by default); integer inputs give int32, uint32 stays uint32. */
    sum: Reduction;
    prod: Reduction;
    /** Mean over `dim`; float inputs only. */
    mean: Reduction;
    /** Largest values over `dim` (values only, like torch.amax); NaN wins. */
    max: Reduction;
    /** Smallest values over `dim` (values only, like torch.amin); NaN wins. */
    min: Reduction;
    /** int32 index of the first largest value over `dim`, or into the flattened tensor. */
    argmax: ArgReduction;
    argmin: ArgReduction;
    /** Variance with divisor max(0, N - correction), correction 1 by default. */
    var: Moment;
    std: Moment;
  }
}

const P = Tensor.prototype;
for (const name of ['sum', 'prod', 'mean', 'max', 'min'] as const) {
  const fn = r[name];
  P[name] = function (this: Tensor, dim?: Dims, keepdim?: KeepdimArg) {
    return fn(this, dim, keepdim);
  };
}
P.argmax = function (dim, keepdim) {
  return r.argmax(this, dim, keepdim);
};
P.argmin = function (dim, keepdim) {
  return r.argmin(this, dim, keepdim);
};
P.var = function (dim, options) {
  return r.variance(this, dim, options);
};
P.std = function (dim, options) {
  return r.std(this, dim, options);
};
