import type { AttentionSpec } from '../attention_spec.js';
import { XpuDeviceError } from '../../errors.js';
import type { HostArray } from '../../tensor/dtype.js';
import { nativeCompute, trackJob } from './native_jobs.js';
import type { NativeCompute } from './native.js';
import type { HostAttentionProblem } from './attention_blocked.js';
import type { CpuStorage } from './storage.js';

/**
 * The blocked flash attention through the native addon (native/compute/attention.cc): dense
 * SDPA (mask operand, causal, GQA) on the compute queue; flex score/mask modifications and
 * block masks stay in TypeScript (attention_blocked.ts).
 *
 * XPU_CPU_ATTENTION: `auto` (default: native when the addon has it and the problem is dense),
 * `ts` (always TypeScript), `native` (native or an error for a dense problem; flex problems
 * always run in TypeScript).
 */

export interface NativeAttentionDesc extends HostAttentionProblem {
  q: Float32Array; k: Float32Array; v: Float32Array; out: Float32Array;
  mask?: { data: HostArray; bool: boolean; offset: number; strides: number[] };
}
type AttnCompute = NativeCompute & { attention?(d: NativeAttentionDesc): number; attentionNow?(d: NativeAttentionDesc): void };

export type CpuAttentionPath = 'auto' | 'ts' | 'native';
export function cpuAttentionPath(): CpuAttentionPath {
  const v = (process.env.XPU_CPU_ATTENTION ?? 'auto').toLowerCase();
  return v === 'ts' || v === 'typescript' ? 'ts' : v === 'native' ? 'native' : 'auto';
}

/** Problems of at most this many score elements x head dim run on the JS thread when the queue is idle. */
const INLINE_WORK = 1 << 20;

export let lastNativeAttentionFallback: string | null = null;

function fallback(reason: string): false {
  lastNativeAttentionFallback = reason;
  if (cpuAttentionPath() === 'native') {
    throw new XpuDeviceError(`XPU_CPU_ATTENTION=native, but the native attention cannot run this case: ${reason}`, { op: 'attention', arg: 'XPU_CPU_ATTENTION', expected: 'a native attention for this case', got: reason });
  }
  return false;
}

/** True when the problem has no flex modification and no block mask (the native kernel's scope). */
export function isDenseAttention(spec: AttentionSpec): boolean {
  return !spec.scoreMod && !spec.maskMod && !spec.blockMask;
}

/**
 * Runs the native kernel into `out` (contiguous q, k, v as gathered by cpuAttention). Returns
 * false when the TypeScript kernel must run instead; true when `outStorage` is written (inline)
 * or marked as written by a queued job.
 */
export function nativeAttention(spec: AttentionSpec, p: HostAttentionProblem, q: Float32Array, k: Float32Array, v: Float32Array, outStorage: CpuStorage): boolean {
  if (cpuAttentionPath() === 'ts') return false;
  const c = nativeCompute() as AttnCompute | null;
  if (!c) return fallback('the native addon is not loaded');
  if (!c.attention) return fallback('the native addon has no attention kernel (rebuild it)');
  let mask: NativeAttentionDesc['mask'];
  // The mask is read in place (q, k, v are gathered copies): its storage must know the job uses
  // it, so disposing it or writing into it waits for the job.
  let maskStorage: CpuStorage | undefined;
  const keep: HostArray[] = [q, k, v, outStorage.rawData];
  if (spec.mask) {
    const op = spec.mask.operand;
    const isBool = spec.mask.kind === 'bool';
    const okDtype = isBool ? op.dtype === 'bool' || op.dtype === 'uint8' : op.dtype === 'float32' || op.dtype === 'float16';
    if (!okDtype) return fallback(`a mask of dtype ${op.dtype}`);
    const data = (op.storage as CpuStorage).data; // settles a pending writer
    mask = { data, bool: isBool, offset: op.offset, strides: op.strides };
    keep.push(data);
    maskStorage = op.storage as CpuStorage;
  }
  const desc: NativeAttentionDesc = { ...p, q, k, v, out: outStorage.rawData as Float32Array, mask };
  const work = p.batch * p.heads * p.l * p.s * (p.e + p.ev);
  const inline = work <= INLINE_WORK && c.attentionNow !== undefined && c.completed() === c.submitted();
  try {
    if (inline) {
      c.attentionNow!(desc);
      lastNativeAttentionFallback = null;
      return true;
    }
    const id = c.attention(desc);
    outStorage.writer = id;
    outStorage.lastUse = id;
    if (maskStorage) maskStorage.lastUse = Math.max(maskStorage.lastUse, id);
    trackJob(id, keep);
  } catch (e) {
    return fallback((e as Error).message);
  }
  lastNativeAttentionFallback = null;
  return true;
}
