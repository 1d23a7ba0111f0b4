import { XpuDTypeError, XpuShapeError } from '../errors.js';
import type { DType } from '../tensor/dtype.js';
import { dequantizeGguf } from './gguf_dequant.js';
import { ggmlTypeByName, type GgmlTypeInfo } from './gguf_types.js';

/**
 * GGUF block formats as weight formats of the quantized linear: a Linear weight [N, K] keeps the
 * values of its GGUF blocks, and the kernels (cpu: native/compute/qgemm_gguf.cc and the
 * TypeScript twin; xpu: src/backends/webgpu/qgemm_gguf.ts) decode them in registers.
 *
 * Storage: ggml's blocks are 18 (Q4_0), 20 (Q4_1), 34 (Q8_0) or 210 (Q6_K) bytes, so most of them
 * start off a 4-byte boundary, and a GPU storage buffer is read in u32 words. Each block is split
 * into two planes, row by row, keeping every byte's value (this is a move, not a re-quantization;
 * `toGgufBytes` puts the original bytes back):
 *
 *   format  q plane (uint32, per block)           scale plane (per block)
 *   q4_0    16 bytes: the nibbles as stored        float16 d                       (dtype float16)
 *   q4_1    16 bytes: the nibbles                  float16 d, float16 m            (dtype float16)
 *   q8_0    32 bytes: the int8 values              float16 d                       (dtype float16)
 *   q4_k    128 bytes: qs                          16 bytes: d, dmin, scales[12]   (dtype uint32)
 *   q6_k    192 bytes: ql[128], qh[64]             20 bytes: scales[16], d, 2 zero (dtype uint32)
 *
 * Row n's blocks are consecutive in both planes, so a row of the q plane is 16-byte aligned and
 * can be loaded as vec4<u32> / 16-byte vectors. The values are ggml's (gguf_dequant.ts):
 *   q4_0: w = d * (q - 8);   q4_1: w = d * q + m;   q8_0: w = d * q;
 *   q4_k: sub-block j of 32: w = d * sc_j * q - dmin * m_j (6-bit sc/m, get_scale_min_k4);
 *   q6_k: 16-weight groups: w = d * scale_g * (q - 32), q 6 bits (4 from ql, 2 from qh).
 */

export type GgufWeightFormat = 'q4_0' | 'q4_1' | 'q8_0' | 'q4_k' | 'q6_k';
export const GGUF_WEIGHT_FORMATS: readonly GgufWeightFormat[] = ['q4_0', 'q4_1', 'q8_0', 'q4_k', 'q6_k'];

export interface GgufFormatInfo {
  format: GgufWeightFormat;
  /** ggml's name of the type ('Q4_1'). */
  ggml: string;
  /** Weights per block (32, or 256 for the K-quants). */
  block: number;
  /** Bytes per block in ggml's layout. */
  typeSize: number;
  /** u32 words of the q plane per block. */
  qWords: number;
  /** Bytes of the scale plane per block (its dtype below). */
  scaleBytes: number;
  scaleDtype: 'float16' | 'uint32';
  /** [offset, length] of the block's bytes that go to the q plane, and to the scale plane (one span each). */
  qSpans: readonly [readonly [number, number]];
  sSpans: readonly [readonly [number, number]];
}

