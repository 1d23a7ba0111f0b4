import { afterEach, describe, expect, it } from 'vitest';
import { attentionBackward } from '../src/ops/attention/backward.js';
import { sdpaSpec, type SdpaOptions } from '../src/ops/attention/sdpa.js';
import { flexSpec, type FlexAttentionOptions } from '../src/ops/attention/flex_attention.js';
import { lastNativeBackwardFallback } from '../src/backends/cpu/native_attention_backward.js';
import { nativeCompute } from '../src/backends/cpu/native_jobs.js';
import { expectClose, randomData, randomInts, testDevices, xpu } from './helpers.js';
import { disposeAll, makeQkv, values, type Dims, type FloatDtype } from './attention_helpers.js';
import { refAttentionGrads, type RefGradOptions } from './attention_backward_ref.js';

/**
 * The attention backward primitive (Backend.attentionBackward: the native / TypeScript flash
 * backward on cpu, kernels/attention/backward_*.wgsl on xpu) against the float64 softmax backward
 * of tests/attention_backward_ref.ts on random data: odd sizes, L != S with and without the
 * causal mask, GQA, head dims 16 / 64 / 80 and Ev != E, bool and additive masks with a fully
 * masked row, strided and 3-D inputs, float16, NaN rows, flex score / mask modifications (their
 * derivative from src/flex/derivative.ts), block masks and captures.
 */

const TOL: Record<FloatDtype, number> = { float32: 5e-5, float16: 4e-3 };
const dims = (B: number, Hq: number, Hkv: number, L: number, S: number, E: number, Ev = E): Dims => ({ B, Hq, Hkv, L, S, E, Ev });
const fmt = (d: Dims) => `B${d.B} Hq${d.Hq} Hkv${d.Hkv} L${d.L} S${d.S} E${d.E} Ev${d.Ev}`;

const savedPath = process.env.XPU_CPU_ATTENTION;
afterEach(() => {
  if (savedPath === undefined) delete process.env.XPU_CPU_ATTENTION;
  else process.env.XPU_CPU_ATTENTION = savedPath;
});

type Grads = [Float64Array, Float64Array, Float64Array];

/** dq, dk, dv of one sdpa call with dOut as the output's gradient, read back. */
async function sdpaGrads(q: xpu.Tensor, k: xpu.Tensor, v: xpu.Tensor, dOut: xpu.Tensor, opts: SdpaOptions): Promise<Grads> {
  const spec = sdpaSpec(q, k, v, opts);
  const out = xpu.scaledDotProductAttention(q, k, v, opts);
  const g = attentionBackward('scaledDotProductAttention', q.device, spec, q, k, v, out, dOut);
  try {
    expect(g.map((t) => t.shape)).toEqual([q.shape, k.shape, v.shape]);
    expect(g.map((t) => t.dtype)).toEqual([q.dtype, k.dtype, v.dtype]);
    return (await Promise.all(g.map((t) => t.data()))).map((a) => Float64Array.from(a as ArrayLike<number>)) as Grads;
  } finally {
    disposeAll(out, ...g);
  }
}

async function flexGrads(q: xpu.Tensor, k: xpu.Tensor, v: xpu.Tensor, dOut: xpu.Tensor, opts: FlexAttentionOptions): Promise<Grads> {
  const { spec, temps } = flexSpec(q, k, v, opts);
  const out = xpu.flexAttention(q, k, v, opts);
  const g = attentionBackward('flexAttention', q.device, spec, q, k, v, out, dOut);
  try {
    return (await Promise.all(g.map((t) => t.data()))).map((a) => Float64Array.from(a as ArrayLike<number>)) as Grads;
  } finally {
    disposeAll(out, ...g, ...temps);
  }
}

function expectGrads(got: Grads, ref: { dq: Float64Array; dk: Float64Array; dv: Float64Array }, tol: number, what: string): void {
  expectClose(got[0], ref.dq, tol, `${what} dq`);
  expectClose(got[1], ref.dk, tol, `${what} dk`);
  expectClose(got[2], ref.dv, tol, `${what} dv`);
}

