import { XpuShapeError, XpuValueError } from '../errors.js';
import { int8RowStride } from './formats.js';

/**
 * Host-side pack and unpack of the kernel layouts (the layouts themselves are documented in
 * docs/quantization.md):
 *
 * int4: uint32 [N, K / 8]. Word j of row n holds k = 8j .. 8j+7. Byte b (0..3, little-endian)
 * of the word holds q[8j + b] in its low nibble and q[8j + 4 + b] in its high nibble, so
 * `w & 0x0f0f0f0f` unpacks to the 4 values k .. k+3 and `(w >> 4) & 0x0f0f0f0f` to k+4 .. k+7:
 * one mask and one unpack4xU8 per 4 weights in the kernel, no shuffles (the MatMulNBits byte
 * order, low nibble = even k, would need one).
 *
 * int8: int8 [N, rowStride], rowStride = K rounded up to 32, padded with zeros.
 */

/** Packs q[n * k + i] (each in [0, 15]) into the int4 layout. */
export function packInt4(q: ArrayLike<number>, n: number, k: number): Uint32Array {
  if (k % 8 !== 0)
    throw new XpuShapeError('int4 packing needs K to be a multiple of 8', {
      op: 'packInt4',
      arg: 'k',
      expected: 'a multiple of 8',
      got: String(k),
    });
  if (q.length !== n * k)
    throw new XpuShapeError('wrong number of values', { op: 'packInt4', arg: 'q', expected: `${n * k} (N x K)`, got: String(q.length) });
  const words = new Uint32Array((n * k) / 8);
  for (let w = 0; w < words.length; w++) {
    let v = 0;
    for (let b = 0; b < 4; b++) {
      const lo = q[8 * w + b];
      const hi = q[8 * w + 4 + b];
      if (!(lo >= 0 && lo <= 15 && hi >= 0 && hi <= 15) || lo % 1 !== 0 || hi % 1 !== 0) {
        throw new XpuValueError('int4 values must be integers in [0, 15]', {
          op: 'packInt4',
          arg: 'q',
          expected: '0..15',
          got: `${lo % 1 !== 0 || !(lo >= 0 && lo <= 15) ? lo : hi} at ${8 * w + b}`,
        });
      }
      v |= (lo | (hi << 4)) << (8 * b);
    }
    words[w] = v >>> 0;
  }
  return words;
}

/** The inverse of packInt4: q[n * k + i] in [0, 15]. */
export function unpackInt4(words: ArrayLike<number>, n: number, k: number): Uint8Array {
  const q = new Uint8Array(n * k);
  for (let w = 0; w < (n * k) / 8; w++) {
    const v = words[w] >>> 0;
    for (let b = 0; b < 4; b++) {
      const byte = (v >>> (8 * b)) & 0xff;
      q[8 * w + b] = byte & 0xf;
      q[8 * w + 4 + b] = byte >>> 4;
    }
  }
  return q;
}

/** q[n * k + i] (in [-127, 127]) into the padded int8 layout [N, rowStride(K)]. */
export function padInt8Rows(q: ArrayLike<number>, n: number, k: number): Int8Array {
  const stride = int8RowStride(k);
  const out = new Int8Array(n * stride);
  for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) out[r * stride + i] = q[r * k + i];
  return out;
}

/** The inverse of padInt8Rows. */
export function unpadInt8Rows(q: ArrayLike<number>, n: number, k: number): Int8Array {
  const stride = int8RowStride(k);
  const out = new Int8Array(n * k);
  for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) out[r * k + i] = q[r * stride + i];
  return out;
}