const INFO: Record<GgufWeightFormat, GgufFormatInfo> = {
  q4_0: {
    format: 'q4_0',
    ggml: 'Q4_0',
    block: 32,
    typeSize: 18,
    qWords: 4,
    scaleBytes: 2,
    scaleDtype: 'float16',
    qSpans: [[2, 16]],
    sSpans: [[0, 2]],
  },
  q4_1: {
    format: 'q4_1',
    ggml: 'Q4_1',
    block: 32,
    typeSize: 20,
    qWords: 4,
    scaleBytes: 4,
    scaleDtype: 'float16',
    qSpans: [[4, 16]],
    sSpans: [[0, 4]],
  },
  q8_0: {
    format: 'q8_0',
    ggml: 'Q8_0',
    block: 32,
    typeSize: 34,
    qWords: 8,
    scaleBytes: 2,
    scaleDtype: 'float16',
    qSpans: [[2, 32]],
    sSpans: [[0, 2]],
  },
  q4_k: {
    format: 'q4_k',
    ggml: 'Q4_K',
    block: 256,
    typeSize: 144,
    qWords: 32,
    scaleBytes: 16,
    scaleDtype: 'uint32',
    qSpans: [[16, 128]],
    sSpans: [[0, 16]],
  },
  // Q6_K's scale plane gets 2 zero bytes after d: 20 bytes, whole words.
  q6_k: {
    format: 'q6_k',
    ggml: 'Q6_K',
    block: 256,
    typeSize: 210,
    qWords: 48,
    scaleBytes: 20,
    scaleDtype: 'uint32',
    qSpans: [[0, 192]],
    sSpans: [[192, 18]],
  },
};

export function isGgufWeightFormat(x: unknown): x is GgufWeightFormat {
  return typeof x === 'string' && Object.hasOwn(INFO, x);
}

export function ggufFormatInfo(f: GgufWeightFormat): GgufFormatInfo {
  return INFO[f];
}

/** The weight format of a ggml type ('Q4_1' -> 'q4_1'), or undefined when no kernel reads it in place. */
export function ggufWeightFormatOf(type: GgmlTypeInfo | string): GgufWeightFormat | undefined {
  const name = typeof type === 'string' ? type : type.name;
  return GGUF_WEIGHT_FORMATS.find((f) => INFO[f].ggml === name);
}

/** The planes of a [N, K] weight: the q plane's u32 words and the scale plane's bytes. */
export interface GgufPlanes {
  q: Uint32Array;
  /** float16 bits (q4_0, q4_1, q8_0) or u32 words (q4_k, q6_k). */
  scales: Uint16Array | Uint32Array;
  qShape: [number, number];
  scaleShape: [number, number];
  scaleDtype: DType;
}

function checkShape(op: string, info: GgufFormatInfo, n: number, k: number): void {
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(k) || n < 1 || k < 1 || k % info.block !== 0) {
    throw new XpuShapeError(`a ${info.ggml} weight's rows are whole blocks`, {
      op,
      arg: 'shape',
      expected: `[N >= 1, K a multiple of ${info.block}]`,
      got: `[${n}, ${k}]`,
    });
  }
}

/**
 * Splits ggml blocks (`bytes`: N rows of K / block blocks, as a GGUF tensor stores a [N, K]
 * weight) into the two planes, optionally taking the rows in the order `rowOrder` (row i of the
 * result is row rowOrder[i] of the file; how q/k rows are un-permuted at load).
 */
