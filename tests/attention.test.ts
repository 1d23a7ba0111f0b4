import { afterEach, describe, expect, it } from 'vitest';
import { setAttentionConfigOverride } from '../src/backends/webgpu/attention_config.js';
import { caught, expectClose, randomInts, testDevices, xpu } from './helpers.js';
import { disposeAll, makeQkv, refAttention, values, type Dims, type FloatDtype } from './attention_helpers.js';

/**
 * scaledDotProductAttention on both devices against the float64 definition: odd L and S, L != S
 * with and without the causal mask, GQA ratios 1/4/8, head dims 64/80/128 and Ev != E, bool and
 * additive masks (broadcast), fully masked rows (0), strided inputs, 3-D inputs, float16, both
 * xpu paths (flash prefill and split-K decode) forced on the same inputs, and bad input.
 */

const TOL: Record<FloatDtype, number> = { float32: 2e-5, float16: 4e-3 };
const dims = (B: number, Hq: number, Hkv: number, L: number, S: number, E: number, Ev = E): Dims => ({ B, Hq, Hkv, L, S, E, Ev });
const fmt = (d: Dims) => `B${d.B} Hq${d.Hq} Hkv${d.Hkv} L${d.L} S${d.S} E${d.E} Ev${d.Ev}`;

afterEach(() => setAttentionConfigOverride(null));

async function check(
  device: string,
  dtype: FloatDtype,
  d: Dims,
  opts: { causal?: boolean; seed?: number; scale?: number } = {},
): Promise<void> {
  const t = makeQkv(device, dtype, d, opts.seed ?? 11);
  const out = xpu.scaledDotProductAttention(t.q, t.k, t.v, { isCausal: opts.causal, scale: opts.scale, enableGqa: d.Hq !== d.Hkv });
  try {
    expect(out.shape).toEqual([d.B, d.Hq, d.L, d.Ev]);
    expect(out.dtype).toBe(dtype);
    const ref = refAttention(d, t.qv, t.kv, t.vv, { causal: opts.causal, scale: opts.scale });
    expectClose(await out.data(), ref, TOL[dtype], `${device} ${dtype} ${fmt(d)} causal=${!!opts.causal}`);
  } finally {
    disposeAll(out, t.q, t.k, t.v);
  }
}

