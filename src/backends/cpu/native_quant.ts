import type { QuantMatmulSpec } from '../backend.js';
import { XpuDeviceError } from '../../errors.js';
import type { HostArray } from '../../tensor/dtype.js';
import { giveBackHost } from './host_pool.js';
import { launchNativeJob, nativeCompute } from './native_jobs.js';
import { inlineMacs } from './native_gemm.js';
import type { NativeCompute } from './native.js';
import { CpuStorage } from './storage.js';
import { ggufQ8Supported } from './qgemm_gguf_q8.js';
import { isGgufWeightFormat, type GgufWeightFormat } from '../../quant/gguf_formats.js';

/**
 * The quantized linear through the native addon (native/compute/qgemm.cc): our own AVX-512 /
 * AVX2 kernels (scalar fallback) on the compute queue, so they stay ordered with the native
 * GEMMs and the event loop stays free. int4 and int8 weight-only stream the weight bytes
 * (GEMV-style) for M <= 8 and dequantize weight tiles into oneDNN's sgemm above; w8a8 sums
 * integer products exactly in int32.
 *
 * XPU_CPU_QGEMM: `auto` (default: native when the addon has it), `ts` (always TypeScript),
 * `native` (native or an error). Returns null when the TypeScript kernel (qgemm.ts) should run.
 */

interface QuantOperand {
  data: HostArray;
  offset: number;
  strides: number[];
}
export interface NativeQuantDesc {
  /** int8 / int4: qgemm.cc; a GGUF block format: qgemm_gguf.cc (q and scales are its two planes). */
  format: 'int8' | 'int4' | GgufWeightFormat;
  m: number;
  n: number;
  k: number;
  groupSize: number;
  a: QuantOperand;
  aScales?: Float32Array;
  q: HostArray;
  scales: HostArray;
  zeros?: HostArray;
  bias?: QuantOperand;
  /** GGUF q4_0 / q4_1 / q8_0 only: llama.cpp's int8 activations (qgemm_gguf_q8.cc). */
  q8Activations?: boolean;
  /** GGUF formats only: act(x @ W^T + bias) + residual in the store. */
  activation?: string;
  residual?: QuantOperand;
  out: HostArray;
}
type QuantCompute = NativeCompute & {
  qmatmul?(d: NativeQuantDesc): number;
  qmatmulNow?(d: NativeQuantDesc): void;
  qmatmulGguf?(d: NativeQuantDesc): number;
  qmatmulGgufNow?(d: NativeQuantDesc): void;
};

export type CpuQgemmPath = 'auto' | 'ts' | 'native';
export function cpuQgemmPath(): CpuQgemmPath {
  const v = (process.env.XPU_CPU_QGEMM ?? 'auto').toLowerCase();
  return v === 'ts' || v === 'typescript' ? 'ts' : v === 'native' ? 'native' : 'auto';
}

/** The last reason a call fell back to TypeScript (null after a native run). */
export let lastNativeQgemmFallback: string | null = null;

function fallback(reason: string): null {
  lastNativeQgemmFallback = reason;
  if (cpuQgemmPath() === 'native') {
    throw new XpuDeviceError(`XPU_CPU_QGEMM=native, but the native quantized linear cannot run this case: ${reason}`, {
      op: 'linear',
      arg: 'XPU_CPU_QGEMM',
      expected: 'a native quantized linear for this case',
      got: reason,
    });
  }
  return null;
}

/**
 * Activation rows up to which the GGUF linear runs its row kernels (native/compute/qgemm_gguf.cc,
 * `gemv`; the int8-activation kernel too), which split across the inline team; above, the float
 * path decodes tiles for oneDNN, which runs single-threaded on the JS thread.
 */
const GGUF_ROW_KERNEL_MAX_M = 8;

const isFloat = (d: string): boolean => d === 'float32' || d === 'float16';

