// xpu.nn: layers built on ops, used by the Llama-architecture decoder in src/models/llama.
export { Module, ModuleList, isQuantizedLike, type QuantizedLike, type Parameter } from './module.js';
export { Linear, type LinearInit } from './linear.js';
export { Embedding } from './embedding.js';
export { RMSNorm } from './rms_norm.js';
export { RotaryEmbedding, ropeInvFreq, type RopeScaling } from './rotary.js';
export { KVCache } from './kv_cache.js';
export { GroupedQueryAttention, type GroupedAttentionConfig } from './grouped_attention.js';
export { SwiGLU } from './swiglu.js';
export { attentionFallback, type AttentionOptions } from './attention_fallback.js';
export { attention } from './attention_impl.js';
export {
  Sequential,
  Dropout,
  LayerNorm,
  ReLU,
  GELU,
  SiLU,
  Tanh,
  Sigmoid,
  Softmax,
  LogSoftmax,
  type UnaryModule,
  type LayerNormInit,
} from './layers.js';
export { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
export * as functional from './functional.js';
export * as lora from './lora_index.js';
