import type { DeviceLike } from '../device/device.js';
import { ready } from '../device/registry.js';
import { XpuValueError } from '../errors.js';
import { GgufReader } from '../io/gguf_reader.js';
import { loadLlamaGguf } from '../models/llama/gguf.js';
import type { LlamaForCausalLM } from '../models/llama/model.js';
import type { DType } from '../tensor/dtype.js';
import { renderChatTemplate, type ChatMessage } from '../tokenizer/chat_template.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { Generation, type SamplingSettings } from './generation.js';

export interface LoadOptions {
  device?: DeviceLike;
  /** Weights' dtype after dequantization (default float32). */
  dtype?: DType;
  /** Keep Linear weights in their GGUF blocks where a kernel reads them (default true; loadLlamaGguf). */
  quantized?: boolean;
  /** Longest prompt + generation (default min(context_length, 4096)). */
  maxSequence?: number;
  /**
   * cpu only: 'q8' (default; XPU_GGUF_CPU_ACTIVATIONS) multiplies the Q4_0 / Q4_1 / Q8_0 weights
   * as llama.cpp's CPU backend does (int8 activations per 32-value block), 'float' exactly in
   * float32 (loadLlamaGguf).
   */
  activations?: 'q8' | 'float';
}

export interface GenerateOptions extends SamplingSettings {
  /**
   * Wrap a string prompt as one user message in the model's chat template (default false; a
   * message array is always a chat).
   */
  chat?: boolean;
  /** A system message placed before the prompt (chat only). */
  system?: string;
}

/**
 * A language model loaded from a GGUF file: the Llama decoder, its tokenizer and chat template.
 * generate() streams text; the model stays loaded until dispose().
 */
export class LanguageModel {
  constructor(
    readonly model: LlamaForCausalLM,
    readonly tokenizer: Tokenizer,
    readonly path: string,
    readonly name: string,
  ) {}

  get chatTemplate(): string | undefined {
    return this.tokenizer.vocab.chatTemplate;
  }

  /** The chat template applied to `messages` (text ready for encode with parseSpecial). */
  formatChat(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    const template = this.chatTemplate;
    if (!template)
      throw new XpuValueError('this model has no chat template (tokenizer.chat_template)', {
        op: 'formatChat',
        arg: 'chat',
        expected: 'a GGUF with tokenizer.chat_template',
      });
    const tok = this.tokenizer;
    return renderChatTemplate(template, messages, {
      addGenerationPrompt: options.addGenerationPrompt ?? true,
      bosToken: tok.bos !== undefined ? tok.vocab.tokens[tok.bos] : '',
      eosToken: tok.eos !== undefined ? tok.vocab.tokens[tok.eos] : '',
    });
  }

  /** The token ids generate() feeds for this prompt. */
  encodePrompt(prompt: string | readonly ChatMessage[], options: Pick<GenerateOptions, 'chat' | 'system'> = {}): number[] {
    const tok = this.tokenizer;
    if (typeof prompt === 'string' && !options.chat) {
      if (options.system !== undefined)
        throw new XpuValueError('a system message needs chat mode', { op: 'generate', arg: 'system', expected: 'chat: true' });
      return tok.encode(prompt, { addSpecial: true, parseSpecial: false });
    }
    const messages: ChatMessage[] = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : [...prompt];
    if (options.system !== undefined) messages.unshift({ role: 'system', content: options.system });
    const text = this.formatChat(messages);
    // A template that writes the BOS text itself must not get a second BOS from encode().
    const bosText = tok.bos !== undefined ? tok.vocab.tokens[tok.bos] : undefined;
    const templateHasBos = bosText !== undefined && text.startsWith(bosText);
    return tok.encode(text, { addSpecial: !templateHasBos, parseSpecial: true });
  }

  /** Streams the continuation of `prompt` (or the assistant's answer, in chat mode). */
  generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Generation {
    return new Generation(this.model, this.tokenizer, this.encodePrompt(prompt, options), options);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Loads a GGUF language model (Llama architecture, byte-level BPE tokenizer) onto `device`:
 * one pass over the file, weights dequantized to float32 as they are read.
 */
export async function load(path: string, options: LoadOptions = {}): Promise<LanguageModel> {
  // load() is async anyway: open the GPU here rather than make the caller await ready() first.
  if (options.device !== undefined && options.device !== 'cpu') await ready();
  const r = await GgufReader.open(path);
  try {
    const tokenizer = Tokenizer.fromGguf(r);
    const model = await loadLlamaGguf(r, options);
    if (tokenizer.size !== model.config.vocabSize) {
      model.dispose();
      throw new XpuValueError('the tokenizer and the model disagree on the vocabulary size', {
        op: 'llm.load',
        arg: 'path',
        expected: `${model.config.vocabSize} tokens`,
        got: `${tokenizer.size}`,
      });
    }
    const name = typeof r.get('general.name') === 'string' ? (r.get('general.name') as string) : path;
    return new LanguageModel(model, tokenizer, path, name);
  } finally {
    await r.close();
  }
}
