import { settings } from '../settings.js';
import { scaledDotProductAttention } from '../ops/attention/sdpa.js';
import type { Tensor } from '../tensor/tensor.js';
import { attentionFallback, type AttentionOptions } from './attention_fallback.js';

/**
 * The one place the model calls attention: the fused xpu.scaledDotProductAttention (flash
 * attention on xpu, a blocked kernel on cpu) with grouped KV heads. XPU_ATTENTION=composed
 * selects the matmul-softmax-matmul composition instead (attention_fallback.ts), to compare.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  if (settings.XPU_ATTENTION === 'composed') return attentionFallback(q, k, v, options);
  return scaledDotProductAttention(q, k, v, { ...options, enableGqa: true });
}
