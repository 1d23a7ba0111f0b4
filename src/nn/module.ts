import type { Device, DeviceLike } from '../device/device.js';
import { XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { copyInto } from '../ops/copy_into.js';
import { noGrad } from '../autograd/grad_mode.js';
import { typeName } from '../format_value.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';

/**
 * The smallest structural contract a quantized weight must meet to sit where a Tensor parameter
 * sat (Linear.weight after quantizeModule). It is structural so that src/nn does not depend on
 * src/quant: any object with these members fits. `to` is optional; a quantized weight without it
 * cannot be moved by Module.to().
 */
export interface QuantizedLike {
  /** The logical (dequantized) shape, [out_features, in_features] for a Linear weight. */
  readonly shape: readonly number[];
  readonly device: Device;
  /** Names the quantization scheme ('int8_weight_only', ...); tells it apart from a Tensor. */
  readonly scheme: string;
  dispose(): void;
  toAsync?(device: DeviceLike): Promise<QuantizedLike>;
}

/** What a module may hold as a parameter. */
export type Parameter = Tensor | QuantizedLike;

export function isQuantizedLike(x: unknown): x is QuantizedLike {
  return (
    typeof x === 'object' &&
    x !== null &&
    !isTensor(x) &&
    typeof (x as QuantizedLike).scheme === 'string' &&
    Array.isArray((x as QuantizedLike).shape)
  );
}

/**
 * The base of every layer (torch.nn.Module in spirit). Parameters and submodules are registered
 * by name and exposed as ordinary properties: `lin.weight = q` replaces the registered entry, so
 * code that swaps weights (quantization) needs no special API. Subclasses declare such properties
 * with `declare` so TypeScript emits no class field that would shadow the accessor.
 */
export class Module {
  readonly #params = new Map<string, Parameter | undefined>();
  readonly #modules = new Map<string, Module>();
  /** Buffers (torch's register_buffer): state that is not a parameter; `persistent` ones are in stateDict. */
  readonly #buffers = new Map<string, { tensor: Tensor | undefined; persistent: boolean }>();
  /** Training mode (torch's module.training): Dropout drops only while it is true. Set by train() / eval(). */
  training = true;

  /** Registers `value` (undefined allowed: an absent optional bias) under `name`. */
  protected registerParameter<T extends Parameter | undefined>(name: string, value: T): T {
    this.#checkName(name);
    this.#params.set(name, value);
    Object.defineProperty(this, name, {
      enumerable: true,
      configurable: false,
      get: () => this.#params.get(name),
      set: (v: Parameter | undefined) => {
        if (v !== undefined && !isTensor(v) && !isQuantizedLike(v)) {
          throw new XpuTypeError('a parameter must be a Tensor or a quantized tensor', {
            op: 'Module',
            arg: name,
            expected: 'Tensor | QuantizedLike',
            got: typeName(v),
          });
        }
        this.#params.set(name, v);
      },
    });
    return value;
  }

  /**
   * Registers a buffer (torch's register_buffer): a tensor the module keeps that is not a
   * parameter (running statistics, a mask, a table). It is exposed as a property like a
   * parameter, listed by buffers() / namedBuffers(), moved by to(), freed by dispose(), broadcast
   * from the first rank by DistributedDataParallel, and, when `persistent` (the default), saved
   * and loaded by stateDict() / loadStateDict() after the parameters. Never given to an optimizer.
   * undefined is allowed (a buffer set later).
   */
  registerBuffer(name: string, tensor: Tensor | undefined, options: { persistent?: boolean } = {}): Tensor | undefined {
    const op = 'Module.registerBuffer';
    if (tensor !== undefined && !isTensor(tensor))
      throw new XpuTypeError('a buffer must be a Tensor or undefined', {
        op,
        arg: 'tensor',
        expected: 'Tensor | undefined',
        got: typeName(tensor),
      });
    if (typeof options !== 'object' || options === null)
      throw new XpuTypeError('options must be an object', {
        op,
        arg: 'options',
        expected: '{ persistent?: boolean }',
        got: typeName(options),
      });
    if (options.persistent !== undefined && typeof options.persistent !== 'boolean')
      throw new XpuTypeError('persistent must be a boolean', {
        op,
        arg: 'persistent',
        expected: 'boolean',
        got: typeName(options.persistent),
      });
    this.#checkName(name);
    const entry = { tensor, persistent: options.persistent ?? true };
    this.#buffers.set(name, entry);
    Object.defineProperty(this, name, {
      enumerable: true,
      configurable: false,
      get: () => entry.tensor,
      set: (v: Tensor | undefined) => {
        if (v !== undefined && !isTensor(v))
          throw new XpuTypeError('a buffer must be a Tensor or undefined', {
            op: 'Module',
            arg: name,
            expected: 'Tensor | undefined',
            got: typeName(v),
          });
        entry.tensor = v;
      },
    });
    return tensor;
  }

  /** Buffers, recursively, as [dotted name, tensor] (unset ones are skipped); torch's named_buffers(). */
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, b] of m.#buffers) if (b.tensor !== undefined) yield [path ? `${path}.${name}` : name, b.tensor];
    }
  }

  /** The buffers' tensors, recursively (torch's buffers()). */
  *buffers(): Generator<Tensor> {
    for (const [, b] of this.namedBuffers()) yield b;
  }

  #persistentBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [name, b] of m.#buffers) if (b.tensor !== undefined && b.persistent) out.push([path ? `${path}.${name}` : name, b.tensor]);
    }
    return out;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#checkName(name);
    this.#modules.set(name, module);
    Object.defineProperty(this, name, {
      enumerable: true,
      configurable: false,
      get: () => this.#modules.get(name),
      set: (m: Module) => this.#modules.set(name, m),
    });
    return module;
  }

  /** Registers a list of submodules named `${name}.0`, `${name}.1`, ... (nn.ModuleList). */
  protected registerModuleList<M extends Module>(name: string, modules: M[]): M[] {
    this.registerModule(name, new ModuleList(modules));
    return modules;
  }

  #checkName(name: string): void {
    if (
      typeof name !== 'string' ||
      !/^([A-Za-z_][A-Za-z0-9_]*|\d+)$/.test(name) ||
      this.#params.has(name) ||
      this.#modules.has(name) ||
      this.#buffers.has(name)
    ) {
      throw new XpuValueError('parameter or module name must be an identifier (or an index) not already registered', {
        op: 'Module',
        arg: 'name',
        expected: 'a new identifier',
        got: name,
      });
    }
  }

  /** The direct submodules in registration order, as [name, module] (torch's named_children()). */
  *namedChildren(): Generator<[string, Module]> {
    yield* this.#modules;
  }

  /** Replaces the direct submodule `name` (LoRA wraps a Linear this way); the property returns the new one. */
  setModule(name: string, module: Module): void {
    if (!this.#modules.has(name)) {
      throw new XpuValueError('no such submodule', {
        op: 'Module.setModule',
        arg: 'name',
        expected: [...this.#modules.keys()].join(', ') || 'none',
        got: name,
      });
    }
    if (!(module instanceof Module))
      throw new XpuTypeError('a submodule must be a Module', {
        op: 'Module.setModule',
        arg: 'module',
        expected: 'Module',
        got: typeName(module),
      });
    this.#modules.set(name, module);
  }

  /** Submodules in registration order, recursively, as [dotted name, module]; '' is this module. */
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, m] of this.#modules) yield* m.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  /** Parameters, recursively, as [dotted name, parameter] (absent optional ones are skipped). */
  *namedParameters(prefix = ''): Generator<[string, Parameter]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, p] of m.#params) if (p !== undefined) yield [path ? `${path}.${name}` : name, p];
    }
  }

  /**
   * The trainable parameters, recursively: Tensor parameters with requiresGrad (what an optimizer
   * takes: `new xpu.optim.AdamW(model.parameters())`). Unlike torch, frozen and quantized
   * parameters are left out, so an optimizer allocates no state for a frozen base (LoRA). Use
   * namedParameters() for every parameter.
   */
  *parameters(): Generator<Tensor> {
    for (const [, p] of this.namedParameters()) if (isTensor(p) && p.requiresGrad) yield p;
  }

  /** Sets requiresGrad on every Tensor parameter, recursively (torch's module.requires_grad_()); quantized ones stay frozen. */
  requiresGrad_(flag = true): this {
    for (const [, p] of this.namedParameters()) if (isTensor(p)) p.requiresGrad = flag;
    return this;
  }

  /** Training mode for this module and every submodule (torch's train(mode)). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }

  /**
   * The Tensor parameters by dotted name, in registration order, then the persistent buffers
   * (torch's state_dict()). Quantized parameters are left out (their packed planes are not
   * tensors); `trainableOnly` keeps only the parameters with requiresGrad (a LoRA adapter's
   * checkpoint; no buffers). The tensors are the module's own, not copies.
   */
  stateDict(options: { trainableOnly?: boolean } = {}): Map<string, Tensor> {
    return this.#tensorParameters(options.trainableOnly ?? false);
  }

  #tensorParameters(trainableOnly: boolean): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, p] of this.namedParameters()) if (isTensor(p) && (!trainableOnly || p.requiresGrad)) out.set(name, p);
    if (!trainableOnly) for (const [name, b] of this.#persistentBuffers()) out.set(name, b);
    return out;
  }

  /**
   * Copies each tensor of `state` into the parameter (or persistent buffer) of the same name, in place (the parameters
   * keep their Tensor objects, so an optimizer built on them stays valid). Shapes, dtypes and
   * devices must match. strict (default): every Tensor parameter must be in `state` and every key of
   * `state` must name one; otherwise the missing ones are skipped. Returns the keys it did not use
   * and the parameters it did not set (torch's missing_keys / unexpected_keys).
   */
  loadStateDict(
    state: Record<string, Tensor> | Map<string, Tensor>,
    options: { strict?: boolean; trainableOnly?: boolean } = {},
  ): { missingKeys: string[]; unexpectedKeys: string[] } {
    const op = 'Module.loadStateDict';
    if (typeof state !== 'object' || state === null)
      throw new XpuTypeError('state must be a record or Map of tensors', {
        op,
        arg: 'state',
        expected: 'Record<string, Tensor>',
        got: typeName(state),
      });
    const entries = new Map(state instanceof Map ? state : Object.entries(state));
    const own = this.#tensorParameters(options.trainableOnly ?? false);
    const missingKeys = [...own.keys()].filter((k) => !entries.has(k));
    const unexpectedKeys = [...entries.keys()].filter((k) => !own.has(k));
    if ((options.strict ?? true) && (missingKeys.length || unexpectedKeys.length)) {
      throw new XpuValueError('state dict keys do not match the module', {
        op,
        arg: 'state',
        expected: missingKeys.length ? `also ${missingKeys.slice(0, 5).join(', ')}` : 'only parameter names',
        got: unexpectedKeys.length ? `unexpected ${unexpectedKeys.slice(0, 5).join(', ')}` : `missing ${missingKeys.length} keys`,
      });
    }
    for (const [name, p] of own) {
      const src = entries.get(name);
      if (src === undefined) continue;
      if (!isTensor(src)) throw new XpuTypeError('state values must be tensors', { op, arg: name, expected: 'Tensor', got: typeName(src) });
      if (src.shape.length !== p.shape.length || src.shape.some((d, i) => d !== p.shape[i])) {
        throw new XpuShapeError('shape differs from the parameter', {
          op,
          arg: name,
          expected: `[${p.shape.join(', ')}]`,
          got: `[${src.shape.join(', ')}]`,
        });
      }
      // A write into a parameter, not an op to differentiate (torch loads under no_grad too).
      noGrad(() => copyInto(p, src));
    }
    return { missingKeys, unexpectedKeys };
  }

  /** This module's own parameter slot setter by name, used by loaders (state dicts). */
  setParameter(name: string, value: Parameter): void {
    if (!this.#params.has(name)) {
      throw new XpuValueError('no such parameter', {
        op: 'Module.setParameter',
        arg: 'name',
        expected: [...this.#params.keys()].join(', ') || 'none',
        got: name,
      });
    }
    (this as unknown as Record<string, Parameter>)[name] = value;
  }

  /** The parameter at a dotted path (e.g. 'layers.0.attn.q.weight'), or undefined. */
  getParameter(path: string): Parameter | undefined {
    for (const [name, p] of this.namedParameters()) if (name === path) return p;
    return undefined;
  }

  /** The module owning the parameter at a dotted path and the parameter's own name. */
  resolveParameter(path: string): { owner: Module; name: string } | undefined {
    const dot = path.lastIndexOf('.');
    const modPath = dot < 0 ? '' : path.slice(0, dot);
    const name = path.slice(dot + 1);
    for (const [p, m] of this.namedModules()) if (p === modPath && m.#params.has(name)) return { owner: m, name };
    return undefined;
  }

  /**
   * Moves every parameter and buffer to `device` (async because a GPU read-back can only be awaited). The
   * old tensors are disposed; returns this module.
   */
  async to(device: DeviceLike): Promise<this> {
    for (const [, m] of this.namedModules()) {
      for (const [name, p] of m.#params) {
        if (p === undefined) continue;
        let moved: Parameter;
        if (isTensor(p)) moved = await p.toAsync(device);
        else if (p.toAsync) moved = await p.toAsync(device);
        else
          throw new XpuValueError('this quantized parameter cannot be moved between devices', {
            op: 'Module.to',
            arg: name,
            expected: 'a parameter with toAsync()',
            got: `scheme ${p.scheme}`,
          });
        // A moved parameter stays trainable (or frozen) as it was.
        if (isTensor(p) && isTensor(moved)) moved.requiresGrad = p.requiresGrad;
        if (moved !== p) p.dispose();
        m.#params.set(name, moved);
      }
      for (const [, b] of m.#buffers) {
        if (b.tensor === undefined) continue;
        const moved = await b.tensor.toAsync(device);
        if (moved !== b.tensor) b.tensor.dispose();
        b.tensor = moved;
      }
      m.onMoved();
    }
    return this;
  }

  /** Hook for modules that hold non-parameter buffers (caches, tables) tied to a device. */
  protected onMoved(): void {}

  /** Frees every parameter (and whatever onDispose frees); the module is unusable afterwards. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const [name, p] of m.#params) {
        p?.dispose();
        m.#params.set(name, undefined);
      }
      for (const [, b] of m.#buffers) {
        b.tensor?.dispose();
        b.tensor = undefined;
      }
      m.onDispose();
    }
  }

  protected onDispose(): void {}
}

/** An ordered list of submodules, named by position (nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: readonly M[];
  constructor(modules: M[]) {
    super();
    this.items = modules;
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }
}
