import { XpuValueError } from '../../errors.js';
import { KVCache } from '../../nn/kv_cache.js';
import { tensor } from '../../ops/creation.js';
import { headDimOf } from './config.js';
import type { LlamaForCausalLM } from './model.js';
import { checkSampling, sampleToken, samplerRng, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seeds the sampler (ignored when greedy). Default 0. */
  seed?: number;
  /** Stop after this token (it is included in the output). */
  eosTokenId?: number;
  /** Called with each new token as it is chosen. */
  onToken?: (token: number, step: number) => void;
}

export interface GenerateResult {
  /** The new tokens (the prompt is not repeated). */
  tokens: number[];
  timings: {
    /** The prompt's forward pass, up to the first token chosen on the host. */
    prefillMs: number;
    /** Every later token, one forward step each. */
    decodeMs: number;
    prefillTokensPerS: number;
    decodeTokensPerS: number;
  };
}

/**
 * Prefill the prompt into a fresh KV cache, then decode one token per step: each step feeds only
 * the newest token and reads one row of logits back. Greedy (temperature 0) is deterministic;
 * sampling is reproducible for a seed because the RNG runs on the host.
 */
export async function generate(model: LlamaForCausalLM, inputIds: ArrayLike<number>, options: GenerateOptions): Promise<GenerateResult> {
  const op = 'generate';
  checkSampling(options);
  const { maxNewTokens } = options;
  const prompt = Array.from(inputIds);
  const c = model.config;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new XpuValueError('maxNewTokens must be an integer >= 1', { op, arg: 'maxNewTokens', expected: '>= 1', got: String(maxNewTokens) });
  if (prompt.length === 0) throw new XpuValueError('the prompt is empty', { op, arg: 'inputIds', expected: 'at least one token id' });
  const bad = prompt.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= c.vocabSize);
  if (bad >= 0) throw new XpuValueError('token id out of range', { op, arg: 'inputIds', expected: `integers in [0, ${c.vocabSize - 1}]`, got: `${prompt[bad]} at ${bad}` });
  const total = prompt.length + maxNewTokens;
  if (total > model.rope.maxPositions) throw new XpuValueError('prompt + maxNewTokens exceeds the model\'s positions', { op, arg: 'maxNewTokens', expected: `prompt + new <= ${model.rope.maxPositions}`, got: String(total) });

  const device = model.device;
  const cache = new KVCache(c.numLayers, 1, total, c.numKvHeads, headDimOf(c), { device, dtype: model.dtype });
  const rand = samplerRng(options.seed ?? 0);
  const tokens: number[] = [];
  try {
    const step = async (ids: number[], start: number): Promise<number> => {
      const idsT = tensor(Int32Array.from(ids), { shape: [1, ids.length], device });
      const logits = model.forward(idsT, { start, cache, lastOnly: true });
      idsT.dispose();
      const row = await logits.data();
      logits.dispose();
      cache.length = start + ids.length;
      const t = sampleToken(row, options, rand);
      tokens.push(t);
      options.onToken?.(t, tokens.length - 1);
      return t;
    };
    const t0 = performance.now();
    let next = await step(prompt, 0);
    const t1 = performance.now();
    while (tokens.length < maxNewTokens && next !== options.eosTokenId) next = await step([next], cache.length);
    const t2 = performance.now();
    const decoded = tokens.length - 1;
    return {
      tokens,
      timings: {
        prefillMs: t1 - t0,
        decodeMs: t2 - t1,
        prefillTokensPerS: (prompt.length / (t1 - t0)) * 1000,
        decodeTokensPerS: decoded > 0 ? (decoded / (t2 - t1)) * 1000 : 0,
      },
    };
  } finally {
    cache.dispose();
  }
}
