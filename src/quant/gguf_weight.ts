import type { DeviceLike } from '../device/device.js';
import { XpuDTypeError, XpuValueError } from '../errors.js';
import { fromHost } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { GGUF_WEIGHT_FORMATS, ggufFormatInfo, ggufWeightFormatOf, toGgufPlanes, type GgufWeightFormat } from './gguf_formats.js';
import type { GgmlTypeInfo } from './gguf_types.js';
import { QuantizedTensor, type GgufActivations } from './quantized_tensor.js';

export interface GgufWeightOptions {
  device?: DeviceLike;
  /** Row i of the weight is row rowOrder[i] of the data (e.g. llama.cpp's q/k rotary rows undone). */
  rowOrder?: ArrayLike<number>;
  /**
   * 'q8': on cpu, q4_0 / q4_1 / q8_0 linears quantize their activations to int8 per 32-value
   * block and multiply integers, as llama.cpp's CPU backend does; 'float' (default): exact float32.
   */
  activations?: GgufActivations;
}

/** 'q8' or 'float', else a typed error. */
export function checkActivations(op: string, v: unknown): GgufActivations {
  if (v === 'q8' || v === 'float') return v;
  throw new XpuValueError('unknown GGUF activation mode', { op, arg: 'activations', expected: "'q8' or 'float'", got: String(v) });
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
    const qt = new QuantizedTensor(
      format,
      n,
      k,
      ggufFormatInfo(format).block,
      planes.scaleDtype === 'float16' ? 'float16' : 'uint32',
      q,
      s,
    );
    if (options.activations !== undefined) qt.ggufActivations = checkActivations(op, options.activations);
    return qt;
  } catch (e) {
    q?.dispose();
    throw e;
  }
}
