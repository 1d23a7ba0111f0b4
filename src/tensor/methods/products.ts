import { dot, outer } from '../../ops/einsum.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    /** Outer product with another 1-D tensor. */
    outer(vec2: Tensor): Tensor;
    /** Dot product with another 1-D tensor of the same dtype and length. */
    dot(other: Tensor): Tensor;
  }
}

Tensor.prototype.outer = function (vec2) {
  return outer(this, vec2);
};
Tensor.prototype.dot = function (other) {
  return dot(this, other);
};
