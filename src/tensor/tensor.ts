import type { Storage } from '../backends/backend.js';
import type { Device } from '../device/device.js';
import { XpuDisposedError } from '../errors.js';
import { type DType } from './dtype.js';
import { contiguousStrides, numel, type Shape } from './shape.js';
import { trackInScope } from './scope.js';
import { formatTensor, type InspectOptions } from './inspect.js';

/**
 * What a tensor knows of the autograd node that made it. The engine (src/autograd) owns the real
 * type; tensor/ only names it, so the tensor layer does not import the autograd layer.
 */
export interface GradNodeLike {
  readonly name: string;
}

/** Storage shared by a tensor and its views; freed when the last of them is disposed. */
export class StorageRef {
  refs = 0;
  constructor(
    readonly storage: Storage,
    readonly device: Device,
  ) {}

  retain(): void {
    this.refs++;
  }

  releaseOne(): void {
    if (--this.refs === 0) this.device.backend.release(this.storage);
  }
}

// The safety net: a tensor that was never disposed gives its storage back when it is collected.
const finalizer = new FinalizationRegistry<StorageRef>((ref) => ref.releaseOne());

/**
 * An n-dimensional array on a device: shape, strides and an element offset into shared storage.
 * Ops are eager: they return at once and the device works in the background; only reading data
 * (`await t.data()`, `toArray()`, `item()`) waits.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** @internal */ readonly ref: StorageRef;
  /**
   * Whether ops on this tensor record the graph that backward() walks (torch's requires_grad).
   * Set it on a leaf (creation option `requiresGrad`, or `requiresGrad_()`); ops set it on results.
   */
  requiresGrad = false;
  /** The gradient backward() accumulated into this leaf; null until one arrives (torch's .grad). */
  grad: Tensor | null = null;
  /** @internal The graph node that made this tensor (src/autograd); null for leaves and constants. */
  gradFn: GradNodeLike | null = null;
  #disposed = false;

  /** @internal Use the creation functions (xpu.tensor, zeros, randn...) instead. */
  constructor(ref: StorageRef, shape: Shape, dtype: DType, strides?: readonly number[], offset = 0) {
    this.ref = ref;
    this.shape = Object.freeze(shape.slice());
    this.strides = Object.freeze(strides ? strides.slice() : contiguousStrides(shape));
    this.offset = offset;
    this.dtype = dtype;
    ref.retain();
    finalizer.register(this, ref, this);
    trackInScope(this);
  }

  get device(): Device {
    return this.ref.device;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    return numel(this.shape);
  }

  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** True when elements are laid out row-major with no gaps from `offset`. */
  isContiguous(): boolean {
    let expect = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== expect) return false;
      expect *= this.shape[i];
    }
    return true;
  }

  /** Frees this tensor's hold on its storage (views keep it alive until they are disposed too). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    finalizer.unregister(this);
    this.ref.releaseOne();
  }

  /** @internal Throws XpuDisposedError if this tensor was disposed. */
  check(op: string, arg = 'input'): this {
    if (this.#disposed) {
      throw new XpuDisposedError('tensor used after dispose()', {
        op,
        arg,
        expected: 'a live tensor',
        got: `a disposed tensor of shape [${this.shape.join(', ')}]`,
      });
    }
    return this;
  }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  /** console.log(t) and the REPL: values (cpu), shape, dtype, device, as torch prints (inspect.ts). */
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: InspectOptions): string {
    return formatTensor(this, options);
  }
}

export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}

/** Makes a new tensor that shares `base`'s storage with another layout (a view). */
export function makeView(base: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  return new Tensor(base.ref, shape, base.dtype, strides, offset);
}
