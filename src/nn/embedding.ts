import type { DeviceLike } from '../device/device.js';
import { XpuValueError } from '../errors.js';
import { zeros } from '../ops/creation.js';
import { randn } from '../ops/random.js';
import { tensorArg } from '../ops/common.js';
import { embedding } from '../ops/structural.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** A lookup table [num, dim] indexed by integer ids (torch.nn.Embedding; init N(0, 1)). */
export class Embedding extends Module {
  declare weight: Tensor;
  readonly num: number;
  readonly dim: number;

  /** init.requiresGrad: default `random`, as Linear's (a fresh table is trainable, a loader's frozen). */
  constructor(
    num: number,
    dim: number,
    init: { device?: DeviceLike; dtype?: DType; std?: number; random?: boolean; requiresGrad?: boolean } = {},
  ) {
    super();
    for (const [arg, v] of [
      ['num', num],
      ['dim', dim],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0)
        throw new XpuValueError('size must be a positive integer', { op: 'Embedding', arg, expected: 'an integer >= 1', got: String(v) });
    }
    this.num = num;
    this.dim = dim;
    const opts = { device: init.device, dtype: init.dtype };
    const weight = (init.random ?? true) ? randn([num, dim], { ...opts, std: init.std ?? 1 }) : zeros([num, dim], opts);
    weight.requiresGrad = init.requiresGrad ?? init.random ?? true;
    this.registerParameter('weight', weight);
  }

  forward(ids: Tensor): Tensor {
    tensorArg('Embedding.forward', 'input', ids);
    return embedding(ids, this.weight);
  }
}
