import type { DeviceLike } from '../device/device.js';
import { XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { fromHost, tensor } from '../ops/creation.js';
import { checkGroupSize, DEFAULT_INT4_ZERO, type ScaleDType } from './formats.js';
import { packInt4, unpackInt4 } from './pack.js';
import { isQuantizedTensor, QuantizedTensor } from './quantized_tensor.js';

/**
 * Importers (and exporters, for round trips and for writing checkpoints) of the int4 layouts that
 * real checkpoints use. Both are the same scheme as int4_weight_only, w = (q − zero) · scale per
 * group along K; only the bit layout differs, so an import is a repack, never a re-quantization.
 *
 * ONNX Runtime MatMulNBits (bits = 4): B uint8 [N, K / blockSize, blockSize / 2], element i of a
 * block in byte i / 2, the low nibble for even i; scales [N, K / blockSize]; zero points uint8,
 * N rows of ceil((K / blockSize) / 2) bytes, block b in byte b / 2 (low nibble for even b);
 * without zero points every zero is 8.
 *
 * GPTQ (AutoGPTQ / exllama, as in HF checkpoints): qweight int32 [K / 8, N], q[8i + j, n] in
 * bits 4j of qweight[i, n]; qzeros int32 [K / groupSize, N / 8], zero[g, 8j + i] in bits 4i of
 * qzeros[g, j]; scales [K / groupSize, N]. The 'v1' format (AutoGPTQ's default) stores zero − 1;
 * 'v2' (GPTQModel) stores the zero itself. Act-order checkpoints (a g_idx that is not k / groupSize)
 * are refused.
 */

export interface ImportOptions {
  device?: DeviceLike;
  /** Storage dtype of the scales (default float32; checkpoints often hold float16). */
  scaleDtype?: ScaleDType;
}

function checkLength(op: string, arg: string, a: ArrayLike<number>, expected: number, what: string): void {
  if (a.length !== expected)
    throw new XpuShapeError(`${arg} has the wrong length`, { op, arg, expected: `${expected} (${what})`, got: String(a.length) });
}

function checkDims(op: string, n: number, k: number, groupSize: number): void {
  for (const [arg, v] of [
    ['N', n],
    ['K', k],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0)
      throw new XpuValueError('dims must be positive integers', { op, arg, expected: 'an integer >= 1', got: String(v) });
  }
  checkGroupSize(op, groupSize, k);
}

function build(
  op: string,
  q: ArrayLike<number>,
  scales: ArrayLike<number>,
  zeros: Uint8Array,
  n: number,
  k: number,
  groupSize: number,
  options: ImportOptions,
): QuantizedTensor {
  const groups = k / groupSize;
  const scaleDtype = options.scaleDtype ?? 'float32';
  const qdata = fromHost(packInt4(q, n, k), [n, k / 8], 'uint32', options.device, op);
  const s = tensor(scales, { device: qdata.device, dtype: scaleDtype, shape: [n, groups] });
  const z = fromHost(zeros, [n, groups], 'uint8', qdata.device, op);
  return new QuantizedTensor('int4_weight_only', n, k, groupSize, scaleDtype, qdata, s, z);
}

/** ONNX Runtime MatMulNBits (4 bits) initializers to a QuantizedTensor. */
export function fromMatMulNBits(
  bytes: Uint8Array,
  scales: ArrayLike<number>,
  zeroPoints: Uint8Array | undefined,
  n: number,
  k: number,
  blockSize: number,
  options: ImportOptions = {},
): QuantizedTensor {
  const op = 'fromMatMulNBits';
  checkDims(op, n, k, blockSize);
  const blocks = k / blockSize;
  checkLength(op, 'bytes', bytes, (n * k) / 2, 'N * K / 2');
  checkLength(op, 'scales', scales, n * blocks, 'N * K / blockSize');
  const zpRow = Math.ceil(blocks / 2);
  if (zeroPoints) checkLength(op, 'zeroPoints', zeroPoints, n * zpRow, 'N * ceil(blocks / 2)');
  const q = new Uint8Array(n * k);
  for (let i = 0; i < n * k; i++) q[i] = (bytes[i >> 1] >> ((i & 1) * 4)) & 0xf; // rows and blocks are contiguous
  const zeros = new Uint8Array(n * blocks);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++)
      zeros[r * blocks + b] = zeroPoints ? (zeroPoints[r * zpRow + (b >> 1)] >> ((b & 1) * 4)) & 0xf : DEFAULT_INT4_ZERO;
  }
  return build(op, q, scales, zeros, n, k, blockSize, options);
}

