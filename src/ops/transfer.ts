import { resolveDevice } from '../device/registry.js';
import { Device, type DeviceLike } from '../device/device.js';
import { XpuDTypeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { f16BitsToNumber, isDType, type DType, type HostArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { copyAs, tensorArg, wrap } from './common.js';
import { recordOp } from '../autograd/record.js';
import { isGradEnabled } from '../autograd/grad_mode.js';

/** What `data()` returns per dtype: float16 is widened to Float32Array (Node 20 has no Float16Array). */
export interface DataArrays {
  float32: Float32Array;
  float16: Float32Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}
export type DataArrayOf<D extends DType> = DataArrays[D];
export type DataArray = DataArrays[DType];

/** Reads the tensor's elements in row-major order into host memory. */
export async function readContiguous(t: Tensor, op: string): Promise<HostArray> {
  tensorArg(op, 'input', t);
  const src = t.isContiguous() ? t : copyAs(op, t);
  try {
    const host = await src.device.backend.read(src.ref.storage, src.dtype, src.numel + src.offset);
    return src.offset ? host.subarray(src.offset) : host;
  } finally {
    if (src !== t) src.dispose();
  }
}

/**
 * The elements in row-major order. With `dtype`, which must be the tensor's own (XpuDTypeError
 * otherwise), the result is typed as that dtype's array: `await t.data('int32')` is an Int32Array
 * to TypeScript, where a Tensor's dtype is only known at run time.
 */
export async function data(t: Tensor): Promise<DataArray>;
export async function data<D extends DType>(t: Tensor, dtype: D): Promise<DataArrayOf<D>>;
export async function data(t: Tensor, dtype?: DType): Promise<DataArray> {
  tensorArg('data', 'input', t);
  if (dtype !== undefined && dtype !== t.dtype) {
    if (!isDType(dtype))
      throw new XpuTypeError('not a dtype', {
        op: 'data',
        arg: 'dtype',
        expected: "the tensor's dtype, e.g. 'float32'",
        got: typeName(dtype),
      });
    throw new XpuDTypeError("data(dtype) names another dtype than the tensor's", {
      op: 'data',
      arg: 'dtype',
      expected: `'${t.dtype}' (cast first with to('${dtype}'))`,
      got: `'${dtype}'`,
    });
  }
  const host = await readContiguous(t, 'data');
  if (t.dtype !== 'float16') return host as DataArray;
  const out = new Float32Array(host.length);
  for (let i = 0; i < host.length; i++) out[i] = f16BitsToNumber(host[i]);
  return out;
}

export type NestedArray = number | boolean | NestedArray[];

export async function toArray(t: Tensor): Promise<NestedArray> {
  tensorArg('toArray', 'input', t);
  const flat = await data(t);
  const isBool = t.dtype === 'bool';
  const build = (dim: number, base: number): NestedArray => {
    if (dim === t.ndim) return isBool ? flat[base] !== 0 : flat[base];
    let stride = 1;
    for (let d = dim + 1; d < t.ndim; d++) stride *= t.shape[d];
    return Array.from({ length: t.shape[dim] }, (_, j) => build(dim + 1, base + j * stride));
  };
  return build(0, 0);
}

export async function item(t: Tensor): Promise<number | boolean> {
  tensorArg('item', 'input', t);
  if (t.numel !== 1)
    throw new XpuValueError('item() needs exactly one element', {
      op: 'item',
      arg: 'input',
      expected: '1 element',
      got: `${t.numel} elements`,
    });
  const v = (await data(t))[0];
  return t.dtype === 'bool' ? v !== 0 : v;
}

export type ToTarget = DeviceLike | DType | { device?: DeviceLike; dtype?: DType };

/** Splits a to() target into the device and dtype it asks for (defaults: the tensor's own). */
function parseTarget(op: string, t: Tensor, target: ToTarget): { device: Device; dtype: DType } {
  tensorArg(op, 'input', t);
  if (typeof target !== 'string' && (typeof target !== 'object' || target === null)) {
    throw new XpuTypeError('not a device, a dtype or { device, dtype }', {
      op,
      arg: 'target',
      expected: "a device ('cpu', 'xpu:0'), a dtype ('float16') or { device?, dtype? }",
      got: typeName(target),
    });
  }
  let device: Device = t.device;
  let dtype: DType = t.dtype;
  if (typeof target === 'string' && isDType(target)) dtype = target;
  else if (typeof target === 'string' || target instanceof Device) device = resolveDevice(op, target);
  else {
    if (target.device !== undefined) device = resolveDevice(op, target.device);
    if (target.dtype !== undefined) dtype = target.dtype;
  }
  return { device, dtype };
}

/** Moves to a device, casts to a dtype, or both: to('cpu'), to('float16'), to({device, dtype}). */
export function to(t: Tensor, target: ToTarget): Tensor {
  const { device, dtype } = parseTarget('to', t, target);
  let cur = dtype === t.dtype ? t : copyAs('to', t, dtype);
  if (!device.equals(cur.device)) cur = transfer(cur, device);
  // A cast's gradient is cast back by the engine; a move's would need the way back (see formulas).
  if (cur !== t && t.requiresGrad && isGradEnabled()) recordOp(device.equals(t.device) ? 'alias' : 'toDevice', [t], cur);
  return cur;
}

/**
 * Copies between devices through host memory. cpu -> xpu is eager (the upload is queued). A GPU
 * read-back can only be awaited, so xpu -> cpu is toAsync() / cpu(), and to() says so.
 */
function transfer(t: Tensor, device: Device): Tensor {
  if (t.device.type === 'cpu') {
    const src = t.isContiguous() && t.offset === 0 ? t : copyAs('to', t);
    const host = (src.ref.storage as unknown as { data: HostArray }).data.subarray(0, src.numel);
    const out = wrap(device, device.backend.upload(t.dtype, host, 'to'), t.shape, t.dtype);
    if (src !== t) src.dispose();
    return out;
  }
  throw new XpuValueError('moving a GPU tensor to another device needs a read-back', {
    op: 'to',
    arg: 'device',
    expected: `await t.toAsync('${device}')`,
    got: `to('${device}') on a tensor on ${t.device}`,
  });
}

/** to() that also works from xpu to cpu (it awaits the read-back). */
export async function toAsync(t: Tensor, target: ToTarget): Promise<Tensor> {
  const { device, dtype } = parseTarget('toAsync', t, target);
  if (device.equals(t.device) || t.device.type === 'cpu') return to(t, { device, dtype });
  const host = await readContiguous(t, 'toAsync');
  const moved = wrap(device, device.backend.upload(t.dtype, host.slice(), 'toAsync'), t.shape, t.dtype);
  if (dtype === t.dtype) return moved;
  const cast = copyAs('toAsync', moved, dtype);
  moved.dispose();
  return cast;
}
