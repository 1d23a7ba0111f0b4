/**
 * Attention backward workloads: the flash backward (Backend.attentionBackward through
 * src/ops/attention/backward.ts: no [L, S] matrix) against a composed backward on the same device
 * that materialises it: P = softmax(q k^T scale) saved from the forward (as a composed autograd
 * would keep it, so its recompute is not timed), then dv = P^T dOut, dP = dOut v^T,
 * dS = P (dP - rowsum(dP P)), dq = dS k scale, dk = dS^T q scale. Each is checked once against
 * float64 on the first query rows' dq and the first key's dk and dv.
 */
import * as xpu from '../../src/index.js';
import { attentionBackward } from '../../src/ops/attention/backward.js';
import { sdpaSpec } from '../../src/ops/attention/sdpa.js';
import { compare, failedCheck } from '../lib/check.js';
import type { DeviceName, Workload } from '../suite.js';
import type { AttnDType, AttnShape, Impl } from './workloads.js';

const BOUND: Record<AttnDType, number> = { float32: 2e-4, float16: 1e-2 };
const CHECK_ROWS = 3;
const OP = 'scaledDotProductAttention';

/** The backward's FLOPs: 2.5x the forward's 4 B H L S E (five GEMM-shaped products of 2 L S E: q k^T, dOut v^T, dS k, dS^T q, P^T dOut), halved for causal. */
export const attnBackwardFlops = (s: AttnShape): number => (2.5 * 4 * s.b * s.h * s.l * s.s * s.e) / (s.causal ? 2 : 1);

function probabilities(q: xpu.Tensor, k: xpu.Tensor, s: AttnShape): xpu.Tensor {
  return xpu.scope(() => {
    let scores = xpu.mul(xpu.matmul(q, k.transpose(-2, -1)), 1 / Math.sqrt(s.e));
    if (s.causal) scores = xpu.add(scores, xpu.triu(xpu.full([s.l, s.s], -Infinity, { device: q.device, dtype: q.dtype }), 1));
    return xpu.keep(xpu.softmax(scores, -1));
  });
}

function composed(p: xpu.Tensor, q: xpu.Tensor, k: xpu.Tensor, v: xpu.Tensor, dOut: xpu.Tensor, s: AttnShape): xpu.Tensor[] {
  return xpu.scope(() => {
    const scale = 1 / Math.sqrt(s.e);
    const dv = xpu.matmul(p.transpose(-2, -1), dOut);
    const dp = xpu.matmul(dOut, v.transpose(-2, -1));
    const ds = xpu.mul(p, xpu.sub(dp, xpu.sum(xpu.mul(dp, p), -1, true)));
    const dq = xpu.mul(xpu.matmul(ds, k), scale);
    const dk = xpu.mul(xpu.matmul(ds.transpose(-2, -1), q), scale);
    return [xpu.keep(dq), xpu.keep(dk), xpu.keep(dv)];
  });
}

/** float64 dq of the first query rows and dk, dv of key 0, head (0, 0). */
function reference(q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array, s: AttnShape, rows: number): Float64Array {
  const { l: L, s: S, e: E } = s;
  const scale = 1 / Math.sqrt(E);
  const dq = new Float64Array(rows * E);
  const dk = new Float64Array(E);
  const dv = new Float64Array(E);
  for (let i = 0; i < L; i++) {
    const sc = new Float64Array(S);
    let mx = -Infinity;
    for (let j = 0; j < S; j++) {
      let d = 0;
      for (let e = 0; e < E; e++) d += q[i * E + e] * k[j * E + e];
      sc[j] = s.causal && j > i ? -Infinity : d * scale;
      mx = Math.max(mx, sc[j]);
    }
    let sum = 0;
    for (let j = 0; j < S; j++) sum += Math.exp(sc[j] - mx);
    const p = Float64Array.from(sc, (x) => Math.exp(x - mx) / sum);
    const dp = new Float64Array(S);
    let pdp = 0;
    for (let j = 0; j < S; j++) {
      for (let e = 0; e < E; e++) dp[j] += g[i * E + e] * v[j * E + e];
      pdp += p[j] * dp[j];
    }
    const ds0 = p[0] * (dp[0] - pdp);
    for (let e = 0; e < E; e++) {
      dk[e] += scale * ds0 * q[i * E + e];
      dv[e] += p[0] * g[i * E + e];
    }
    if (i >= rows) continue;
    for (let j = 0; j < S; j++) {
      const ds = p[j] * (dp[j] - pdp);
      for (let e = 0; e < E; e++) dq[i * E + e] += scale * ds * k[j * E + e];
    }
  }
  return Float64Array.from([...dq, ...dk, ...dv]);
}

export function attnBackwardWorkload(impl: Impl, device: DeviceName, s: AttnShape, dtype: AttnDType): Workload {
  const q = xpu.randn([s.b, s.h, s.l, s.e], { device, dtype });
  const k = xpu.randn([s.b, s.hkv, s.s, s.e], { device, dtype });
  const v = xpu.randn([s.b, s.hkv, s.s, s.e], { device, dtype });
  const dOut = xpu.randn([s.b, s.h, s.l, s.e], { device, dtype });
  const opts = { isCausal: s.causal };
  // What the forward leaves for the backward: its output (fused) or its probabilities (composed).
  const saved = impl === 'fused' ? xpu.scaledDotProductAttention(q, k, v, opts) : probabilities(q, k, s);
  const grads = (): xpu.Tensor[] =>
    impl === 'fused' ? attentionBackward(OP, q.device, sdpaSpec(q, k, v, opts), q, k, v, saved, dOut) : composed(saved, q, k, v, dOut, s);
  return {
    units: 1,
    // cpu too: its native kernels (the composition's GEMMs) run on the addon's compute thread.
    sync: () => xpu.accelerator.synchronize(device),
    run: () => {
      for (const t of grads()) t.dispose();
    },
    check: async () => {
      try {
        const [dq, dk, dv] = grads();
        const rows = Math.min(CHECK_ROWS, s.l);
        const [qd, kd, vd, gd, dqd, dkd, dvd] = await Promise.all([q, k, v, dOut, dq, dk, dv].map((t) => t.data()));
        for (const t of [dq, dk, dv]) t.dispose();
        const f = (a: ArrayLike<number>) => Float32Array.from(a);
        const got = [
          ...Array.from(dqd.slice(0, rows * s.e)),
          ...Array.from(dkd.slice(0, s.e)),
          ...Array.from(dvd.slice(0, s.e)),
        ] as number[];
        return compare(got, reference(f(qd), f(kd), f(vd), f(gd), s, rows), BOUND[dtype]);
      } catch (e) {
        return failedCheck(e, BOUND[dtype]);
      }
    },
    dispose: () => {
      for (const t of [q, k, v, dOut, saved]) t.dispose();
    },
  };
}
