import { matmul, mm } from '../../ops/matmul.js';
import { addmm, bmm, linear, type AddmmOptions, type LinearOptions } from '../../ops/linear.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    matmul(other: Tensor): Tensor;
    mm(other: Tensor): Tensor;
    bmm(mat2: Tensor): Tensor;
    /** beta * this + alpha * (mat1 @ mat2) (torch.Tensor.addmm). */
    addmm(mat1: Tensor, mat2: Tensor, options?: AddmmOptions): Tensor;
    /** linear(this, weight, options): this @ weight^T + bias, activation, + residual, fused. */
    linear(weight: Tensor, options?: LinearOptions): Tensor;
  }
}

Tensor.prototype.matmul = function (other) {
  return matmul(this, other);
};
Tensor.prototype.mm = function (other) {
  return mm(this, other);
};
Tensor.prototype.bmm = function (mat2) {
  return bmm(this, mat2);
};
Tensor.prototype.addmm = function (mat1, mat2, options) {
  return addmm(this, mat1, mat2, options);
};
Tensor.prototype.linear = function (weight, options) {
  return linear(this, weight, options);
};
