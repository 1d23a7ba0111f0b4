import type { DeviceLike } from '../device/device.js';
import { XpuValueError } from '../errors.js';
import { optionalTensorArg, tensorArg } from '../ops/common.js';
import { arange } from '../ops/creation.js';
import { intArg } from '../tensor/shape.js';
import { add, le } from '../ops/math.js';
import { permute, reshape } from '../ops/views.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { attention } from './attention_impl.js';
import { decodeAttentionStep } from '../ops/attention/decode_step.js';
import { settings } from '../settings.js';
import type { KVCache } from './kv_cache.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import type { RotaryEmbedding } from './rotary.js';

export interface GroupedAttentionConfig {
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Biases on q/k/v/o (false for Llama). */
  bias?: boolean;
  device?: DeviceLike;
  dtype?: DType;
  random?: boolean;
}

/**
 * Multi-head attention with grouped KV heads (Hq query heads share Hkv key/value heads), rotary
 * positions and an optional preallocated KV cache. Projection names follow HF Llama
 * (q_proj, k_proj, v_proj, o_proj) so checkpoints map one to one.
 */
export class GroupedQueryAttention extends Module {
  declare q_proj: Linear;
  declare k_proj: Linear;
  declare v_proj: Linear;
  declare o_proj: Linear;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;

  constructor(cfg: GroupedAttentionConfig) {
    super();
    const { hiddenSize: h, numHeads: hq, numKvHeads: hkv, headDim: d } = cfg;
    if (!(hq > 0 && hkv > 0 && hq % hkv === 0))
      throw new XpuValueError('query heads must be a multiple of KV heads', {
        op: 'GroupedQueryAttention',
        arg: 'numKvHeads',
        expected: `a divisor of ${hq}`,
        got: String(hkv),
      });
    this.numHeads = hq;
    this.numKvHeads = hkv;
    this.headDim = d;
    const init = { bias: cfg.bias ?? false, device: cfg.device, dtype: cfg.dtype, random: cfg.random };
    this.registerModule('q_proj', new Linear(h, hq * d, init));
    this.registerModule('k_proj', new Linear(h, hkv * d, init));
    this.registerModule('v_proj', new Linear(h, hkv * d, init));
    this.registerModule('o_proj', new Linear(hq * d, h, init));
  }

  /**
   * x [B, L, hidden] at positions start .. start + L - 1 -> [B, L, hidden] (plus `residual` when
   * given, fused into o_proj). With a cache, this layer's K/V are written into it at `start` and
   * attention sees every cached position before them.
   */
  forward(x: Tensor, rope: RotaryEmbedding, start: number, cache?: { kv: KVCache; layer: number }, residual?: Tensor): Tensor {
    const op = 'GroupedQueryAttention.forward';
    tensorArg(op, 'input', x);
    optionalTensorArg(op, 'residual', residual);
    intArg(op, 'start', start, { min: 0 });
    const [b, l] = x.shape;
    const d = this.headDim;
    const tmp: Tensor[] = [];
    const keepTmp = <T extends Tensor>(t: T): T => (tmp.push(t), t);
    try {
      const qp = keepTmp(this.q_proj.forward(x));
      const kp = keepTmp(this.k_proj.forward(x));
      const vp = keepTmp(this.v_proj.forward(x));
      // One new token with a cache: rotary, cache write and attention as one primitive where the
      // backend has it (cpu; ops/attention/decode_step.ts), else the ops below.
      if (cache && l === 1 && cache.kv.keys[cache.layer] && settings.XPU_ATTENTION !== 'composed' && start + 1 <= rope.maxPositions) {
        const { cos, sin } = rope.tables(x.device, x.dtype);
        const o = decodeAttentionStep({
          q: qp,
          k: kp,
          v: vp,
          heads: this.numHeads,
          kvHeads: this.numKvHeads,
          headDim: d,
          cos,
          sin,
          keys: cache.kv.keys[cache.layer],
          values: cache.kv.values[cache.layer],
          start,
        });
        if (o) return this.o_proj.forward(keepTmp(o), { residual });
      }
      const q = rope.apply(keepTmp(reshape(qp, [b, l, this.numHeads, d])), start);
      const k = rope.apply(keepTmp(reshape(kp, [b, l, this.numKvHeads, d])), start);
      const v = keepTmp(reshape(vp, [b, l, this.numKvHeads, d]));
      keepTmp(q);
      keepTmp(k);
      let keys: Tensor;
      let values: Tensor;
      if (cache) ({ keys, values } = cache.kv.update(cache.layer, k, v, start));
      else {
        if (start !== 0)
          throw new XpuValueError('without a cache, attention starts at position 0', {
            op: 'GroupedQueryAttention',
            arg: 'start',
            expected: '0',
            got: String(start),
          });
        keys = permute(k, [0, 2, 1, 3]);
        values = permute(v, [0, 2, 1, 3]);
      }
      keepTmp(keys);
      keepTmp(values);
      const qh = keepTmp(permute(q, [0, 2, 1, 3]));
      // Query i sits at position start + i and sees keys 0 .. start + i. From position 0 that is
      // PyTorch's top-left causal mask; a single new token sees everything; otherwise a mask.
      const s = keys.shape[2];
      let opts = {};
      if (l > 1 && start === 0) opts = { isCausal: true };
      else if (l > 1) {
        const pos = keepTmp(add(keepTmp(reshape(keepTmp(arange(0, l, 1, { device: x.device })), [l, 1])), start));
        opts = { attnMask: keepTmp(le(keepTmp(reshape(keepTmp(arange(0, s, 1, { device: x.device })), [1, s])), pos)) };
      }
      const o = keepTmp(attention(qh, keys, values, opts)); // [B, Hq, L, D]
      const merged = keepTmp(reshape(keepTmp(permute(o, [0, 2, 1, 3])), [b, l, this.numHeads * d]));
      return this.o_proj.forward(merged, { residual });
    } finally {
      for (const t of tmp) t.dispose();
    }
  }
}
