import { gather, indexSelect, tril, triu } from '../../ops/structural.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    /** Entries along `dim` at the positions in a 1-D integer index (torch.index_select). */
    indexSelect(dim: number, index: Tensor): Tensor;
    /** Values along `dim` at the positions in `index`, which has this tensor's rank (torch.gather). */
    gather(dim: number, index: Tensor): Tensor;
    /** Upper triangle of the last two dims; zeros below `diagonal`. */
    triu(diagonal?: number): Tensor;
    /** Lower triangle of the last two dims; zeros above `diagonal`. */
    tril(diagonal?: number): Tensor;
  }
}

const P = Tensor.prototype;
P.indexSelect = function (dim, index) {
  return indexSelect(this, dim, index);
};
P.gather = function (dim, index) {
  return gather(this, dim, index);
};
P.triu = function (diagonal) {
  return triu(this, diagonal);
};
P.tril = function (diagonal) {
  return tril(this, diagonal);
};
