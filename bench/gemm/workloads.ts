/**
 * GEMM workloads: this runtime's matmul / linear on a device, and tfjs-backend-webgpu's matMul on
 * the same Dawn adapter. A run issues several GEMMs (inputs rotating among sets so the caches do
 * not hold them between two GEMMs; unitsFor says how many) and the runner waits once.
 */
import * as xpu from '../../src/index.js';
import { compare, failedCheck, type Check } from '../lib/check.js';
import { rotationSets } from '../lib/rotation.js';
import type { TfjsPeer } from '../lib/tfjs_peer.js';
import type { DeviceName, Variant, Workload } from '../suite.js';

export type GemmDType = 'float32' | 'float16';
type Tensor = xpu.Tensor;
type TfTensor = ReturnType<TfjsPeer['tf']['matMul']>;

/** C[m, n] = A[m, k] @ B, with B stored [k, n] (matmul) or [n, k] and read transposed (linear). */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  /** 'linear': B is a weight [n, k] (x @ w^T, the decode case); 'matmul': B is [k, n]. */
  op: 'matmul' | 'linear';
}

export const ITEM_BYTES: Record<GemmDType, number> = { float32: 4, float16: 2 };
export const gemmFlops = (s: GemmShape): number => 2 * s.m * s.n * s.k;
export const gemmBytes = (s: GemmShape, dtype: GemmDType): number => (s.m * s.k + s.k * s.n + s.m * s.n) * ITEM_BYTES[dtype];
/** Of gemmBytes, the output: the rest (both operands) is read. A GEMV is all but read-only. */
export const gemmWriteBytes = (s: GemmShape, dtype: GemmDType): number => s.m * s.n * ITEM_BYTES[dtype];

/** A timed GPU run does at least this much work, at most MAX_UNITS GEMMs. */
const TARGET_FLOPS_PER_RUN = 1e9;
const MAX_UNITS = 32;
/** Rows of the product checked against float64 (all of them when fewer). */
const CHECK_ROWS = 2;
export const BOUND: Record<GemmDType, number> = { float32: 1e-4, float16: 2e-3 };

/**
 * A timed cpu run does about this much work (~10-20 ms at this machine's 200 GFLOP/s or 25 GB/s),
 * at most CPU_MAX_UNITS GEMMs: one 256^3 GEMM is ~0.2 ms, and three runs of one GEMM each (the
 * quick repeat) left the median to chance on a shared VM. The peers run the same count per run.
 */
const CPU_TARGET_FLOPS = 2e9;
const CPU_TARGET_BYTES = 5e8;
const CPU_MAX_UNITS = 64;

/** GEMMs per timed run for a shape on a device (the cpu peers use the cpu count). */
export function unitsFor(device: DeviceName, s: GemmShape): number {
  const clamp = (u: number, max: number) => Math.max(1, Math.min(max, Math.ceil(u)));
  if (device === 'xpu') return clamp(TARGET_FLOPS_PER_RUN / gemmFlops(s), MAX_UNITS);
  return clamp(Math.min(CPU_TARGET_FLOPS / gemmFlops(s), CPU_TARGET_BYTES / gemmBytes(s, 'float32')), CPU_MAX_UNITS);
}

/** float64 reference of the first rows: a rows [r, k], b as stored ([k, n] or [n, k]). */
function referenceRows(a: ArrayLike<number>, b: ArrayLike<number>, s: GemmShape, rows: number): Float64Array {
  const ref = new Float64Array(rows * s.n);
  for (let i = 0; i < rows; i++) {
    for (let p = 0; p < s.k; p++) {
      const av = a[i * s.k + p];
      for (let j = 0; j < s.n; j++) ref[i * s.n + j] += av * (s.op === 'matmul' ? b[p * s.n + j] : b[j * s.k + p]);
    }
  }
  return ref;
}

/**
 * Our GEMM. check() runs it under every variant (strategy) the case times, since the runner
 * checks an implementation once: a fast strategy that computes garbage must not pass.
 */
export function xpuGemmWorkload(device: DeviceName, s: GemmShape, dtype: GemmDType, variants: Variant[] = []): Workload {
  const sets: Tensor[][] = [];
  const dispose = () => {
    for (const set of sets) for (const t of set) t.dispose();
  };
  try {
    for (let i = 0; i < rotationSets(gemmBytes(s, dtype)); i++) {
      sets.push([xpu.randn([s.m, s.k], { device, dtype }), xpu.randn(s.op === 'matmul' ? [s.k, s.n] : [s.n, s.k], { device, dtype })]);
    }
  } catch (e) {
    dispose();
    throw e;
  }
  const gemm = ([a, b]: Tensor[]): Tensor => (s.op === 'matmul' ? xpu.matmul(a, b) : xpu.linear(a, b));
  const units = unitsFor(device, s);
  let next = 0;
  return {
    units,
    run: () => {
      for (let u = 0; u < units; u++) gemm(sets[next++ % sets.length]).dispose();
    },
    check: async () => {
      const bound = BOUND[dtype];
      const checks: Check[] = [];
      for (const v of variants.length ? variants : [undefined]) {
        const undo = v?.apply();
        try {
          const [a, b] = sets[0];
          const rows = Math.min(CHECK_ROWS, s.m);
          const head = a.narrow(0, 0, rows);
          const out = gemm([head, b]);
          try {
            const [ah, bh, got] = await Promise.all([head.data(), b.data(), out.data()]);
            checks.push(compare(got, referenceRows(ah, bh, s, rows), bound));
          } finally {
            out.dispose();
            head.dispose();
          }
        } catch (e) {
          checks.push(failedCheck(e, bound));
        } finally {
          undo?.();
        }
        const last = checks[checks.length - 1];
        if (v && !last.ok) last.error = `${last.error ?? 'wrong'} (under ${v.name})`;
      }
      // The failing one if any, else the least accurate.
      return checks.find((c) => !c.ok) ?? checks.reduce((x, y) => (y.relErr > x.relErr ? y : x));
    },
    dispose,
  };
}

/** tfjs-backend-webgpu's matMul on the same adapter (float32 only: tfjs has no float16). */
export function tfjsGemmWorkload(peer: TfjsPeer, s: GemmShape): Workload {
  const { tf } = peer;
  const sets: TfTensor[][] = [];
  for (let i = 0; i < rotationSets(gemmBytes(s, 'float32')); i++) {
    sets.push([tf.randomNormal([s.m, s.k]), tf.randomNormal(s.op === 'matmul' ? [s.k, s.n] : [s.n, s.k])]);
  }
  const gemm = ([a, b]: TfTensor[]): TfTensor => tf.matMul(a, b, false, s.op === 'linear');
  const units = unitsFor('xpu', s);
  let next = 0;
  return {
    units,
    run: () => {
      for (let u = 0; u < units; u++) gemm(sets[next++ % sets.length]).dispose();
    },
    sync: () => peer.sync(),
    check: async () => {
      const bound = BOUND.float32;
      try {
        const [a, b] = sets[0];
        const rows = Math.min(CHECK_ROWS, s.m);
        const head = tf.slice(a, [0, 0], [rows, s.k]);
        const out = gemm([head, b]);
        try {
          const [ah, bh, got] = await Promise.all([head.data(), b.data(), out.data()]);
          return compare(got as Float32Array, referenceRows(ah as Float32Array, bh as Float32Array, s, rows), bound);
        } finally {
          out.dispose();
          head.dispose();
        }
      } catch (e) {
        return failedCheck(e, bound);
      }
    },
    dispose: () => {
      for (const set of sets) for (const t of set) t.dispose();
    },
  };
}
