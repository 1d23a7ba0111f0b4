import { randomData, randomInts, xpu } from './helpers.js';

/**
 * The float64 attention reference for tests/attention.test.ts and tests/flex.test.ts:
 * softmax(q k^T * scale + mods) v row by row, straight from the definition (no tiling, no online
 * softmax), with a fully masked row giving 0 (the documented choice).
 */

export interface Dims {
  B: number;
  Hq: number;
  Hkv: number;
  L: number;
  S: number;
  E: number;
  Ev: number;
}

export interface RefOptions {
  scale?: number;
  causal?: boolean;
  /** Per pair: false = masked; a number is added. */
  mask?: (b: number, h: number, i: number, j: number) => boolean | number;
  scoreMod?: (s: number, b: number, h: number, i: number, j: number) => number;
  maskMod?: (b: number, h: number, i: number, j: number) => boolean;
}

/** q [B, Hq, L, E], k [B, Hkv, S, E], v [B, Hkv, S, Ev], contiguous float64 -> [B, Hq, L, Ev]. */
export function refAttention(d: Dims, q: Float64Array, k: Float64Array, v: Float64Array, o: RefOptions = {}): Float64Array {
  const { B, Hq, Hkv, L, S, E, Ev } = d;
  const scale = o.scale ?? 1 / Math.sqrt(E);
  const out = new Float64Array(B * Hq * L * Ev);
  const s = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let i = 0; i < L; i++) {
        let mx = -Infinity;
        for (let j = 0; j < S; j++) {
          let dot = 0;
          for (let e = 0; e < E; e++) dot += q[((b * Hq + h) * L + i) * E + e] * k[((b * Hkv + hk) * S + j) * E + e];
          let x = dot * scale;
          if (o.mask) {
            const m = o.mask(b, h, i, j);
            if (m === false) x = -Infinity;
            else if (typeof m === 'number') x += m;
          }
          if (o.causal && j > i) x = -Infinity;
          if (o.scoreMod && x !== -Infinity) x = o.scoreMod(x, b, h, i, j);
          if (o.maskMod && !o.maskMod(b, h, i, j)) x = -Infinity;
          s[j] = x;
          mx = Math.max(mx, x);
        }
        const oo = ((b * Hq + h) * L + i) * Ev;
        if (mx === -Infinity) continue; // fully masked row: 0
        let sum = 0;
        for (let j = 0; j < S; j++) sum += Math.exp(s[j] - mx);
        for (let j = 0; j < S; j++) {
          const p = Math.exp(s[j] - mx) / sum;
          if (p === 0) continue;
          for (let e = 0; e < Ev; e++) out[oo + e] += p * v[((b * Hkv + hk) * S + j) * Ev + e];
        }
      }
    }
  }
  return out;
}

export type FloatDtype = 'float32' | 'float16';

/** Values exactly representable in the dtype (so the reference sees what the device stores). */
export function values(dtype: FloatDtype, n: number, seed: number): Float64Array {
  if (dtype === 'float16') return Float64Array.from(randomInts(n, seed, -512, 512), (x) => x / 256);
  return Float64Array.from(Float32Array.from(randomData(n, seed)));
}

export interface Qkv {
  q: xpu.Tensor;
  k: xpu.Tensor;
  v: xpu.Tensor;
  qv: Float64Array;
  kv: Float64Array;
  vv: Float64Array;
}

export function makeQkv(device: string, dtype: FloatDtype, d: Dims, seed: number): Qkv {
  const qv = values(dtype, d.B * d.Hq * d.L * d.E, seed);
  const kv = values(dtype, d.B * d.Hkv * d.S * d.E, seed + 1);
  const vv = values(dtype, d.B * d.Hkv * d.S * d.Ev, seed + 2);
  return {
    q: xpu.tensor(qv, { device, dtype, shape: [d.B, d.Hq, d.L, d.E] }),
    k: xpu.tensor(kv, { device, dtype, shape: [d.B, d.Hkv, d.S, d.E] }),
    v: xpu.tensor(vv, { device, dtype, shape: [d.B, d.Hkv, d.S, d.Ev] }),
    qv,
    kv,
    vv,
  };
}

export function disposeAll(...ts: (xpu.Tensor | undefined)[]): void {
  for (const t of ts) t?.dispose();
}
