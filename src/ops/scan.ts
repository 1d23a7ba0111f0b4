import { checkDType, dtypeInfo, isFloating, type ComputeKind, type DType } from '../tensor/dtype.js';
import { contiguousStrides, normalizeDim } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { copyAs, optionsArg, tensorArg, wrap } from './common.js';
import { differentiable } from '../autograd/record.js';

/**
 * cumsum / cumprod: the scan primitive (row_specs.ts) over a view whose last dim is `dim`,
 * written straight into the input's layout (no transpose copy). Dtypes as torch's with our set:
 * floats keep theirs (float16 accumulates in float32 and is rounded once per element), integers
 * and bool give int32 (torch: int64), uint32 stays uint32; integer results wrap.
 */

export interface ScanOptions {
  /** Cast the input to this dtype first (torch's dtype argument). */
  dtype?: DType;
}

function accumulation(dtype: DType): { accKind: ComputeKind; wide: DType; out: DType } {
  if (isFloating(dtype)) return { accKind: 'f32', wide: 'float32', out: dtype };
  if (dtype === 'uint32') return { accKind: 'u32', wide: 'uint32', out: 'uint32' };
  return { accKind: 'i32', wide: 'int32', out: 'int32' };
}

function scan(op: 'cumsum' | 'cumprod', x: Tensor, dim: number, options: ScanOptions | undefined): Tensor {
  tensorArg(op, 'input', x);
  const d = normalizeDim(op, dim, x.ndim);
  const o = optionsArg(op, options);
  const src = o.dtype === undefined || o.dtype === x.dtype ? x : copyAs(op, x, checkDType(op, 'dtype', o.dtype));
  const { accKind, wide, out } = accumulation(src.dtype);
  // A 0-d tensor is one row of one element.
  const shape = src.ndim === 0 ? [1] : src.shape.slice();
  const strides = src.ndim === 0 ? [1] : src.strides.slice();
  const order = [...shape.map((_, i) => i).filter((i) => i !== d), d];
  const outStrides = contiguousStrides(shape);
  const storage = src.device.backend.scan({
    op: op === 'cumsum' ? 'sum' : 'prod',
    input: { storage: src.ref.storage, dtype: src.dtype, strides: order.map((i) => strides[i]), offset: src.offset },
    shape: order.map((i) => shape[i]),
    accKind,
    outDtype: wide,
    outStrides: order.map((i) => outStrides[i]),
  });
  if (src !== x) src.dispose();
  const r = wrap(x.device, storage, x.shape, wide);
  if (out === wide && dtypeInfo(out).itemsize === 4) return r;
  const cast = copyAs(op, r, out);
  r.dispose();
  return cast;
}

/** Cumulative sum along `dim` (torch.cumsum). */
export const cumsum = (x: Tensor, dim: number, options?: ScanOptions): Tensor =>
  differentiable('cumsum', [x], () => scan('cumsum', x, dim, options), { dim });
/** Cumulative product along `dim` (torch.cumprod). */
export const cumprod = (x: Tensor, dim: number, options?: ScanOptions): Tensor =>
  differentiable('cumprod', [x], () => scan('cumprod', x, dim, options), { dim });