export interface MatMulNBitsWeights {
  bytes: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
  n: number;
  k: number;
  blockSize: number;
}

/** Reads an int4 QuantizedTensor and writes it in MatMulNBits' layout. */
export async function toMatMulNBits(qw: QuantizedTensor): Promise<MatMulNBitsWeights> {
  const { n, k, groupSize, q, scales, zeros } = await readInt4(qw, 'toMatMulNBits');
  const blocks = k / groupSize;
  const bytes = new Uint8Array((n * k) / 2);
  for (let i = 0; i < n * k; i++) bytes[i >> 1] |= q[i] << ((i & 1) * 4);
  const zpRow = Math.ceil(blocks / 2);
  const zeroPoints = new Uint8Array(n * zpRow);
  for (let r = 0; r < n; r++) for (let b = 0; b < blocks; b++) zeroPoints[r * zpRow + (b >> 1)] |= zeros[r * blocks + b] << ((b & 1) * 4);
  return { bytes, scales, zeroPoints, n, k, blockSize: groupSize };
}

export interface GptqWeights {
  /** int32 [K / 8, N]. */
  qweight: Int32Array | Uint32Array;
  /** int32 [K / groupSize, N / 8]. */
  qzeros: Int32Array | Uint32Array;
  /** [K / groupSize, N]. */
  scales: ArrayLike<number>;
  inFeatures: number;
  outFeatures: number;
  groupSize: number;
  /** Act-order group index per input feature; only the trivial k / groupSize is accepted. */
  gIdx?: ArrayLike<number>;
  /** 'v1' (default, AutoGPTQ): qzeros hold zero − 1. 'v2': the zero itself. */
  format?: 'v1' | 'v2';
}

/** A GPTQ checkpoint's qweight / qzeros / scales to a QuantizedTensor. */
export function fromGptq(w: GptqWeights, options: ImportOptions = {}): QuantizedTensor {
  const op = 'fromGptq';
  const { inFeatures: k, outFeatures: n, groupSize } = w;
  checkDims(op, n, k, groupSize);
  if (n % 8 !== 0)
    throw new XpuShapeError('GPTQ packs zeros 8 per int32 along N', {
      op,
      arg: 'outFeatures',
      expected: 'a multiple of 8',
      got: String(n),
    });
  const groups = k / groupSize;
  checkLength(op, 'qweight', w.qweight, (k / 8) * n, 'K / 8 * N');
  checkLength(op, 'qzeros', w.qzeros, groups * (n / 8), 'K / groupSize * N / 8');
  checkLength(op, 'scales', w.scales, groups * n, 'K / groupSize * N');
  if (w.gIdx) {
    checkLength(op, 'gIdx', w.gIdx, k, 'K');
    for (let i = 0; i < k; i++) {
      if (w.gIdx[i] !== Math.floor(i / groupSize))
        throw new XpuValueError('act-order (desc_act) checkpoints are not supported', {
          op,
          arg: 'gIdx',
          expected: `g_idx[k] = floor(k / ${groupSize})`,
          got: `g_idx[${i}] = ${w.gIdx[i]}`,
        });
    }
  }
  const offset = (w.format ?? 'v1') === 'v1' ? 1 : 0;
  const q = new Uint8Array(n * k);
  for (let i = 0; i < k / 8; i++) {
    for (let c = 0; c < n; c++) {
      const word = w.qweight[i * n + c] >>> 0;
      for (let j = 0; j < 8; j++) q[c * k + 8 * i + j] = (word >>> (4 * j)) & 0xf;
    }
  }
  const zeros = new Uint8Array(n * groups);
  const scales = new Float64Array(n * groups);
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < n; c++) {
      const z = ((w.qzeros[g * (n / 8) + (c >> 3)] >>> (4 * (c & 7))) & 0xf) + offset;
      if (z > 15)
        throw new XpuValueError('zero point out of range (is this a v2 checkpoint?)', {
          op,
          arg: 'qzeros',
          expected: "values that give zeros in [0, 15] (format 'v2' for GPTQModel checkpoints)",
          got: `zero ${z} at group ${g}, column ${c}`,
        });
      zeros[c * groups + g] = z;
      scales[c * groups + g] = w.scales[g * n + c];
    }
  }
  return build(op, q, scales, zeros, n, k, groupSize, options);
}

