import type { Operand, Storage } from './operand.js';

/**
 * One decode step of a KV-cached attention layer as a single primitive (optional:
 * Backend.decodeAttention; ops/attention/decode_step.ts composes the same ops where a backend
 * has none or declines). For each batch row b, with one new token at position `start`:
 *   - q and k rotated by rotate-half rotary with the cos / sin rows of `start` (ops/rotary.ts),
 *   - the rotated k and v written into the cache buffers at row `start`,
 *   - out[b, 0, h * D + d] = attention of the rotated q over cache rows 0 .. start (GQA: query
 *     head h reads KV head h / (heads / kvHeads)), no mask, as sdpa with `scale`.
 * Everything float32. The result must equal the composed ops' element for element.
 */
export interface DecodeAttentionSpec {
  batch: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** The new token's position (rows before it hold the earlier tokens' K/V). */
  start: number;
  /** Rows of each cache buffer. */
  maxLen: number;
  scale: number;
  /** [B, 1, heads, D], [B, 1, kvHeads, D], [B, 1, kvHeads, D]: strides over those shapes. */
  q: Operand;
  k: Operand;
  v: Operand;
  /** [D]: the rotary table rows of position `start` (strides over [D]). */
  cos: Operand;
  sin: Operand;
  /** The cache buffers, contiguous [B, maxLen, kvHeads, D], written in place at row `start`. */
  keys: Storage;
  values: Storage;
}
