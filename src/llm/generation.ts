import { XpuValueError } from '../errors.js';
import { headDimOf } from '../models/llama/config.js';
import type { LlamaForCausalLM } from '../models/llama/model.js';
import { checkSampling, sampleToken, samplerRng } from '../models/llama/sampling.js';
import { KVCache } from '../nn/kv_cache.js';
import { tensor } from '../ops/creation.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

export interface SamplingSettings {
  /** Most new tokens (default 128). */
  maxTokens?: number;
  /** 0 (default) is greedy and deterministic. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Seeds the sampler (default 0); the same seed gives the same text on every device. */
  seed?: number;
}

export interface GenerationStats {
  promptTokens: number;
  newTokens: number;
  /** 'eog': the model ended its turn; 'length': maxTokens reached; 'aborted': stopped by the caller. */
  finishReason: 'eog' | 'length' | 'aborted' | 'running';
  /** From the start to the first new token chosen (prompt forward pass + sampling). */
  prefillMs: number;
  /** Every later token, one forward step each. */
  decodeMs: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
}

/**
 * One generation as an async iterable of text pieces: each piece is whatever whole characters the
 * newest token completes (possibly ''), never half a UTF-8 character; an end-of-generation token
 * is not shown. `tokens` and `stats` fill in as it runs. Iterate it once; breaking out of the loop
 * stops the generation and frees its KV cache.
 */
export class Generation implements AsyncIterable<string> {
  readonly tokens: number[] = [];
  readonly stats: GenerationStats;
  #started = false;

  constructor(
    private readonly model: LlamaForCausalLM,
    private readonly tokenizer: Tokenizer,
    readonly promptIds: number[],
    private readonly settings: SamplingSettings,
  ) {
    const op = 'generate';
    checkSampling(settings);
    const maxTokens = settings.maxTokens ?? 128;
    if (!Number.isInteger(maxTokens) || maxTokens < 1)
      throw new XpuValueError('maxTokens must be an integer >= 1', { op, arg: 'maxTokens', expected: '>= 1', got: String(maxTokens) });
    if (promptIds.length === 0)
      throw new XpuValueError('the prompt encodes to no tokens', { op, arg: 'prompt', expected: 'a non-empty prompt' });
    const limit = model.rope.maxPositions;
    if (promptIds.length + maxTokens > limit)
      throw new XpuValueError("prompt + maxTokens exceeds the model's positions", {
        op,
        arg: 'maxTokens',
        expected: `prompt (${promptIds.length}) + maxTokens <= ${limit}`,
        got: String(promptIds.length + maxTokens),
      });
    this.stats = {
      promptTokens: promptIds.length,
      newTokens: 0,
      finishReason: 'running',
      prefillMs: 0,
      decodeMs: 0,
      prefillTokensPerS: 0,
      decodeTokensPerS: 0,
    };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string, void, undefined> {
    if (this.#started) throw new XpuValueError('a Generation can be iterated only once', { op: 'generate' });
    this.#started = true;
    const { model, tokenizer, settings, stats } = this;
    const c = model.config;
    const maxTokens = settings.maxTokens ?? 128;
    const device = model.device;
    // lm.model.compile(): decode through the static cache's recorded step (models/llama/static_decode.ts).
    const fixed = model.staticDecode(1, this.promptIds.length + maxTokens);
    const cache = fixed
      ? fixed.cache
      : new KVCache(c.numLayers, 1, this.promptIds.length + maxTokens, c.numKvHeads, headDimOf(c), { device, dtype: model.dtype });
    const rand = samplerRng(settings.seed ?? 0);
    const text = tokenizer.streamDecoder();
    let finished = false;
    try {
      /** Feeds `ids` at the cache's end; returns the next token sampled from the last position. */
      const step = async (ids: number[]): Promise<number> => {
        const idsT = tensor(Int32Array.from(ids), { shape: [1, ids.length], device });
        const logits =
          fixed && ids.length === 1 ? fixed.step(idsT, cache.length) : model.forward(idsT, { start: cache.length, cache, lastOnly: true });
        idsT.dispose();
        const row = await logits.data();
        logits.dispose();
        cache.length += ids.length;
        return sampleToken(row, settings, rand);
      };
      const t0 = performance.now();
      let next = await step(this.promptIds);
      const t1 = performance.now();
      stats.prefillMs = t1 - t0;
      stats.prefillTokensPerS = (this.promptIds.length / stats.prefillMs) * 1000;
      for (;;) {
        if (tokenizer.isEog(next)) {
          stats.finishReason = 'eog';
          break;
        }
        this.tokens.push(next);
        stats.newTokens = this.tokens.length;
        const piece = text.push(next);
        if (piece) yield piece;
        if (this.tokens.length >= maxTokens) {
          stats.finishReason = 'length';
          break;
        }
        next = await step([next]);
        stats.decodeMs = performance.now() - t1;
        stats.decodeTokensPerS = (this.tokens.length / stats.decodeMs) * 1000;
      }
      finished = true;
      const rest = text.flush();
      if (rest) yield rest;
    } finally {
      if (!finished) stats.finishReason = 'aborted';
      if (!fixed) cache.dispose();
    }
  }

  /** Runs to the end and returns the whole text. */
  async text(): Promise<string> {
    let s = '';
    for await (const piece of this) s += piece;
    return s;
  }
}