export function toGgufPlanes(format: GgufWeightFormat, bytes: Uint8Array, n: number, k: number, rowOrder?: ArrayLike<number>): GgufPlanes {
  const op = 'toGgufPlanes';
  const info = INFO[format];
  checkShape(op, info, n, k);
  const blocks = k / info.block;
  const rowBytes = blocks * info.typeSize;
  if (bytes.length !== n * rowBytes)
    throw new XpuShapeError(`${info.ggml} data has the wrong byte length`, {
      op,
      arg: 'bytes',
      expected: `${n * rowBytes} bytes for [${n}, ${k}]`,
      got: `${bytes.length}`,
    });
  if (rowOrder && rowOrder.length !== n)
    throw new XpuShapeError('rowOrder must name every row', { op, arg: 'rowOrder', expected: `${n} rows`, got: `${rowOrder.length}` });
  const qBytes = new Uint8Array(n * blocks * info.qWords * 4);
  const sBytes = new Uint8Array(n * blocks * info.scaleBytes); // zero-filled: Q6_K's pad stays 0
  // Plain byte loops: a typed-array set() per span cost ~1 s for SmolLM2's 3.3M blocks at load.
  const [[qOff, qLen]] = info.qSpans;
  const [[sOff, sLen]] = info.sSpans;
  const ts = info.typeSize;
  const sb = info.scaleBytes;
  let qo = 0;
  for (let i = 0; i < n; i++) {
    const src = rowOrder ? rowOrder[i] : i;
    if (!Number.isInteger(src) || src < 0 || src >= n)
      throw new XpuShapeError('rowOrder holds a row outside the weight', {
        op,
        arg: 'rowOrder',
        expected: `integers in [0, ${n})`,
        got: String(src),
      });
    let at = src * rowBytes;
    let so = i * blocks * sb;
    for (let b = 0; b < blocks; b++, at += ts, so += sb) {
      for (let j = 0, a = at + qOff; j < qLen; j++) qBytes[qo++] = bytes[a + j];
      for (let j = 0, a = at + sOff; j < sLen; j++) sBytes[so + j] = bytes[a + j];
    }
  }
  const q = new Uint32Array(qBytes.buffer);
  if (!littleEndian()) byteSwap32(q);
  const scales = info.scaleDtype === 'float16' ? new Uint16Array(sBytes.buffer) : new Uint32Array(sBytes.buffer);
  if (!littleEndian()) (scales instanceof Uint16Array ? byteSwap16 : byteSwap32)(scales as never);
  return {
    q,
    scales,
    qShape: [n, blocks * info.qWords],
    scaleShape: [n, (blocks * info.scaleBytes) / (info.scaleDtype === 'float16' ? 2 : 4)],
    scaleDtype: info.scaleDtype,
  };
}

/** ggml's bytes of rows [r0, r1) back from the planes (the inverse of toGgufPlanes without rowOrder). */
export function toGgufBytes(
  format: GgufWeightFormat,
  q: Uint32Array,
  scales: Uint16Array | Uint32Array,
  k: number,
  r0: number,
  r1: number,
): Uint8Array {
  const info = INFO[format];
  const blocks = k / info.block;
  const out = new Uint8Array((r1 - r0) * blocks * info.typeSize);
  const qb = bytesOf(q);
  const sb = bytesOf(scales);
  for (let i = r0; i < r1; i++) {
    for (let b = 0; b < blocks; b++) {
      const at = ((i - r0) * blocks + b) * info.typeSize;
      let qo = (i * blocks + b) * info.qWords * 4;
      for (const [off, len] of info.qSpans) {
        out.set(qb.subarray(qo, qo + len), at + off);
        qo += len;
      }
      let so = (i * blocks + b) * info.scaleBytes;
      for (const [off, len] of info.sSpans) {
        out.set(sb.subarray(so, so + len), at + off);
        so += len;
      }
    }
  }
  return out;
}

/** Rows [r0, r1) of the weight as float32, exactly ggml's values (through the verified dequantizers). */
export function dequantizeGgufPlanes(
  format: GgufWeightFormat,
  q: Uint32Array,
  scales: Uint16Array | Uint32Array,
  k: number,
  r0: number,
  r1: number,
  out?: Float32Array,
): Float32Array {
  const info = INFO[format];
  const t = ggmlTypeByName(info.ggml);
  if (!t)
    throw new XpuDTypeError('unknown ggml type', {
      op: 'dequantizeGgufPlanes',
      arg: 'format',
      expected: GGUF_WEIGHT_FORMATS.join(', '),
      got: format,
    });
  return dequantizeGguf(t, toGgufBytes(format, q, scales, k, r0, r1), (r1 - r0) * k, out);
}

let le: boolean | undefined;
function littleEndian(): boolean {
  return (le ??= new Uint8Array(new Uint16Array([1]).buffer)[0] === 1);
}
function bytesOf(a: Uint16Array | Uint32Array): Uint8Array {
  if (littleEndian()) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const c = a.slice();
  (c instanceof Uint16Array ? byteSwap16 : byteSwap32)(c as never);
  return new Uint8Array(c.buffer);
}
function byteSwap32(a: Uint32Array): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    a[i] = (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
  }
}
function byteSwap16(a: Uint16Array): void {
  for (let i = 0; i < a.length; i++) a[i] = ((a[i] & 0xff) << 8) | (a[i] >> 8);
}
