import { backward, type BackwardOptions } from '../../autograd/engine.js';
import { GradNode, setRequiresGrad } from '../../autograd/record.js';
import { outputIndexOf } from '../../autograd/record.js';
import { XpuValueError } from '../../errors.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    /**
     * Accumulates the gradient of this tensor into the `.grad` of the leaves it was computed from
     * (torch's tensor.backward()). `grad` is needed unless this tensor has one element.
     */
    backward(grad?: Tensor | null, options?: BackwardOptions): void;
    /** Sets requiresGrad in place and returns this tensor (floating dtypes only, as torch). */
    requiresGrad_(flag?: boolean): this;
    /** Makes backward() also fill `.grad` of this non-leaf tensor (torch's retain_grad()); a no-op on a leaf. */
    retainGrad(): this;
    /** Whether this tensor is a leaf of the graph: made by the user, not by an op that recorded a gradient. */
    readonly isLeaf: boolean;
  }
}

const P = Tensor.prototype;
P.backward = function (this: Tensor, grad?: Tensor | null, options?: BackwardOptions) {
  this.check('backward');
  backward(this, grad ?? undefined, options);
};
P.requiresGrad_ = function (this: Tensor, flag = true) {
  this.check('requiresGrad_');
  return setRequiresGrad('requiresGrad_', this, flag);
} as Tensor['requiresGrad_'];
P.retainGrad = function (this: Tensor) {
  this.check('retainGrad');
  if (!this.requiresGrad)
    throw new XpuValueError("can't retain grad on a tensor that does not require grad", {
      op: 'retainGrad',
      arg: 'input',
      expected: 'a tensor with requiresGrad',
      got: 'requiresGrad false',
    });
  const node = this.gradFn;
  if (node instanceof GradNode) {
    node.retained ??= [];
    node.retained[outputIndexOf(this)] = this;
  }
  return this;
} as Tensor['retainGrad'];
Object.defineProperty(P, 'isLeaf', {
  get(this: Tensor) {
    return this.gradFn === null;
  },
  configurable: true,
});
