import type { DeviceLike } from '../../device/device.js';
import { XpuFormatError, XpuValueError } from '../../errors.js';
import { GgufReader } from '../../io/gguf_reader.js';
import { fromHost } from '../../ops/creation.js';
import { to } from '../../ops/transfer.js';
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Linear } from '../../nn/linear.js';
import { ggufWeightFormatOf } from '../../quant/gguf_formats.js';
import { checkActivations, quantizedFromGguf } from '../../quant/gguf_weight.js';
import type { GgufActivations, QuantizedTensor } from '../../quant/quantized_tensor.js';
import { settings } from '../../settings.js';
import { checkConfig, headDimOf, type LlamaConfig } from './config.js';
import { LlamaForCausalLM } from './model.js';

/**
 * Llama-architecture models from GGUF files (llama.cpp's format): the config from the `llama.*`
 * metadata and the weights by llama.cpp's tensor names. Linear weights in Q4_0, Q4_1, Q8_0, Q4_K
 * or Q6_K stay in their blocks (QuantizedTensor, src/quant/gguf_formats.ts) and the quantized
 * linear decodes them as it multiplies; other formats, norms and the embedding table (read one
 * row per token) are dequantized at load to float32, exactly as ggml decodes them. Nothing is
 * re-quantized. A tied output projection (no output.weight) is token_embd's blocks, read once.
 *
 * Rotary layout: llama.cpp rotates adjacent pairs (dims 2i, 2i+1), HF and this model rotate
 * halves (i, i + D/2). convert_hf_to_gguf.py therefore permutes the rows of q and k per head,
 * reshaping a head's D rows to (2, D/2) and swapping the axes; loading undoes that (the inverse
 * reshapes to (D/2, 2) and swaps), after which our rotate-half rotary computes what llama.cpp's
 * interleaved one does.
 */

const OP = 'loadLlamaGguf';

/** Architectures whose GGUF tensors and metadata follow the llama layout (only 'llama' is verified). */
const LLAMA_ARCHS = new Set(['llama']);

function fail(file: string, message: string, expected?: string, got?: string): never {
  throw new XpuFormatError(`${file}: ${message}`, { op: OP, arg: 'file', expected, got });
}

/** The LlamaConfig a GGUF's metadata describes. */
export function configFromGguf(r: GgufReader): LlamaConfig {
  const arch = r.getString('general.architecture');
  if (!LLAMA_ARCHS.has(arch)) fail(r.path, 'not a Llama-architecture model', [...LLAMA_ARCHS].join(' or '), arch);
  const k = (name: string) => `${arch}.${name}`;
  const hidden = r.getNumber(k('embedding_length'));
  const heads = r.getNumber(k('attention.head_count'));
  const kvHeads = r.getNumber(k('attention.head_count_kv'), heads);
  const headDim = r.getNumber(k('attention.key_length'), hidden / heads);
  const ropeDims = r.getNumber(k('rope.dimension_count'), headDim);
  // Partial rotary (rotating fewer dims than the head has) is not in this model.
  if (ropeDims !== headDim)
    fail(r.path, 'partial rotary embeddings are not supported', `rope.dimension_count = head dim ${headDim}`, `${ropeDims}`);
  const scaling = r.get(k('rope.scaling.type'));
  if (scaling !== undefined && scaling !== 'none')
    fail(r.path, 'rope scaling from GGUF metadata is not supported yet', "no rope.scaling.type (or 'none')", String(scaling));
  if (r.has('rope_freqs.weight')) fail(r.path, 'Llama 3.1-style rope frequency factors (rope_freqs.weight) are not supported yet');
  const embd = r.has('token_embd.weight') ? r.info('token_embd.weight').shape : fail(r.path, "tensor 'token_embd.weight' is missing");
  const vocab = embd[0];
  const declared = r.get(k('vocab_size'));
  if (typeof declared === 'number' && declared !== vocab)
    fail(r.path, `${k('vocab_size')} disagrees with token_embd.weight`, `${vocab}`, `${declared}`);
  return checkConfig({
    vocabSize: vocab,
    hiddenSize: hidden,
    intermediateSize: r.getNumber(k('feed_forward_length')),
    numLayers: r.getNumber(k('block_count')),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim: headDim === hidden / heads ? undefined : headDim,
    ropeTheta: r.getNumber(k('rope.freq_base'), 10000),
    rmsNormEps: r.getNumber(k('attention.layer_norm_rms_epsilon'), 1e-5),
    maxPositionEmbeddings: r.getNumber(k('context_length'), 2048),
    tieWordEmbeddings: !r.has('output.weight'),
  });
}

