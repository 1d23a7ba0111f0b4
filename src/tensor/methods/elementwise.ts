import { where, type TensorOrScalar } from '../../ops/elementwise.js';
import { Tensor } from '../tensor.js';
// The methods of the elementwise table's ops (t.add, t.exp, t.gelu...) and their types,
// generated from src/ops/elementwise_table.ts by scripts/gen_ops.ts.
import '../../ops/generated/elementwise_methods.js';

declare module '../tensor.js' {
  interface Tensor {
    /** where(cond, this, other): this where cond is true. */
    where(cond: Tensor, other: TensorOrScalar): Tensor;
  }
}

Tensor.prototype.where = function (cond, other) {
  return where(cond, this, other);
};