async function check(
  device: string,
  dtype: FloatDtype,
  d: Dims,
  opts: { causal?: boolean; seed?: number; scale?: number } = {},
): Promise<void> {
  const seed = opts.seed ?? 3;
  const t = makeQkv(device, dtype, d, seed);
  const gv = values(dtype, d.B * d.Hq * d.L * d.Ev, seed + 7);
  const dOut = xpu.tensor(gv, { device, dtype, shape: [d.B, d.Hq, d.L, d.Ev] });
  try {
    const got = await sdpaGrads(t.q, t.k, t.v, dOut, { isCausal: opts.causal, scale: opts.scale, enableGqa: d.Hq !== d.Hkv });
    const ref = refAttentionGrads(d, t.qv, t.kv, t.vv, gv, { causal: opts.causal, scale: opts.scale });
    expectGrads(got, ref, TOL[dtype], `${device} ${dtype} ${fmt(d)} causal=${!!opts.causal}`);
  } finally {
    disposeAll(t.q, t.k, t.v, dOut);
  }
}

for (const device of testDevices()) {
  describe(`attention backward on ${device}`, () => {
    const shapes: Dims[] = [dims(1, 2, 2, 7, 9, 16), dims(2, 4, 1, 5, 11, 64), dims(1, 2, 1, 9, 6, 80, 48), dims(1, 1, 1, 1, 13, 3, 5)];
    for (const d of shapes) {
      for (const causal of [false, true]) it(`${fmt(d)} causal=${causal}`, () => check(device, 'float32', d, { causal }));
    }

    it('custom scale, float16, and a longer causal problem (L = S = 70, GQA 2)', async () => {
      await check(device, 'float32', dims(1, 2, 2, 6, 10, 16), { scale: 0.37 });
      await check(device, 'float16', dims(1, 2, 1, 7, 9, 16), { causal: true });
      await check(device, 'float32', dims(1, 4, 2, 70, 70, 16), { causal: true, seed: 9 });
    });

    it('bool and additive masks (broadcast), a fully masked row keeps zero gradients', async () => {
      const d = dims(2, 2, 2, 6, 10, 16);
      const t = makeQkv(device, 'float32', d, 5);
      const gv = values('float32', d.B * d.Hq * d.L * d.Ev, 8);
      const dOut = xpu.tensor(gv, { device, shape: [d.B, d.Hq, d.L, d.Ev] });
      const bits = randomInts(d.L * d.S, 7, 0, 3);
      const keep = Array.from(bits, (x, n) => (Math.floor(n / d.S) === 3 ? false : x !== 0));
      const boolMask = xpu.tensor(keep, { device, dtype: 'bool', shape: [d.L, d.S] });
      const addv = Float64Array.from(Float32Array.from(randomData(d.B * d.L * d.S, 9, 2)));
      const addMask = xpu.tensor(addv, { device, shape: [d.B, 1, d.L, d.S] });
      try {
        const gotB = await sdpaGrads(t.q, t.k, t.v, dOut, { attnMask: boolMask });
        expectGrads(
          gotB,
          refAttentionGrads(d, t.qv, t.kv, t.vv, gv, { mask: (_b, _h, i, j) => keep[i * d.S + j] }),
          TOL.float32,
          'bool mask',
        );
        for (let r = 0; r < d.B * d.Hq; r++) {
          const row = gotB[0].subarray((r * d.L + 3) * d.E, (r * d.L + 4) * d.E);
          expect(
            Array.from(row).every((x) => x === 0),
            'dq of a fully masked row is 0',
          ).toBe(true);
        }
        const gotA = await sdpaGrads(t.q, t.k, t.v, dOut, { attnMask: addMask });
        expectGrads(
          gotA,
          refAttentionGrads(d, t.qv, t.kv, t.vv, gv, { mask: (b, _h, i, j) => addv[(b * d.L + i) * d.S + j] }),
          TOL.float32,
          'additive mask',
        );
      } finally {
        disposeAll(t.q, t.k, t.v, dOut, boolMask, addMask);
      }
    });

    it('strided inputs ([B, L, H, E] transposed), a strided dOut, and 3-D inputs', async () => {
      const d = dims(2, 2, 2, 5, 7, 16, 8);
      const qv = values('float32', d.B * d.Hq * d.L * d.E, 21);
      const kv = values('float32', d.B * d.Hkv * d.S * d.E, 22);
      const vv = values('float32', d.B * d.Hkv * d.S * d.Ev, 23);
      const gv = values('float32', d.B * d.Hq * d.L * d.Ev, 24);
      const perm = (x: Float64Array, n1: number, n2: number, n3: number) => {
        // [B, n1, n2, n3] contiguous values -> the same logical tensor stored as [B, n2, n1, n3]
        const out = new Float64Array(x.length);
        for (let b = 0; b < d.B; b++)
          for (let a = 0; a < n1; a++)
            for (let c = 0; c < n2; c++)
              for (let e = 0; e < n3; e++) out[((b * n2 + c) * n1 + a) * n3 + e] = x[((b * n1 + a) * n2 + c) * n3 + e];
        return out;
      };
      const q = xpu.tensor(perm(qv, d.Hq, d.L, d.E), { device, shape: [d.B, d.L, d.Hq, d.E] }).transpose(1, 2);
      const k = xpu.tensor(perm(kv, d.Hkv, d.S, d.E), { device, shape: [d.B, d.S, d.Hkv, d.E] }).transpose(1, 2);
      const v = xpu.tensor(perm(vv, d.Hkv, d.S, d.Ev), { device, shape: [d.B, d.S, d.Hkv, d.Ev] }).transpose(1, 2);
      const dOut = xpu.tensor(perm(gv, d.Hq, d.L, d.Ev), { device, shape: [d.B, d.L, d.Hq, d.Ev] }).transpose(1, 2);
      const d3 = dims(d.B * d.Hq, 1, 1, d.L, d.S, d.E, d.Ev);
      const q3 = xpu.tensor(qv, { device, shape: [d.B * d.Hq, d.L, d.E] });
      const k3 = xpu.tensor(kv, { device, shape: [d.B * d.Hkv, d.S, d.E] });
      const v3 = xpu.tensor(vv, { device, shape: [d.B * d.Hkv, d.S, d.Ev] });
      const g3 = xpu.tensor(gv, { device, shape: [d.B * d.Hq, d.L, d.Ev] });
      try {
        expectGrads(
          await sdpaGrads(q, k, v, dOut, { isCausal: true }),
          refAttentionGrads(d, qv, kv, vv, gv, { causal: true }),
          TOL.float32,
          'strided',
        );
        expectGrads(await sdpaGrads(q3, k3, v3, g3, {}), refAttentionGrads(d3, qv, kv, vv, gv), TOL.float32, '3-D');
      } finally {
        disposeAll(q, k, v, dOut, q3, k3, v3, g3);
      }
    });

    it('NaN: a NaN query row gives NaN dq there and NaN dk / dv for the keys it attends; other rows stay finite', async () => {
      const d = dims(1, 1, 1, 6, 6, 16);
      const t0 = makeQkv(device, 'float32', d, 31);
      t0.qv.fill(NaN, 2 * d.E, 3 * d.E);
      const q = xpu.tensor(t0.qv, { device, shape: [1, 1, d.L, d.E] });
      const gv = values('float32', d.L * d.Ev, 32);
      const dOut = xpu.tensor(gv, { device, shape: [1, 1, d.L, d.Ev] });
      try {
        const got = await sdpaGrads(q, t0.k, t0.v, dOut, { isCausal: true });
        const ref = refAttentionGrads(d, t0.qv, t0.kv, t0.vv, gv, { causal: true });
        expect(Number.isNaN(ref.dk[0]) && !Number.isNaN(ref.dk[3 * d.E]), 'the reference has NaN in keys 0..2 only').toBe(true);
        expectGrads(got, ref, TOL.float32, 'NaN query row');
      } finally {
        disposeAll(q, dOut, t0.q, t0.k, t0.v);
      }
    });

    it('empty problems give zero gradients', async () => {
      const q = xpu.zeros([1, 1, 3, 4], { device });
      const k = xpu.zeros([1, 1, 0, 4], { device });
      const v = xpu.zeros([1, 1, 0, 4], { device });
      const g = await sdpaGrads(q, k, v, xpu.ones([1, 1, 3, 4], { device }), {});
      expect(Array.from(g[0])).toEqual(new Array(12).fill(0));
      expect(g[1].length + g[2].length).toBe(0);
      disposeAll(q, k, v);
    });

    it('flex: softcap scoreMod with a sliding-window maskMod, ALiBi from a captured tensor, a block mask', async () => {
      const d = dims(1, 2, 2, 40, 40, 16);
      const t = makeQkv(device, 'float32', d, 41);
      const gv = values('float32', d.B * d.Hq * d.L * d.Ev, 42);
      const dOut = xpu.tensor(gv, { device, shape: [d.B, d.Hq, d.L, d.Ev] });
      const softcap = xpu.flex.scoreMod('2 * tanh(score / 2)');
      const window = xpu.flex.maskMod('kv_idx <= q_idx && q_idx - kv_idx < 5');
      const slopesV = [0.5, 0.25];
      const slopes = xpu.tensor(slopesV, { device });
      const alibi = xpu.flex.scoreMod('score + slopes[h] * (kv_idx - q_idx)', { slopes });
      const causal = xpu.flex.maskMod('kv_idx <= q_idx');
      const blockMask = await xpu.flex.createBlockMask(causal, null, null, d.L, d.S, { blockSize: 16, device });
      try {
        const soft: RefGradOptions = {
          scoreMod: (s) => 2 * Math.tanh(s / 2),
          scoreModGrad: (s) => 1 - Math.tanh(s / 2) ** 2,
          maskMod: (_b, _h, i, j) => j <= i && i - j < 5,
        };
        expectGrads(
          await flexGrads(t.q, t.k, t.v, dOut, { scoreMod: softcap, maskMod: window }),
          refAttentionGrads(d, t.qv, t.kv, t.vv, gv, soft),
          TOL.float32,
          'softcap + window',
        );
        const ali: RefGradOptions = { scoreMod: (s, _b, h, i, j) => s + slopesV[h] * (j - i), maskMod: (_b, _h, i, j) => j <= i };
        expectGrads(
          await flexGrads(t.q, t.k, t.v, dOut, { scoreMod: alibi, blockMask }),
          refAttentionGrads(d, t.qv, t.kv, t.vv, gv, ali),
          TOL.float32,
          'alibi + block mask',
        );
      } finally {
        disposeAll(t.q, t.k, t.v, dOut, slopes);
      }
    });
  });
}

