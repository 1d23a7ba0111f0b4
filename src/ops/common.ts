import type { MapKernel, MapSpec, Operand, Scalar } from '../backends/backend.js';
import type { Device } from '../device/device.js';
import { XpuDeviceError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { dtypeInfo, type ComputeKind, type DType } from '../tensor/dtype.js';
import { broadcastStrides } from '../tensor/shape.js';
import { StorageRef, Tensor } from '../tensor/tensor.js';
import { COPY_KERNEL } from './copy_kernel.js';

/** bool(x): x != 0, NaN included (PyTorch). */
const nonzero = (x: number): number => (x !== 0 ? 1 : 0);

/** Checks liveness of every tensor argument and that they share one device. */
export function checkSameDevice(op: string, tensors: readonly Tensor[], names?: readonly string[]): Device {
  tensors.forEach((t, i) => tensorArg(op, names?.[i] ?? (i === 0 ? 'input' : `other`), t));
  const dev = tensors[0].device;
  for (let i = 1; i < tensors.length; i++) {
    if (!tensors[i].device.equals(dev)) {
      throw new XpuDeviceError('tensors are on different devices', {
        op,
        arg: names?.[i] ?? 'other',
        expected: `a tensor on ${dev} (move it with .to('${dev}'))`,
        got: `a tensor on ${tensors[i].device}`,
      });
    }
  }
  return dev;
}

/** A tensor read as an operand of an output of `outShape` (broadcast strides). */
export function operand(t: Tensor, outShape: readonly number[]): Operand {
  return { storage: t.ref.storage, dtype: t.dtype, strides: broadcastStrides(t.shape, t.strides, outShape), offset: t.offset };
}

/** Wraps fresh contiguous storage in a new tensor. */
export function wrap(device: Device, storage: import('../backends/backend.js').Storage, shape: readonly number[], dtype: DType): Tensor {
  return new Tensor(new StorageRef(storage, device), shape, dtype);
}

export interface RunMapArgs {
  device: Device;
  kernel: MapKernel;
  inputs: Operand[];
  outShape: readonly number[];
  outDtype: DType;
  argKind: ComputeKind;
  loadKinds?: (ComputeKind | undefined)[];
  scalars?: Scalar[];
  indexCheck?: MapSpec['indexCheck'];
}

export function runMap(a: RunMapArgs): Tensor {
  const storage = a.device.backend.map({
    kernel: a.kernel,
    inputs: a.inputs,
    outShape: a.outShape.slice(),
    outDtype: a.outDtype,
    argKind: a.argKind,
    loadKinds: a.loadKinds,
    scalars: a.scalars,
    indexCheck: a.indexCheck,
  });
  return wrap(a.device, storage, a.outShape, a.outDtype);
}

/** WGSL expression reading scalar slot k as a value of `kind`. */
export function scalarWgsl(kind: ComputeKind, k: number): string {
  return kind === 'f32' ? `sf(${k}u)` : kind === 'i32' ? `si(${k}u)` : `su(${k}u)`;
}

/** A contiguous copy of `t` (same dtype), or a cast when `dtype` differs. */
export function copyAs(op: string, t: Tensor, dtype: DType = t.dtype): Tensor {
  const from = dtypeInfo(t.dtype).compute;
  const to = dtypeInfo(dtype).compute;
  let kernel = COPY_KERNEL;
  let argKind = to;
  if (dtype === 'bool' && t.dtype !== 'bool') {
    // bool(x) is x != 0, not a truncating conversion (0.5 -> true), and NaN is true as in
    // PyTorch; NaN is tested through its bits, since a compiler may fold NaN != 0 to false.
    argKind = from;
    const test = from === 'f32' ? 'x0 != 0.0 || is_nan(x0)' : `x0 != ${from}(0)`;
    kernel = {
      name: `to_bool_${from}`,
      wgsl: `return select(0u, 1u, ${test});`,
      js: (x) => nonzero(x[0]),
      pure: { fn: nonzero, slots: [{ tensor: true, index: 0 }] },
    };
  }
  void op;
  return runMap({ device: t.device, kernel, inputs: [operand(t, t.shape)], outShape: t.shape, outDtype: dtype, argKind });
}

/**
 * The one check every public op runs on each tensor argument, first thing: anything but a live
 * Tensor (null, undefined, a number, a plain object, a QuantizedTensor...) is an XpuTypeError
 * naming the op and the argument, instead of a "Cannot read properties of null" from deep inside.
 */
export function tensorArg(op: string, arg: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new XpuTypeError('not a tensor', { op, arg, expected: 'Tensor', got: typeName(x) });
  return x.check(op, arg);
}

/** An optional tensor argument (an options field such as bias): null and undefined mean absent. */
export function optionalTensorArg(op: string, arg: string, x: unknown): Tensor | undefined {
  return x === undefined || x === null ? undefined : tensorArg(op, arg, x);
}

/** A non-empty array of tensors (cat, stack): each element through tensorArg as `${arg}[i]`. */
export function tensorListArg(op: string, arg: string, xs: unknown): Tensor[] {
  if (!Array.isArray(xs)) throw new XpuTypeError('expects an array of tensors', { op, arg, expected: 'Tensor[]', got: typeName(xs) });
  if (xs.length === 0)
    throw new XpuValueError('expects a non-empty array of tensors', {
      op,
      arg,
      expected: 'an array of at least one Tensor',
      got: 'an empty array',
    });
  return xs.map((t, i) => tensorArg(op, `${arg}[${i}]`, t));
}

/** An options object: undefined gives {}; null, a number or an array is an XpuTypeError. */
export function optionsArg<T extends object>(op: string, x: T | undefined): T {
  if (x === undefined) return {} as T;
  if (typeof x !== 'object' || x === null || Array.isArray(x))
    throw new XpuTypeError('options must be an object', {
      op,
      arg: 'options',
      expected: 'an options object or undefined',
      got: typeName(x),
    });
  return x;
}
