import { needsGrad } from '../autograd/record.js';
import { noGrad } from '../autograd/grad_mode.js';
import type { Activation } from '../backends/backend.js';
import { XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { optionalTensorArg, tensorArg } from '../ops/common.js';
import { copyInto } from '../ops/copy_into.js';
import { zeros } from '../ops/creation.js';
import { linear } from '../ops/linear.js';
import { add, gelu, mul, relu, silu } from '../ops/math.js';
import { matmul } from '../ops/matmul.js';
import { rand } from '../ops/random.js';
import { dropout } from '../ops/random_ops.js';
import { runScope } from '../tensor/scope.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';
import { Linear } from './linear.js';
import { Module, type QuantizedLike } from './module.js';

export interface LoraConfig {
  /** The adapter's rank r (default 8). */
  rank?: number;
  /** The scale is alpha / rank (default alpha = rank: scale 1), as PEFT's. */
  alpha?: number;
  /** Dropout on the adapter's input while training (default 0). */
  dropout?: number;
  /**
   * Which Linear layers get an adapter: names (a layer matches when its dotted path ends with one,
   * e.g. ['q_proj', 'v_proj']), a predicate on (path, layer), or every Linear (default).
   */
  targets?: readonly string[] | ((path: string, layer: Linear) => boolean);
}

const ACT: Record<Activation, (x: Tensor) => Tensor> = { relu, gelu: (x) => gelu(x), silu };

/**
 * A Linear with a low-rank adapter (LoRA, Hu et al. 2021; the layout of Hugging Face PEFT):
 * y = act(x W^T + b + (alpha / r) dropout(x) A^T B^T) + residual, with A [r, in] drawn as Linear's
 * default init and B [out, r] zero, so a fresh adapter leaves the layer's output unchanged. The base
 * weight (dense or quantized) and bias are the wrapped layer's own tensors, registered under the
 * same names (weight, bias), frozen; only lora_A and lora_B require gradients, so gradients flow
 * into the adapter and through the base to the activations.
 */
export class LoraLinear extends Module {
  declare weight: Tensor | QuantizedLike;
  declare bias: Tensor | undefined;
  declare lora_A: Tensor;
  declare lora_B: Tensor;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly rank: number;
  readonly scale: number;
  readonly dropout: number;
  /** True after merge(): the adapter is folded into the dense weight and skipped. */
  merged = false;

  constructor(base: Linear, config: { rank: number; alpha: number; dropout: number }) {
    super();
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.rank = config.rank;
    this.scale = config.alpha / config.rank;
    this.dropout = config.dropout;
    const w = base.weight;
    if (isTensor(w)) w.requiresGrad = false;
    if (base.bias) base.bias.requiresGrad = false;
    this.registerParameter('weight', w);
    this.registerParameter('bias', base.bias);
    const device = w.device;
    const bound = 1 / Math.sqrt(this.inFeatures);
    const a = rand([this.rank, this.inFeatures], { device, low: -bound, high: bound });
    const b = zeros([this.outFeatures, this.rank], { device });
    a.requiresGrad = true;
    b.requiresGrad = true;
    this.registerParameter('lora_A', a);
    this.registerParameter('lora_B', b);
  }

  forward(x: Tensor, options: { activation?: Activation; residual?: Tensor } = {}): Tensor {
    tensorArg('LoraLinear.forward', 'input', x);
    optionalTensorArg('LoraLinear.forward', 'residual', options.residual);
    if (this.merged) return linear(x, this.weight as Tensor, { bias: this.bias, ...options });
    const run = (): Tensor => {
      const act = options.activation;
      // Without an activation the residual fuses into the base GEMM; with one it is added after it.
      const base = linear(x, this.weight as Tensor, { bias: this.bias, residual: act ? undefined : options.residual });
      const h = this.dropout > 0 ? dropout(x, this.dropout, this.training) : x;
      let y = add(base, mul(linear(linear(h, this.lora_A), this.lora_B), this.scale));
      if (act) y = ACT[act](y);
      if (act && options.residual) y = add(y, options.residual);
      return y;
    };
    // A scope frees the intermediates, unless a graph is recorded that needs them.
    return needsGrad(x, this.lora_A, this.lora_B) ? run() : runScope(run, isTensor);
  }

  /** Folds scale * B @ A into the dense base weight in place and skips the adapter (inference). */
  merge(): void {
    this.#fold(1);
    this.merged = true;
  }

  /** Undoes merge(). */
  unmerge(): void {
    this.#fold(-1);
    this.merged = false;
  }

  #fold(sign: 1 | -1): void {
    const w = this.weight;
    if (!isTensor(w))
      throw new XpuValueError('a quantized base weight cannot absorb the adapter', {
        op: 'LoraLinear.merge',
        arg: 'weight',
        expected: 'a dense weight',
        got: `scheme ${(w as QuantizedLike).scheme}`,
      });
    if (this.merged === (sign === 1))
      throw new XpuValueError(sign === 1 ? 'already merged' : 'not merged', {
        op: sign === 1 ? 'LoraLinear.merge' : 'LoraLinear.unmerge',
        arg: 'this',
        expected: sign === 1 ? 'an unmerged layer' : 'a merged layer',
        got: sign === 1 ? 'merged' : 'unmerged',
      });
    noGrad(() =>
      runScope(() => {
        const delta = mul(matmul(this.lora_B, this.lora_A), sign * this.scale);
        copyInto(w, add(w, delta));
      }, isTensor),
    );
  }
}

