import { to } from '../../ops/transfer.js';
import { XpuIndexError } from '../../errors.js';
import { intArg } from '../shape.js';
import { makeView, Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    /** The shape (torch's size()), or the size of one dim (negative dims count from the end). */
    size(): number[];
    size(dim: number): number;
    /** The number of dims (torch's dim()). */
    dim(): number;
    /** A float32 copy, or this tensor if it is float32 already (torch's float()). */
    float(): Tensor;
    /** A float16 copy, or this tensor if it is float16 already (torch's half()). */
    half(): Tensor;
    /** A new tensor sharing this one's storage, cut from the graph: requiresGrad false, no gradFn (torch's detach()). */
    detach(): Tensor;
  }
}

const P = Tensor.prototype;
P.size = function (this: Tensor, dim?: number) {
  this.check('size');
  if (dim === undefined) return this.shape.slice();
  // A 0-d tensor has no dim to ask about (torch: IndexError).
  const d = intArg('size', 'dim', dim, { min: -this.ndim, max: this.ndim - 1, rangeError: XpuIndexError });
  return this.shape[d < 0 ? d + this.ndim : d];
} as Tensor['size'];
P.dim = function () {
  return this.check('dim').ndim;
};
P.float = function () {
  return to(this, 'float32');
};
P.half = function () {
  return to(this, 'float16');
};
P.detach = function () {
  return makeView(this.check('detach'), this.shape, this.strides, this.offset);
};
