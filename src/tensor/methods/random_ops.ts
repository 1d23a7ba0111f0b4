import { multinomial } from '../../ops/random_ops.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    /** numSamples int32 class indices per row, drawn with these weights (torch.multinomial). */
    multinomial(numSamples: number, replacement?: boolean): Tensor;
  }
}

Tensor.prototype.multinomial = function (numSamples, replacement) {
  return multinomial(this, numSamples, replacement);
};
