import { XpuValueError } from '../../errors.js';
import { arange } from '../../ops/creation.js';
import { where } from '../../ops/elementwise.js';
import { silu } from '../../ops/generated/elementwise_ops.js';
import { linear } from '../../ops/linear.js';
import { eq, le, mul } from '../../ops/math.js';
import { sum } from '../../ops/reduce.js';
import { applyRotary } from '../../ops/rotary.js';
import { cat } from '../../ops/structural.js';
import { narrow, permute, reshape } from '../../ops/views.js';
import { attention } from '../../nn/attention_impl.js';
import type { GroupedQueryAttention } from '../../nn/grouped_attention.js';
import { KVCache } from '../../nn/kv_cache.js';
import type { Linear } from '../../nn/linear.js';
import type { RMSNorm } from '../../nn/rms_norm.js';
import type { RotaryEmbedding } from '../../nn/rotary.js';
import type { SwiGLU } from '../../nn/swiglu.js';
import type { Device } from '../../device/device.js';
import type { DType } from '../../tensor/dtype.js';
import { keep, scope } from '../../tensor/scope_api.js';
import { Tensor } from '../../tensor/tensor.js';
import { headDimOf, type LlamaConfig } from './config.js';

/**
 * A decode step whose shapes never change, so xpu.compile records it once and replays it for
 * every token (the idea of transformers' StaticCache with torch.compile's "reduce-overhead"
 * mode: a fixed-size cache, the position passed as data, a mask instead of a growing view).
 *
 * - The KV cache is [B, maxLen, Hkv, D] per layer, rewritten whole each step as
 *   where(slot == pos, new k, cache), so the write position comes from a tensor, not a shape. The
 *   caches are arguments and results of the step (double-buffered: the new ones replace the old
 *   in the KVCache), which saves the copy back that an in-place write would cost.
 * - Attention reads all maxLen keys with a bool mask (key position <= pos); masked keys weigh
 *   exactly 0, so the output matches eager's exact-length attention within float rounding.
 * - The rotary rows of position pos are picked from [maxLen, 2D] (cos | sin) by
 *   sum(where(row == pos, table, 0)): one value per column survives, so the rows are exact.
 * - q/k/v and gate/up each run as one GEMM over weights concatenated once at construction
 *   ([Wq; Wk; Wv] and [Wgate; Wup], the idea of vLLM's QKVParallelLinear / MergedColumnParallel):
 *   a decode GEMV's launch and activation read are paid once per group instead of three / two
 *   times. Only dense weights without biases are concatenated (a quantized or biased layer keeps
 *   its own projections); the copies cost one more set of those weights in memory.
 * The embedding lookup stays outside (a cpu gather checks its indices on the host, which a
 * recording cannot do).
 */

/** What the step needs of a Llama model (structural, so model.ts is not imported back). */
export interface StaticDecodeModel {
  readonly config: LlamaConfig;
  readonly rope: RotaryEmbedding;
  readonly dtype: DType;
  readonly model: {
    readonly layers: {
      readonly items: readonly {
        input_layernorm: RMSNorm;
        self_attn: GroupedQueryAttention;
        post_attention_layernorm: RMSNorm;
        mlp: SwiGLU;
      }[];
    };
    readonly norm: RMSNorm;
  };
  readonly lm_head: Linear;
}

export interface StaticStepResult {
  logits: Tensor;
  keys: Tensor[];
  values: Tensor[];
}

/** One layer's concatenated projection weights, or null where they stay separate. */
interface FusedWeights {
  qkv: Tensor | null;
  gateUp: Tensor | null;
}

/** cat(weights, 0) when every weight is a dense tensor and no layer has a bias. */
function concatWeights(layers: readonly Linear[]): Tensor | null {
  if (!layers.every((l) => l.weight instanceof Tensor && l.bias === undefined)) return null;
  return keep(
    scope(() =>
      cat(
        layers.map((l) => l.weight as Tensor),
        0,
      ),
    ),
  );
}

export class StaticKVDecoder {
  readonly cache: KVCache;
  readonly #fused: FusedWeights[];
  /** int32 [maxLen]: 0 .. maxLen - 1, compared with the position tensor. */
  readonly #positions: Tensor;
  /** [maxLen, 2D]: the rotary cos rows then sin rows of positions 0 .. maxLen - 1. */
  readonly #rope: Tensor;