/** llama.cpp tensor name -> this model's parameter path (and whether its rows are rotary-permuted). */
export function ggufLlamaParameterName(name: string): { path: string; rotaryHeads?: 'q' | 'k' } | null {
  const top: Record<string, string> = {
    'token_embd.weight': 'model.embed_tokens.weight',
    'output_norm.weight': 'model.norm.weight',
    'output.weight': 'lm_head.weight',
  };
  if (top[name]) return { path: top[name] };
  const m = /^blk\.(\d+)\.([a-z_]+)\.weight$/.exec(name);
  if (!m) return null;
  const layer = `model.layers.${m[1]}`;
  const sub: Record<string, string> = {
    attn_norm: 'input_layernorm.weight',
    ffn_norm: 'post_attention_layernorm.weight',
    attn_q: 'self_attn.q_proj.weight',
    attn_k: 'self_attn.k_proj.weight',
    attn_v: 'self_attn.v_proj.weight',
    attn_output: 'self_attn.o_proj.weight',
    ffn_gate: 'mlp.gate_proj.weight',
    ffn_up: 'mlp.up_proj.weight',
    ffn_down: 'mlp.down_proj.weight',
  };
  const s = sub[m[2]];
  if (!s) return null;
  return { path: `${layer}.${s}`, rotaryHeads: m[2] === 'attn_q' ? 'q' : m[2] === 'attn_k' ? 'k' : undefined };
}

/**
 * The row order that undoes llama.cpp's q/k permutation: row r of the result is GGUF row
 * order[r]. GGUF row h*D + 2i + t holds HF row h*D + t*D/2 + i (t in {0, 1}, i < D/2).
 */
export function rotaryRowOrder(heads: number, headDim: number): Int32Array {
  const order = new Int32Array(heads * headDim);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++) for (let t = 0; t < 2; t++) order[h * headDim + t * half + i] = h * headDim + 2 * i + t;
  return order;
}

/**
 * Undoes llama.cpp's q/k row permutation on a row-major [heads * headDim, cols] weight: GGUF row
 * h*D + 2i + t holds HF row h*D + t*D/2 + i (t in {0, 1}, i < D/2).
 */
