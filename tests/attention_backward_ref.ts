import type { Dims, RefOptions } from './attention_helpers.js';

/**
 * The float64 reference of attention's gradients, straight from the definition row by row (no
 * tiling, no logsumexp trick): the scores and softmax of refAttention, then the softmax backward
 * by hand: dP_ij = dOut_i . v_j, dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik), times the score
 * modification's derivative, and dq = scale dS k, dk = scale dS^T q, dv = P^T dOut, summed over
 * the query heads of a GQA group. A fully masked row has no gradient; a NaN among a row's scores
 * makes its softmax NaN (Math.max propagates it) and with it every gradient the row reaches.
 */
export interface RefGradOptions extends RefOptions {
  /** d(scoreMod)/d(score) at the score the modification received. */
  scoreModGrad?: (s: number, b: number, h: number, i: number, j: number) => number;
}

export interface RefGrads {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

export function refAttentionGrads(
  d: Dims,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dOut: Float64Array,
  o: RefGradOptions = {},
): RefGrads {
  const { B, Hq, Hkv, L, S, E, Ev } = d;
  const scale = o.scale ?? 1 / Math.sqrt(E);
  const dq = new Float64Array(B * Hq * L * E);
  const dk = new Float64Array(B * Hkv * S * E);
  const dv = new Float64Array(B * Hkv * S * Ev);
  const pre = new Float64Array(S);
  const s = new Float64Array(S);
  const p = new Float64Array(S);
  const dp = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let i = 0; i < L; i++) {
        const qo = ((b * Hq + h) * L + i) * E;
        const go = ((b * Hq + h) * L + i) * Ev;
        let mx = -Infinity;
        let masked = 0;
        for (let j = 0; j < S; j++) {
          let dot = 0;
          for (let e = 0; e < E; e++) dot += q[qo + e] * k[((b * Hkv + hk) * S + j) * E + e];
          let x = dot * scale;
          if (o.mask) {
            const m = o.mask(b, h, i, j);
            if (m === false) x = -Infinity;
            else if (typeof m === 'number') x += m;
          }
          if (o.causal && j > i) x = -Infinity;
          pre[j] = x;
          if (o.scoreMod && x !== -Infinity) x = o.scoreMod(x, b, h, i, j);
          if (o.maskMod && !o.maskMod(b, h, i, j)) x = -Infinity;
          s[j] = x;
          if (x === -Infinity) masked++;
          mx = Number.isNaN(x) || Number.isNaN(mx) ? NaN : Math.max(mx, x);
        }
        if (masked === S) continue; // fully masked row: output 0, no gradient
        let sum = 0;
        for (let j = 0; j < S; j++) sum += s[j] === -Infinity ? 0 : Math.exp(s[j] - mx);
        let pdp = 0;
        for (let j = 0; j < S; j++) {
          p[j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - mx) / sum;
          let x = 0;
          for (let e = 0; e < Ev; e++) x += dOut[go + e] * v[((b * Hkv + hk) * S + j) * Ev + e];
          dp[j] = x;
          if (p[j] !== 0) pdp += p[j] * x;
        }
        for (let j = 0; j < S; j++) {
          if (s[j] === -Infinity) continue;
          let ds = p[j] * (dp[j] - pdp);
          if (o.scoreModGrad) ds *= o.scoreModGrad(pre[j], b, h, i, j);
          const ko = ((b * Hkv + hk) * S + j) * E;
          const vo = ((b * Hkv + hk) * S + j) * Ev;
          for (let e = 0; e < E; e++) {
            dq[qo + e] += scale * ds * k[ko + e];
            dk[ko + e] += scale * ds * q[qo + e];
          }
          for (let e = 0; e < Ev; e++) dv[vo + e] += p[j] * dOut[go + e];
        }
      }
    }
  }
  return { dq, dk, dv };
}
