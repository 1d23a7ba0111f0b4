import { XpuDTypeError, XpuShapeError } from '../errors.js';
import { ggmlTypeById, ggmlTypeByName, QK_K, type GgmlTypeInfo } from './gguf_types.js';

/**
 * GGUF weight formats decoded to float32 exactly as ggml's reference dequantizers do
 * (dequantize_row_* in ggml-org/ggml src/ggml-quants.c; the block layouts are the structs in
 * ggml-common.h). The layouts below are re-derived from those definitions; the code is ours.
 *
 * Exactness: every product ggml forms before its last operation (f16 scale x small integer
 * sub-scale x quant) fits a float32 significand (at most 11 + 7 + 5 = 23 bits), so ggml's float
 * arithmetic is exact up to one final rounding (of `a*q - m`, or of `a*q` alone), whether or not
 * its compiler fused a multiply-add. Here the same value is formed exactly in float64 (the operands
 * span < 53 bits) and rounded once when stored into the Float32Array: bit-identical results.
 *
 * Byte order: GGUF data is little-endian; blocks are read byte by byte, so the host order does not
 * matter.
 */

/** The float32 value of every float16 bit pattern (256 KiB, built on first use). */
let f16Table: Float32Array | undefined;
export function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0)
      t[h] = sign * frac * 2 ** -24; // zero and subnormals
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1024 + frac) * 2 ** (exp - 25);
  }
  return (f16Table = t);
}

type BlockDecoder = (src: Uint8Array, at: number, dst: Float32Array, out: number, f16: Float32Array) => void;

const half = (src: Uint8Array, at: number, f16: Float32Array): number => f16[src[at] | (src[at + 1] << 8)];

// --- 32-weight blocks -----------------------------------------------------------------------------
// Nibble layout shared by Q4/Q5: byte j holds weight j (low nibble) and weight j + 16 (high).

/** Q4_0 (18 bytes): f16 d, 16 bytes of nibbles; w = d * (q - 8). */
const q4_0: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a, f16);
  for (let j = 0; j < 16; j++) {
    const b = s[a + 2 + j];
    y[o + j] = ((b & 15) - 8) * d;
    y[o + j + 16] = ((b >> 4) - 8) * d;
  }
};

/** Q4_1 (20 bytes): f16 d, f16 m, nibbles; w = d * q + m (m is a float offset, not a zero point). */
const q4_1: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a, f16);
  const m = half(s, a + 2, f16);
  for (let j = 0; j < 16; j++) {
    const b = s[a + 4 + j];
    y[o + j] = (b & 15) * d + m;
    y[o + j + 16] = (b >> 4) * d + m;
  }
};

/** The 32 fifth bits of a Q5 block: a little-endian u32, bit j for weight j. */
const u32le = (s: Uint8Array, at: number): number => (s[at] | (s[at + 1] << 8) | (s[at + 2] << 16) | (s[at + 3] << 24)) >>> 0;

/** Q5_0 (22 bytes): f16 d, u32 high bits, nibbles; w = d * (q - 16), q in [0, 31]. */
const q5_0: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a, f16);
  const qh = u32le(s, a + 2);
  for (let j = 0; j < 16; j++) {
    const b = s[a + 6 + j];
    y[o + j] = (((b & 15) | (((qh >>> j) & 1) << 4)) - 16) * d;
    y[o + j + 16] = (((b >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
  }
};

/** Q5_1 (24 bytes): f16 d, f16 m, u32 high bits, nibbles; w = d * q + m. */
const q5_1: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a, f16);
  const m = half(s, a + 2, f16);
  const qh = u32le(s, a + 4);
  for (let j = 0; j < 16; j++) {
    const b = s[a + 8 + j];
    y[o + j] = ((b & 15) | (((qh >>> j) & 1) << 4)) * d + m;
    y[o + j + 16] = ((b >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
  }
};

/** Q8_0 (34 bytes): f16 d, 32 int8; w = d * q. */
const q8_0: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a, f16);
  for (let j = 0; j < 32; j++) y[o + j] = ((s[a + 2 + j] << 24) >> 24) * d;
};

// --- 256-weight K-quant super-blocks ------------------------------------------------------------

/**
 * Q2_K (84 bytes): scales[16] (low nibble: scale, high: min, per 16 weights), qs[64] (2 bits a
 * weight), f16 d, f16 dmin. Output in 2 halves of 128: half n reads qs[32n .. 32n+31]; within it,
 * shift 0,2,4,6 picks the 2-bit plane and each plane covers 32 weights as two 16-weight groups
 * (qs bytes 0..15 then 16..31), each group with the next scale byte. w = d*sc*q - dmin*mn.
 */
const q2_K: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a + 80, f16);
  const dmin = half(s, a + 82, f16);
  let is = 0;
  for (let n = 0; n < 2; n++) {
    const q = a + 16 + 32 * n;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let g = 0; g < 2; g++) {
        const sc = s[a + is++];
        const dl = d * (sc & 15);
        const ml = dmin * (sc >> 4);
        for (let l = 0; l < 16; l++) y[o++] = dl * ((s[q + 16 * g + l] >> shift) & 3) - ml;
      }
    }
  }
};

