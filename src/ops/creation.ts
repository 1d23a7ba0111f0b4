import type { MapKernel } from '../backends/backend.js';
import { resolveDevice } from '../device/registry.js';
import type { DeviceLike } from '../device/device.js';
import { XpuShapeError, XpuValueError } from '../errors.js';
import { fmtValue } from '../format_value.js';
import { allocHost, castNumber, checkDType, dtypeInfo, writeHost, type DType, type HostArray } from '../tensor/dtype.js';
import { checkShape, fmtShape, intArg, numberArg, numel } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runMap, scalarWgsl, tensorArg, wrap } from './common.js';
import { identity } from './copy_kernel.js';
import { setRequiresGrad } from '../autograd/record.js';

export interface CreateOptions {
  dtype?: DType;
  device?: DeviceLike;
  /** Make a leaf that records the ops on it for backward() (floating dtypes only, as torch). */
  requiresGrad?: boolean;
}

/** Applies the requiresGrad creation option to a new tensor. */
export function leafOption(op: string, t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad === undefined) return t;
  try {
    return setRequiresGrad(op, t, options.requiresGrad);
  } catch (e) {
    t.dispose();
    throw e;
  }
}

type Nested = number | boolean | Nested[];

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as Nested;
    if (cur === undefined) break;
  }
  return shape;
}

function flatten(op: string, data: Nested, shape: number[], depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (typeof data === 'number') out.push(data);
    else if (typeof data === 'boolean') out.push(data ? 1 : 0);
    else throw new XpuValueError('element is not a number', { op, arg: 'data', expected: 'numbers or booleans', got: fmtValue(data, 40) });
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new XpuShapeError('ragged nested array', {
      op,
      arg: 'data',
      expected: `length ${shape[depth]} at depth ${depth}`,
      got: Array.isArray(data) ? `length ${data.length}` : typeof data,
    });
  }
  for (const d of data) flatten(op, d, shape, depth + 1, out);
}

function defaultDTypeFor(data: ArrayLike<number> | Nested): DType {
  if (data instanceof Float32Array || data instanceof Float64Array) return 'float32';
  if (data instanceof Int32Array || data instanceof Int16Array) return 'int32';
  if (data instanceof Uint32Array || data instanceof Uint16Array) return 'uint32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8';
  const first = (function first(x: unknown): unknown {
    return Array.isArray(x) ? first(x[0]) : x;
  })(data);
  if (typeof first === 'boolean') return 'bool';
  return 'float32';
}

/**
 * A tensor from nested arrays, a TypedArray or a plain number array (with `shape`), or a scalar.
 * The default dtype is float32, or what the TypedArray holds, or bool for booleans.
 */
export function tensor(data: Nested | ArrayLike<number>, options: CreateOptions & { shape?: number[] } = {}): Tensor {
  const op = 'tensor';
  const device = resolveDevice(op, options.device);
  const dtype = options.dtype === undefined ? defaultDTypeFor(data as Nested) : checkDType(op, 'dtype', options.dtype);
  let shape: number[];
  let values: ArrayLike<number>;
  if (ArrayBuffer.isView(data)) {
    values = data as unknown as ArrayLike<number>;
    shape = options.shape ? checkShape(op, 'shape', options.shape) : [values.length];
  } else {
    const flat: number[] = [];
    const inferred = inferShape(data as Nested);
    flatten(op, data as Nested, inferred, 0, flat);
    values = flat;
    shape = options.shape ? checkShape(op, 'shape', options.shape) : inferred;
  }
  if (numel(shape) !== values.length) {
    throw new XpuShapeError('data length does not match shape', {
      op,
      arg: 'shape',
      expected: `${values.length} elements`,
      got: `${fmtShape(shape)} (${numel(shape)} elements)`,
    });
  }
  const host: HostArray = allocHost(dtype, values.length);
  for (let i = 0; i < values.length; i++) writeHost(host, dtype, i, castNumber(Number(values[i]), dtype));
  return leafOption(op, wrap(device, device.backend.upload(dtype, host, op), shape, dtype), options);
}

/** Wraps host storage that is already in the dtype's layout (no conversion). */
export function fromHost(host: HostArray, shape: readonly number[], dtype: DType, device: DeviceLike | undefined, op: string): Tensor {
  const dev = resolveDevice(op, device);
  return wrap(dev, dev.backend.upload(dtype, host, op), shape, dtype);
}

/** A tensor whose element i is `body` (WGSL) / `js` of the index, made on the device itself. */
export function generate(op: string, shape: readonly number[], options: CreateOptions, kernel: MapKernel, scalars: number[] = []): Tensor {
  const device = resolveDevice(op, options.device);
  const dtype = options.dtype === undefined ? 'float32' : checkDType(op, 'dtype', options.dtype);
  const argKind = dtypeInfo(dtype).compute;
  return leafOption(
    op,
    runMap({
      device,
      kernel,
      inputs: [],
      outShape: shape,
      outDtype: dtype,
      argKind,
      scalars: scalars.map((value) => ({ kind: argKind, value })),
    }),
    options,
  );
}

const FILL: Record<string, MapKernel> = {};
function fillKernel(kind: string): MapKernel {
  return (FILL[kind] ??= {
    name: 'fill',
    wgsl: `return ${scalarWgsl(kind as 'f32', 0)};`,
    js: (_x, ctx) => identity(ctx.scalars[0]),
    pure: { fn: identity, slots: [{ tensor: false, index: 0 }] },
  });
}