for (const device of testDevices()) {
  describe(`scaledDotProductAttention on ${device}`, () => {
    const shapes: Dims[] = [
      dims(1, 2, 2, 1, 7, 16),
      dims(2, 4, 1, 7, 1, 8),
      dims(1, 8, 1, 7, 129, 64),
      dims(1, 2, 2, 129, 7, 80),
      dims(1, 4, 1, 33, 40, 128),
      dims(2, 2, 2, 5, 9, 32, 48),
      dims(1, 1, 1, 17, 17, 3, 5),
    ];
    for (const d of shapes) {
      for (const causal of [false, true]) {
        it(`${fmt(d)} causal=${causal}`, () => check(device, 'float32', d, { causal }));
      }
    }

    it('medium: L = S = 1000 causal, and a long decode (L = 1, S = 1000, GQA 8)', async () => {
      await check(device, 'float32', dims(1, 1, 1, 1000, 1000, 64), { causal: true });
      await check(device, 'float32', dims(1, 8, 1, 1, 1000, 128));
    });

    it('custom scale and float16', async () => {
      await check(device, 'float32', dims(1, 2, 2, 9, 13, 16), { scale: 0.37 });
      await check(device, 'float16', dims(1, 4, 2, 19, 23, 64), { causal: true });
      await check(device, 'float16', dims(1, 8, 8, 1, 300, 64));
    });

    it('bool and additive masks, broadcast, with fully masked rows giving 0', async () => {
      const d = dims(2, 2, 2, 9, 21, 16);
      const t = makeQkv(device, 'float32', d, 5);
      const bits = randomInts(d.L * d.S, 7, 0, 3);
      // Row 3 fully masked; elsewhere about a quarter masked.
      const keep = Array.from(bits, (x, n) => (Math.floor(n / d.S) === 3 ? false : x !== 0));
      const boolMask = xpu.tensor(keep, { device, dtype: 'bool', shape: [d.L, d.S] });
      const addv = values('float32', d.B * d.L * d.S, 9);
      const additive = xpu.tensor(addv, { device, dtype: 'float32', shape: [d.B, 1, d.L, d.S] });
      // -inf in a whole row of the additive mask: the row is masked too.
      const addInf = Float64Array.from(addv, (x, n) => (Math.floor(n / d.S) % d.L === 4 ? -Infinity : x));
      const additiveInf = xpu.tensor(addInf, { device, dtype: 'float32', shape: [d.B, 1, d.L, d.S] });
      try {
        const a = xpu.scaledDotProductAttention(t.q, t.k, t.v, { attnMask: boolMask });
        const refA = refAttention(d, t.qv, t.kv, t.vv, { mask: (_b, _h, i, j) => keep[i * d.S + j] });
        const outA = await a.data();
        expectClose(outA, refA, TOL.float32, 'bool mask');
        for (let b = 0; b < d.B; b++)
          for (let h = 0; h < d.Hq; h++) {
            const row = outA.slice(((b * d.Hq + h) * d.L + 3) * d.Ev, ((b * d.Hq + h) * d.L + 4) * d.Ev);
            expect(
              Array.from(row).every((x) => x === 0),
              'fully masked row is 0',
            ).toBe(true);
          }
        const c = xpu.scaledDotProductAttention(t.q, t.k, t.v, { attnMask: additive });
        expectClose(
          await c.data(),
          refAttention(d, t.qv, t.kv, t.vv, { mask: (b, _h, i, j) => addv[(b * d.L + i) * d.S + j] }),
          TOL.float32,
          'additive mask',
        );
        const e = xpu.scaledDotProductAttention(t.q, t.k, t.v, { attnMask: additiveInf });
        const outE = await e.data();
        expect(
          outE.some((x) => Number.isNaN(x)),
          'no NaN',
        ).toBe(false);
        expectClose(
          outE,
          refAttention(d, t.qv, t.kv, t.vv, { mask: (b, _h, i, j) => addInf[(b * d.L + i) * d.S + j] }),
          TOL.float32,
          'additive -inf rows',
        );
        disposeAll(a, c, e);
      } finally {
        disposeAll(t.q, t.k, t.v, boolMask, additive, additiveInf);
      }
    });

    it('strided inputs ([B, L, H, E] transposed) and 3-D inputs', async () => {
      const d = dims(2, 3, 3, 6, 10, 8);
      const qv = values('float32', d.B * d.L * d.Hq * d.E, 1);
      const kv = values('float32', d.B * d.S * d.Hkv * d.E, 2);
      const vv = values('float32', d.B * d.S * d.Hkv * d.Ev, 3);
      const perm = (x: Float64Array, n: number) => {
        const o = new Float64Array(x.length);
        for (let b = 0; b < d.B; b++)
          for (let s = 0; s < n; s++)
            for (let h = 0; h < d.Hq; h++)
              for (let e = 0; e < d.E; e++) o[((b * d.Hq + h) * n + s) * d.E + e] = x[((b * n + s) * d.Hq + h) * d.E + e];
        return o;
      };
      const q = xpu.tensor(qv, { device, shape: [d.B, d.L, d.Hq, d.E] }).transpose(1, 2);
      const k = xpu.tensor(kv, { device, shape: [d.B, d.S, d.Hkv, d.E] }).transpose(1, 2);
      const v = xpu.tensor(vv, { device, shape: [d.B, d.S, d.Hkv, d.Ev] }).transpose(1, 2);
      const out = xpu.scaledDotProductAttention(q, k, v, { isCausal: true });
      expectClose(await out.data(), refAttention(d, perm(qv, d.L), perm(kv, d.S), perm(vv, d.S), { causal: true }), TOL.float32, 'strided');
      const d3 = dims(3, 1, 1, 5, 7, 8);
      const t = makeQkv(device, 'float32', d3, 4);
      const out3 = xpu.scaledDotProductAttention(t.q.reshape(3, 5, 8), t.k.reshape(3, 7, 8), t.v.reshape(3, 7, 8));
      expect(out3.shape).toEqual([3, 5, 8]);
      expectClose(await out3.data(), refAttention(d3, t.qv, t.kv, t.vv), TOL.float32, '3-D');
      disposeAll(q, k, v, out, out3, t.q, t.k, t.v);
    });

    it('empty problems', async () => {
      const q = xpu.randn([1, 2, 0, 8], { device });
      const k = xpu.randn([1, 2, 5, 8], { device });
      expect(xpu.scaledDotProductAttention(q, k, k).shape).toEqual([1, 2, 0, 8]);
      const q2 = xpu.randn([1, 2, 3, 8], { device });
      const k2 = xpu.randn([1, 2, 0, 8], { device });
      const out = xpu.scaledDotProductAttention(q2, k2, k2);
      expect(Array.from(await out.data())).toEqual(new Array(48).fill(0));
    });

    it('bad input gives typed errors', () => {
      const q = xpu.randn([1, 4, 3, 8], { device });
      const k = xpu.randn([1, 2, 5, 8], { device });
      const k4 = xpu.randn([1, 4, 5, 8], { device });
      const e1 = caught(() => xpu.scaledDotProductAttention(q, k, k), xpu.XpuShapeError);
      expect(e1.message).toMatch(/enableGqa/);
      caught(
        () =>
          xpu.scaledDotProductAttention(q, xpu.randn([1, 3, 5, 8], { device }), xpu.randn([1, 3, 5, 8], { device }), { enableGqa: true }),
        xpu.XpuShapeError,
      );
      caught(() => xpu.scaledDotProductAttention(q, xpu.randn([1, 4, 5, 7], { device }), k4), xpu.XpuShapeError);
      caught(() => xpu.scaledDotProductAttention(q, k4, xpu.randn([1, 4, 6, 8], { device })), xpu.XpuShapeError);
      caught(() => xpu.scaledDotProductAttention(q.to('float16'), k4, k4), xpu.XpuDTypeError);
      caught(() => xpu.scaledDotProductAttention(xpu.ones([1, 4, 3, 8], { device, dtype: 'int32' }), k4, k4), xpu.XpuDTypeError);
      caught(() => xpu.scaledDotProductAttention(q, k4, k4, { attnMask: xpu.ones([3, 4], { device, dtype: 'bool' }) }), xpu.XpuShapeError);
      caught(() => xpu.scaledDotProductAttention(q, k4, k4, { attnMask: xpu.ones([3, 5], { device, dtype: 'int32' }) }), xpu.XpuDTypeError);
      caught(
        () => xpu.scaledDotProductAttention(q, k4, k4, { attnMask: xpu.ones([3, 5], { device, dtype: 'bool' }), isCausal: true }),
        xpu.XpuValueError,
      );
      caught(() => xpu.scaledDotProductAttention(q, k4, k4, { scale: Number.NaN }), xpu.XpuValueError);
      caught(() => xpu.scaledDotProductAttention(xpu.randn([3, 8], { device }), k4, k4), xpu.XpuShapeError);
      caught(() => xpu.scaledDotProductAttention(q, 'k' as unknown as xpu.Tensor, k4), xpu.XpuValueError);
      const other = device === 'cpu' ? undefined : xpu.randn([1, 4, 5, 8], { device: 'cpu' });
      if (other) caught(() => xpu.scaledDotProductAttention(q, other, other), xpu.XpuDeviceError);
      const gone = xpu.randn([1, 4, 5, 8], { device });
      gone.dispose();
      caught(() => xpu.scaledDotProductAttention(q, gone, k4), xpu.XpuDisposedError);
    });
  });
}