/**
 * Q3_K's 16 six-bit scales from its 12 scale bytes: scale j takes its low 4 bits from byte j
 * (j < 8, low nibble) or byte j - 8 (high nibble), and its top 2 bits from byte 8 + j % 4 at bit
 * 2 * floor(j / 4); the stored value is biased by 32.
 */
function q3kScale(s: Uint8Array, sc: number, j: number): number {
  const low = j < 8 ? s[sc + j] & 15 : s[sc + j - 8] >> 4;
  const high = (s[sc + 8 + (j & 3)] >> (2 * (j >> 2))) & 3;
  return (low | (high << 4)) - 32;
}

/**
 * Q3_K (110 bytes): hmask[32] (the third bit, one bit plane per 32-weight run), qs[64] (low 2
 * bits), scales[12] (16 six-bit scales), f16 d. Same walk as Q2_K; a weight whose hmask bit is
 * clear has 4 subtracted: w = d * scale * (q - (h ? 0 : 4)).
 */
const q3_K: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a + 108, f16);
  const hm = a;
  const sc = a + 96;
  let is = 0;
  let m = 1;
  for (let n = 0; n < 2; n++) {
    const q = a + 32 + 32 * n;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let g = 0; g < 2; g++) {
        const dl = d * q3kScale(s, sc, is++);
        for (let l = 0; l < 16; l++) {
          const k = 16 * g + l;
          y[o++] = dl * (((s[q + k] >> shift) & 3) - (s[hm + k] & m ? 0 : 4));
        }
      }
      m <<= 1;
    }
  }
};

/**
 * The 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K from their 12 scale bytes
 * (get_scale_min_k4 in ggml): for j < 4, scale = b[j] & 63 and min = b[j+4] & 63; for j >= 4 the
 * low 4 bits come from b[j+4] (scale: low nibble, min: high nibble) and the top 2 bits from the
 * spare top bits of b[j-4] (scale) and b[j] (min).
 */
function scaleMinK4(s: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [s[at + j] & 63, s[at + j + 4] & 63];
  return [(s[at + j + 4] & 15) | ((s[at + j - 4] >> 6) << 4), (s[at + j + 4] >> 4) | ((s[at + j] >> 6) << 4)];
}

/**
 * Q4_K (144 bytes): f16 d, f16 dmin, scales[12], qs[128]. Four 64-weight runs; run r reads
 * qs[32r .. 32r+31]: low nibbles are weights 0..31 of the run (sub-block 2r), high nibbles
 * weights 32..63 (sub-block 2r+1). w = d*sc*q - dmin*m.
 */
const q4_K: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a, f16);
  const dmin = half(s, a + 2, f16);
  for (let r = 0; r < 4; r++) {
    const q = a + 16 + 32 * r;
    const [sc1, m1] = scaleMinK4(s, a + 4, 2 * r);
    const [sc2, m2] = scaleMinK4(s, a + 4, 2 * r + 1);
    const d1 = d * sc1,
      mn1 = dmin * m1,
      d2 = d * sc2,
      mn2 = dmin * m2;
    for (let l = 0; l < 32; l++) y[o + l] = d1 * (s[q + l] & 15) - mn1;
    for (let l = 0; l < 32; l++) y[o + 32 + l] = d2 * (s[q + l] >> 4) - mn2;
    o += 64;
  }
};

/**
 * Q5_K (176 bytes): f16 d, f16 dmin, scales[12], qh[32], qs[128]. As Q4_K, plus a fifth bit from
 * qh[l]: bit 2r for the run's low-nibble weights, bit 2r+1 for its high-nibble weights.
 */
const q5_K: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a, f16);
  const dmin = half(s, a + 2, f16);
  const qh = a + 16;
  for (let r = 0; r < 4; r++) {
    const q = a + 48 + 32 * r;
    const [sc1, m1] = scaleMinK4(s, a + 4, 2 * r);
    const [sc2, m2] = scaleMinK4(s, a + 4, 2 * r + 1);
    const d1 = d * sc1,
      mn1 = dmin * m1,
      d2 = d * sc2,
      mn2 = dmin * m2;
    for (let l = 0; l < 32; l++) y[o + l] = d1 * ((s[q + l] & 15) | (((s[qh + l] >> (2 * r)) & 1) << 4)) - mn1;
    for (let l = 0; l < 32; l++) y[o + 32 + l] = d2 * ((s[q + l] >> 4) | (((s[qh + l] >> (2 * r + 1)) & 1) << 4)) - mn2;
    o += 64;
  }
};

/**
 * Q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (top 2 bits), int8 scales[16] (one per 16
 * weights), f16 d. Two halves of 128 weights; half n uses ql[64n..], qh[32n..], scales[8n..].
 * Within a half, for l in 0..31: weight l = ql[l] low | qh[l] bits 0-1, weight 32+l = ql[32+l]
 * low | bits 2-3, 64+l = ql[l] high | bits 4-5, 96+l = ql[32+l] high | bits 6-7; each minus 32.
 * w = d * scale * q, the scale of weight i of the half being scales[8n + i / 16].
 */
