import { XpuValueError } from '../../errors.js';
import { KVCache } from '../../nn/kv_cache.js';
import { tensor } from '../../ops/creation.js';
import { headDimOf } from './config.js';
import type { DType } from '../../tensor/dtype.js';
import type { DeviceLike } from '../../device/device.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { LlamaConfig } from './config.js';
import { checkSampling, sampleToken, samplerRng, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seeds the sampler (ignored when greedy). Default 0. */
  seed?: number;
  /** Stop after this token (it is included in the output). */
  eosTokenId?: number;
  /** Called with each new token as it is chosen (row: which prompt of a batch). */
  onToken?: (token: number, step: number, row: number) => void;
}

export interface GenerateResult {
  /** The new tokens of the first (or only) prompt (the prompt is not repeated). */
  tokens: number[];
  /** The new tokens of every prompt, in order (one entry for a single prompt). */
  sequences: number[][];
  timings: {
    /** The prompt's forward pass, up to the first token chosen on the host. */
    prefillMs: number;
    /** Every later token, one forward step each. */
    decodeMs: number;
    prefillTokensPerS: number;
    decodeTokensPerS: number;
  };
}

/** One prompt, or a batch of prompts of equal length (no padding: left-padding needs masks). */
function promptRows(op: string, inputIds: ArrayLike<number> | readonly ArrayLike<number>[], vocab: number): number[][] {
  const batched = inputIds.length > 0 && typeof (inputIds as ArrayLike<unknown>)[0] === 'object';
  const rows = batched
    ? Array.from(inputIds as readonly ArrayLike<number>[], (r) => Array.from(r))
    : [Array.from(inputIds as ArrayLike<number>)];
  if (rows.length === 0 || rows[0].length === 0)
    throw new XpuValueError('the prompt is empty', { op, arg: 'inputIds', expected: 'at least one token id' });
  rows.forEach((row, b) => {
    if (row.length !== rows[0].length)
      throw new XpuValueError('batched prompts must have equal lengths', {
        op,
        arg: `inputIds[${b}]`,
        expected: `${rows[0].length} tokens`,
        got: `${row.length} tokens`,
      });
    const bad = row.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= vocab);
    if (bad >= 0)
      throw new XpuValueError('token id out of range', {
        op,
        arg: batched ? `inputIds[${b}]` : 'inputIds',
        expected: `integers in [0, ${vocab - 1}]`,
        got: `${row[bad]} at ${bad}`,
      });
  });
  return rows;
}

/**
 * Prefill the prompt(s) into a fresh KV cache, then decode one token per step: each step feeds
 * only the newest token of each row and reads one row of logits per prompt back. Greedy
 * (temperature 0) is deterministic; sampling is reproducible for a seed because the RNG runs on
 * the host (one stream, drawn row by row). With eosTokenId, a finished row keeps being fed its
 * EOS (the batch stays rectangular) but collects nothing more; the loop ends when all have ended.
 */
/** What generate needs of a decoder (LlamaForCausalLM): a structural type, so that model.ts, which calls generate, is not imported back. */
export interface CausalLM {
  readonly config: LlamaConfig;
  readonly rope: { readonly maxPositions: number };
  readonly device: DeviceLike;
  readonly dtype: DType;
  forward(inputIds: Tensor, options: { start: number; cache: KVCache; lastOnly: boolean }): Tensor;
  /** A compiled model's static cache and decode step (model.compile()); null decodes eagerly. */
  staticDecode?(batch: number, total: number): StaticDecode | null;
}

/** A static-shape decode: its cache (the prefill fills it too; the model owns it) and one step. */
export interface StaticDecode {
  cache: KVCache;
  /** ids [B, 1] int32 at position pos -> logits [B, 1, V]. */
  step(ids: Tensor, pos: number): Tensor;
}

export async function generate(
  model: CausalLM,
  inputIds: ArrayLike<number> | readonly ArrayLike<number>[],
  options: GenerateOptions,
): Promise<GenerateResult> {
  const op = 'generate';
  checkSampling(options);
  const { maxNewTokens } = options;
  const c = model.config;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1)
    throw new XpuValueError('maxNewTokens must be an integer >= 1', {
      op,
      arg: 'maxNewTokens',
      expected: '>= 1',
      got: String(maxNewTokens),
    });
  const prompts = promptRows(op, inputIds, c.vocabSize);
  const batch = prompts.length;
  const promptLen = prompts[0].length;
  const total = promptLen + maxNewTokens;
  if (total > model.rope.maxPositions)
    throw new XpuValueError("prompt + maxNewTokens exceeds the model's positions", {
      op,
      arg: 'maxNewTokens',
      expected: `prompt + new <= ${model.rope.maxPositions}`,
      got: String(total),
    });

  const device = model.device;
  const fixed = model.staticDecode?.(batch, total) ?? null;
  const cache = fixed ? fixed.cache : new KVCache(c.numLayers, batch, total, c.numKvHeads, headDimOf(c), { device, dtype: model.dtype });
  const rand = samplerRng(options.seed ?? 0);
  const sequences: number[][] = prompts.map(() => []);
  const done = prompts.map(() => false);
  let steps = 0;
  try {
    /** Feeds rows [B][len] at `start`; returns the token chosen (or the EOS re-fed) per row. */
    const step = async (rows: number[][], start: number): Promise<number[]> => {
      const len = rows[0].length;
      const idsT = tensor(Int32Array.from(rows.flat()), { shape: [batch, len], device });
      const logits = fixed && len === 1 ? fixed.step(idsT, start) : model.forward(idsT, { start, cache, lastOnly: true });
      idsT.dispose();
      const all = await logits.data();
      logits.dispose();
      cache.length = start + len;
      const vocab = all.length / batch;
      steps++;
      return rows.map((_, b) => {
        if (done[b]) return options.eosTokenId as number;
        const t = sampleToken(all.subarray(b * vocab, (b + 1) * vocab), options, rand);
        sequences[b].push(t);
        options.onToken?.(t, sequences[b].length - 1, b);
        if (t === options.eosTokenId) done[b] = true;
        return t;
      });
    };
    const t0 = performance.now();
    let next = await step(prompts, 0);
    const t1 = performance.now();
    while (steps < maxNewTokens && !done.every(Boolean))
      next = await step(
        next.map((t) => [t]),
        cache.length,
      );
    const t2 = performance.now();
    const decoded = (steps - 1) * batch;
    return {
      tokens: sequences[0],
      sequences,
      timings: {
        prefillMs: t1 - t0,
        decodeMs: t2 - t1,
        prefillTokensPerS: ((promptLen * batch) / (t1 - t0)) * 1000,
        decodeTokensPerS: decoded > 0 ? (decoded / (t2 - t1)) * 1000 : 0,
      },
    };
  } finally {
    if (!fixed) cache.dispose();
  }
}
