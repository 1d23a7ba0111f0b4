import type { Operand, Storage } from '../backend.js';
import { MASKED_SCORE, type AttentionSpec } from '../attention_spec.js';
import { compileJs, type HostCapture, type ModFn } from '../../flex/js.js';
import { hostReader } from './host_io.js';
import { f16BitsToNumber, type HostArray } from '../../tensor/dtype.js';
import { CpuStorage } from './storage.js';
import { flashAttentionHost, type HostBlocks, type HostScoreFn } from './attention_blocked.js';
import { isDenseAttention, nativeAttention } from './native_attention.js';

/**
 * The cpu attention primitive: gathers q, k, v into contiguous float32 (any strides, float16
 * decoded), builds the score function from the mask operand and the flex modifications (their
 * JavaScript twins), and runs the blocked kernel (attention_blocked.ts). A native kernel can
 * take over at flashAttentionHost, whose arguments are plain arrays.
 */
export function cpuAttention(spec: AttentionSpec): Storage {
  const { batch: B, heads: H, kvHeads: Hkv, l: L, s: S, e: E, ev: Ev } = spec;
  const out = CpuStorage.alloc('float32', B * H * L * Ev, 'attention');
  const data = out.data as Float32Array;
  if (out.data.length === 0) return out;
  if (S === 0) {
    data.fill(0); // an empty softmax over no keys: the product with an empty V is zeros
    return out;
  }
  const problem = { batch: B, heads: H, kvHeads: Hkv, l: L, s: S, e: E, ev: Ev, scale: spec.scale, causal: spec.causal };
  // Dense problems (no flex modification, no block mask) go to the native kernel when it is there;
  // it reads float32 operands in place and gathers only the others.
  if (isDenseAttention(spec) && nativeAttention(spec, problem, out, gather)) return out;
  const q = gather(spec.q, [B, H, L, E]);
  const k = gather(spec.k, [B, Hkv, S, E]);
  const v = gather(spec.v, [B, Hkv, S, Ev]);
  flashAttentionHost(problem, q, k, v, scoreFunction(spec), hostBlocks(spec), data);
  return out;
}

/**
 * A strided 4-D operand as a contiguous float32 array. One loop per dtype, picked before any
 * element is read: a shared per-dtype reader closure here went megamorphic after one float16 call
 * and slowed every later decode step by ~25% for the life of the process (issue 21). float32 rows
 * that are contiguous (the K/V cache's [B, Hkv, S, D] view of [B, maxLen, Hkv, D]) are copied
 * with TypedArray.set.
 */
export function gather(op: Operand, shape: readonly [number, number, number, number]): Float32Array {
  const out = new Float32Array(shape[0] * shape[1] * shape[2] * shape[3]);
  const data = (op.storage as CpuStorage).data;
  if (op.dtype === 'float32') gatherF32(data as Float32Array, op, shape, out);
  else if (op.dtype === 'float16') gatherF16(data as Uint16Array, op, shape, out);
  else gatherAny(data, op, shape, out);
  return out;
}

/** Rows at least this long are copied with set() (a memcpy); shorter ones element by element. */
const SET_MIN_ROW = 32;

function gatherF32(src: Float32Array, op: Operand, [n0, n1, n2, n3]: readonly number[], out: Float32Array): void {
  const [s0, s1, s2, s3] = op.strides;
  const rowCopy = s3 === 1 && n3 >= SET_MIN_ROW;
  let o = 0;
  for (let a = 0; a < n0; a++) {
    for (let b = 0; b < n1; b++) {
      for (let c = 0; c < n2; c++, o += n3) {
        const base = op.offset + a * s0 + b * s1 + c * s2;
        if (rowCopy) out.set(src.subarray(base, base + n3), o);
        else for (let d = 0; d < n3; d++) out[o + d] = src[base + d * s3];
      }
    }
  }
}

function gatherF16(src: Uint16Array, op: Operand, [n0, n1, n2, n3]: readonly number[], out: Float32Array): void {
  const [s0, s1, s2, s3] = op.strides;
  let o = 0;
  for (let a = 0; a < n0; a++) {
    for (let b = 0; b < n1; b++) {
      for (let c = 0; c < n2; c++, o += n3) {
        const base = op.offset + a * s0 + b * s1 + c * s2;
        for (let d = 0; d < n3; d++) out[o + d] = f16BitsToNumber(src[base + d * s3]);
      }
    }
  }
}

/** Any other dtype (the ops pass float32 or float16; kept for completeness), through its reader. */
function gatherAny(src: HostArray, op: Operand, [n0, n1, n2, n3]: readonly number[], out: Float32Array): void {
  const [s0, s1, s2, s3] = op.strides;
  const read = hostReader(src, op.dtype, 'f32');
  let o = 0;
  for (let a = 0; a < n0; a++) {
    for (let b = 0; b < n1; b++) {
      for (let c = 0; c < n2; c++) {
        const base = op.offset + a * s0 + b * s1 + c * s2;
        for (let d = 0; d < n3; d++) out[o++] = read(base + d * s3);
      }
    }
  }
}

export function hostCaptures(spec: AttentionSpec): Map<string, HostCapture> {
  return new Map(spec.captures.map((c) => [c.name, { data: (c.storage as CpuStorage).data as Float32Array, shape: c.shape }]));
}

/** The mask operand and the flex modifications as one function, or null when there are none. */
export function scoreFunction(spec: AttentionSpec): HostScoreFn | null {
  const caps = hostCaptures(spec);
  const scoreMod: ModFn | null = spec.scoreMod ? compileJs(spec.scoreMod, caps) : null;
  const maskMod: ModFn | null = spec.maskMod ? compileJs(spec.maskMod, caps) : null;
  let mask: ((b: number, h: number, i: number, j: number) => number) | null = null;
  if (spec.mask) {
    const { operand } = spec.mask;
    const read = hostReader((operand.storage as CpuStorage).data, operand.dtype, 'f32');
    const [sb, sh, si, sj] = operand.strides;
    const off = operand.offset;
    mask = (b, h, i, j) => read(off + b * sb + h * sh + i * si + j * sj);
  }
  const boolMask = spec.mask?.kind === 'bool';
  if (!scoreMod && !maskMod && !mask) return null;
  return (s, b, h, i, j, full) => {
    if (mask) {
      const mv = mask(b, h, i, j);
      if (boolMask) {
        if (mv === 0) return MASKED_SCORE;
      } else s += mv;
    }
    if (scoreMod) s = scoreMod(s, b, h, i, j);
    if (maskMod && !full && !maskMod(s, b, h, i, j)) return MASKED_SCORE;
    return s;
  };
}

export function hostBlocks(spec: AttentionSpec): HostBlocks | null {
  const bm = spec.blockMask;
  if (!bm) return null;
  const read = hostReader((bm.flags.storage as CpuStorage).data, bm.flags.dtype, 'i32');
  const [sb, sh, sq, sk] = bm.flags.strides;
  const off = bm.flags.offset;
  return { blockSize: bm.blockSize, flag: (b, h, qb, kb) => read(off + b * sb + h * sh + qb * sq + kb * sk) };
}