const q6_K: BlockDecoder = (s, a, y, o, f16) => {
  const d = half(s, a + 208, f16);
  for (let n = 0; n < 2; n++) {
    const ql = a + 64 * n;
    const qh = a + 128 + 32 * n;
    const sc = a + 192 + 8 * n;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = s[qh + l];
      const q1 = ((s[ql + l] & 15) | ((h & 3) << 4)) - 32;
      const q2 = ((s[ql + l + 32] & 15) | (((h >> 2) & 3) << 4)) - 32;
      const q3 = ((s[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
      const q4 = ((s[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
      y[o + l] = d * ((s[sc + is] << 24) >> 24) * q1;
      y[o + l + 32] = d * ((s[sc + is + 2] << 24) >> 24) * q2;
      y[o + l + 64] = d * ((s[sc + is + 4] << 24) >> 24) * q3;
      y[o + l + 96] = d * ((s[sc + is + 6] << 24) >> 24) * q4;
    }
    o += 128;
  }
};

const BLOCK_DECODERS: Record<string, BlockDecoder> = {
  Q4_0: q4_0,
  Q4_1: q4_1,
  Q5_0: q5_0,
  Q5_1: q5_1,
  Q8_0: q8_0,
  Q2_K: q2_K,
  Q3_K: q3_K,
  Q4_K: q4_K,
  Q5_K: q5_K,
  Q6_K: q6_K,
};

/** Plain float types, element by element. */
function decodeScalar(name: string, src: Uint8Array, n: number, dst: Float32Array): void {
  switch (name) {
    case 'F32':
      // Through bytes, so an unaligned source slice works too.
      new Uint8Array(dst.buffer, dst.byteOffset, n * 4).set(src.subarray(0, n * 4));
      return;
    case 'F16': {
      const f16 = f16ToF32Table();
      for (let i = 0; i < n; i++) dst[i] = f16[src[2 * i] | (src[2 * i + 1] << 8)];
      return;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = ((src[2 * i] | (src[2 * i + 1] << 8)) << 16) >>> 0;
      return;
    }
    case 'F64': {
      const dv = new DataView(src.buffer, src.byteOffset, n * 8);
      for (let i = 0; i < n; i++) dst[i] = dv.getFloat64(8 * i, true);
      return;
    }
  }
}

const SCALAR = new Set(['F32', 'F16', 'BF16', 'F64']);

/** The GGUF types dequantizeGguf decodes. */
export const DEQUANTIZABLE_GGML_TYPES: readonly string[] = [...SCALAR, ...Object.keys(BLOCK_DECODERS)];

export function canDequantize(type: GgmlTypeInfo | string): boolean {
  const name = typeof type === 'string' ? type : type.name;
  return SCALAR.has(name) || Object.hasOwn(BLOCK_DECODERS, name);
}

/** Bytes that `count` weights of `type` take (count must be a whole number of blocks). */
export function ggmlByteSize(type: GgmlTypeInfo, count: number): number {
  return (count / type.blockSize) * type.typeSize;
}

/**
 * Decodes `count` weights of a GGUF type from `bytes` (exactly the bytes they take) into float32,
 * into `out` when given (its first `count` elements) or a fresh array.
 */
export function dequantizeGguf(type: GgmlTypeInfo | string | number, bytes: Uint8Array, count: number, out?: Float32Array): Float32Array {
  const op = 'dequantizeGguf';
  const t = typeof type === 'object' ? type : typeof type === 'number' ? ggmlTypeById(type) : ggmlTypeByName(type);
  if (!t || !canDequantize(t)) {
    throw new XpuDTypeError('GGUF type is not supported for dequantization', {
      op,
      arg: 'type',
      expected: DEQUANTIZABLE_GGML_TYPES.join(', '),
      got: String(typeof type === 'object' ? type.name : type),
    });
  }
  if (!Number.isSafeInteger(count) || count < 0 || count % t.blockSize !== 0) {
    throw new XpuShapeError(`the weight count must be a whole number of ${t.name} blocks`, {
      op,
      arg: 'count',
      expected: `a multiple of ${t.blockSize}`,
      got: String(count),
    });
  }
  const need = ggmlByteSize(t, count);
  if (bytes.length !== need)
    throw new XpuShapeError(`${t.name} data has the wrong byte length`, {
      op,
      arg: 'bytes',
      expected: `${need} bytes for ${count} weights`,
      got: `${bytes.length}`,
    });
  const dst = out ?? new Float32Array(count);
  if (dst.length < count)
    throw new XpuShapeError('output array is too short', { op, arg: 'out', expected: `>= ${count} elements`, got: `${dst.length}` });
  if (SCALAR.has(t.name)) {
    decodeScalar(t.name, bytes, count, dst);
    return dst;
  }
  const decode = BLOCK_DECODERS[t.name];
  const f16 = f16ToF32Table();
  const blocks = count / t.blockSize;
  for (let b = 0; b < blocks; b++) decode(bytes, b * t.typeSize, dst, b * t.blockSize, f16);
  return dst;
}

export { QK_K };
