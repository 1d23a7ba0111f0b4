import { describe, expect, it } from 'vitest';
import { XpuValueError } from '../src/errors.js';
import { caught, expectClose, randomData, testDevices, xpu } from './helpers.js';
import { disposeAll, refAttention, type Dims, type RefOptions } from './attention_helpers.js';

/**
 * Autograd through scaledDotProductAttention and flexAttention (src/ops/attention/backward.ts
 * recordAttention): out.backward(W) must give q.grad, k.grad, v.grad equal to central finite
 * differences of the float64 reference loss sum(attention(q, k, v) * W) (step 1e-5 in float64:
 * exact to ~1e-9, so the check is the gradient's, not the differences'). GQA, causal, a bool mask,
 * a flex softcap; masks that require grad are refused.
 */

const d: Dims = { B: 1, Hq: 2, Hkv: 1, L: 4, S: 5, E: 3, Ev: 2 };
const STEP = 1e-5;

/** d(sum(ref(q, k, v) * w))/d(x) for x in q, k, v by central differences. */
function finiteDifferences(q: Float64Array, k: Float64Array, v: Float64Array, w: Float64Array, o: RefOptions): Float64Array[] {
  const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array) =>
    refAttention(d, qq, kk, vv, o).reduce((s, x, i) => s + x * w[i], 0);
  return [q, k, v].map((x, which) => {
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const at = (delta: number) => {
        const y = Float64Array.from(x);
        y[i] += delta;
        return loss(which === 0 ? y : q, which === 1 ? y : k, which === 2 ? y : v);
      };
      g[i] = (at(STEP) - at(-STEP)) / (2 * STEP);
    }
    return g;
  });
}

const f32 = (n: number, seed: number) => Float64Array.from(Float32Array.from(randomData(n, seed)));

for (const device of testDevices()) {
  describe(`attention autograd on ${device}`, () => {
    const qv = f32(d.B * d.Hq * d.L * d.E, 1);
    const kv = f32(d.B * d.Hkv * d.S * d.E, 2);
    const vv = f32(d.B * d.Hkv * d.S * d.Ev, 3);
    const wv = f32(d.B * d.Hq * d.L * d.Ev, 4);
    const leaves = () => {
      const q = xpu.tensor(qv, { device, shape: [d.B, d.Hq, d.L, d.E] });
      const k = xpu.tensor(kv, { device, shape: [d.B, d.Hkv, d.S, d.E] });
      const v = xpu.tensor(vv, { device, shape: [d.B, d.Hkv, d.S, d.Ev] });
      for (const t of [q, k, v]) t.requiresGrad_();
      return { q, k, v, w: xpu.tensor(wv, { device, shape: [d.B, d.Hq, d.L, d.Ev] }) };
    };
    const expectGrads = async (t: ReturnType<typeof leaves>, o: RefOptions, what: string) => {
      const fd = finiteDifferences(qv, kv, vv, wv, o);
      for (const [i, x] of [t.q, t.k, t.v].entries()) {
        expect(x.grad, `${what}: grad ${i}`).not.toBeNull();
        expectClose(await (x.grad as xpu.Tensor).data(), fd[i], 1e-4, `${what} ${'qkv'[i]}.grad`);
      }
    };

    it('scaledDotProductAttention: GQA and causal, gradients equal finite differences; they accumulate over two backwards', async () => {
      const t = leaves();
      const out = xpu.scaledDotProductAttention(t.q, t.k, t.v, { isCausal: true, enableGqa: true });
      expect(out.requiresGrad).toBe(true);
      expect(out.gradFn?.name).toBe('scaledDotProductAttention');
      out.backward(t.w, { retainGraph: true });
      await expectGrads(t, { causal: true }, 'causal');
      const first = Float64Array.from(await (t.v.grad as xpu.Tensor).data());
      out.backward(t.w);
      expectClose(
        await (t.v.grad as xpu.Tensor).data(),
        first.map((x) => 2 * x),
        1e-6,
        'accumulated',
      );
      disposeAll(out, t.q, t.k, t.v, t.w);
    });

    it('a bool mask, and a flex softcap with a causal maskMod', async () => {
      const keep = Array.from({ length: d.L * d.S }, (_, n) => (n * 7) % 3 !== 0);
      const t = leaves();
      const mask = xpu.tensor(keep, { device, dtype: 'bool', shape: [d.L, d.S] });
      const out = xpu.scaledDotProductAttention(t.q, t.k, t.v, { attnMask: mask, enableGqa: true });
      mask.dispose(); // the node keeps what the backward reads
      out.backward(t.w);
      await expectGrads(t, { mask: (_b, _h, i, j) => keep[i * d.S + j] }, 'bool mask');
      disposeAll(out, t.q, t.k, t.v, t.w);

      const f = leaves();
      const outF = xpu.flexAttention(f.q, f.k, f.v, {
        scoreMod: xpu.flex.scoreMod('1.5 * tanh(score / 1.5)'),
        maskMod: xpu.flex.maskMod('kv_idx <= q_idx + 1'),
        enableGqa: true,
      });
      outF.backward(f.w);
      await expectGrads(f, { scoreMod: (s) => 1.5 * Math.tanh(s / 1.5), maskMod: (_b, _h, i, j) => j <= i + 1 }, 'flex softcap');
      disposeAll(outF, f.q, f.k, f.v, f.w);
    });

    it('no graph without requiresGrad; a mask that requires grad is refused', () => {
      const q = xpu.tensor(qv, { device, shape: [d.B, d.Hq, d.L, d.E] });
      const k = xpu.tensor(kv, { device, shape: [d.B, d.Hkv, d.S, d.E] });
      const v = xpu.tensor(vv, { device, shape: [d.B, d.Hkv, d.S, d.Ev] });
      const out = xpu.scaledDotProductAttention(q, k, v, { enableGqa: true });
      expect(out.requiresGrad).toBe(false);
      expect(out.gradFn).toBeNull();
      const mask = xpu.tensor(new Float64Array(d.L * d.S), { device, shape: [d.L, d.S] });
      mask.requiresGrad = true;
      q.requiresGrad = true;
      const e = caught(() => xpu.scaledDotProductAttention(q, k, v, { attnMask: mask, enableGqa: true }), XpuValueError);
      expect(e.message).toMatch(/attnMask/);
      disposeAll(out, q, k, v, mask);
    });
  });
}
