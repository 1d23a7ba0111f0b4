import type { Operand } from '../backends/backend.js';
import type { Device } from '../device/device.js';
import { runMap } from '../ops/common.js';
import type { Tensor } from '../tensor/tensor.js';
import { int8RowStride, type ScaleDType } from './formats.js';
import { INT8_QUANTIZE, INT8_ROW_SCALE } from './kernels.js';

/**
 * Per-row int8 quantization, shared by quantize() (weights) and the quantized linear (w8a8
 * activations): its own module, so that linear.ts does not import quantize.ts, which imports the
 * QuantizedTensor that imports linear.ts.
 */

export const strided = (t: Tensor, strides: number[], offset = t.offset): Operand => ({
  storage: t.ref.storage,
  dtype: t.dtype,
  strides,
  offset,
});

/**
 * Symmetric int8 per row of a [rows, K] float tensor read through its strides (sRow, sK): scales
 * [rows] in scaleDtype and q int8 [rows, int8RowStride(K)]. Also quantizes activations per token
 * (w8a8).
 */
export function quantizeRowsInt8(
  device: Device,
  x: Tensor,
  rows: number,
  k: number,
  sRow: number,
  sK: number,
  scaleDtype: ScaleDType,
): { q: Tensor; scales: Tensor } {
  const scales = runMap({
    device,
    kernel: INT8_ROW_SCALE,
    inputs: [strided(x, [sRow])],
    outShape: [rows],
    outDtype: scaleDtype,
    argKind: 'f32',
    scalars: [
      { kind: 'u32', value: k },
      { kind: 'i32', value: sK },
    ],
  });
  const q = runMap({
    device,
    kernel: INT8_QUANTIZE,
    inputs: [strided(x, [sRow, sK]), strided(scales, [1, 0])],
    outShape: [rows, int8RowStride(k)],
    outDtype: 'int8',
    argKind: 'f32',
    scalars: [{ kind: 'u32', value: k }],
  });
  return { q, scales };
}
