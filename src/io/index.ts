// xpu.io: reading and writing tensors in the safetensors format.
export { SafetensorsReader, loadSafetensors } from './safetensors_reader.js';
export { saveSafetensors, serializeSafetensors, type NamedTensors } from './safetensors_writer.js';
export { FILE_DTYPES, MAX_HEADER_BYTES, type FileDType } from './safetensors_format.js';
export { BufferSource, FileSource, type ByteSource } from './byte_source.js';
// GGUF (llama.cpp's model format): header, metadata and tensor infos; tensors dequantized on read.
export { GgufReader } from './gguf_reader.js';
export {
  GgufValueType,
  GGUF_DEFAULT_ALIGNMENT,
  type GgufValue,
  type GgufArray,
  type GgufTypeDesc,
  type GgufTensorInfo,
} from './gguf_format.js';
