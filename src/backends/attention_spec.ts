import type { Operand, Storage } from './operand.js';
import type { Expr } from '../flex/ast.js';

/** The sizes of one attention problem: q [B, H, L, E], k [B, Hkv, S, E], v [B, Hkv, S, Ev]. */
export interface AttentionDims {
  batch: number;
  heads: number;
  kvHeads: number;
  l: number;
  s: number;
  e: number;
  ev: number;
}

/**
 * The attention primitive both backends implement (Backend.attention). The op (sdpa.ts,
 * flex_attention.ts) has checked every argument; a backend only runs it.
 *
 * out[b, h, i, :] = sum_j softmax_j(score(b, h, i, j)) * v[b, h / group, j, :], where
 *   score = mod(q[b, h, i, :] . k[b, h / group, j, :] * scale), and `mod` applies, in order: the
 *   mask operand (bool: false -> masked; float: added), the causal mask (j > i -> masked, top-left
 *   aligned as PyTorch's tril(ones(L, S))), the flex score modification, the flex mask
 *   modification. A score at or below MASKED_SCORE (-inf included) counts as masked; a row with
 *   every key masked gives 0 (as PyTorch's flash kernels and flex_attention do). A NaN among the
 *   scores a row attends to (a NaN query row, a NaN key not masked from the row) makes the whole
 *   output row NaN, as softmax does in PyTorch; a masked pair is never part of the row.
 *
 * The output is float32, contiguous [B, H, L, Ev]; the op casts it to float16 where needed.
 */
export interface AttentionSpec extends AttentionDims {
  /** Strides over [B, H, L, E]. */
  q: Operand;
  /** Strides over [B, Hkv, S, E]. */
  k: Operand;
  /** Strides over [B, Hkv, S, Ev]. */
  v: Operand;
  scale: number;
  causal: boolean;
  /** Strides over [B, H, L, S] (0 where broadcast). */
  mask?: { operand: Operand; kind: 'bool' | 'additive' };
  scoreMod?: Expr;
  maskMod?: Expr;
  /** Tensors the modifications read: contiguous float32, by name. */
  captures: AttentionCapture[];
  blockMask?: AttentionBlocks;
  /** The public op, for errors (scaledDotProductAttention, flexAttention); set by runAttention. */
  op?: string;
}

export interface AttentionCapture {
  name: string;
  storage: Storage;
  shape: number[];
}

/**
 * Which (query block, key block) tiles can be skipped: int32 flags over [B, H, qBlocks, kvBlocks]
 * (strides 0 where broadcast): 0 = every pair masked (skipped), 1 = partial (mask_mod runs),
 * 2 = every pair kept (mask_mod skipped).
 */
export interface AttentionBlocks {
  flags: Operand;
  blockSize: number;
  qBlocks: number;
  kvBlocks: number;
}

/** Scores at or below this are masked (below float32's lowest finite / 1.13, so -inf too). */
export const MASKED_SCORE = -3.0e38;

export const BLOCK_EMPTY = 0;
export const BLOCK_PARTIAL = 1;
export const BLOCK_FULL = 2;

/**
 * The attention backward primitive (Backend.attentionBackward): the gradients of `spec`'s
 * attention with respect to q, k and v, given the forward's output and its gradient, following
 * FlashAttention-2's backward (Dao, 2023): per query row the logsumexp of its scores (recomputed
 * in a first sweep over the keys) and delta = rowsum(dOut * out); then, with
 * p = exp(score - lse) and ds = p * (dOut . v_j - delta) * dscore/d(q.k scale),
 *   dq_i = scale * sum_j ds_ij k_j,  dk_j = scale * sum_i ds_ij q_i,  dv_j = sum_i p_ij dOut_i,
 * where dk / dv sum over the query heads of a GQA group. The [L, S] matrices are never stored:
 * scores are recomputed per (row, key). Masked pairs (score <= MASKED_SCORE) contribute nothing;
 * a fully masked row gets zero gradients (its output was 0); a row whose scores hold a NaN has a
 * NaN logsumexp, so its dq row and the dk / dv rows of every key it attends to are NaN, as the
 * composed softmax backward gives. The mask operand and flex captures get no gradient.
 */
export interface AttentionBackwardSpec extends AttentionSpec {
  /** The forward's output and the gradient flowing into it: contiguous float32 [B, H, L, Ev]. */
  out: Storage;
  dOut: Storage;
  /** d(scoreMod)/d(score), as an expression of the same variables (src/flex/derivative.ts). */
  scoreModGrad?: Expr;
}

/** Contiguous float32 gradients: dq [B, H, L, E], dk [B, Hkv, S, E], dv [B, Hkv, S, Ev]. */
export interface AttentionGrads {
  dq: Storage;
  dk: Storage;
  dv: Storage;
}
