import { cumprod, cumsum, type ScanOptions } from '../../ops/scan.js';
import { scatter, scatterAdd } from '../../ops/scatter.js';
import { argsort, sort, topk, type SortResult, type TopkOptions } from '../../ops/sort.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    cumsum(dim: number, options?: ScanOptions): Tensor;
    cumprod(dim: number, options?: ScanOptions): Tensor;
    /** Stable sort along `dim` (default -1): { values, indices (int32) }. */
    sort(dim?: number, descending?: boolean): SortResult;
    argsort(dim?: number, descending?: boolean): Tensor;
    /** The k largest (or smallest) along options.dim: { values, indices (int32) }. */
    topk(k: number, options?: TopkOptions): SortResult;
    /** A copy with src (or a number) written at index along dim (torch.scatter). */
    scatter(dim: number, index: Tensor, src: Tensor | number | boolean): Tensor;
    /** A copy with src added at index along dim (torch.scatter_add). */
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
  }
}

const P = Tensor.prototype;
P.cumsum = function (dim, options) {
  return cumsum(this, dim, options);
};
P.cumprod = function (dim, options) {
  return cumprod(this, dim, options);
};
P.sort = function (dim, descending) {
  return sort(this, dim, descending);
};
P.argsort = function (dim, descending) {
  return argsort(this, dim, descending);
};
P.topk = function (k, options) {
  return topk(this, k, options);
};
P.scatter = function (dim, index, src) {
  return scatter(this, dim, index, src);
};
P.scatterAdd = function (dim, index, src) {
  return scatterAdd(this, dim, index, src);
};
