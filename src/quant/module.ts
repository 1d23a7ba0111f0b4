import { XpuTypeError } from '../errors.js';
import { typeName } from '../format_value.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { isTensor } from '../tensor/tensor.js';
import { checkQuantizeOptions, type QuantizeOptions } from './formats.js';
import { quantize } from './quantize.js';

export interface QuantizeModuleConfig extends QuantizeOptions {
  /** Which Linear layers to quantize (default: all), by dotted name and module. */
  filter?: (name: string, linear: Linear) => boolean;
  /**
   * int4: leave a Linear whose in_features is not a multiple of the group size as it is (default
   * false: such a layer is an error, as quantize() says).
   */
  skipIncompatible?: boolean;
}

/**
 * torchao's quantize_(model, config): replaces the weight of every nn.Linear in `module` (itself
 * included, recursively) by a QuantizedTensor of `config.scheme`, in place, and frees the float
 * weight. Linear.forward then runs the quantized kernels through xpu.linear. Weights that are
 * already quantized are left alone. Returns the dotted names of the layers it quantized.
 */
export function quantizeModule(module: Module, config: QuantizeModuleConfig): string[] {
  const op = 'quantizeModule';
  if (!(module instanceof Module))
    throw new XpuTypeError('expected an nn.Module', { op, arg: 'module', expected: 'Module', got: typeName(module) });
  const done: string[] = [];
  // Collect first, then swap: the walk must not see half-updated modules.
  const targets = [...module.namedModules()].filter(
    ([name, m]) => m instanceof Linear && isTensor(m.weight) && (config.filter?.(name, m) ?? true),
  );
  for (const [name, m] of targets) {
    const lin = m as Linear;
    const w = lin.weight;
    if (!isTensor(w)) continue;
    if (config.skipIncompatible) {
      try {
        checkQuantizeOptions(op, config, w.shape[1]);
      } catch {
        continue;
      }
    }
    lin.weight = quantize(w, config);
    w.dispose();
    done.push(name);
  }
  return done;
}
