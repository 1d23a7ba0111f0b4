import type { DeviceLike } from '../device/device.js';
import { XpuValueError } from '../errors.js';
import type { Activation } from '../backends/backend.js';
import { optionalTensorArg, tensorArg } from '../ops/common.js';
import { linear } from '../ops/linear.js';
import { zeros } from '../ops/creation.js';
import { rand } from '../ops/random.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module, type QuantizedLike } from './module.js';

export interface LinearInit {
  /** Include a bias (default true, as torch.nn.Linear). */
  bias?: boolean;
  device?: DeviceLike;
  dtype?: DType;
  /** Draw random weights (default); false allocates zeros for a loader to overwrite. */
  random?: boolean;
  /**
   * Whether weight and bias require gradients. Default: `random` (torch's default, trainable, for
   * a freshly initialised layer; a layer made for a loader, random: false, stays frozen so that
   * inference records no graph). module.requiresGrad_() changes it later.
   */
  requiresGrad?: boolean;
}

/**
 * y = x @ weight^T + bias (torch.nn.Linear). weight is [out_features, in_features]; after
 * quantization (xpu.quant.quantizeModule) it is a quantized tensor, and ops/linear dispatches on it.
 * Weights start as PyTorch's default, U(-1/sqrt(in), 1/sqrt(in)), drawn from the global seeded RNG.
 */
export class Linear extends Module {
  declare weight: Tensor | QuantizedLike;
  declare bias: Tensor | undefined;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, init: LinearInit = {}) {
    super();
    for (const [arg, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0)
        throw new XpuValueError('feature count must be a positive integer', {
          op: 'Linear',
          arg,
          expected: 'an integer >= 1',
          got: String(v),
        });
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const bound = 1 / Math.sqrt(inFeatures);
    const opts = { device: init.device, dtype: init.dtype, low: -bound, high: bound };
    const make = (shape: number[]) => ((init.random ?? true) ? rand(shape, opts) : zeros(shape, opts));
    const trainable = init.requiresGrad ?? init.random ?? true;
    const weight = make([outFeatures, inFeatures]);
    weight.requiresGrad = trainable;
    const bias = (init.bias ?? true) ? make([outFeatures]) : undefined;
    if (bias) bias.requiresGrad = trainable;
    this.registerParameter('weight', weight);
    this.registerParameter('bias', bias);
  }

  /**
   * act(x @ W^T + b) + residual. A dense weight fuses the activation and the residual into the
   * GEMM's store; a quantized weight goes through the same ops/linear call (it dispatches on the
   * weight's type), and src/quant/linear.ts fuses what its kernels can (GGUF formats on cpu) and
   * runs the rest as separate ops.
   */
  forward(x: Tensor, options: { activation?: Activation; residual?: Tensor } = {}): Tensor {
    tensorArg('Linear.forward', 'input', x);
    optionalTensorArg('Linear.forward', 'residual', options.residual);
    return linear(x, this.weight as Tensor, { bias: this.bias, ...options });
  }
}