/** Reads an int4 QuantizedTensor and writes it in GPTQ's layout ('v1' stores zero − 1). */
export async function toGptq(qw: QuantizedTensor, format: 'v1' | 'v2' = 'v1'): Promise<GptqWeights> {
  const op = 'toGptq';
  const { n, k, groupSize, q, scales, zeros } = await readInt4(qw, op);
  if (n % 8 !== 0)
    throw new XpuShapeError('GPTQ packs zeros 8 per int32 along N', {
      op,
      arg: 'weight',
      expected: 'out_features a multiple of 8',
      got: String(n),
    });
  const offset = format === 'v1' ? 1 : 0;
  const groups = k / groupSize;
  const qweight = new Int32Array((k / 8) * n);
  for (let i = 0; i < k / 8; i++) {
    for (let c = 0; c < n; c++) {
      let word = 0;
      for (let j = 0; j < 8; j++) word |= q[c * k + 8 * i + j] << (4 * j);
      qweight[i * n + c] = word;
    }
  }
  const qzeros = new Int32Array(groups * (n / 8));
  const gScales = new Float32Array(groups * n);
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < n; c++) {
      const z = zeros[c * groups + g] - offset;
      if (z < 0)
        throw new XpuValueError("a zero point of 0 cannot be stored in GPTQ 'v1' (it stores zero − 1)", {
          op,
          arg: 'format',
          expected: "'v2'",
          got: "'v1'",
        });
      qzeros[g * (n / 8) + (c >> 3)] |= z << (4 * (c & 7));
      gScales[g * n + c] = scales[c * groups + g];
    }
  }
  return { qweight, qzeros, scales: gScales, inFeatures: k, outFeatures: n, groupSize, format };
}

async function readInt4(
  qw: QuantizedTensor,
  op: string,
): Promise<{ n: number; k: number; groupSize: number; q: Uint8Array; scales: Float32Array; zeros: Uint8Array }> {
  if (!isQuantizedTensor(qw))
    throw new XpuTypeError('not a quantized tensor', { op, arg: 'weight', expected: 'QuantizedTensor', got: typeName(qw) });
  qw.check(op, 'weight');
  if (qw.scheme !== 'int4_weight_only')
    throw new XpuValueError('only int4 weights have this layout', {
      op,
      arg: 'weight',
      expected: "scheme 'int4_weight_only'",
      got: qw.scheme,
    });
  const [n, k] = qw.shape;
  const [words, scales, zeros] = await Promise.all([qw.qdata.data(), qw.scales.data(), (qw.zeros as NonNullable<typeof qw.zeros>).data()]);
  return {
    n,
    k,
    groupSize: qw.groupSize,
    q: unpackInt4(words as Uint32Array, n, k),
    scales: Float32Array.from(scales),
    zeros: Uint8Array.from(zeros),
  };
}
