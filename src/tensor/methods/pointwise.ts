import { all, any } from '../../ops/logical_reduce.js';
import { clip } from '../../ops/elementwise_wrappers.js';
import { allclose, isclose, type IscloseOptions } from '../../ops/pointwise.js';
import { logsumexp, norm } from '../../ops/reduce_ops.js';
import type { Dims, KeepdimArg } from '../../ops/reduce.js';
import { Tensor } from '../tensor.js';

type Bound = Tensor | number | null | undefined;

declare module '../tensor.js' {
  interface Tensor {
    /** Alias of clamp, as torch.clip. */
    clip(min?: Bound, max?: Bound): Tensor;
    isclose(other: Tensor, options?: IscloseOptions): Tensor;
    allclose(other: Tensor, options?: IscloseOptions): Promise<boolean>;
    any(dim?: Dims, keepdim?: KeepdimArg): Tensor;
    all(dim?: Dims, keepdim?: KeepdimArg): Tensor;
    logsumexp(dim: number | number[], keepdim?: KeepdimArg): Tensor;
    norm(p?: number | 'fro', dim?: Dims, keepdim?: KeepdimArg): Tensor;
  }
}

const P = Tensor.prototype;
P.clip = function (min, max) {
  return clip(this, min, max);
};
P.isclose = function (other, options) {
  return isclose(this, other, options);
};
P.allclose = function (other, options) {
  return allclose(this, other, options);
};
P.any = function (dim, keepdim) {
  return any(this, dim, keepdim);
};
P.all = function (dim, keepdim) {
  return all(this, dim, keepdim);
};
P.logsumexp = function (dim, keepdim) {
  return logsumexp(this, dim, keepdim);
};
P.norm = function (p, dim, keepdim) {
  return norm(this, p, dim, keepdim);
};
