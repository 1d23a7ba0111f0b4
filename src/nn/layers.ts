import type { DeviceLike } from '../device/device.js';
import { XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { tensorArg } from '../ops/common.js';
import { ones, zeros } from '../ops/creation.js';
import { gelu, relu, sigmoid, silu, tanh } from '../ops/math.js';
import { layerNorm, logSoftmax, softmax } from '../ops/norm.js';
import { dropout } from '../ops/random_ops.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** A module with a one-tensor forward: what Sequential chains. */
export interface UnaryModule extends Module {
  forward(x: Tensor): Tensor;
}

/** Modules applied in order, named '0', '1', ... (torch.nn.Sequential); a replaced child (setModule, LoRA) takes part. */
export class Sequential extends Module {
  constructor(...layers: UnaryModule[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module) || typeof (m as { forward?: unknown }).forward !== 'function') {
        throw new XpuTypeError('Sequential takes modules with a forward(x)', {
          op: 'Sequential',
          arg: `layers[${i}]`,
          expected: 'a Module with forward(x)',
          got: typeName(m),
        });
      }
      this.registerModule(String(i), m);
    });
  }

  forward(x: Tensor): Tensor {
    tensorArg('Sequential.forward', 'input', x);
    let y = x;
    for (const [, m] of this.namedChildren()) y = (m as UnaryModule).forward(y);
    return y;
  }
}

/** Dropout (torch.nn.Dropout): xpu.dropout(x, p) while training, the identity in eval(). */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1))
      throw new XpuValueError('dropout probability must be in [0, 1]', {
        op: 'Dropout',
        arg: 'p',
        expected: 'a number in [0, 1]',
        got: String(p),
      });
  }

  forward(x: Tensor): Tensor {
    tensorArg('Dropout.forward', 'input', x);
    return dropout(x, this.p, this.training);
  }
}

export interface LayerNormInit {
  eps?: number;
  /** Learnable weight (ones) and bias (zeros), default true (torch's elementwise_affine). */
  elementwiseAffine?: boolean;
  bias?: boolean;
  device?: DeviceLike;
  dtype?: DType;
  /** Default true: a fresh layer is trainable (as Linear's default). */
  requiresGrad?: boolean;
}

/** LayerNorm over the trailing dims `normalizedShape` (torch.nn.LayerNorm). */
export class LayerNorm extends Module {
  declare weight: Tensor | undefined;
  declare bias: Tensor | undefined;
  readonly normalizedShape: number[];
  readonly eps: number;

  constructor(normalizedShape: number | number[], init: LayerNormInit = {}) {
    super();
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new XpuValueError('normalizedShape must be positive integers', {
        op: 'LayerNorm',
        arg: 'normalizedShape',
        expected: 'an integer >= 1 or a list of them',
        got: String(normalizedShape),
      });
    }
    this.normalizedShape = shape;
    this.eps = init.eps ?? 1e-5;
    const affine = init.elementwiseAffine ?? true;
    const opts = { device: init.device, dtype: init.dtype };
    const w = affine ? ones(shape, opts) : undefined;
    const b = affine && (init.bias ?? true) ? zeros(shape, opts) : undefined;
    for (const t of [w, b]) if (t) t.requiresGrad = init.requiresGrad ?? true;
    this.registerParameter('weight', w);
    this.registerParameter('bias', b);
  }

  forward(x: Tensor): Tensor {
    tensorArg('LayerNorm.forward', 'input', x);
    return layerNorm(x, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }
}

/** max(x, 0) (torch.nn.ReLU). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(tensorArg('ReLU.forward', 'input', x));
  }
}

/** GELU, exact (erf) or approximate: 'tanh' (torch.nn.GELU). */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }

  forward(x: Tensor): Tensor {
    return gelu(tensorArg('GELU.forward', 'input', x), { approximate: this.approximate });
  }
}

/** x * sigmoid(x) (torch.nn.SiLU). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(tensorArg('SiLU.forward', 'input', x));
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(tensorArg('Tanh.forward', 'input', x));
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(tensorArg('Sigmoid.forward', 'input', x));
  }
}

/** softmax along `dim` (torch.nn.Softmax; dim is required here, torch's implicit choice is deprecated). */
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
  }

  forward(x: Tensor): Tensor {
    return softmax(tensorArg('Softmax.forward', 'input', x), this.dim);
  }
}

export class LogSoftmax extends Module {
  constructor(readonly dim: number) {
    super();
  }

  forward(x: Tensor): Tensor {
    return logSoftmax(tensorArg('LogSoftmax.forward', 'input', x), this.dim);
  }
}
