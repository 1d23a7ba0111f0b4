import { describe, expect, it } from 'vitest';
import { nativeCompute } from '../src/backends/cpu/native_jobs.js';
import { decodeAttentionStep } from '../src/ops/attention/decode_step.js';
import { GroupedQueryAttention } from '../src/nn/grouped_attention.js';
import { KVCache } from '../src/nn/kv_cache.js';
import { RotaryEmbedding } from '../src/nn/rotary.js';
import { attention } from '../src/nn/attention_impl.js';
import { expectClose, randomData, testDevices, xpu } from './helpers.js';

/**
 * A KV-cached decode step of GroupedQueryAttention, which on cpu runs rotary, the cache write and
 * attention as one primitive (ops/attention/decode_step.ts, backends/cpu/decode_attention.ts):
 * every step against a float64 attention over the whole sequence on both devices, and on cpu
 * element for element equal to the composed ops (reshape, applyRotary, KVCache.update, sdpa).
 */

const HIDDEN = 48;
const HEADS = 6;
const KV = 2;
const D = 8;
const THETA = 10000;
const PREFILL = 5;
const STEPS = 4;
const MAX = 12;
const BATCH = 2;

const hasNative = (): boolean => !!(nativeCompute() as unknown as { attentionNow?: unknown } | null)?.attentionNow;

function build(device: string): GroupedQueryAttention {
  xpu.manualSeed(7);
  // Inference, as LlamaForCausalLM builds it: a step that records gradients composes the ops.
  return new GroupedQueryAttention({ hiddenSize: HIDDEN, numHeads: HEADS, numKvHeads: KV, headDim: D, device }).requiresGrad_(false);
}

/** float64: y = x W^T for x [T, in] rows and W [out, in]. */
function linear64(x: Float64Array, w: Float64Array, t: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(t * outF);
  for (let i = 0; i < t; i++)
    for (let o = 0; o < outF; o++) for (let k = 0; k < inF; k++) y[i * outF + o] += x[i * inF + k] * w[o * inF + k];
  return y;
}