if (testDevices().includes('xpu')) {
  describe('xpu attention paths', () => {
    it('flash prefill and split-K decode agree with float64 when forced on the same inputs', async () => {
      const cases: [Dims, boolean][] = [
        [dims(1, 4, 1, 1, 300, 64), false],
        [dims(2, 2, 2, 3, 77, 80), true],
        [dims(1, 2, 2, 9, 130, 32), true],
      ];
      for (const [d, causal] of cases) {
        for (const path of ['prefill', 'decode'] as const) {
          setAttentionConfigOverride((c) => (path === 'decode' ? { ...c, path, chunk: 32 } : { ...c, path }));
          await check('xpu', 'float32', d, { causal, seed: 3 });
        }
      }
    });

    it('tile candidates of the tuner all compute the same attention', async () => {
      const { attentionCandidates } = await import('../src/backends/webgpu/attention_config.js');
      const d = dims(1, 2, 1, 45, 70, 16);
      for (const c of attentionCandidates({ l: d.L, s: d.S, e: d.E, ev: d.Ev, rows: d.B * d.Hq * d.L, subgroups: false })) {
        setAttentionConfigOverride(() => c);
        await check('xpu', 'float32', d, { causal: true, seed: 8 });
      }
    });

    it('texture prefill candidates (fixed-size subgroups) and the storage-buffer prefill agree with float64', async () => {
      const { attentionCandidates } = await import('../src/backends/webgpu/attention_config.js');
      const shapes: [Dims, boolean, FloatDtype][] = [
        [dims(1, 2, 1, 45, 70, 16), true, 'float32'],
        [dims(2, 4, 2, 37, 29, 80, 48), false, 'float32'],
        [dims(1, 2, 2, 19, 23, 64), true, 'float16'],
        [dims(1, 1, 1, 65, 130, 128), false, 'float32'],
      ];
      for (const [d, causal, dtype] of shapes) {
        const list = attentionCandidates({
          l: d.L,
          s: d.S,
          e: d.E,
          ev: d.Ev,
          rows: d.B * d.Hq * d.L,
          subgroups: true,
          fixedSubgroup: 8,
          kvLayers: d.B * d.Hkv,
        });
        const tex = list.filter((c) => c.path === 'texture');
        expect(tex.length).toBeGreaterThan(0);
        for (const c of [...tex, { ...tex[0], path: 'prefill' as const, bq: 8, bk: 32 }]) {
          setAttentionConfigOverride(() => c);
          await check('xpu', dtype, d, { causal, seed: 8 });
        }
      }
    });
  });
}
