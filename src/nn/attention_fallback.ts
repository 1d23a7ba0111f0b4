import { XpuShapeError } from '../errors.js';
import { optionalTensorArg, tensorArg } from '../ops/common.js';
import { arange } from '../ops/creation.js';
import { add, le, mul } from '../ops/math.js';
import { where } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { softmax } from '../ops/norm.js';
import { reshape, transpose, unsqueeze } from '../ops/views.js';
import { scope } from '../tensor/scope_api.js';
import type { Tensor } from '../tensor/tensor.js';

export interface AttentionOptions {
  /** bool (true = attend) or additive float, broadcastable to [B, Hq, L, S]. */
  attnMask?: Tensor;
  /** Top-left causal mask (key j visible to query i when j <= i), as PyTorch. */
  isCausal?: boolean;
  /** Default 1/sqrt(E). */
  scale?: number;
}

/**
 * softmax(q k^T * scale + mask) v with grouped KV heads, by composition (matmul, softmax,
 * matmul): q [B, Hq, L, E], k [B, Hkv, S, E], v [B, Hkv, S, Ev], Hq a multiple of Hkv. The query
 * heads of one KV head are a batch dim that k and v broadcast over (stride 0), so K/V are never
 * copied per group. The stand-in for xpu.scaledDotProductAttention until that op lands; the model
 * calls attention only through nn/attention_impl.ts.
 */
export function attentionFallback(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const op = 'attention';
  tensorArg(op, 'q', q);
  tensorArg(op, 'k', k);
  tensorArg(op, 'v', v);
  optionalTensorArg(op, 'attnMask', options.attnMask);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4)
    throw new XpuShapeError('q, k, v must be 4-D', { op, arg: 'q', expected: '[B, H, L, E]', got: `${q.ndim}, ${k.ndim}, ${v.ndim} dims` });
  const [b, hq, l, e] = q.shape;
  const [, hkv, s] = k.shape;
  if (hq % hkv !== 0 || k.shape[0] !== b || v.shape[0] !== b || v.shape[1] !== hkv || v.shape[2] !== s || k.shape[3] !== e) {
    throw new XpuShapeError('q, k, v do not fit together', {
      op,
      arg: 'k',
      expected: `k [${b}, Hkv | ${hq}, S, ${e}], v [${b}, Hkv, S, Ev]`,
      got: `k [${k.shape.join(', ')}], v [${v.shape.join(', ')}]`,
    });
  }
  const g = hq / hkv;
  const ev = v.shape[3];
  const scale = options.scale ?? 1 / Math.sqrt(e);
  return scope(() => {
    const q5 = reshape(q, [b, hkv, g, l, e]);
    const kt = unsqueeze(transpose(k, 2, 3), 2); // [B, Hkv, 1, E, S]
    let scores = reshape(mul(matmul(q5, kt), scale), [b, hq, l, s]);
    if (options.isCausal) {
      const keep = le(reshape(arange(0, s, 1, { device: q.device }), [1, s]), reshape(arange(0, l, 1, { device: q.device }), [l, 1]));
      scores = where(keep, scores, -Infinity);
    }
    const mask = options.attnMask;
    if (mask) scores = mask.dtype === 'bool' ? where(mask, scores, -Infinity) : add(scores, mask);
    const p = reshape(softmax(scores, -1), [b, hkv, g, l, s]);
    const out = matmul(p, unsqueeze(v, 2)); // [B, Hkv, G, L, Ev]
    return reshape(out, [b, hq, l, ev]);
  });
}
