import * as n from '../../ops/norm.js';
import type { LayerNormOptions, RmsNormOptions } from '../../ops/norm.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    softmax(dim: number): Tensor;
    logSoftmax(dim: number): Tensor;
    /** LayerNorm over the trailing dims `normalizedShape`. */
    layerNorm(normalizedShape: number[], options?: LayerNormOptions): Tensor;
    /** RMSNorm over the trailing dims `normalizedShape`. */
    rmsNorm(normalizedShape: number[], options?: RmsNormOptions): Tensor;
  }
}

const P = Tensor.prototype;
P.softmax = function (dim) {
  return n.softmax(this, dim);
};
P.logSoftmax = function (dim) {
  return n.logSoftmax(this, dim);
};
P.layerNorm = function (shape, options) {
  return n.layerNorm(this, shape, options);
};
P.rmsNorm = function (shape, options) {
  return n.rmsNorm(this, shape, options);
};
