import type { AttentionSpec } from '../attention_spec.js';
import { XpuDeviceError } from '../../errors.js';
import type { HostArray } from '../../tensor/dtype.js';
import { nativeCompute } from './native_jobs.js';
import type { NativeCompute } from './native.js';
import type { HostAttentionProblem } from './attention_blocked.js';
import type { HostBackwardArrays } from './attention_backward_host.js';
import { cpuAttentionPath } from './native_attention.js';
import type { CpuStorage } from './storage.js';

/**
 * The attention backward through the native addon (native/compute/attention_backward.cc): dense
 * problems (mask operand, causal, GQA) on contiguous float32 arrays, one job on the compute queue
 * waited for at once (the next backward step needs the gradients), with OpenMP over query rows, then key
 * rows. XPU_CPU_ATTENTION=ts keeps it in TypeScript (attention_backward_host.ts), as for the
 * forward.
 */

export interface NativeAttentionBackwardDesc extends HostAttentionProblem, HostBackwardArrays {
  mask?: { data: HostArray; bool: boolean; offset: number; strides: number[] };
}
type BackwardCompute = NativeCompute & { attentionBackward?(d: NativeAttentionBackwardDesc): number };

/** Why the last dense backward ran in TypeScript (null: it ran natively); for tests and the bench. */
export let lastNativeBackwardFallback: string | null = null;

export function nativeAttentionBackward(spec: AttentionSpec, p: HostAttentionProblem, a: HostBackwardArrays): boolean {
  if (cpuAttentionPath() === 'ts') return miss('XPU_CPU_ATTENTION=ts');
  const c = nativeCompute() as BackwardCompute | null;
  if (!c) return miss('the native addon is not loaded');
  if (!c.attentionBackward) return miss('the native addon has no attention backward (rebuild it)');
  let mask: NativeAttentionBackwardDesc['mask'];
  if (spec.mask) {
    const op = spec.mask.operand;
    const isBool = spec.mask.kind === 'bool';
    const ok = isBool ? op.dtype === 'bool' || op.dtype === 'uint8' : op.dtype === 'float32' || op.dtype === 'float16';
    if (!ok) return miss(`a mask of dtype ${op.dtype}`);
    mask = { data: (op.storage as CpuStorage).data, bool: isBool, offset: op.offset, strides: op.strides };
  }
  // On the compute thread (its OpenMP pool; see queue.h on pools), waited for here.
  const err = c.wait(c.attentionBackward({ ...p, ...a, mask }));
  if (err)
    throw new XpuDeviceError(`the native attention backward failed: ${err}`, {
      op: spec.op ?? 'attention',
      arg: 'query',
      expected: 'a completed backward',
      got: err,
    });
  lastNativeBackwardFallback = null;
  return true;
}

function miss(reason: string): false {
  lastNativeBackwardFallback = reason;
  return false;
}
