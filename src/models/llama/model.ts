import type { DeviceLike } from '../../device/device.js';
import { XpuValueError } from '../../errors.js';
import { narrow, view } from '../../ops/views.js';
import { Embedding } from '../../nn/embedding.js';
import { GroupedQueryAttention } from '../../nn/grouped_attention.js';
import type { KVCache } from '../../nn/kv_cache.js';
import { Linear } from '../../nn/linear.js';
import { Module, type ModuleList } from '../../nn/module.js';
import { RMSNorm } from '../../nn/rms_norm.js';
import { RotaryEmbedding } from '../../nn/rotary.js';
import { SwiGLU } from '../../nn/swiglu.js';
import type { DType } from '../../tensor/dtype.js';
import { scope } from '../../tensor/scope_api.js';
import type { Tensor } from '../../tensor/tensor.js';
import { generate, type GenerateOptions, type GenerateResult, type StaticDecode } from './generate.js';
import { StaticKVDecoder, type StaticStepResult } from './static_decode.js';
import { compile, type CompileOptions, type CompileStats, type CompiledFunction } from '../../compile/compile.js';
import { tensor } from '../../ops/creation.js';
import { checkConfig, headDimOf, type LlamaConfig } from './config.js';

/**
 * A Llama-architecture decoder (after HF transformers' modeling_llama: pre-norm blocks of
 * grouped-query attention with rotary positions and a SwiGLU MLP). Module and parameter names
 * are HF's, so a checkpoint's tensor names are this model's parameter paths.
 */

export interface LlamaInit {
  device?: DeviceLike;
  dtype?: DType;
  /** Seeded random weights (default) or zeros for a loader to fill. */
  random?: boolean;
  /** Longest sequence the rotary tables cover (default min(maxPositionEmbeddings, 4096)). */
  maxSequence?: number;
  /** Parameters require gradients (default false: an inference model records no graph; fine-tune with requiresGrad_() or LoRA). */
  requiresGrad?: boolean;
}

export class LlamaDecoderLayer extends Module {
  declare input_layernorm: RMSNorm;
  declare self_attn: GroupedQueryAttention;
  declare post_attention_layernorm: RMSNorm;
  declare mlp: SwiGLU;

  constructor(c: LlamaConfig, init: LlamaInit) {
    super();
    const o = { device: init.device, dtype: init.dtype, random: init.random };
    this.registerModule('input_layernorm', new RMSNorm(c.hiddenSize, { eps: c.rmsNormEps, ...o }));
    this.registerModule(
      'self_attn',
      new GroupedQueryAttention({ hiddenSize: c.hiddenSize, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: headDimOf(c), ...o }),
    );
    this.registerModule('post_attention_layernorm', new RMSNorm(c.hiddenSize, { eps: c.rmsNormEps, ...o }));
    this.registerModule('mlp', new SwiGLU(c.hiddenSize, c.intermediateSize, o));
  }

  /** h = x + attn(norm(x)); out = h + mlp(norm(h)) (both residual adds fused into a GEMM). */
  forward(x: Tensor, rope: RotaryEmbedding, start: number, cache?: { kv: KVCache; layer: number }): Tensor {
    const a = this.input_layernorm.forward(x);
    const h = this.self_attn.forward(a, rope, start, cache, x);
    a.dispose();
    const m = this.post_attention_layernorm.forward(h);
    const out = this.mlp.forward(m, h);
    m.dispose();
    h.dispose();
    return out;
  }
}

export class LlamaModel extends Module {
  declare embed_tokens: Embedding;
  declare layers: ModuleList<LlamaDecoderLayer>;
  declare norm: RMSNorm;

  constructor(c: LlamaConfig, init: LlamaInit) {
    super();
    const o = { device: init.device, dtype: init.dtype, random: init.random };
    this.registerModule('embed_tokens', new Embedding(c.vocabSize, c.hiddenSize, o));
    this.registerModuleList(
      'layers',
      Array.from({ length: c.numLayers }, () => new LlamaDecoderLayer(c, init)),
    );
    this.registerModule('norm', new RMSNorm(c.hiddenSize, { eps: c.rmsNormEps, ...o }));
  }
}

export interface ForwardOptions {
  /** Position of the first token (the cache's length when decoding). */
  start?: number;
  cache?: KVCache;
  /** Only the last position's logits (generation needs no others): [B, 1, V]. */
  lastOnly?: boolean;
}

export class LlamaForCausalLM extends Module {
  declare model: LlamaModel;
  declare lm_head: Linear;
  readonly config: LlamaConfig;
  readonly rope: RotaryEmbedding;
  readonly dtype: DType;

  constructor(config: LlamaConfig, init: LlamaInit = {}) {
    super();
    this.config = checkConfig({ ...config });
    this.dtype = init.dtype ?? 'float32';
    const c = this.config;
    this.registerModule('model', new LlamaModel(c, init));
    this.registerModule(
      'lm_head',
      new Linear(c.hiddenSize, c.vocabSize, {
        bias: false,
        device: init.device,
        dtype: init.dtype,
        random: (init.random ?? true) && !c.tieWordEmbeddings,
      }),
    );
    if (c.tieWordEmbeddings) this.tieWeights();
    this.requiresGrad_(init.requiresGrad ?? false);
    this.rope = new RotaryEmbedding(headDimOf(c), init.maxSequence ?? Math.min(c.maxPositionEmbeddings, 4096), c.ropeTheta, c.ropeScaling);
  }

