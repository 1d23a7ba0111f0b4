import type { QuantWeight } from '../backend.js';
import { f16BitsToNumber, numberToF16Bits } from '../../tensor/dtype.js';
import { roundHalfEven } from '../scalar_math.js';
import type { CpuStorage } from './storage.js';

/**
 * The TypeScript twin of native/compute/qgemm_gguf_q8.cc: a GGUF q4_0 / q4_1 / q8_0 linear as
 * llama.cpp's CPU backend computes it (the idea and the order of operations are ggml's
 * quantize_row_q8_0/q8_1 and ggml_vec_dot_*_q8_*). Each 32-value block of an activation row
 * becomes int8 values q = round-half-even(float32(x * id)), id = 127 / amax, with the scale
 * float16(amax / 127) and (q4_1) s = float16(float32(d * sum q)); a dot product keeps 8 float32
 * lanes (lane j: the 4 integer products of elements 4j..4j+3), each block adds
 * fma(float32(dw * da), lane) to them, and the lanes are summed in ggml's hsum order (+ the
 * q4_1 minimum's sum of fma(m, s)). Every float32 step is emulated exactly (fmaF32), so the result
 * equals the native kernel's and llama.cpp's bit for bit. A block holding NaN or +-inf gives NaN.
 * q8_0 and q4_0 with Q8_WIDE_MIN_ROWS or more activation rows take the native wide kernel's order instead
 * (native/compute/qgemm_gguf_q8_wide.cc): one chain per output, acc = fma(float32(dw * da), the
 * block's integer product, acc).
 */
/** native/compute/qgemm_gguf_q8_wide.h kQ8WideMinRows: the rows from which q8_0 / q4_0 take the wide kernel. */
export const Q8_WIDE_MIN_ROWS = 16;

export function ggufQ8Supported(format: string): boolean {
  return format === 'q4_0' || format === 'q4_1' || format === 'q8_0';
}

const f32b = new Float32Array(1);
const i32b = new Int32Array(f32b.buffer);

/** The float32 next to r (itself a float32) away from zero in direction dir (+1 / -1). */
function neighbor32(r: number, dir: number): number {
  if (r === 0) return dir * 2 ** -149;
  f32b[0] = r;
  i32b[0] += r > 0 === dir > 0 ? 1 : -1;
  return f32b[0];
}

/** float32(a * b + c) rounded once (a, b, c float32): the product is exact in float64, the sum's error is kept. */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bv = s - p;
  const e = p - (s - bv) + (c - bv);
  const r = Math.fround(s);
  if (e === 0 || r === s || !Number.isFinite(s)) return r;
  // s rounded to float64 may sit exactly halfway between two float32s; the error says which side
  // the true sum is on.
  const away = neighbor32(r, s > r ? 1 : -1);
  if (s - r === (away - r) / 2) return e * (s - r) > 0 ? away : r;
  return r;
}

/** Activation row blocks as int8 values, float16 scales and (q4_1) float16 block sums. */
function quantizeRows(rows: Float64Array, m: number, k: number): { q: Int8Array; d: Float64Array; s: Float64Array } {
  const blocks = k / 32;
  const q = new Int8Array(m * k);
  const d = new Float64Array(m * blocks);
  const s = new Float64Array(m * blocks);
  for (let i = 0; i < m * blocks; i++) {
    const x = rows.subarray(i * 32, i * 32 + 32);
    let amax = 0;
    let finite = true;
    for (const v of x) {
      if (!Number.isFinite(v)) finite = false;
      amax = Math.max(amax, Math.abs(v));
    }
    if (!finite) {
      d[i] = NaN;
      s[i] = NaN;
      continue;
    }
    const df = Math.fround(amax / 127);
    const id = amax !== 0 ? Math.fround(127 / amax) : 0;
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const v = roundHalfEven(Math.fround(x[j] * id));
      q[i * 32 + j] = v;
      sum += v;
    }
    d[i] = f16BitsToNumber(numberToF16Bits(df));
    s[i] = f16BitsToNumber(numberToF16Bits(Math.fround(df * sum)));
  }
  return { q, d, s };
}

/** out[i * n + j] = activation row i (rows: float32 values) times weight row j, llama.cpp's arithmetic. */
export function ggufQ8Products(rows: Float64Array, m: number, k: number, w: QuantWeight): Float64Array {
  const { n } = w;
  const blocks = k / 32;
  const fmt = w.format;
  const qw = (w.q as CpuStorage).data as Uint32Array;
  const qb = new Uint8Array(qw.buffer, qw.byteOffset, qw.byteLength);
  const sc = (w.scales as CpuStorage).data as Uint16Array;
  const qBytes = fmt === 'q8_0' ? 32 : 16;
  const per = fmt === 'q4_1' ? 2 : 1;
  const off = fmt === 'q4_0' ? 8 : 0;
  const a = quantizeRows(rows, m, k);
  const out = new Float64Array(m * n);
  const wi = new Int32Array(32);
  const acc = new Float64Array(8);
  const wide = (fmt === 'q8_0' || fmt === 'q4_0') && m >= Q8_WIDE_MIN_ROWS;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      let summs = 0;
      for (let b = 0; b < blocks; b++) {
        const at = (j * blocks + b) * qBytes;
        if (fmt === 'q8_0') for (let t = 0; t < 32; t++) wi[t] = (qb[at + t] << 24) >> 24;
        else
          for (let t = 0; t < 16; t++) {
            wi[t] = (qb[at + t] & 15) - off;
            wi[t + 16] = (qb[at + t] >> 4) - off;
          }
        const qa = (i * blocks + b) * 32;
        const scale = Math.fround(f16BitsToNumber(sc[(j * blocks + b) * per]) * a.d[i * blocks + b]);
        if (wide) {
          let dot = 0;
          for (let t = 0; t < 32; t++) dot += wi[t] * a.q[qa + t];
          acc[0] = fmaF32(scale, dot, acc[0]);
          continue;
        }
        for (let l = 0; l < 8; l++) {
          let lane = 0;
          for (let t = 4 * l; t < 4 * l + 4; t++) lane += wi[t] * a.q[qa + t];
          acc[l] = fmaF32(scale, lane, acc[l]);
        }
        if (per === 2) summs = fmaF32(f16BitsToNumber(sc[(j * blocks + b) * 2 + 1]), a.s[i * blocks + b], summs);
      }
      if (wide) {
        out[i * n + j] = acc[0];
        continue;
      }
      const f = Math.fround;
      const t0 = f(acc[0] + acc[4]);
      const t1 = f(acc[1] + acc[5]);
      const t2 = f(acc[2] + acc[6]);
      const t3 = f(acc[3] + acc[7]);
      let v = f(f(t0 + t2) + f(t1 + t3));
      if (per === 2) v = f(v + summs);
      out[i * n + j] = v;
    }
  }
  return out;
}
