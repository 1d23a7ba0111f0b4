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
