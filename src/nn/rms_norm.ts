import type { DeviceLike } from '../device/device.js';
import { tensorArg } from '../ops/common.js';
import { rmsNorm } from '../ops/norm.js';
import { ones } from '../ops/creation.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** x / sqrt(mean(x^2) + eps) * weight over the last dim (Llama's RMSNorm; weight starts at 1). */
export class RMSNorm extends Module {
  declare weight: Tensor;
  readonly eps: number;
  readonly dim: number;

  /** init.requiresGrad: default true (a fresh layer is trainable, as torch's; LlamaForCausalLM freezes its own). */
  constructor(dim: number, init: { eps?: number; device?: DeviceLike; dtype?: DType; requiresGrad?: boolean } = {}) {
    super();
    this.dim = dim;
    this.eps = init.eps ?? 1e-6;
    const weight = ones([dim], { device: init.device, dtype: init.dtype });
    weight.requiresGrad = init.requiresGrad ?? true;
    this.registerParameter('weight', weight);
  }

  forward(x: Tensor): Tensor {
    tensorArg('RMSNorm.forward', 'input', x);
    return rmsNorm(x, [this.dim], { weight: this.weight, eps: this.eps });
  }
}
