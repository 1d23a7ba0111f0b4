import type { AttentionBackwardSpec, AttentionGrads } from '../attention_spec.js';
import { compileJs } from '../../flex/js.js';
import { CpuStorage } from './storage.js';
import { gather, hostBlocks, hostCaptures, scoreFunction } from './attention.js';
import { flashAttentionBackwardHost, type HostScoreGrad } from './attention_backward_host.js';
import { isDenseAttention } from './native_attention.js';
import { nativeAttentionBackward } from './native_attention_backward.js';

/**
 * The cpu attention backward primitive: q, k, v gathered into contiguous float32 (any strides,
 * float16 decoded), then the native kernel (native/compute/attention_backward.cc) for dense
 * problems when the addon has it, else the TypeScript twin (attention_backward_host.ts), which
 * also runs every flex problem (its score modification's derivative compiled to JavaScript).
 */
export function cpuAttentionBackward(spec: AttentionBackwardSpec): AttentionGrads {
  const { batch: B, heads: H, kvHeads: Hkv, l: L, s: S, e: E, ev: Ev } = spec;
  const op = spec.op ?? 'attention';
  const grads = {
    dq: CpuStorage.alloc('float32', B * H * L * E, op),
    dk: CpuStorage.alloc('float32', B * Hkv * S * E, op),
    dv: CpuStorage.alloc('float32', B * Hkv * S * Ev, op),
  };
  if (B * H * L === 0 || S === 0) {
    for (const g of Object.values(grads)) g.data.fill(0);
    return grads;
  }
  const problem = { batch: B, heads: H, kvHeads: Hkv, l: L, s: S, e: E, ev: Ev, scale: spec.scale, causal: spec.causal };
  const arrays = {
    q: gather(spec.q, [B, H, L, E]),
    k: gather(spec.k, [B, Hkv, S, E]),
    v: gather(spec.v, [B, Hkv, S, Ev]),
    out: (spec.out as CpuStorage).data as Float32Array,
    dOut: (spec.dOut as CpuStorage).data as Float32Array,
    dq: grads.dq.data as Float32Array,
    dk: grads.dk.data as Float32Array,
    dv: grads.dv.data as Float32Array,
  };
  if (isDenseAttention(spec) && nativeAttentionBackward(spec, problem, arrays)) return grads;
  const scoreGrad: HostScoreGrad | null = spec.scoreModGrad ? compileJs(spec.scoreModGrad, hostCaptures(spec)) : null;
  flashAttentionBackwardHost(problem, arrays, scoreFunction(spec), scoreGrad, hostBlocks(spec));
  return grads;
}
