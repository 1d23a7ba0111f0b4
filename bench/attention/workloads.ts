/**
 * Attention workloads: xpu.scaledDotProductAttention (flash prefill or split-K decode) and, as the
 * comparison on the same device, the matmul-softmax-matmul composition that materialises the
 * [L, S] scores. Each is checked once against float64 on a few query rows.
 */
import * as xpu from '../../src/index.js';
import { compare, failedCheck } from '../lib/check.js';
import type { DeviceName, Workload } from '../suite.js';

export interface AttnShape {
  b: number;
  h: number;
  hkv: number;
  l: number;
  s: number;
  e: number;
  causal: boolean;
}

export type AttnDType = 'float32' | 'float16';
export const ITEM: Record<AttnDType, number> = { float32: 4, float16: 2 };
/** 4 B H L S E (two GEMMs of 2 L S E each), halved for causal (only the kept half is computed). */
export const attnFlops = (s: AttnShape): number => (4 * s.b * s.h * s.l * s.s * s.e) / (s.causal ? 2 : 1);
/** Bytes a fused kernel must move at least: q, k, v read once, out written once. */
export const attnBytes = (s: AttnShape, dtype: AttnDType): number =>
  ITEM[dtype] * (2 * s.b * s.h * s.l * s.e + 2 * s.b * s.hkv * s.s * s.e);
const BOUND: Record<AttnDType, number> = { float32: 1e-4, float16: 5e-3 };
const CHECK_ROWS = 3;

export type Impl = 'fused' | 'composition';

function run(impl: Impl, q: xpu.Tensor, k: xpu.Tensor, v: xpu.Tensor, s: AttnShape): xpu.Tensor {
  if (impl === 'fused') return xpu.scaledDotProductAttention(q, k, v, { isCausal: s.causal, enableGqa: s.h !== s.hkv });
  return xpu.scope(() => {
    const rep = s.h / s.hkv;
    const kk = rep > 1 ? k.unsqueeze(2).expand(s.b, s.hkv, rep, s.s, s.e).reshape(s.b, s.h, s.s, s.e) : k;
    const vv = rep > 1 ? v.unsqueeze(2).expand(s.b, s.hkv, rep, s.s, s.e).reshape(s.b, s.h, s.s, s.e) : v;
    let scores = xpu.mul(xpu.matmul(q, kk.transpose(-2, -1)), 1 / Math.sqrt(s.e));
    if (s.causal) scores = xpu.add(scores, xpu.triu(xpu.full([s.l, s.s], -Infinity, { device: q.device, dtype: q.dtype }), 1));
    return xpu.keep(xpu.matmul(xpu.softmax(scores, -1), vv));
  });
}

/** float64 attention of the first query rows of head (0, 0). */
function reference(q: Float32Array, k: Float32Array, v: Float32Array, s: AttnShape, rows: number): Float64Array {
  const out = new Float64Array(rows * s.e);
  for (let i = 0; i < rows; i++) {
    const sc = new Float64Array(s.s);
    let mx = -Infinity;
    for (let j = 0; j < s.s; j++) {
      let d = 0;
      for (let e = 0; e < s.e; e++) d += q[i * s.e + e] * k[j * s.e + e];
      sc[j] = s.causal && j > i ? -Infinity : d / Math.sqrt(s.e);
      mx = Math.max(mx, sc[j]);
    }
    let sum = 0;
    for (let j = 0; j < s.s; j++) sum += Math.exp(sc[j] - mx);
    for (let j = 0; j < s.s; j++) {
      const p = Math.exp(sc[j] - mx) / sum;
      for (let e = 0; e < s.e; e++) out[i * s.e + e] += p * v[j * s.e + e];
    }
  }
  return out;
}

export function attnWorkload(impl: Impl, device: DeviceName, s: AttnShape, dtype: AttnDType, units = 1): Workload {
  const q = xpu.randn([s.b, s.h, s.l, s.e], { device, dtype });
  const k = xpu.randn([s.b, s.hkv, s.s, s.e], { device, dtype });
  const v = xpu.randn([s.b, s.hkv, s.s, s.e], { device, dtype });
  return {
    units,
    // Both implementations are this runtime's: wait for the device (the composition too).
    // cpu too: its native kernels (the composition's GEMMs) run on the addon's compute thread.
    sync: () => xpu.accelerator.synchronize(device),
    run: () => {
      for (let u = 0; u < units; u++) run(impl, q, k, v, s).dispose();
    },
    check: async () => {
      try {
        const out = run(impl, q, k, v, s);
        const rows = Math.min(CHECK_ROWS, s.l);
        const [qd, kd, vd, od] = await Promise.all([q.data(), k.data(), v.data(), out.data()]);
        out.dispose();
        const f = (a: ArrayLike<number>) => Float32Array.from(a);
        return compare(od.slice(0, rows * s.e), reference(f(qd), f(kd), f(vd), s, rows), BOUND[dtype]);
      } catch (e) {
        return failedCheck(e, BOUND[dtype]);
      }
    },
    dispose: () => {
      q.dispose();
      k.dispose();
      v.dispose();
    },
  };
}

/** Peak device memory of one run above what the inputs hold (xpu only; bytes). */
export async function peakMemory(impl: Impl, s: AttnShape, dtype: AttnDType): Promise<number> {
  const w = attnWorkload(impl, 'xpu', s, dtype);
  try {
    await xpu.accelerator.synchronize();
    const base = xpu.accelerator.memoryAllocated();
    xpu.accelerator.resetPeakMemoryStats();
    await w.run();
    await xpu.accelerator.synchronize();
    return xpu.accelerator.maxMemoryAllocated() - base;
  } finally {
    await w.dispose();
  }
}
