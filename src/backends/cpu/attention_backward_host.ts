import { MASKED_SCORE } from '../attention_spec.js';
import type { HostAttentionProblem, HostBlocks, HostScoreFn } from './attention_blocked.js';

/**
 * The attention backward on host arrays: the TypeScript twin of native/compute/attention_backward.cc
 * and the complete fallback when the addon is absent. FlashAttention-2's backward (Dao, 2023)
 * without its tiles: nothing of size [L, S] is kept; every score is recomputed where it is needed.
 *   1. per query row i: its logsumexp lse_i (an online max / sum over the keys it attends),
 *      delta_i = dOut_i . out_i, and dq_i = scale * sum_j ds_ij k_j;
 *   2. per key row j (of a KV head): dv_j = sum_i p_ij dOut_i and dk_j = scale * sum_i ds_ij q_i
 *      over the queries of every query head of its GQA group,
 * with p_ij = exp(score_ij - lse_i) and ds_ij = p_ij (dOut_i . v_j - delta_i) g_ij, where g is
 * the score modification's derivative (1 without one). Two sweeps recompute q.k (three dot
 * products per pair in sweep 1 and 2 each) instead of FlashAttention-2's one sweep with dq
 * accumulated by atomics, so each output row is written by one owner (threads on the native
 * side, invocations on xpu) with no atomics. Accumulation in float64.
 */

/** d(score)/d(q.k scale) for a pair (the flex scoreMod's derivative), or null for 1. */
export type HostScoreGrad = (score: number, b: number, h: number, i: number, j: number) => number;

export interface HostBackwardArrays {
  /** Contiguous float32: q [B, H, L, E], k [B, Hkv, S, E], v [B, Hkv, S, Ev], out and dOut [B, H, L, Ev]. */
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  out: Float32Array;
  dOut: Float32Array;
  /** Written in full: dq [B, H, L, E], dk [B, Hkv, S, E], dv [B, Hkv, S, Ev]. */
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
}

export function flashAttentionBackwardHost(
  p: HostAttentionProblem,
  a: HostBackwardArrays,
  score: HostScoreFn | null,
  scoreGrad: HostScoreGrad | null,
  blocks: HostBlocks | null,
): void {
  const { batch, heads, kvHeads, l: L, s: S, e: E, ev: Ev, scale, causal } = p;
  const { q, k, v, out, dOut, dq, dk, dv } = a;
  const group = heads / kvHeads;
  const bs = blocks?.blockSize ?? 1;
  const rows = batch * heads * L;
  const lse = new Float64Array(rows);
  const delta = new Float64Array(rows);
  const acc = new Float64Array(Math.max(E, Ev));
  const acc2 = new Float64Array(Ev);

  /** The pair's score after the mask and modifications (<= MASKED_SCORE: masked), from q.k * scale. */
  const modded = (raw: number, b: number, h: number, i: number, j: number): number => {
    if (causal && j > i) return MASKED_SCORE;
    if (blocks) {
      const f = blocks.flag(b, h, Math.floor(i / bs), Math.floor(j / bs));
      if (f === 0) return MASKED_SCORE;
      return score ? score(raw, b, h, i, j, f === 2) : raw;
    }
    return score ? score(raw, b, h, i, j, false) : raw;
  };
  const dot = (x: Float32Array, xo: number, y: Float32Array, yo: number, n: number): number => {
    let s = 0;
    for (let d = 0; d < n; d++) s += x[xo + d] * y[yo + d];
    return s;
  };

  // 1. Per query row: lse, delta, dq.
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const hk = Math.floor(h / group);
      const kHead = (b * kvHeads + hk) * S;
      for (let i = 0; i < L; i++) {
        const row = (b * heads + h) * L + i;
        const qo = row * E;
        const oo = row * Ev;
        const kEnd = causal ? Math.min(S, i + 1) : S;
        let m = MASKED_SCORE;
        let sum = 0;
        let nan = false;
        for (let j = 0; j < kEnd; j++) {
          const s = modded(dot(q, qo, k, (kHead + j) * E, E) * scale, b, h, i, j);
          if (s !== s) nan = true;
          else if (s > MASKED_SCORE) {
            if (s > m) {
              sum = sum * Math.exp(m - s) + 1;
              m = s;
            } else sum += Math.exp(s - m);
          }
        }
        // A NaN score makes the row's output NaN (forward); NaN here carries it into every gradient
        // the row reaches. A fully masked row (sum 0) has no pair left below.
        const rowLse = nan ? NaN : sum > 0 ? m + Math.log(sum) : Infinity;
        const rowDelta = dot(dOut, oo, out, oo, Ev);
        lse[row] = rowLse;
        delta[row] = rowDelta;
        acc.fill(0, 0, E);
        for (let j = 0; j < kEnd; j++) {
          const ko = (kHead + j) * E;
          const raw = dot(q, qo, k, ko, E) * scale;
          const s = modded(raw, b, h, i, j);
          if (s <= MASKED_SCORE) continue;
          const pj = Math.exp(s - rowLse);
          let ds = pj * (dot(dOut, oo, v, (kHead + j) * Ev, Ev) - rowDelta);
          if (scoreGrad) ds *= scoreGrad(raw, b, h, i, j);
          for (let d = 0; d < E; d++) acc[d] += ds * k[ko + d];
        }
        for (let d = 0; d < E; d++) dq[qo + d] = acc[d] * scale;
      }
    }
  }

  // 2. Per key row: dk and dv over the query heads of its group.
  for (let b = 0; b < batch; b++) {
    for (let hk = 0; hk < kvHeads; hk++) {
      for (let j = 0; j < S; j++) {
        const kr = (b * kvHeads + hk) * S + j;
        const ko = kr * E;
        const vo = kr * Ev;
        acc.fill(0, 0, E);
        acc2.fill(0);
        for (let h = hk * group; h < (hk + 1) * group; h++) {
          for (let i = causal ? j : 0; i < L; i++) {
            const row = (b * heads + h) * L + i;
            const qo = row * E;
            const oo = row * Ev;
            const raw = dot(q, qo, k, ko, E) * scale;
            const s = modded(raw, b, h, i, j);
            if (s <= MASKED_SCORE) continue;
            const pj = Math.exp(s - lse[row]);
            for (let d = 0; d < Ev; d++) acc2[d] += pj * dOut[oo + d];
            let ds = pj * (dot(dOut, oo, v, vo, Ev) - delta[row]);
            if (scoreGrad) ds *= scoreGrad(raw, b, h, i, j);
            for (let d = 0; d < E; d++) acc[d] += ds * q[qo + d];
          }
        }
        for (let d = 0; d < E; d++) dk[ko + d] = acc[d] * scale;
        for (let d = 0; d < Ev; d++) dv[vo + d] = acc2[d];
      }
    }
  }
}