/** float64 rotate-half rotary of [T, H, D] rows at positions 0 .. T - 1, in place. */
function rope64(x: Float64Array, t: number, h: number): void {
  const half = D / 2;
  for (let p = 0; p < t; p++)
    for (let hh = 0; hh < h; hh++) {
      const at = (p * h + hh) * D;
      for (let j = 0; j < half; j++) {
        const a = p * THETA ** (-(2 * j) / D);
        const x1 = x[at + j];
        const x2 = x[at + j + half];
        x[at + j] = x1 * Math.cos(a) - x2 * Math.sin(a);
        x[at + j + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
      }
    }
}

/** The float64 layer output [HIDDEN] of the token at position `pos` of one batch row's sequence xs [T, HIDDEN]. */
function reference(w: Map<string, Float64Array>, xs: Float64Array, pos: number): Float64Array {
  const t = pos + 1;
  const q = linear64(xs, w.get('q_proj.weight')!, t, HIDDEN, HEADS * D);
  const k = linear64(xs, w.get('k_proj.weight')!, t, HIDDEN, KV * D);
  const v = linear64(xs, w.get('v_proj.weight')!, t, HIDDEN, KV * D);
  rope64(q, t, HEADS);
  rope64(k, t, KV);
  const o = new Float64Array(HEADS * D);
  for (let h = 0; h < HEADS; h++) {
    const hk = Math.floor(h / (HEADS / KV));
    const s = Array.from({ length: t }, (_, j) => {
      let dot = 0;
      for (let e = 0; e < D; e++) dot += q[(pos * HEADS + h) * D + e] * k[(j * KV + hk) * D + e];
      return dot / Math.sqrt(D);
    });
    const mx = Math.max(...s);
    const p = s.map((x) => Math.exp(x - mx));
    const sum = p.reduce((a, b) => a + b, 0);
    for (let j = 0; j < t; j++) for (let e = 0; e < D; e++) o[h * D + e] += (p[j] / sum) * v[(j * KV + hk) * D + e];
  }
  return linear64(o, w.get('o_proj.weight')!, 1, HEADS * D, HIDDEN);
}

async function weightsOf(m: GroupedQueryAttention): Promise<Map<string, Float64Array>> {
  const w = new Map<string, Float64Array>();
  for (const [n, p] of m.namedParameters()) w.set(n, Float64Array.from(await (p as xpu.Tensor).data()));
  return w;
}

describe('KV-cached decode step of GroupedQueryAttention', () => {
  for (const device of testDevices()) {
    it(`${device}: every decode step matches float64 attention over the whole sequence`, async () => {
      const m = build(device);
      const w = await weightsOf(m);
      const rope = new RotaryEmbedding(D, MAX, THETA);
      const cache = new KVCache(1, BATCH, MAX, KV, D, { device });
      const seq = Float64Array.from(Float32Array.from(randomData(BATCH * (PREFILL + STEPS) * HIDDEN, 3)));
      const rowsOf = (b: number, from: number, n: number): Float64Array => {
        const at = (b * (PREFILL + STEPS) + from) * HIDDEN;
        return seq.slice(at, at + n * HIDDEN);
      };
      const input = (from: number, n: number): xpu.Tensor => {
        const host = new Float64Array(BATCH * n * HIDDEN);
        for (let b = 0; b < BATCH; b++) host.set(rowsOf(b, from, n), b * n * HIDDEN);
        return xpu.tensor(host, { device, dtype: 'float32', shape: [BATCH, n, HIDDEN] });
      };
      const x0 = input(0, PREFILL);
      m.forward(x0, rope, 0, { kv: cache, layer: 0 }).dispose();
      x0.dispose();
      for (let s = 0; s < STEPS; s++) {
        const pos = PREFILL + s;
        const x = input(pos, 1);
        const out = m.forward(x, rope, pos, { kv: cache, layer: 0 });
        const got = await out.data();
        for (let b = 0; b < BATCH; b++)
          expectClose(
            got.subarray(b * HIDDEN, (b + 1) * HIDDEN),
            reference(w, rowsOf(b, 0, pos + 1), pos),
            1e-5,
            `${device} step ${s} row ${b}`,
          );
        out.dispose();
        x.dispose();
      }
      cache.dispose();
      rope.dispose();
      m.dispose();
    });
  }

  it('cpu: the one-call step equals the composed ops element for element, cache rows included', async () => {
    const m = build('cpu');
    const rope = new RotaryEmbedding(D, MAX, THETA);
    const fused = new KVCache(1, BATCH, MAX, KV, D);
    const composed = new KVCache(1, BATCH, MAX, KV, D);
    const x0 = xpu.tensor(randomData(BATCH * PREFILL * HIDDEN, 11), { shape: [BATCH, PREFILL, HIDDEN] });
    m.forward(x0, rope, 0, { kv: fused, layer: 0 }).dispose();
    m.forward(x0, rope, 0, { kv: composed, layer: 0 }).dispose();
    for (let s = 0; s < STEPS; s++) {
      const pos = PREFILL + s;
      const x = xpu.tensor(randomData(BATCH * HIDDEN, 20 + s), { shape: [BATCH, 1, HIDDEN] });
      // The primitive itself, where the addon has it (otherwise the op composes, and so does this).
      const [qp, kp, vp] = [m.q_proj, m.k_proj, m.v_proj].map((p) => p.forward(x));
      const { cos, sin } = rope.tables(x.device, 'float32');
      const step = decodeAttentionStep({
        q: qp,
        k: kp,
        v: vp,
        heads: HEADS,
        kvHeads: KV,
        headDim: D,
        cos,
        sin,
        keys: fused.keys[0],
        values: fused.values[0],
        start: pos,
      });
      if (hasNative()) expect(step).not.toBeNull();
      if (!step) m.forward(x, rope, pos, { kv: fused, layer: 0 }).dispose();
      // The composition, written out.
      const q = rope.apply(xpu.reshape(qp, [BATCH, 1, HEADS, D]), pos);
      const k = rope.apply(xpu.reshape(kp, [BATCH, 1, KV, D]), pos);
      const { keys, values } = composed.update(0, k, xpu.reshape(vp, [BATCH, 1, KV, D]), pos);
      const o = attention(xpu.permute(q, [0, 2, 1, 3]), keys, values);
      const want = await xpu.reshape(xpu.permute(o, [0, 2, 1, 3]), [BATCH, 1, HEADS * D]).data();
      if (step) expect(Array.from(await step.data())).toEqual(Array.from(want));
      expect(Array.from(await fused.keys[0].data())).toEqual(Array.from(await composed.keys[0].data()));
      expect(Array.from(await fused.values[0].data())).toEqual(Array.from(await composed.values[0].data()));
      step?.dispose();
      x.dispose();
    }
    fused.dispose();
    composed.dispose();
    rope.dispose();
    m.dispose();
  });
});