export function unpermuteRotaryRows(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  if (w.length !== heads * headDim * cols)
    throw new XpuValueError('weight size does not match heads x headDim x cols', {
      op: 'unpermuteRotaryRows',
      arg: 'w',
      expected: `${heads * headDim * cols} elements`,
      got: `${w.length}`,
    });
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let t = 0; t < 2; t++) {
        const src = (h * headDim + 2 * i + t) * cols;
        const dst = (h * headDim + t * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

export interface GgufLoadOptions {
  device?: DeviceLike;
  /** Dense weights' dtype (default float32; every dequantized GGUF format is float32 first). */
  dtype?: DType;
  /**
   * Keep Linear weights in their GGUF blocks where a kernel reads the format (Q4_0, Q4_1, Q8_0,
   * Q4_K, Q6_K; default true). false dequantizes every weight at load (float32 or `dtype`).
   */
  quantized?: boolean;
  /** Longest sequence the rotary tables cover (default min(context_length, 4096)). */
  maxSequence?: number;
  /**
   * How the Q4_0 / Q4_1 / Q8_0 linears kept in their blocks treat activations on the cpu device:
   * 'q8' (default, or XPU_GGUF_CPU_ACTIVATIONS) quantizes them to int8 per 32-value block and
   * multiplies integers, exactly llama.cpp's CPU arithmetic (native/compute/qgemm_gguf_q8.cc);
   * 'float' multiplies exactly in float32. The xpu device always uses float activations.
   */
  activations?: GgufActivations;
}

/**
 * Builds the Llama a GGUF describes and fills it, one tensor at a time (peak host memory: one
 * dequantized tensor). Every parameter must appear once with its shape; unknown tensors are an
 * error (another architecture); output.weight may be absent (tied embeddings).
 */
export async function loadLlamaGguf(from: string | GgufReader, options: GgufLoadOptions = {}): Promise<LlamaForCausalLM> {
  const r = typeof from === 'string' ? await GgufReader.open(from) : from;
  try {
    const config = configFromGguf(r);
    const dtype = options.dtype ?? 'float32';
    const model = new LlamaForCausalLM(config, { device: options.device, dtype, random: false, maxSequence: options.maxSequence });
    try {
      const activations = checkActivations(OP, options.activations ?? settings.XPU_GGUF_CPU_ACTIVATIONS ?? 'q8');
      await fillFromGguf(model, r, dtype, options.device, options.quantized ?? true, activations);
      return model;
    } catch (e) {
      model.dispose();
      throw e;
    }
  } finally {
    if (typeof from === 'string') await r.close();
  }
}

async function fillFromGguf(
  model: LlamaForCausalLM,
  r: GgufReader,
  dtype: DType,
  device: DeviceLike | undefined,
  quantized: boolean,
  activations: GgufActivations,
): Promise<void> {
  const c = model.config;
  const filled = new Set<string>();
  // token_embd's blocks as the tied output projection (lm_head then owns them; no view is made).
  let tiedHead: QuantizedTensor | undefined;
  for (const info of r.tensorInfos()) {
    const mapped = ggufLlamaParameterName(info.name);
    if (!mapped)
      fail(r.path, `tensor '${info.name}' is not a Llama parameter`, 'llama.cpp Llama tensor names (token_embd, blk.N.attn_q, ...)');
    const slot = model.resolveParameter(mapped.path);
    if (!slot) fail(r.path, `tensor '${info.name}' has no parameter '${mapped.path}' in this config`);
    if (filled.has(mapped.path)) fail(r.path, `tensor '${info.name}' appears twice`);
    const current = (slot.owner as unknown as Record<string, Tensor>)[slot.name];
    if (info.shape.join(',') !== current.shape.join(',')) {
      fail(
        r.path,
        `tensor '${info.name}' has the wrong shape for the config`,
        `[${current.shape.join(', ')}]`,
        `[${info.shape.join(', ')}]`,
      );
    }
    const heads = mapped.rotaryHeads === 'q' ? c.numHeads : c.numKvHeads;
    const keep = quantized && info.shape.length === 2 && ggufWeightFormatOf(info.type) !== undefined;
    const isLinear = slot.owner instanceof Linear;
    if (keep && (isLinear || (mapped.path === 'model.embed_tokens.weight' && c.tieWordEmbeddings))) {
      const raw = await r.raw(info.name);
      const qw = quantizedFromGguf(info.type, raw, [info.shape[0], info.shape[1]], {
        device,
        rowOrder: mapped.rotaryHeads ? rotaryRowOrder(heads, headDimOf(c)) : undefined,
        activations,
      });
      if (isLinear) {
        current.dispose();
        slot.owner.setParameter(slot.name, qw);
        filled.add(mapped.path);
        continue;
      }
      tiedHead = qw;
      (model.lm_head.weight as Tensor).dispose();
      model.lm_head.weight = qw;
    }
    let host = await r.float32(info.name);
    if (mapped.rotaryHeads) host = unpermuteRotaryRows(host, heads, headDimOf(c), info.shape[1]);
    const f32 = fromHost(host, info.shape, 'float32', device, OP);
    const loaded = dtype === 'float32' ? f32 : to(f32, dtype);
    if (loaded !== f32) f32.dispose();
    current.dispose();
    slot.owner.setParameter(slot.name, loaded);
    filled.add(mapped.path);
  }
  const missing = [...model.namedParameters()]
    .map(([n]) => n)
    .filter((n) => !filled.has(n) && !(n === 'lm_head.weight' && c.tieWordEmbeddings));
  if (missing.length)
    fail(
      r.path,
      `the file is missing ${missing.length} parameter(s)`,
      'every Llama parameter',
      `missing ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''}`,
    );
  if (c.tieWordEmbeddings && !tiedHead) model.tieWeights();
}
