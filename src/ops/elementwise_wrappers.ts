import type { Tensor } from '../tensor/tensor.js';
import { intArg, numberArg } from '../tensor/shape.js';
import { optionsArg } from './common.js';
import { parametricOp, unaryOp } from './elementwise.js';

/**
 * The hand-written functions of elementwise ops that take options or parameters. Each is declared
 * by its entry in src/ops/elementwise_table.ts (kind 'wrapper', with the doc comment), and
 * scripts/gen_ops.ts exports it as `xpu.<name>` and installs its Tensor method from there.
 */

export function gelu(x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return unaryOp(options.approximate === 'tanh' ? 'gelu_tanh' : 'gelu', x);
}

export function round(x: Tensor, options: { decimals?: number } = {}): Tensor {
  const decimals = intArg('round', 'decimals', optionsArg('round', options).decimals ?? 0, { min: -38, max: 38 });
  if (decimals === 0) return unaryOp('round', x);
  return parametricOp('round', 'roundDecimals', x, [Math.fround(10 ** Math.abs(decimals)), decimals < 0 ? 1 : 0]);
}

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return parametricOp('leakyRelu', 'leakyRelu', x, [numberArg('leakyRelu', 'negativeSlope', negativeSlope)]);
}

export function elu(x: Tensor, alpha = 1): Tensor {
  return parametricOp('elu', 'elu', x, [numberArg('elu', 'alpha', alpha)]);
}

export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return parametricOp('softplus', 'softplus', x, [numberArg('softplus', 'beta', beta), numberArg('softplus', 'threshold', threshold)]);
}
