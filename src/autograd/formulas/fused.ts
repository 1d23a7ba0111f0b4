import { erf, sigmoid } from '../../backends/scalar_math.js';
import { run } from '../../ops/elementwise.js';
import type { ElementwiseDef } from '../../ops/elementwise_table.js';
import type { Tensor } from '../../tensor/tensor.js';
import { isGradEnabled } from '../grad_mode.js';

/**
 * Activation gradients as one elementwise kernel each (WGSL over x0 = grad, x1 = input or output,
 * and the float64 JS twin), instead of the 5-10 ops of their composite form: a gelu backward over
 * a [64, 1024] activation was ten passes. Used when the backward is not itself recorded
 * (createGraph takes the composite, differentiable form) and both operands share a dtype.
 */

const def = (wgsl: string, js: (g: number, x: number) => number): ElementwiseDef => ({
  wgsl: () => wgsl,
  js: () => js as (...x: number[]) => number,
});
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const FUSED = {
  // Phi(x) + x phi(x)
  geluBackward: def(
    'let cdf = 0.5 * (1.0 + erf_f32(x1 * 0.7071067811865476));\n  let pdf = exp_f32(-0.5 * x1 * x1) * 0.3989422804014327;\n  return x0 * (cdf + x1 * pdf);',
    (g, x) => g * (0.5 * (1 + erf(x * Math.SQRT1_2)) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI),
  ),
  // s (1 + x (1 - s))
  siluBackward: def('let s = sigmoid_f32(x1);\n  return x0 * s * (1.0 + x1 * (1.0 - s));', (g, x) => {
    const s = sigmoid(x);
    return g * s * (1 + x * (1 - s));
  }),
  // From the output y: 1 - y^2 and y (1 - y).
  tanhBackward: def('return x0 * (1.0 - x1 * x1);', (g, y) => g * (1 - y * y)),
  sigmoidBackward: def('return x0 * x1 * (1.0 - x1);', (g, y) => g * y * (1 - y)),
} as const;

/** The fused kernel's result, or null where the composite form must run (createGraph, mixed dtypes). */
export function fusedGrad(name: keyof typeof FUSED, g: Tensor, x: Tensor): Tensor | null {
  if (isGradEnabled() || g.dtype !== x.dtype || (g.dtype !== 'float32' && g.dtype !== 'float16')) return null;
  return run(name, FUSED[name], [g, x], 'float32', g.dtype, ['grad', 'input']);
}
