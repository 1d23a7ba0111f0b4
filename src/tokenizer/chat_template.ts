import { Template } from '@huggingface/jinja';
import { XpuValueError } from '../errors.js';

/**
 * Chat templates: the Jinja template a GGUF carries (tokenizer.chat_template, copied from the HF
 * tokenizer_config.json) rendered with @huggingface/jinja, the renderer transformers.js uses, with
 * the variables HF's apply_chat_template passes.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface ChatTemplateOptions {
  /** Append the assistant's turn header so the model answers (default true). */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** More template variables (tools, date_string...). */
  extra?: Record<string, unknown>;
}

const cache = new Map<string, Template>();

export function renderChatTemplate(template: string, messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
  const op = 'renderChatTemplate';
  if (!Array.isArray(messages) || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string')) {
    throw new XpuValueError('messages must be an array of { role, content } strings', {
      op,
      arg: 'messages',
      expected: '[{ role: string, content: string }, ...]',
    });
  }
  let t = cache.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new XpuValueError(`the chat template does not parse: ${(e as Error).message}`, { op, arg: 'template' });
    }
    cache.set(template, t);
  }
  try {
    return t.render({
      ...options.extra,
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: options.addGenerationPrompt ?? true,
      bos_token: options.bosToken ?? '',
      eos_token: options.eosToken ?? '',
    });
  } catch (e) {
    throw new XpuValueError(`the chat template failed to render: ${(e as Error).message}`, { op, arg: 'messages' });
  }
}