/**
 * Wraps the targeted Linear layers of `module` in LoraLinear adapters, in place (each parent's
 * submodule slot now holds the adapter), freezes every other parameter of the module, and returns
 * the adapters by path. `module.parameters()` then yields only the adapters' A and B.
 */
export function apply(module: Module, config: LoraConfig = {}): Map<string, LoraLinear> {
  const op = 'lora.apply';
  if (!(module instanceof Module))
    throw new XpuTypeError('lora.apply takes a module', { op, arg: 'module', expected: 'Module', got: typeName(module) });
  const rank = config.rank ?? 8;
  const alpha = config.alpha ?? rank;
  const p = config.dropout ?? 0;
  if (!Number.isInteger(rank) || rank < 1)
    throw new XpuValueError('rank must be a positive integer', { op, arg: 'rank', expected: 'an integer >= 1', got: String(rank) });
  if (typeof alpha !== 'number' || !Number.isFinite(alpha))
    throw new XpuValueError('alpha must be a finite number', { op, arg: 'alpha', expected: 'a finite number', got: String(alpha) });
  if (typeof p !== 'number' || !(p >= 0 && p < 1))
    throw new XpuValueError('dropout must be in [0, 1)', { op, arg: 'dropout', expected: 'a number in [0, 1)', got: String(p) });
  const t = config.targets;
  if (t !== undefined && typeof t !== 'function' && !Array.isArray(t))
    throw new XpuTypeError('targets must be names or a predicate', {
      op,
      arg: 'targets',
      expected: 'string[] | (path, layer) => boolean',
      got: typeName(t),
    });
  const wanted = (path: string, layer: Linear): boolean =>
    t === undefined ? true : typeof t === 'function' ? t(path, layer) : t.some((n) => path === n || path.endsWith(`.${n}`));
  module.requiresGrad_(false);
  const out = new Map<string, LoraLinear>();
  const visit = (m: Module, prefix: string): void => {
    for (const [name, child] of [...m.namedChildren()]) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (child instanceof Linear && wanted(path, child)) {
        const adapter = new LoraLinear(child, { rank, alpha, dropout: p });
        adapter.training = child.training;
        m.setModule(name, adapter);
        out.set(path, adapter);
      } else if (!(child instanceof LoraLinear)) {
        visit(child, path);
      }
    }
  };
  visit(module, '');
  if (out.size === 0)
    throw new XpuValueError('no Linear layer matched the targets', {
      op,
      arg: 'targets',
      expected: 'names or a predicate matching at least one Linear',
      got: Array.isArray(t) ? t.join(', ') : typeName(t),
    });
  return out;
}

/** merge() on every adapter of `module` (dense bases only). */
export function merge(module: Module): void {
  for (const [, m] of module.namedModules()) if (m instanceof LoraLinear && !m.merged) m.merge();
}
