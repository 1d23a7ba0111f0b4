import type { DeviceLike } from '../device/device.js';
import { optionalTensorArg, tensorArg } from '../ops/common.js';
import { mul } from '../ops/math.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

/** Llama's feed-forward: down_proj(silu(gate_proj(x)) * up_proj(x)), no biases (HF names). */
export class SwiGLU extends Module {
  declare gate_proj: Linear;
  declare up_proj: Linear;
  declare down_proj: Linear;

  constructor(hiddenSize: number, intermediateSize: number, init: { device?: DeviceLike; dtype?: DType; random?: boolean } = {}) {
    super();
    const o = { bias: false, ...init };
    this.registerModule('gate_proj', new Linear(hiddenSize, intermediateSize, o));
    this.registerModule('up_proj', new Linear(hiddenSize, intermediateSize, o));
    this.registerModule('down_proj', new Linear(intermediateSize, hiddenSize, o));
  }

  /** With `residual`, returns residual + mlp(x), the add fused into down_proj. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    tensorArg('SwiGLU.forward', 'input', x);
    optionalTensorArg('SwiGLU.forward', 'residual', residual);
    const g = this.gate_proj.forward(x, { activation: 'silu' });
    const u = this.up_proj.forward(x);
    const h = mul(g, u);
    g.dispose();
    u.dispose();
    const out = this.down_proj.forward(h, { residual });
    h.dispose();
    return out;
  }
}
