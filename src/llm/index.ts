/**
 * xpu.llm: language models from GGUF files, from text to text: load() reads the model, its
 * tokenizer and chat template; generate() streams the answer.
 */
export { load, LanguageModel, type LoadOptions, type GenerateOptions } from './language_model.js';
export { Generation, type SamplingSettings, type GenerationStats } from './generation.js';
export { Tokenizer, StreamDecoder, type EncodeOptions, type DecodeOptions } from '../tokenizer/tokenizer.js';
export { vocabFromGguf, TokenType, type GgufVocab } from '../tokenizer/gguf_vocab.js';
export { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from '../tokenizer/chat_template.js';
export { SUPPORTED_PRE_TOKENIZERS } from '../tokenizer/pre_tokenizers.js';
