import { takeHost } from '../backends/cpu/host_pool.js';
import { CpuStorage } from '../backends/cpu/storage.js';
import type { WebGPUBackend } from '../backends/webgpu/backend.js';
import type { GpuStorage } from '../backends/webgpu/allocator.js';
import type { Device } from '../device/device.js';
import { fromHost } from '../ops/creation.js';
import { wrap } from '../ops/common.js';
import { readContiguous } from '../ops/transfer.js';
import { dtypeInfo, type DType, type HostArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Moving tensor data between devices and the host buffers the engines work on.
 *
 * - A contiguous cpu tensor is handed to the engine as a view of its own typed array: the engine
 *   reads it, and for in-place calls writes the result straight into it (no copy at all).
 * - Other cpu tensors (strided views) are gathered into a fresh buffer, and results are scattered
 *   back through their strides.
 * - xpu tensors are staged: read back from the GPU (readContiguous), and for in-place calls the
 *   result is uploaded into the tensor's own GPU buffer, in order with the GPU work already queued
 *   (kernels queued before the call see the old values, kernels queued after it the new ones).
 *   When the tensor is a view covering only part of its buffer, the whole buffer is read, patched
 *   and written back, so the elements outside the view keep their values.
 */

export interface HostView {
  host: HostArray;
  /** True when `host` is the tensor's own memory (nothing to copy back). */
  direct: boolean;
}

/** Elements of `t` in row-major order, as a host buffer the engine may read (and write when direct). */
export async function stageIn(t: Tensor, op: string): Promise<HostView> {
  t.check(op);
  if (t.device.type === 'cpu' && t.isContiguous()) {
    const data = (t.ref.storage as CpuStorage).data;
    return { host: data.subarray(t.offset, t.offset + t.numel), direct: true };
  }
  return { host: await readContiguous(t, op), direct: false };
}

/** A host buffer for a result that will fill all of `out`: its own memory when possible. */
export function outputView(out: Tensor, op: string): HostView {
  out.check(op, 'output');
  if (out.device.type === 'cpu' && out.isContiguous()) {
    const data = (out.ref.storage as CpuStorage).data;
    return { host: data.subarray(out.offset, out.offset + out.numel), direct: true };
  }
  return { host: takeHost(out.dtype, out.numel), direct: false };
}

/** Writes `v.host` (row-major) into `t`'s elements, unless the engine already wrote there. */
export async function stageOut(t: Tensor, v: HostView): Promise<void> {
  if (v.direct) return;
  if (t.device.type === 'cpu') {
    scatter((t.ref.storage as CpuStorage).data, t, v.host);
    return;
  }
  const backend = t.device.backend as unknown as WebGPUBackend;
  const storage = t.ref.storage as GpuStorage;
  const itemsize = dtypeInfo(t.dtype).itemsize;
  if (t.isContiguous() && t.offset === 0 && t.numel * itemsize === storage.byteLength) {
    backend.queue.upload(storage.buffer, bytesOf(v.host));
    return;
  }
  const whole = await backend.read(storage, t.dtype, storage.byteLength / itemsize);
  scatter(whole, t, v.host);
  backend.queue.upload(storage.buffer, bytesOf(whole));
}

/** A new tensor on `device` holding `host` (adopted without a copy on cpu). */
export function fromEngine(host: HostArray, shape: readonly number[], dtype: DType, device: Device, op: string): Tensor {
  if (device.type === 'cpu') return wrap(device, new CpuStorage(host, dtype), shape, dtype);
  return fromHost(host, shape, dtype, device, op);
}

function bytesOf(a: HostArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** dst[storage index of element i of t] = src[i], for every element in row-major order. */
function scatter(dst: HostArray, t: Tensor, src: HostArray): void {
  const { shape, strides } = t;
  const nd = shape.length;
  if (t.numel === 0) return;
  const idx = new Array<number>(nd).fill(0);
  let e = t.offset;
  for (let i = 0; i < src.length; i++) {
    dst[e] = src[i];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        e += strides[d];
        break;
      }
      e -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}
