import type { DecodeAttentionSpec } from '../decode_attention_spec.js';
import type { Operand } from '../backend.js';
import { rotateHalfRowF32 } from '../rotary_kernel.js';
import { cpuAttentionPath, type NativeAttentionDesc } from './native_attention.js';
import { nativeCompute } from './native_jobs.js';
import type { NativeCompute } from './native.js';
import { CpuStorage } from './storage.js';

/**
 * A KV-cached decode step on cpu in one call (decode_attention_spec.ts): q and k rotated straight
 * from the projections' arrays (q into a scratch array, k into its cache row), v copied into its
 * row, then the native attention (attention.cc) over the cache where it lies. The composed ops
 * did the same arithmetic through about sixteen tensors per layer (reshapes, two rotary maps,
 * cache views and copies, permutes), whose bookkeeping cost more than the work in a decode step
 * of a small model. Rotation and attention are those of fastRotary and nativeAttention, so the
 * result is the composition's element for element.
 *
 * Returns null (the op composes) without the native kernel, with XPU_CPU_ATTENTION=ts, or for
 * operands that are not unit-stride float32 rows.
 */

type AttnCompute = NativeCompute & { attentionNow?(d: NativeAttentionDesc): void };

/** float32 with unit-stride rows (the last dim), as the row loops below read them. */
const rowsOk = (op: Operand): boolean => op.dtype === 'float32' && op.strides[3] === 1;

export function cpuDecodeAttention(spec: DecodeAttentionSpec): CpuStorage | null {
  if (cpuAttentionPath() === 'ts') return null;
  const c = nativeCompute() as AttnCompute | null;
  if (!c?.attentionNow) return null;
  const { batch: B, heads: H, kvHeads: Hkv, headDim: D, start, maxLen, q, k, v, cos, sin } = spec;
  if (!rowsOk(q) || !rowsOk(k) || !rowsOk(v)) return null;
  if (cos.dtype !== 'float32' || sin.dtype !== 'float32' || cos.strides[0] !== 1 || sin.strides[0] !== 1) return null;
  const keys = spec.keys as CpuStorage;
  const values = spec.values as CpuStorage;
  if (keys.dtype !== 'float32' || values.dtype !== 'float32') return null;
  // .data waits for any queued job that writes these (a projection) or reads them (the cache).
  const qd = (q.storage as CpuStorage).data as Float32Array;
  const kd = (k.storage as CpuStorage).data as Float32Array;
  const vd = (v.storage as CpuStorage).data as Float32Array;
  const cd = (cos.storage as CpuStorage).data as Float32Array;
  const sd = (sin.storage as CpuStorage).data as Float32Array;
  const kc = keys.data as Float32Array;
  const vc = values.data as Float32Array;
  const h2 = D / 2;
  const qRot = new Float32Array(B * H * D);
  const rotate = (src: Float32Array, at: number, dst: Float32Array, to: number): void =>
    rotateHalfRowF32(src, at, cd, cos.offset, sd, sin.offset, h2, dst, to);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) rotate(qd, q.offset + b * q.strides[0] + h * q.strides[2], qRot, (b * H + h) * D);
    for (let h = 0; h < Hkv; h++) {
      const row = ((b * maxLen + start) * Hkv + h) * D;
      rotate(kd, k.offset + b * k.strides[0] + h * k.strides[2], kc, row);
      const vAt = v.offset + b * v.strides[0] + h * v.strides[2];
      vc.set(vd.subarray(vAt, vAt + D), row);
    }
  }
  const out = CpuStorage.alloc('float32', B * H * D, 'attention');
  const cacheStrides = [maxLen * Hkv * D, D, Hkv * D];
  c.attentionNow({
    batch: B,
    heads: H,
    kvHeads: Hkv,
    l: 1,
    s: start + 1,
    e: D,
    ev: D,
    scale: spec.scale,
    causal: false,
    q: qRot,
    k: kc,
    v: vc,
    out: out.rawData as Float32Array,
    kOffset: 0,
    kStrides: cacheStrides,
    vOffset: 0,
    vStrides: cacheStrides,
  });
  return out;
}
