import type { DeviceLike } from '../device/device.js';
import { XpuDTypeError } from '../errors.js';
import { fromHost } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { GGUF_WEIGHT_FORMATS, ggufFormatInfo, ggufWeightFormatOf, toGgufPlanes, type GgufWeightFormat } from './gguf_formats.js';
import type { GgmlTypeInfo } from './gguf_types.js';
import { QuantizedTensor } from './quantized_tensor.js';

export interface GgufWeightOptions {
  device?: DeviceLike;
  /** Row i of the weight is row rowOrder[i] of the data (e.g. llama.cpp's q/k rotary rows undone). */
  rowOrder?: ArrayLike<number>;
}

/**
 * A GGUF tensor's bytes (a [N, K] weight in Q4_0, Q4_1, Q8_0, Q4_K or Q6_K blocks) as a
 * QuantizedTensor that xpu.linear runs on without dequantizing it: the blocks' values are split
 * into the word-aligned q and scale planes of gguf_formats.ts, nothing is re-quantized.
 */
export function quantizedFromGguf(
  type: GgmlTypeInfo | string | GgufWeightFormat,
  bytes: Uint8Array,
  shape: readonly [number, number],
  options: GgufWeightOptions = {},
): QuantizedTensor {
  const op = 'quantizedFromGguf';
  const format = (GGUF_WEIGHT_FORMATS as readonly string[]).includes(type as string)
    ? (type as GgufWeightFormat)
    : ggufWeightFormatOf(type as GgmlTypeInfo | string);
  if (!format) {
    throw new XpuDTypeError('no kernel reads this GGUF type in place (dequantize it instead)', {
      op,
      arg: 'type',
      expected: GGUF_WEIGHT_FORMATS.map((f) => ggufFormatInfo(f).ggml).join(', '),
      got: typeof type === 'string' ? type : type.name,
    });
  }
  const [n, k] = shape;
  const planes = toGgufPlanes(format, bytes, n, k, options.rowOrder);
  let q: Tensor | undefined;
  try {
    q = fromHost(planes.q, planes.qShape, 'uint32', options.device, op);
    const s = fromHost(planes.scales, planes.scaleShape, planes.scaleDtype, options.device, op);
    return new QuantizedTensor(format, n, k, ggufFormatInfo(format).block, planes.scaleDtype === 'float16' ? 'float16' : 'uint32', q, s);
  } catch (e) {
    q?.dispose();
    throw e;
  }
}
