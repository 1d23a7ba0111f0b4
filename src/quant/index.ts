/**
 * xpu.quant: weight quantization (int8 per channel, int4 group-wise, w8a8 dynamic), the
 * QuantizedTensor that xpu.linear runs on, importers for GPTQ / ONNX MatMulNBits checkpoints,
 * and quantizeModule (torchao's quantize_). Formats: docs/quantization.md.
 */
export { quantize } from './quantize.js';
export { QuantizedTensor, isQuantizedTensor, type GgufActivations, type QuantMetadata } from './quantized_tensor.js';
export {
  QUANT_SCHEMES,
  INT4_GROUP_SIZES,
  DEFAULT_INT4_GROUP_SIZE,
  DEFAULT_INT4_ZERO,
  int8RowStride,
  roundHalfEven,
  type QuantScheme,
  type QuantizeOptions,
  type ScaleDType,
} from './formats.js';
export { packInt4, unpackInt4, padInt8Rows, unpadInt8Rows } from './pack.js';
export {
  fromMatMulNBits,
  toMatMulNBits,
  fromGptq,
  toGptq,
  type ImportOptions,
  type MatMulNBitsWeights,
  type GptqWeights,
} from './importers.js';
export { quantizeModule, type QuantizeModuleConfig } from './module.js';
// GGUF weight formats (F32/F16/BF16, Q4_0..Q8_0, K-quants) decoded exactly as ggml does.
export { dequantizeGguf, canDequantize, ggmlByteSize, DEQUANTIZABLE_GGML_TYPES } from './gguf_dequant.js';
export { GGML_TYPES, ggmlTypeById, ggmlTypeByName, QK_K, type GgmlTypeInfo } from './gguf_types.js';
// GGUF block formats kept as they are: the weight format of the quantized linear (gguf_formats.ts).
export {
  GGUF_WEIGHT_FORMATS,
  ggufFormatInfo,
  ggufWeightFormatOf,
  isGgufWeightFormat,
  toGgufPlanes,
  toGgufBytes,
  dequantizeGgufPlanes,
  type GgufWeightFormat,
  type GgufFormatInfo,
  type GgufPlanes,
} from './gguf_formats.js';
export { quantizedFromGguf, type GgufWeightOptions } from './gguf_weight.js';