  /**
   * lm_head reads the embedding matrix. It gets its own view of the same storage, so replacing or
   * disposing lm_head.weight (quantization swaps it) leaves the embedding alive.
   */
  tieWeights(): void {
    (this.lm_head.weight as Tensor).dispose();
    this.lm_head.weight = view(this.model.embed_tokens.weight, [this.config.vocabSize, this.config.hiddenSize]);
  }

  get device(): DeviceLike {
    return this.model.embed_tokens.weight.device;
  }

  /** ids [B, L] int32 -> logits [B, L, V] (or [B, 1, V] with lastOnly), float of the model dtype. */
  forward(ids: Tensor, options: ForwardOptions = {}): Tensor {
    const start = options.start ?? 0;
    if (ids.ndim !== 2)
      throw new XpuValueError('ids must be [batch, length]', {
        op: 'LlamaForCausalLM.forward',
        arg: 'ids',
        expected: '2 dims',
        got: `${ids.ndim} dims`,
      });
    const cache = options.cache;
    if (cache && (cache.numLayers !== this.config.numLayers || cache.batch !== ids.shape[0])) {
      throw new XpuValueError('cache does not fit this model and batch', {
        op: 'LlamaForCausalLM.forward',
        arg: 'cache',
        expected: `${this.config.numLayers} layers, batch ${ids.shape[0]}`,
        got: `${cache.numLayers} layers, batch ${cache.batch}`,
      });
    }
    return scope(() => {
      let x = this.model.embed_tokens.forward(ids);
      this.model.layers.items.forEach((layer, i) => {
        const next = layer.forward(x, this.rope, start, cache ? { kv: cache, layer: i } : undefined);
        x.dispose();
        x = next;
      });
      const l = ids.shape[1];
      const last = options.lastOnly && l > 1 ? narrow(x, 1, l - 1, 1) : x;
      return this.lm_head.forward(this.model.norm.forward(last));
    });
  }

  /** Parameters under their HF checkpoint names (a tied lm_head.weight is left out, as HF does). */
  override stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, p] of this.namedParameters()) {
      if (name === 'lm_head.weight' && this.config.tieWordEmbeddings) continue;
      if ('scheme' in p)
        throw new XpuValueError('stateDict() of a quantized model is not supported', {
          op: 'stateDict',
          arg: name,
          expected: 'dense tensors',
          got: `scheme ${p.scheme}`,
        });
      out.set(name, p as Tensor);
    }
    return out;
  }

  #compiled: {
    fn: CompiledFunction<[StaticKVDecoder, Tensor, Tensor, Tensor[], Tensor[]], StaticStepResult>;
    decoder: StaticKVDecoder | null;
  } | null = null;

  /**
   * Makes generate() decode through xpu.compile: a static KV cache (static_decode.ts) gives every
   * decode step the same signature, so the step is recorded once and replayed for each token
   * (prefill stays eager). Where the step cannot be recorded, it runs eagerly (compile's fallback,
   * said once). Returns this; eager() undoes it.
   */
  compile(options?: CompileOptions): this {
    const fn = compile(
      (decoder: StaticKVDecoder, x: Tensor, pos: Tensor, keys: Tensor[], values: Tensor[]) => decoder.step(x, pos, keys, values),
      options,
    );
    this.eager();
    this.#compiled = { fn, decoder: null };
    return this;
  }

  /** Back to eager decoding (frees the static cache). */
  eager(): this {
    this.#compiled?.decoder?.dispose();
    this.#compiled = null;
    return this;
  }

  get isCompiled(): boolean {
    return this.#compiled !== null;
  }

  /** The compiled decode step's counters (captures, replays...), or null when not compiled. */
  compileStats(): CompileStats | null {
    return this.#compiled ? this.#compiled.fn.stats() : null;
  }

  /**
   * generate()'s hook: when compiled, a static cache for `batch` rows of at least `total`
   * positions (rounded up to 64 so that later calls reuse it and its recording) and the step.
   */
  staticDecode(batch: number, total: number): StaticDecode | null {
    const compiled = this.#compiled;
    if (!compiled) return null;
    const maxLen = Math.min(Math.ceil(total / 64) * 64, this.rope.maxPositions);
    if (compiled.decoder && (compiled.decoder.batch !== batch || compiled.decoder.maxLen !== maxLen)) {
      compiled.decoder.dispose();
      compiled.decoder = null;
    }
    const device = this.model.embed_tokens.weight.device;
    const decoder = (compiled.decoder ??= new StaticKVDecoder(this, batch, maxLen, device));
    decoder.cache.length = 0; // a new sequence (rows past it are masked until overwritten)
    return {
      cache: decoder.cache,
      step: (ids: Tensor, pos: number): Tensor => {
        const x = this.model.embed_tokens.forward(ids);
        const p = tensor([pos], { dtype: 'int32', device });
        try {
          return decoder.advance(x, p, compiled.fn);
        } finally {
          x.dispose();
          p.dispose();
        }
      },
    };
  }

  /** Prefill + KV-cache decode; see generate.ts. */
  generate(inputIds: ArrayLike<number> | readonly ArrayLike<number>[], options: GenerateOptions): Promise<GenerateResult> {
    return generate(this, inputIds, options);
  }

  protected override onDispose(): void {
    this.eager();
    this.rope.dispose();
  }
}
