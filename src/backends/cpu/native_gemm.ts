import type { MatmulSpec, Operand } from '../backend.js';
import { XpuDeviceError } from '../../errors.js';
import { numel } from '../../tensor/shape.js';
import { giveBackHost } from './host_pool.js';
import { isJobDone, launchNativeJob, nativeCompute } from './native_jobs.js';
import type { NativeGemmOperand } from './native.js';
import { CpuStorage } from './storage.js';

/**
 * The cpu matmul through the native addon: oneDNN's f32 matmul primitive on the compute queue's
 * worker thread (native/compute/gemm.cc). It takes the MatmulSpec as it is: strided and
 * transposed operands are read in place where oneDNN can (row- or column-major with a leading
 * dimension), other layouts and float16 operands are packed to dense f32 on the worker; batches
 * broadcast (a batch that only walks A's rows is one GEMM); the epilogue runs as oneDNN post-ops;
 * float16 output is computed in f32 and converted once.
 *
 * The call returns at once with the output storage marked as written by the queued job (see
 * native_jobs.ts for how consumers wait). It returns null, and the TypeScript GEMM (gemm.ts)
 * runs instead, when the addon or oneDNN is absent, when XPU_CPU_GEMM=ts, for K = 0 or an empty
 * output, or when oneDNN declines the case.
 *
 * XPU_CPU_GEMM: `auto` (default: native when available), `ts` (always TypeScript), `native`
 * (native or an error: for checking that a machine really runs it).
 */

export type CpuGemmPath = 'auto' | 'ts' | 'native';

/**
 * GEMMs of at most this many multiply-adds (2^21, e.g. 128 x 128 x 128) run on the JS thread when
 * the compute queue is idle, OpenMP limited to that thread (the addon's gemmNow; one OpenMP pool
 * only, see native/compute/queue.h; larger ones split across the inline team, TEAM_INLINE_MACS):
 * there they take some tens of microseconds, less than handing them to the compute thread and back (two thread wake-ups). Larger ones, and any GEMM while earlier jobs
 * are queued (order), go to the compute thread and its two OpenMP threads. Up to session 3 the
 * bound was 256^3 with both threads inline; that second pool slowed every later queued GEMM.
 * XPU_CPU_GEMM_INLINE overrides the bound (0: always queue).
 */
export const INLINE_MACS = 1 << 21;

/**
 * Float32 GEMMs of at most this many multiply-adds (2^25, e.g. 320^3, about 0.2-0.3 ms on two
 * cores) also run on the JS thread when the addon's inline team has helpers: gemm.cc splits their
 * output columns across the team (native/compute/inline_team.h), which is as fast as the queue's
 * OpenMP threads without the two thread wake-ups that cost 10 % or more of a GEMM this small.
 */
export const TEAM_INLINE_MACS = 1 << 25;

/** Threads of the addon's inline team (1: none); fixed for the process once the addon has run one. */
let teamThreads: number | undefined;
function inlineTeamThreads(c: { inlineTeam?(): { threads: number } }): number {
  teamThreads ??= c.inlineTeam?.().threads ?? 1;
  return teamThreads;
}

/**
 * Whether a GEMM with `macs` multiply-adds and `rows` activation rows (batch folded) of `n`
 * columns runs on the JS thread (given an idle queue): under the XPU_CPU_GEMM_INLINE bound always;
 * beyond it, one-row products at any size and float32 products up to TEAM_INLINE_MACS with at least
 * 128 columns when the inline team has helpers (the products gemm.cc splits across it).
 */
function runsInline(c: object, macs: number, rows: number, n: number, ops: Operand[]): boolean {
  const bound = inlineMacs();
  if (macs <= bound) return true;
  if (bound === 0) return false;
  if (rows === 1) return true;
  const team = inlineTeamThreads(c) > 1;
  return team && macs <= TEAM_INLINE_MACS && n >= 128 && ops.every((o) => o.dtype === 'float32');
}

