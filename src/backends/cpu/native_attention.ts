import type { AttentionSpec } from '../attention_spec.js';
import type { Operand } from '../backend.js';
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
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  out: Float32Array;
  /** Where q / k / v are views read in place: element offset and [batch, head, row] strides. */
  qOffset?: number;
  qStrides?: number[];
  kOffset?: number;
  kStrides?: number[];
  vOffset?: number;
  vStrides?: number[];
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
    throw new XpuDeviceError(`XPU_CPU_ATTENTION=native, but the native attention cannot run this case: ${reason}`, {
      op: 'attention',
      arg: 'XPU_CPU_ATTENTION',
      expected: 'a native attention for this case',
      got: reason,
    });
  }
  return false;
}

/** True when the problem has no flex modification and no block mask (the native kernel's scope). */
export function isDenseAttention(spec: AttentionSpec): boolean {
  return !spec.scoreMod && !spec.maskMod && !spec.blockMask;
}

type Gather = (op: Operand, shape: readonly [number, number, number, number]) => Float32Array;

/**
 * A float32 operand whose rows (the last dim) are contiguous is read where it lies: the K/V
 * cache's [B, Hkv, S, D] view of its [B, maxLen, Hkv, D] buffer is one, so a decode step no longer
 * copies the whole cache (issue 21). Anything else (float16, strided rows, negative strides) is
 * gathered into a contiguous float32 copy.
 */
function operandFor(
  op: Operand,
  shape: readonly [number, number, number, number],
  gather: Gather,
): { data: Float32Array; offset?: number; strides?: number[]; storage?: CpuStorage } {
  const st = op.strides.map((s, i) => (shape[i] === 1 ? 0 : s));
  if (op.dtype === 'float32' && (shape[3] === 1 || st[3] === 1) && st.every((s) => s >= 0)) {
    const storage = op.storage as CpuStorage;
    return { data: storage.data as Float32Array, offset: op.offset, strides: st.slice(0, 3), storage }; // .data settles a pending writer
  }
  return { data: gather(op, shape) };
}

/**
 * Runs the native kernel into `out`. Returns false when the TypeScript kernel must run instead;
 * true when `outStorage` is written (inline) or marked as written by a queued job.
 */
export function nativeAttention(spec: AttentionSpec, p: HostAttentionProblem, outStorage: CpuStorage, gather: Gather): boolean {
  if (cpuAttentionPath() === 'ts') return false;
  const c = nativeCompute() as AttnCompute | null;
  if (!c) return fallback('the native addon is not loaded');
  if (!c.attention) return fallback('the native addon has no attention kernel (rebuild it)');
  const q = operandFor(spec.q, [p.batch, p.heads, p.l, p.e], gather);
  const k = operandFor(spec.k, [p.batch, p.kvHeads, p.s, p.e], gather);
  const v = operandFor(spec.v, [p.batch, p.kvHeads, p.s, p.ev], gather);
  let mask: NativeAttentionDesc['mask'];
  // Operands read in place (the mask, and q / k / v views): their storages must know the job uses
  // them, so disposing one or writing into it (the KV cache's next append) waits for the job.
  const readInPlace: CpuStorage[] = [q, k, v].flatMap((x) => (x.storage ? [x.storage] : []));
  const keep: HostArray[] = [q.data, k.data, v.data, outStorage.rawData];
  if (spec.mask) {
    const op = spec.mask.operand;
    const isBool = spec.mask.kind === 'bool';
    const okDtype = isBool ? op.dtype === 'bool' || op.dtype === 'uint8' : op.dtype === 'float32' || op.dtype === 'float16';
    if (!okDtype) return fallback(`a mask of dtype ${op.dtype}`);
    const data = (op.storage as CpuStorage).data; // settles a pending writer
    mask = { data, bool: isBool, offset: op.offset, strides: op.strides };
    keep.push(data);
    readInPlace.push(op.storage as CpuStorage);
  }
  const desc: NativeAttentionDesc = { ...p, q: q.data, k: k.data, v: v.data, out: outStorage.rawData as Float32Array, mask };
  if (q.strides) Object.assign(desc, { qOffset: q.offset, qStrides: q.strides });
  if (k.strides) Object.assign(desc, { kOffset: k.offset, kStrides: k.strides });
  if (v.strides) Object.assign(desc, { vOffset: v.offset, vStrides: v.strides });
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
    for (const st of readInPlace) st.lastUse = Math.max(st.lastUse, id);
    trackJob(id, keep);
  } catch (e) {
    return fallback((e as Error).message);
  }
  lastNativeAttentionFallback = null;
  return true;
}
