import type { Device, DeviceLike } from '../device/device.js';
import { XpuTypeError, XpuValueError } from '../errors.js';
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
  return typeof x === 'object' && x !== null && !isTensor(x) && typeof (x as QuantizedLike).scheme === 'string' && Array.isArray((x as QuantizedLike).shape);
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
          throw new XpuTypeError('a parameter must be a Tensor or a quantized tensor', { op: 'Module', arg: name, expected: 'Tensor | QuantizedLike', got: typeName(v) });
        }
        this.#params.set(name, v);
      },
    });
    return value;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#checkName(name);
    this.#modules.set(name, module);
    Object.defineProperty(this, name, { enumerable: true, configurable: false, get: () => this.#modules.get(name), set: (m: Module) => this.#modules.set(name, m) });
    return module;
  }

  /** Registers a list of submodules named `${name}.0`, `${name}.1`, ... (nn.ModuleList). */
  protected registerModuleList<M extends Module>(name: string, modules: M[]): M[] {
    this.registerModule(name, new ModuleList(modules));
    return modules;
  }

  #checkName(name: string): void {
    if (!/^([A-Za-z_][A-Za-z0-9_]*|\d+)$/.test(name) || this.#params.has(name) || this.#modules.has(name)) {
      throw new XpuValueError('parameter or module name must be an identifier (or an index) not already registered', { op: 'Module', arg: 'name', expected: 'a new identifier', got: name });
    }
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

  /** This module's own parameter slot setter by name, used by loaders (state dicts). */
  setParameter(name: string, value: Parameter): void {
    if (!this.#params.has(name)) {
      throw new XpuValueError('no such parameter', { op: 'Module.setParameter', arg: 'name', expected: [...this.#params.keys()].join(', ') || 'none', got: name });
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
   * Moves every parameter to `device` (async because a GPU read-back can only be awaited). The
   * old tensors are disposed; returns this module.
   */
  async to(device: DeviceLike): Promise<this> {
    for (const [, m] of this.namedModules()) {
      for (const [name, p] of m.#params) {
        if (p === undefined) continue;
        let moved: Parameter;
        if (isTensor(p)) moved = await p.toAsync(device);
        else if (p.toAsync) moved = await p.toAsync(device);
        else throw new XpuValueError('this quantized parameter cannot be moved between devices', { op: 'Module.to', arg: name, expected: 'a parameter with toAsync()', got: `scheme ${p.scheme}` });
        if (moved !== p) p.dispose();
        m.#params.set(name, moved);
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