  constructor(
    readonly lm: StaticDecodeModel,
    readonly batch: number,
    readonly maxLen: number,
    readonly device: Device,
  ) {
    const c = lm.config;
    if (maxLen > lm.rope.maxPositions)
      throw new XpuValueError('the static cache is longer than the rotary table', {
        op: 'StaticKVDecoder',
        arg: 'maxLen',
        expected: `<= ${lm.rope.maxPositions}`,
        got: String(maxLen),
      });
    this.cache = new KVCache(c.numLayers, batch, maxLen, c.numKvHeads, headDimOf(c), { device, dtype: lm.dtype });
    this.#positions = keep(arange(0, maxLen, 1, { device, dtype: 'int32' }));
    const { cos, sin } = lm.rope.tables(device, lm.dtype);
    this.#rope = keep(scope(() => cat([narrow(cos, 0, 0, maxLen), narrow(sin, 0, 0, maxLen)], 1)));
    this.#fused = lm.model.layers.items.map((l) => ({
      qkv: concatWeights([l.self_attn.q_proj, l.self_attn.k_proj, l.self_attn.v_proj]),
      gateUp: concatWeights([l.mlp.gate_proj, l.mlp.up_proj]),
    }));
  }

  /**
   * x [B, 1, hidden] (the new token's embedding) at the position held by pos (int32 [1]), with
   * the caches `keys` / `values` (per layer [B, maxLen, Hkv, D]) -> logits [B, 1, V] and new
   * caches holding this token's K/V at pos as well. Positions before pos must hold the earlier
   * tokens' K/V (a prefill through the same cache, then earlier steps). Pure: nothing is written
   * in place, so the step can be recorded with the caches as arguments.
   */
  step(x: Tensor, pos: Tensor, keys: readonly Tensor[], values: readonly Tensor[]): StaticStepResult {
    const c = this.lm.config;
    const d = headDimOf(c);
    const b = this.batch;
    const n = this.maxLen;
    return scope(() => {
      const slot = reshape(eq(this.#positions, pos), [1, n, 1, 1]);
      const visible = reshape(le(this.#positions, pos), [1, 1, 1, n]);
      const rows = sum(where(reshape(slot, [n, 1]), this.#rope, 0), 0);
      const cos = reshape(narrow(rows, 0, 0, d), [1, 1, 1, d]);
      const sin = reshape(narrow(rows, 0, d, d), [1, 1, 1, d]);
      let h = x;
      const newKeys: Tensor[] = [];
      const newValues: Tensor[] = [];
      this.lm.model.layers.items.forEach((layer, i) => {
        const attn = layer.self_attn;
        const a = layer.input_layernorm.forward(h);
        const fused = this.#fused[i];
        const qd = c.numHeads * d;
        const kvd = c.numKvHeads * d;
        const qkv = fused.qkv ? linear(a, fused.qkv) : null;
        const qp = qkv ? narrow(qkv, 2, 0, qd) : attn.q_proj.forward(a);
        const kp = qkv ? narrow(qkv, 2, qd, kvd) : attn.k_proj.forward(a);
        const vp = qkv ? narrow(qkv, 2, qd + kvd, kvd) : attn.v_proj.forward(a);
        const q = applyRotary(reshape(qp, [b, 1, c.numHeads, d]), cos, sin);
        const k = applyRotary(reshape(kp, [b, 1, c.numKvHeads, d]), cos, sin);
        const v = reshape(vp, [b, 1, c.numKvHeads, d]);
        const kc = where(slot, k, keys[i]);
        const vc = where(slot, v, values[i]);
        newKeys.push(kc);
        newValues.push(vc);
        const o = attention(permute(q, [0, 2, 1, 3]), permute(kc, [0, 2, 1, 3]), permute(vc, [0, 2, 1, 3]), { attnMask: visible });
        const merged = reshape(permute(o, [0, 2, 1, 3]), [b, 1, c.numHeads * d]);
        const r = attn.o_proj.forward(merged, { residual: h });
        const m = layer.post_attention_layernorm.forward(r);
        if (fused.gateUp) {
          const gu = linear(m, fused.gateUp);
          const inter = c.intermediateSize;
          h = layer.mlp.down_proj.forward(mul(silu(narrow(gu, 2, 0, inter)), narrow(gu, 2, inter, inter)), { residual: r });
        } else h = layer.mlp.forward(m, r);
      });
      return { logits: this.lm.lm_head.forward(this.lm.model.norm.forward(h)), keys: newKeys, values: newValues };
    });
  }

  /** One decode step on this decoder's cache through `run` (the compiled step, or the step itself): the new caches replace the old. */
  advance(
    x: Tensor,
    pos: Tensor,
    run: (d: StaticKVDecoder, x: Tensor, pos: Tensor, keys: Tensor[], values: Tensor[]) => StaticStepResult,
  ): Tensor {
    const { keys, values } = this.cache;
    const r = run(this, x, pos, keys.slice(), values.slice());
    for (let i = 0; i < keys.length; i++) {
      keys[i].dispose();
      values[i].dispose();
      keys[i] = r.keys[i];
      values[i] = r.values[i];
    }
    return r.logits;
  }

  dispose(): void {
    this.cache.dispose();
    this.#positions.dispose();
    this.#rope.dispose();
    for (const f of this.#fused) {
      f.qkv?.dispose();
      f.gateUp?.dispose();
    }
  }
}
