/**
 * An independent float64 Llama forward for tests: plain loops over host arrays, written from the
 * architecture's description (HF transformers modeling_llama), sharing no code with src/.
 */
export interface RefConfig {
  vocab: number;
  hidden: number;
  inter: number;
  layers: number;
  heads: number;
  kvHeads: number;
  theta: number;
  eps: number;
  scaling?: { factor: number; low: number; high: number; orig: number };
}

export type Weights = Map<string, Float64Array>;

function matvecT(x: Float64Array, w: Float64Array, rows: number, n: number, k: number): Float64Array {
  // x [rows, k] @ w[n, k]^T
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += x[r * k + p] * w[j * k + p];
      out[r * n + j] = s;
    }
  return out;
}

function rms(x: Float64Array, w: Float64Array, rows: number, n: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < n; j++) ss += x[r * n + j] ** 2;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let j = 0; j < n; j++) out[r * n + j] = x[r * n + j] * inv * w[j];
  }
  return out;
}

function invFreqs(d: number, c: RefConfig): number[] {
  const f: number[] = [];
  for (let i = 0; i < d / 2; i++) {
    let v = 1 / c.theta ** ((2 * i) / d);
    if (c.scaling) {
      const { factor, low, high, orig } = c.scaling;
      const wl = (2 * Math.PI) / v;
      if (wl > orig / low) v = v / factor;
      else if (wl >= orig / high) {
        const s = (orig / wl - low) / (high - low);
        v = ((1 - s) * v) / factor + s * v;
      }
    }
    f.push(v);
  }
  return f;
}

/** Rotates pairs (i, i + d/2) of every head of row-major [L, H, d] by position * freq. */
function rope(x: Float64Array, l: number, h: number, d: number, freqs: number[]): void {
  for (let t = 0; t < l; t++)
    for (let hh = 0; hh < h; hh++)
      for (let i = 0; i < d / 2; i++) {
        const base = (t * h + hh) * d;
        const a = x[base + i];
        const b = x[base + i + d / 2];
        const ang = t * freqs[i];
        x[base + i] = a * Math.cos(ang) - b * Math.sin(ang);
        x[base + i + d / 2] = b * Math.cos(ang) + a * Math.sin(ang);
      }
}

/** Logits [L, vocab] for one sequence. */
export function llamaReference(c: RefConfig, w: Weights, ids: number[], tiedHead: boolean): Float64Array {
  const l = ids.length;
  const H = c.hidden;
  const d = H / c.heads;
  const group = c.heads / c.kvHeads;
  const freqs = invFreqs(d, c);
  const emb = w.get('model.embed_tokens.weight')!;
  let x = new Float64Array(l * H);
  ids.forEach((id, t) => x.set(emb.subarray(id * H, (id + 1) * H), t * H));
  for (let layer = 0; layer < c.layers; layer++) {
    const p = (n: string) => w.get(`model.layers.${layer}.${n}`)!;
    const a = rms(x, p('input_layernorm.weight'), l, H, c.eps);
    const q = matvecT(a, p('self_attn.q_proj.weight'), l, c.heads * d, H);
    const k = matvecT(a, p('self_attn.k_proj.weight'), l, c.kvHeads * d, H);
    const v = matvecT(a, p('self_attn.v_proj.weight'), l, c.kvHeads * d, H);
    rope(q, l, c.heads, d, freqs);
    rope(k, l, c.kvHeads, d, freqs);
    const att = new Float64Array(l * c.heads * d);
    for (let hh = 0; hh < c.heads; hh++) {
      const kh = Math.floor(hh / group);
      for (let i = 0; i < l; i++) {
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let e = 0; e < d; e++) s += q[(i * c.heads + hh) * d + e] * k[(j * c.kvHeads + kh) * d + e];
          scores.push(s / Math.sqrt(d));
        }
        const m = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - m));
        const z = ex.reduce((u, b) => u + b, 0);
        for (let j = 0; j <= i; j++)
          for (let e = 0; e < d; e++) att[(i * c.heads + hh) * d + e] += (ex[j] / z) * v[(j * c.kvHeads + kh) * d + e];
      }
    }
    const o = matvecT(att, p('self_attn.o_proj.weight'), l, H, c.heads * d);
    const h = x.map((xv, i) => xv + o[i]);
    const m2 = rms(h, p('post_attention_layernorm.weight'), l, H, c.eps);
    const g = matvecT(m2, p('mlp.gate_proj.weight'), l, c.inter, H);
    const u = matvecT(m2, p('mlp.up_proj.weight'), l, c.inter, H);
    const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
    const dn = matvecT(act, p('mlp.down_proj.weight'), l, H, c.inter);
    x = h.map((hv, i) => hv + dn[i]);
  }
  const f = rms(x, w.get('model.norm.weight')!, l, H, c.eps);
  return matvecT(f, tiedHead ? emb : w.get('lm_head.weight')!, l, c.vocab, H);
}
