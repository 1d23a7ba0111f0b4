import { describe, expect, it } from 'vitest';
import { composedAttentionBackward, prefersComposedBackward } from '../src/ops/attention/backward_composed.js';
import { sdpaSpec, type SdpaOptions } from '../src/ops/attention/sdpa.js';
import { expectClose, testDevices, xpu } from './helpers.js';
import { disposeAll, makeQkv, values, type Dims } from './attention_helpers.js';
import { refAttentionGrads } from './attention_backward_ref.js';

/**
 * The composed attention backward (src/ops/attention/backward_composed.ts: five GEMMs with the
 * scale, the causal mask and dP - delta in their epilogues, and a row softmax) against the float64
 * softmax backward of tests/attention_backward_ref.ts, on both devices (it is built from ops, so
 * cpu runs it too, although only xpu chooses it): dense and causal, L < S and L > S, Ev != E,
 * strided q / k / v / dOut, and through autograd (sdpa's backward on xpu takes this path).
 */

const TOL = 5e-5;
const dims = (B: number, H: number, L: number, S: number, E: number, Ev = E): Dims => ({ B, Hq: H, Hkv: H, L, S, E, Ev });
type Grads = [Float64Array, Float64Array, Float64Array];

async function composedGrads(q: xpu.Tensor, k: xpu.Tensor, v: xpu.Tensor, dOut: xpu.Tensor, opts: SdpaOptions): Promise<Grads> {
  const spec = sdpaSpec(q, k, v, opts);
  const out = xpu.scaledDotProductAttention(q, k, v, opts);
  const g = composedAttentionBackward(q.device, spec, q, k, v, out, dOut);
  try {
    expect(g.map((t) => t.shape)).toEqual([q.shape, k.shape, v.shape]);
    return (await Promise.all(g.map((t) => t.data()))).map((a) => Float64Array.from(a as ArrayLike<number>)) as Grads;
  } finally {
    disposeAll(out, ...g);
  }
}

function expectGrads(got: Grads, ref: { dq: Float64Array; dk: Float64Array; dv: Float64Array }, what: string): void {
  expectClose(got[0], ref.dq, TOL, `${what} dq`);
  expectClose(got[1], ref.dk, TOL, `${what} dk`);
  expectClose(got[2], ref.dv, TOL, `${what} dv`);
}

/** [B, n1, n2, n3] contiguous values stored as [B, n2, n1, n3] (to be transposed back: a strided view). */
function swapped(x: Float64Array, B: number, n1: number, n2: number, n3: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; b++)
    for (let a = 0; a < n1; a++)
      for (let c = 0; c < n2; c++) for (let e = 0; e < n3; e++) out[((b * n2 + c) * n1 + a) * n3 + e] = x[((b * n1 + a) * n2 + c) * n3 + e];
  return out;
}

for (const device of testDevices()) {
  describe(`composed attention backward on ${device}`, () => {
    for (const [d, causal] of [
      [dims(1, 2, 7, 9, 16), false],
      [dims(1, 2, 7, 9, 16), true],
      [dims(2, 1, 9, 6, 16, 8), true],
      [dims(1, 2, 5, 5, 3), true],
    ] as const) {
      it(`B${d.B} H${d.Hq} L${d.L} S${d.S} E${d.E} Ev${d.Ev} causal=${causal}`, async () => {
        const t = makeQkv(device, 'float32', d, 4);
        const gv = values('float32', d.B * d.Hq * d.L * d.Ev, 11);
        const dOut = xpu.tensor(gv, { device, shape: [d.B, d.Hq, d.L, d.Ev] });
        try {
          expectGrads(
            await composedGrads(t.q, t.k, t.v, dOut, { isCausal: causal, scale: causal ? undefined : 0.37 }),
            refAttentionGrads(d, t.qv, t.kv, t.vv, gv, { causal, scale: causal ? undefined : 0.37 }),
            `${device} causal=${causal}`,
          );
        } finally {
          disposeAll(t.q, t.k, t.v, dOut);
        }
      });
    }

    it('strided q, k, v and dOut ([B, L, H, E] transposed, as a transformer block makes them)', async () => {
      const d = dims(2, 2, 6, 6, 8);
      const [qv, kv, vv, gv] = [21, 22, 23, 24].map((seed) => values('float32', d.B * d.Hq * d.L * d.E, seed));
      const view = (x: Float64Array) =>
        xpu.tensor(swapped(x, d.B, d.Hq, d.L, d.E), { device, shape: [d.B, d.L, d.Hq, d.E] }).transpose(1, 2);
      const [q, k, v, dOut] = [qv, kv, vv, gv].map(view);
      try {
        expectGrads(
          await composedGrads(q, k, v, dOut, { isCausal: true }),
          refAttentionGrads(d, qv, kv, vv, gv, { causal: true }),
          `${device} strided`,
        );
      } finally {
        disposeAll(q, k, v, dOut);
      }
    });

    it('through autograd: sdpa backward equals the float64 reference; xpu chooses this path for it, cpu does not', async () => {
      const d = dims(1, 2, 7, 7, 16);
      const t = makeQkv(device, 'float32', d, 6);
      const gv = values('float32', d.B * d.Hq * d.L * d.Ev, 12);
      const dOut = xpu.tensor(gv, { device, shape: [d.B, d.Hq, d.L, d.Ev] });
      const [q, k, v] = [t.q, t.k, t.v].map((x) => x.detach().requiresGrad_());
      try {
        expect(prefersComposedBackward(q.device, sdpaSpec(q, k, v, { isCausal: true }), q, dOut)).toBe(device.startsWith('xpu'));
        const out = xpu.scaledDotProductAttention(q, k, v, { isCausal: true });
        out.backward(dOut);
        out.dispose();
        const got = (await Promise.all([q, k, v].map((x) => x.grad!.data()))).map((a) =>
          Float64Array.from(a as ArrayLike<number>),
        ) as Grads;
        expectGrads(got, refAttentionGrads(d, t.qv, t.kv, t.vv, gv, { causal: true }), `${device} autograd`);
      } finally {
        disposeAll(t.q, t.k, t.v, q, k, v, dOut);
      }
    });
  });
}
