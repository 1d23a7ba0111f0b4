import type { Activation } from '../../backends/backend.js';
import { linear } from '../../ops/linear.js';
import { mul } from '../../ops/math.js';
import { matmul } from '../../ops/matmul.js';
import { reshape, squeeze, transpose, unsqueeze } from '../../ops/views.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineGrad } from '../record.js';
import { isGradEnabled } from '../grad_mode.js';
import { quantizedLinear } from '../../quant/linear.js';
import type { QuantizedTensor } from '../../quant/quantized_tensor.js';
import { geluGrad, reluGrad, siluGrad } from './elementwise.js';

/**
 * Gradients of the GEMM ops: matmul (bmm and mm go through it), addmm and linear with its fused
 * epilogue. Broadcast batch dims are summed by the engine (it reduces every gradient to its
 * input's shape).
 */

type T = Tensor;
const mT = (x: T): T => transpose(x, -1, -2);

// matmul: 1-D operands are a row (left) or a column (right), as in the forward.
defineGrad('matmul', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [a, b] = c.inputs as T[];
    const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
    const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
    let g = g0 as T;
    if (a.ndim === 1) g = unsqueeze(g, g.ndim - (b.ndim === 1 ? 0 : 1));
    if (b.ndim === 1) g = unsqueeze(g, g.ndim);
    let ga = c.needs[0] ? matmul(g, mT(b2)) : null;
    let gb = c.needs[1] ? matmul(mT(a2), g) : null;
    if (ga && a.ndim === 1) ga = squeeze(ga, -2);
    if (gb && b.ndim === 1) gb = squeeze(gb, -1);
    return [ga, gb];
  },
});

// addmm: beta * input + alpha * mat1 @ mat2.
defineGrad('addmm', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [, m1, m2] = c.inputs as T[];
    const { alpha, beta } = c.attrs as { alpha: number; beta: number };
    const g = g0 as T;
    return [
      c.needs[0] ? mul(g, beta) : null,
      c.needs[1] ? mul(matmul(g, mT(m2)), alpha) : null,
      c.needs[2] ? mul(matmul(mT(m1), g), alpha) : null,
    ];
  },
});

const ACTIVATION_GRADS: Record<Activation, (g: T, z: T) => T> = { relu: reluGrad, gelu: geluGrad, silu: siluGrad };

/**
 * linear: y = act(x W^T + b) + r, inputs [x, W, b?, r?]. With an activation the pre-activation
 * is the one the forward kept (attrs.preActivation, xpu) or is recomputed (one GEMM with the bias
 * fused; cpu, where the forward stays one fused launch).
 */
defineGrad('linear', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [x, w, bias] = c.inputs as (T | null)[];
    const { activation, preActivation } = c.attrs as { activation?: Activation; preActivation?: T };
    const g = g0 as T;
    // The forward's pre-activation where it kept one (xpu, src/ops/linear.ts); recomputed otherwise,
    // and under createGraph, so that a double backward differentiates through x, W and b.
    const pre = () => (preActivation && !isGradEnabled() ? preActivation : linear(x as T, w as T, { bias: bias ?? undefined }));
    const gz = activation ? ACTIVATION_GRADS[activation](g, pre()) : g;
    const [n, k] = (w as T).shape;
    return [
      c.needs[0] ? matmul(gz, w as T) : null,
      c.needs[1] ? matmul(mT(reshape(gz, [-1, n])), reshape(x as T, [-1, k])) : null,
      c.needs[2] ? gz : null, // summed over the rows by the engine
      c.needs[3] ? g : null,
    ];
  },
});

// linear over a quantized (frozen) weight: inputs [x, bias, residual]; x's gradient through the
// dequantized weight (made for the backward, then dropped).
defineGrad('linearQuantized', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [x, bias] = c.inputs as (T | null)[];
    const { weight, activation } = c.attrs as { weight: QuantizedTensor; activation?: Activation };
    const g = g0 as T;
    const gz = activation ? ACTIVATION_GRADS[activation](g, quantizedLinear(x as T, weight, { bias: bias ?? undefined })) : g;
    return [
      c.needs[0] ? matmul(gz, weight.dequantize(gz.dtype === 'float16' ? 'float16' : 'float32')) : null,
      c.needs[1] ? gz : null,
      c.needs[2] ? g : null,
    ];
  },
});