export function inlineMacs(): number {
  const v = process.env.XPU_CPU_GEMM_INLINE;
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : INLINE_MACS;
}

export function cpuGemmPath(): CpuGemmPath {
  const v = (process.env.XPU_CPU_GEMM ?? 'auto').toLowerCase();
  if (v === 'ts' || v === 'typescript') return 'ts';
  if (v === 'native') return 'native';
  return 'auto';
}

/** Why the native GEMM is not used (null when it is available). */
export function nativeGemmUnavailable(): string | null {
  const c = nativeCompute();
  if (!c) return 'the native addon is not loaded';
  if (!c.gemm) return 'the native addon was built without oneDNN (install libdnnl-dev and rebuild)';
  return null;
}

/** The last reason a call fell back to the TypeScript GEMM (for tests and `xpu info`). */
export let lastNativeGemmFallback: string | null = null;

function fallback(reason: string): null {
  lastNativeGemmFallback = reason;
  if (cpuGemmPath() === 'native') {
    throw new XpuDeviceError(`XPU_CPU_GEMM=native, but the native GEMM cannot run this matmul: ${reason}`, {
      op: 'matmul',
      arg: 'XPU_CPU_GEMM',
      expected: 'a native GEMM for this case',
      got: reason,
    });
  }
  return null;
}

function isGemmFloat(d: string): boolean {
  return d === 'float32' || d === 'float16';
}

export function nativeMatmul(spec: MatmulSpec): CpuStorage | null {
  const path = cpuGemmPath();
  if (path === 'ts') return null;
  const why = nativeGemmUnavailable();
  if (why) return fallback(why);
  const c = nativeCompute()!;
  const { a, b, batchShape, m, n, k, outDtype } = spec;
  const ep = spec.epilogue ?? {};
  const ops: Operand[] = [a, b, ...(ep.bias ? [ep.bias] : []), ...(ep.residual ? [ep.residual] : [])];
  if (!isGemmFloat(outDtype) || ops.some((o) => !isGemmFloat(o.dtype))) return fallback('dtypes other than float32/float16');
  const total = numel(batchShape) * m * n;
  if (total === 0) return fallback('empty output');
  if (k === 0) return fallback('k = 0');
  const storages = ops.map((o) => o.storage as CpuStorage);
  // An input whose GEMM already failed: the error belongs to whoever uses it now.
  for (const st of storages) if (st.failed !== null) void st.data;
  const out = CpuStorage.alloc(outDtype, total, 'matmul', true);
  const operand = (o: Operand): NativeGemmOperand => ({
    data: (o.storage as CpuStorage).rawData as Float32Array | Uint16Array,
    f16: o.dtype === 'float16',
    offset: o.offset,
    strides: o.strides,
  });
  const inline = runsInline(c, total * k, numel(batchShape) * m, n, ops) && c.gemmNow !== undefined && c.completed() === c.submitted();
  const desc = {
    m,
    n,
    k,
    batch: batchShape,
    a: operand(a),
    b: operand(b),
    bias: ep.bias ? operand(ep.bias) : undefined,
    residual: ep.residual ? operand(ep.residual) : undefined,
    out: out.rawData as Float32Array | Uint16Array,
    outF16: outDtype === 'float16',
    alpha: ep.alpha ?? 1,
    beta: ep.beta ?? 1,
    activation: ep.activation,
    // Pending jobs writing the inputs: if one fails, this one fails too (never garbage).
    deps: storages.filter((st) => st.writer !== 0 && !isJobDone(st.writer)).map((st) => st.writer),
  };
  const refused = launchNativeJob(
    out,
    storages,
    inline,
    () => c.gemmNow!(desc),
    () => c.gemm!(desc),
  );
  if (refused !== null) {
    giveBackHost(outDtype, out.rawData);
    return fallback(refused);
  }
  lastNativeGemmFallback = null;
  return out;
}