/** full() under the name of the public function that was called (zeros, onesLike...), for errors. */
function fullAs(op: string, shape: number[], value: number | boolean, options: CreateOptions): Tensor {
  const s = checkShape(op, 'shape', shape);
  // Any number fills (NaN and the infinities too); a BigInt or a string is refused, not coerced.
  if (typeof value !== 'boolean') numberArg(op, 'value', value);
  const dtype = options.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32');
  const v = castNumber(typeof value === 'boolean' ? Number(value) : value, checkDType(op, 'dtype', dtype));
  return generate(op, s, { ...options, dtype }, fillKernel(dtypeInfo(dtype).compute), [v]);
}

export const full = (shape: number[], value: number | boolean, options: CreateOptions = {}): Tensor =>
  fullAs('full', shape, value, options);
export const zeros = (shape: number[], options: CreateOptions = {}): Tensor => fullAs('zeros', shape, 0, options);
export const ones = (shape: number[], options: CreateOptions = {}): Tensor => fullAs('ones', shape, 1, options);
const like = (op: string, t: Tensor, value: number, options: CreateOptions): Tensor => {
  tensorArg(op, 'input', t);
  return fullAs(op, t.shape.slice(), value, { dtype: t.dtype, device: t.device, ...options });
};
export const zerosLike = (t: Tensor, options: CreateOptions = {}): Tensor => like('zerosLike', t, 0, options);
export const onesLike = (t: Tensor, options: CreateOptions = {}): Tensor => like('onesLike', t, 1, options);
export const fullLike = (t: Tensor, value: number, options: CreateOptions = {}): Tensor => like('fullLike', t, value, options);
export const empty = (shape: number[], options: CreateOptions = {}): Tensor => fullAs('empty', shape, 0, options);

/** arange(end) or arange(start, end, step), as torch.arange (end excluded). */
export function arange(a: number, b?: number, step = 1, options: CreateOptions = {}): Tensor {
  // NaN or an infinity as a bound would make the length NaN or infinite: a typed error instead.
  numberArg('arange', b === undefined || b === null ? 'end' : 'start', a, true);
  if (b !== undefined && b !== null) numberArg('arange', 'end', b, true);
  const [start, end] = b === undefined || b === null ? [0, a] : [a, b];
  numberArg('arange', 'step', step, true);
  if (step === 0)
    throw new XpuValueError('step must be non-zero', {
      op: 'arange',
      arg: 'step',
      expected: 'a finite non-zero number',
      got: String(step),
    });
  const n = intArg('arange', 'end', Math.max(0, Math.ceil((end - start) / step)), {
    max: 2 ** 31 - 1,
    rangeError: XpuShapeError,
    expected: 'at most 2^31 - 1 elements',
  });
  const integral = [start, end, step].every(Number.isInteger);
  const dtype = options.dtype ?? (integral ? 'int32' : 'float32');
  const kind = dtypeInfo(dtype).compute;
  const body =
    kind === 'f32'
      ? 'return sf(0u) + f32(i) * sf(1u);'
      : kind === 'i32'
        ? 'return si(0u) + i32(i) * si(1u);'
        : 'return su(0u) + i * su(1u);';
  return generate('arange', [n], { ...options, dtype }, { name: 'arange', wgsl: body, js: (_x, c) => c.scalars[0] + c.i * c.scalars[1] }, [
    start,
    step,
  ]);
}

/** `steps` evenly spaced values from start to end inclusive, as torch.linspace. */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  // Non-finite bounds are allowed (PyTorch fills NaN / inf); they must still be numbers.
  numberArg('linspace', 'start', start);
  numberArg('linspace', 'end', end);
  intArg('linspace', 'steps', steps, { min: 0, max: 2 ** 31 - 1 });
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Like PyTorch, the second half counts back from `end`, so the last value is exactly `end`;
  // a single step is `start` (PyTorch fills it), so the first half covers it.
  const half = steps === 1 ? 1 : Math.floor(steps / 2);
  const body = `if (i < su(2u)) { return A(sf(0u) + f32(i) * sf(1u)); } return A(sf(3u) - f32(su(4u) - 1u - i) * sf(1u));`;
  const js = (_x: number[], c: { i: number; scalars: number[] }) =>
    c.i < half ? Math.fround(start) + c.i * Math.fround(step) : Math.fround(end) - (steps - 1 - c.i) * Math.fround(step);
  const dtype = options.dtype ?? 'float32';
  const device = resolveDevice('linspace', options.device);
  return leafOption(
    'linspace',
    runMap({
      device,
      kernel: { name: 'linspace', wgsl: body, js },
      inputs: [],
      outShape: [steps],
      outDtype: checkDType('linspace', 'dtype', dtype),
      argKind: dtypeInfo(dtype).compute,
      scalars: [
        { kind: 'f32', value: start },
        { kind: 'f32', value: step },
        { kind: 'u32', value: half },
        { kind: 'f32', value: end },
        { kind: 'u32', value: steps },
      ],
    }),
    options,
  );
}

/** The n x m identity matrix. */
export function eye(n: number, m: number = n, options: CreateOptions = {}): Tensor {
  const s = [
    intArg('eye', 'n', n, { min: 0, rangeError: XpuShapeError }),
    intArg('eye', 'm', m ?? n, { min: 0, rangeError: XpuShapeError }),
  ];
  return generate('eye', s, options, {
    name: 'eye',
    usesCoords: true,
    wgsl: 'return select(R(0), R(1), c[0] == c[1]);',
    js: (_x, c) => (c.coords[0] === c.coords[1] ? 1 : 0),
  });
}
