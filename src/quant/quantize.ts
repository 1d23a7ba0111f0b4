import type { Device } from '../device/device.js';
import { XpuDTypeError, XpuShapeError } from '../errors.js';
import { runMap, tensorArg } from '../ops/common.js';
import { isFloating } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkQuantizeOptions, weightFormat, type QuantizeOptions, type ScaleDType } from './formats.js';
import { INT4_GROUP_SCALE, INT4_GROUP_ZERO, INT4_PACK } from './kernels.js';
import { QuantizedTensor } from './quantized_tensor.js';
import { quantizeRowsInt8, strided } from './quantize_rows.js';

/**
 * quantize(): a float weight [N, K] to a QuantizedTensor on the same device. It runs as a few map
 * kernels on the weight's device (no read-back, so it is synchronous on xpu too): scales first,
 * rounded to their storage dtype, then the values from the stored scales.
 */

function quantizeInt4(device: Device, w: Tensor, groupSize: number, scaleDtype: ScaleDType): { q: Tensor; scales: Tensor; zeros: Tensor } {
  const [n, k] = w.shape;
  const [sn, sk] = w.strides;
  const groups = k / groupSize;
  const groupOperand = strided(w, [sn, groupSize * sk]);
  const range = [
    { kind: 'u32' as const, value: groupSize },
    { kind: 'i32' as const, value: sk },
  ];
  const scales = runMap({
    device,
    kernel: INT4_GROUP_SCALE,
    inputs: [groupOperand],
    outShape: [n, groups],
    outDtype: scaleDtype,
    argKind: 'f32',
    scalars: range,
  });
  const zeros = runMap({
    device,
    kernel: INT4_GROUP_ZERO,
    inputs: [groupOperand, strided(scales, [groups, 1])],
    outShape: [n, groups],
    outDtype: 'uint8',
    argKind: 'f32',
    scalars: range,
  });
  const q = runMap({
    device,
    kernel: INT4_PACK,
    inputs: [strided(w, [sn, 8 * sk]), strided(scales, [0, 0]), strided(zeros, [0, 0])],
    outShape: [n, k / 8],
    outDtype: 'uint32',
    argKind: 'f32',
    scalars: [
      { kind: 'i32', value: sk },
      { kind: 'u32', value: groupSize },
      { kind: 'u32', value: groups },
    ],
  });
  return { q, scales, zeros };
}

/** Checks that `w` is a live, float, 2-D weight [N, K] with N, K >= 1. */
export function checkWeight(op: string, weight: unknown): Tensor {
  const w = tensorArg(op, 'weight', weight);
  if (!isFloating(w.dtype))
    throw new XpuDTypeError('only float weights can be quantized', { op, arg: 'weight', expected: 'float32 or float16', got: w.dtype });
  if (w.ndim !== 2)
    throw new XpuShapeError('the weight must be 2-D', {
      op,
      arg: 'weight',
      expected: '[out_features, in_features]',
      got: fmtShape(w.shape),
    });
  if (w.shape[0] === 0 || w.shape[1] === 0)
    throw new XpuShapeError('the weight must not be empty', { op, arg: 'weight', expected: 'N >= 1 and K >= 1', got: fmtShape(w.shape) });
  return w;
}

/**
 * Quantizes a float weight [N, K] (nn.Linear's [out_features, in_features]) with
 * { scheme: 'int8_weight_only' | 'int4_weight_only' | 'int8_dynamic', groupSize?, scaleDtype? }.
 */
export function quantize(weight: Tensor, options: QuantizeOptions): QuantizedTensor {
  const op = 'quantize';
  const w = checkWeight(op, weight);
  const [n, k] = w.shape;
  const cfg = checkQuantizeOptions(op, options, k);
  const device = w.device;
  if (weightFormat(cfg.scheme) === 'int8') {
    const { q, scales } = quantizeRowsInt8(device, w, n, k, w.strides[0], w.strides[1], cfg.scaleDtype);
    return new QuantizedTensor(cfg.scheme, n, k, k, cfg.scaleDtype, q, scales);
  }
  const { q, scales, zeros } = quantizeInt4(device, w, cfg.groupSize, cfg.scaleDtype);
  return new QuantizedTensor(cfg.scheme, n, k, cfg.groupSize, cfg.scaleDtype, q, scales, zeros);
}
