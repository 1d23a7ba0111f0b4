import { XpuValueError } from '../../errors.js';
import type { RopeScaling } from '../../nn/rotary.js';

/** The shape of a Llama-architecture decoder (field meanings as in HF LlamaConfig). */
export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Default hiddenSize / numHeads. */
  headDim?: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  rmsNormEps: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
}

export const headDimOf = (c: LlamaConfig): number => c.headDim ?? c.hiddenSize / c.numHeads;

/** A few layers of everything, for tests. */
export const LLAMA_TINY: LlamaConfig = {
  vocabSize: 97,
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  maxPositionEmbeddings: 128,
  tieWordEmbeddings: false,
};

/** ~125M parameters, Llama-shaped (the size that runs on a software rasteriser). */
export const LLAMA_125M: LlamaConfig = {
  vocabSize: 32000,
  hiddenSize: 768,
  intermediateSize: 2048,
  numLayers: 12,
  numHeads: 12,
  numKvHeads: 4,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  maxPositionEmbeddings: 2048,
  tieWordEmbeddings: true,
};

/** The shape of Llama-3.2-1B (its HF config.json), for a real GPU. */
export const LLAMA_3_2_1B: LlamaConfig = {
  vocabSize: 128256,
  hiddenSize: 2048,
  intermediateSize: 8192,
  numLayers: 16,
  numHeads: 32,
  numKvHeads: 8,
  headDim: 64,
  ropeTheta: 500000,
  rmsNormEps: 1e-5,
  maxPositionEmbeddings: 131072,
  tieWordEmbeddings: true,
  ropeScaling: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
};

export function checkConfig(c: LlamaConfig): LlamaConfig {
  const fail = (arg: string, expected: string, got: unknown): never => {
    throw new XpuValueError('bad Llama config', { op: 'LlamaConfig', arg, expected, got: String(got) });
  };
  for (const k of [
    'vocabSize',
    'hiddenSize',
    'intermediateSize',
    'numLayers',
    'numHeads',
    'numKvHeads',
    'maxPositionEmbeddings',
  ] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) fail(k, 'a positive integer', c[k]);
  }
  if (c.numHeads % c.numKvHeads !== 0) fail('numKvHeads', `a divisor of numHeads (${c.numHeads})`, c.numKvHeads);
  const hd = headDimOf(c);
  if (!Number.isInteger(hd) || hd % 2 !== 0) fail('headDim', 'an even integer (hiddenSize / numHeads by default)', hd);
  if (!(c.ropeTheta > 0)) fail('ropeTheta', '> 0', c.ropeTheta);
  if (!(c.rmsNormEps > 0)) fail('rmsNormEps', '> 0', c.rmsNormEps);
  return c;
}

/** Reads an HF Llama config.json object (snake_case fields). */
export function configFromHf(json: Record<string, unknown>): LlamaConfig {
  const num = (k: string, dflt?: number): number => {
    const v = json[k] ?? dflt;
    if (typeof v !== 'number')
      throw new XpuValueError('config.json field missing or not a number', {
        op: 'configFromHf',
        arg: k,
        expected: 'a number',
        got: JSON.stringify(v),
      });
    return v;
  };
  const rs = json.rope_scaling as Record<string, unknown> | null | undefined;
  let ropeScaling: RopeScaling | undefined;
  if (rs) {
    const type = rs.rope_type ?? rs.type;
    if (type !== 'llama3')
      throw new XpuValueError('only llama3 rope_scaling is supported', {
        op: 'configFromHf',
        arg: 'rope_scaling',
        expected: "rope_type 'llama3'",
        got: JSON.stringify(type),
      });
    ropeScaling = {
      factor: Number(rs.factor),
      lowFreqFactor: Number(rs.low_freq_factor),
      highFreqFactor: Number(rs.high_freq_factor),
      originalMaxPositionEmbeddings: Number(rs.original_max_position_embeddings),
    };
  }
  const heads = num('num_attention_heads');
  return checkConfig({
    vocabSize: num('vocab_size'),
    hiddenSize: num('hidden_size'),
    intermediateSize: num('intermediate_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: heads,
    numKvHeads: num('num_key_value_heads', heads),
    headDim: typeof json.head_dim === 'number' ? json.head_dim : undefined,
    ropeTheta: num('rope_theta', 10000),
    ropeScaling,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    maxPositionEmbeddings: num('max_position_embeddings', 2048),
    tieWordEmbeddings: json.tie_word_embeddings === true,
  });
}

/** The HF config.json object for a config (configFromHf reads it back to the same config). */
export function configToHf(c: LlamaConfig, dtype = 'float32'): Record<string, unknown> {
  const rs = c.ropeScaling;
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    ...(c.headDim !== undefined ? { head_dim: c.headDim } : {}),
    rope_theta: c.ropeTheta,
    rope_scaling: rs
      ? {
          rope_type: 'llama3',
          factor: rs.factor,
          low_freq_factor: rs.lowFreqFactor,
          high_freq_factor: rs.highFreqFactor,
          original_max_position_embeddings: rs.originalMaxPositionEmbeddings,
        }
      : null,
    rms_norm_eps: c.rmsNormEps,
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    hidden_act: 'silu',
    torch_dtype: dtype,
  };
}

/** Parameter count (tied embeddings counted once). */
export function parameterCount(c: LlamaConfig): number {
  const hd = headDimOf(c);
  const attn = c.hiddenSize * hd * (2 * c.numHeads + 2 * c.numKvHeads);
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  const layer = attn + mlp + 2 * c.hiddenSize;
  return c.numLayers * layer + c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2) + c.hiddenSize;
}
