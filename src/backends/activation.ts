import type { Activation } from './backend.js';
import { gelu } from './scalar_math.js';

/**
 * The activations a GEMM epilogue fuses, once for both devices: a WGSL expression over an f32
 * value (helpers from kernels/common/math.wgsl) and its JavaScript twin. They are the same
 * formulas as the elementwise relu/gelu/silu (src/ops/elementwise_table.ts), so a fused linear
 * equals linear followed by the op.
 */
export interface ActivationDef {
  wgsl: (x: string) => string;
  js: (x: number) => number;
}

export const ACTIVATIONS: Record<Activation, ActivationDef> = {
  // select keeps NaN (NaN < 0 is false), as torch.relu does; max(NaN, 0) is unspecified in WGSL.
  relu: { wgsl: (x) => `select(${x}, 0.0, ${x} < 0.0)`, js: (x) => (x < 0 ? 0 : x) },
  gelu: { wgsl: (x) => `gelu_f32(${x})`, js: gelu },
  silu: { wgsl: (x) => `silu_f32(${x})`, js: (x) => x * (1 / (1 + Math.exp(-x))) },
};

export const isActivation = (x: unknown): x is Activation => typeof x === 'string' && x in ACTIVATIONS;