export function nativeQuantMatmul(spec: QuantMatmulSpec): CpuStorage | null {
  if (cpuQgemmPath() === 'ts') return null;
  const c = nativeCompute() as QuantCompute | null;
  if (!c) return fallback('the native addon is not loaded');
  const { a, m, w, outDtype, bias } = spec;
  const gguf = isGgufWeightFormat(w.format);
  const run = gguf ? c.qmatmulGguf : c.qmatmul;
  const runNow = gguf ? c.qmatmulGgufNow : c.qmatmulNow;
  if (!run) return fallback(`the native addon has no ${gguf ? 'GGUF ' : ''}quantized linear (rebuild it)`);
  const { n, k } = w;
  if (m * n === 0 || k === 0) return fallback('empty problem');
  if (!isFloat(outDtype) || (bias && !isFloat(bias.dtype)) || (spec.residual && !isFloat(spec.residual.dtype)))
    return fallback('dtypes other than float32/float16');
  if ((spec.activation || spec.residual) && !gguf) return fallback('an activation or residual with an int8/int4 weight');
  if (spec.aScales ? a.dtype !== 'int8' || gguf : !isFloat(a.dtype)) return fallback(`activations of dtype ${a.dtype}`);
  if (w.format === 'int4' && (w.groupSize % 32 !== 0 || k % w.groupSize !== 0)) return fallback(`int4 group size ${w.groupSize}`);
  const st = (s: unknown): CpuStorage => s as CpuStorage;
  const storages = [
    st(a.storage),
    st(w.q),
    st(w.scales),
    ...(w.zeros ? [st(w.zeros)] : []),
    ...(spec.aScales ? [st(spec.aScales)] : []),
    ...(bias ? [st(bias.storage)] : []),
    ...(spec.residual ? [st(spec.residual.storage)] : []),
  ];
  // Inputs still written by a queued native job: the queue's order puts this job after it, but a
  // failure would go unnoticed, so failed inputs throw here (as the native GEMM does).
  for (const s of storages) if (s.failed !== null) void s.data;
  const out = CpuStorage.alloc(outDtype, m * n, 'linear', true);
  const desc: NativeQuantDesc = {
    format: w.format,
    m,
    n,
    k,
    groupSize: w.groupSize,
    a: { data: st(a.storage).rawData, offset: a.offset, strides: a.strides },
    aScales: spec.aScales ? (st(spec.aScales).rawData as Float32Array) : undefined,
    q: st(w.q).rawData,
    scales: st(w.scales).rawData,
    zeros: w.zeros ? st(w.zeros).rawData : undefined,
    bias: bias ? { data: st(bias.storage).rawData, offset: bias.offset, strides: bias.strides } : undefined,
    activation: spec.activation,
    q8Activations: gguf && w.q8Activations && ggufQ8Supported(w.format) ? true : undefined,
    residual: spec.residual
      ? { data: st(spec.residual.storage).rawData, offset: spec.residual.offset, strides: spec.residual.strides }
      : undefined,
    out: out.rawData,
  };
  // The same bound as the float GEMM (native_gemm.ts, inlineMacs: XPU_CPU_GEMM_INLINE), except for
  // the GGUF kernels of a few rows: those split their weight rows across the addon's inline team
  // (native/compute/inline_team.h) on the JS thread, as fast as the queue's OpenMP threads without
  // the two wake-ups, so a decode step's output projection runs inline too.
  const bound = inlineMacs();
  const teamSplit = gguf && m <= GGUF_ROW_KERNEL_MAX_M && bound > 0;
  const inline = (m * n * k <= bound || teamSplit) && runNow !== undefined && c.completed() === c.submitted();
  const refused = launchNativeJob(
    out,
    storages,
    inline,
    () => runNow!.call(c, desc),
    () => run.call(c, desc),
  );
  if (refused !== null) {
    giveBackHost(outDtype, out.rawData);
    return fallback(refused);
  }
  lastNativeQgemmFallback = null;
  return out;
}
