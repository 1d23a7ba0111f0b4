import { matmul, mm } from '../../ops/matmul.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    matmul(other: Tensor): Tensor;
    mm(other: Tensor): Tensor;
  }
}

Tensor.prototype.matmul = function (other) { return matmul(this, other); };
Tensor.prototype.mm = function (other) { return mm(this, other); };
