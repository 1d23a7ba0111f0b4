// A Llama-architecture decoder: config, model, generation, HF checkpoints.
export {
  LLAMA_TINY,
  LLAMA_125M,
  LLAMA_3_2_1B,
  checkConfig,
  configFromHf,
  configToHf,
  headDimOf,
  parameterCount,
  type LlamaConfig,
} from './config.js';
export { LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, type LlamaInit, type ForwardOptions } from './model.js';
export { generate, type GenerateOptions, type GenerateResult } from './generate.js';
export { argmax, sampleToken, samplerRng, type SamplingOptions } from './sampling.js';
export { loadLlama, loadLlamaDirectory, saveLlama, hfLlamaParameterName, type LoadOptions } from './checkpoint.js';
export { loadLlamaGguf, configFromGguf, ggufLlamaParameterName, unpermuteRotaryRows, type GgufLoadOptions } from './gguf.js';