describe('attention backward on cpu: native kernel and TypeScript twin', () => {
  it('dense problems run natively when the addon is there, and XPU_CPU_ATTENTION=ts gives the same gradients', async () => {
    const d = dims(1, 4, 2, 33, 40, 64, 32);
    const t = makeQkv('cpu', 'float32', d, 51);
    const gv = values('float32', d.B * d.Hq * d.L * d.Ev, 52);
    const dOut = xpu.tensor(gv, { device: 'cpu', shape: [d.B, d.Hq, d.L, d.Ev] });
    try {
      const ref = refAttentionGrads(d, t.qv, t.kv, t.vv, gv, { causal: true });
      const a = await sdpaGrads(t.q, t.k, t.v, dOut, { isCausal: true, enableGqa: true });
      expect(lastNativeBackwardFallback, 'native path').toBe(nativeCompute() ? null : 'the native addon is not loaded');
      process.env.XPU_CPU_ATTENTION = 'ts';
      const b = await sdpaGrads(t.q, t.k, t.v, dOut, { isCausal: true, enableGqa: true });
      expect(lastNativeBackwardFallback).toBe('XPU_CPU_ATTENTION=ts');
      expectGrads(a, ref, TOL.float32, 'native');
      expectGrads(b, ref, TOL.float32, 'twin');
    } finally {
      disposeAll(t.q, t.k, t.v, dOut);
    }
  });
});
