import { XpuShapeError, XpuValueError } from '../errors.js';

/**
 * The quantization formats (docs/quantization.md is the reader's copy of this):
 *
 * - int8_weight_only: symmetric per output channel. q[n, k] in [-127, 127], w ≈ q · scale[n],
 *   scale[n] = max_k |w[n, k]| / 127, q = clamp(round(w / scale), -127, 127).
 * - int4_weight_only: asymmetric, groups of `groupSize` along K. Unsigned q in [0, 15],
 *   w ≈ (q − zero[n, g]) · scale[n, g]. As GPTQ does, the group's range is widened to hold 0:
 *   lo = min(min w, 0), hi = max(max w, 0), scale = (hi − lo) / 15,
 *   zero = clamp(round(−lo / scale), 0, 15), q = clamp(round(w / scale) + zero, 0, 15).
 * - int8_dynamic (w8a8): int8_weight_only weights; activations quantized per row (token) at run
 *   time with the same symmetric rule, integer products accumulated in int32, then rescaled.
 *
 * round() is round-half-to-even (WGSL round, torch.round). The scale is rounded to its storage
 * dtype first and q is computed from the stored scale, so dequantize() is exactly what the
 * kernels multiply by. A zero scale (an all-zero row or group) stores q = 0 (int4: zero = 0).
 */

export type QuantScheme = 'int8_weight_only' | 'int4_weight_only' | 'int8_dynamic';
export const QUANT_SCHEMES: readonly QuantScheme[] = ['int8_weight_only', 'int4_weight_only', 'int8_dynamic'];
export type ScaleDType = 'float32' | 'float16';
export const INT4_GROUP_SIZES: readonly number[] = [32, 64, 128, 256];
export const DEFAULT_INT4_GROUP_SIZE = 128;
/** MatMulNBits' zero point when a checkpoint has none (the middle of [0, 15]). */
export const DEFAULT_INT4_ZERO = 8;
export const INT8_QMAX = 127;
export const INT4_QMAX = 15;

export interface QuantizeOptions {
  scheme: QuantScheme;
  /** int4 only: 32, 64, 128 (default) or 256; K must be a multiple of it. */
  groupSize?: number;
  /** Storage dtype of the scales (default float32). */
  scaleDtype?: ScaleDType;
}

/** A checked quantization config. */
export interface QuantConfig {
  scheme: QuantScheme;
  /** K for the int8 schemes (one scale per row). */
  groupSize: number;
  scaleDtype: ScaleDType;
}

/** The kernel-level format of a scheme's weight. */
export const weightFormat = (s: QuantScheme): 'int8' | 'int4' => (s === 'int4_weight_only' ? 'int4' : 'int8');

/**
 * int8 rows are padded with zeros to a multiple of 32 elements: every row starts on a 16-byte
 * boundary and the GEMV reads whole 32-k chunks (two vec4<u32>) with no tail.
 */
export const int8RowStride = (k: number): number => Math.ceil(k / 32) * 32;

/** Round half to even, as WGSL's round() and torch.round (one definition, below the backends). */
export { roundHalfEven } from '../backends/scalar_math.js';

export function checkQuantizeOptions(op: string, options: QuantizeOptions | undefined, k: number): QuantConfig {
  if (typeof options !== 'object' || options === null) {
    throw new XpuValueError('options with a scheme are required', {
      op,
      arg: 'options',
      expected: `{ scheme: ${QUANT_SCHEMES.map((s) => `'${s}'`).join(' | ')} }`,
      got: String(options),
    });
  }
  const { scheme } = options;
  if (!QUANT_SCHEMES.includes(scheme)) {
    throw new XpuValueError('unknown quantization scheme', {
      op,
      arg: 'scheme',
      expected: QUANT_SCHEMES.map((s) => `'${s}'`).join(', '),
      got: String(scheme),
    });
  }
  const scaleDtype = options.scaleDtype ?? 'float32';
  if (scaleDtype !== 'float32' && scaleDtype !== 'float16') {
    throw new XpuValueError('unsupported scale dtype', {
      op,
      arg: 'scaleDtype',
      expected: "'float32' or 'float16'",
      got: String(scaleDtype),
    });
  }
  if (scheme !== 'int4_weight_only') {
    if (options.groupSize !== undefined && options.groupSize !== k) {
      throw new XpuValueError('int8 schemes use one scale per output channel (no groups)', {
        op,
        arg: 'groupSize',
        expected: `undefined (or K = ${k})`,
        got: String(options.groupSize),
      });
    }
    return { scheme, groupSize: k, scaleDtype };
  }
  const groupSize = options.groupSize ?? DEFAULT_INT4_GROUP_SIZE;
  checkGroupSize(op, groupSize, k);
  return { scheme, groupSize, scaleDtype };
}

export function checkGroupSize(op: string, groupSize: number, k: number): void {
  if (!INT4_GROUP_SIZES.includes(groupSize)) {
    throw new XpuValueError('unsupported int4 group size', {
      op,
      arg: 'groupSize',
      expected: INT4_GROUP_SIZES.join(', '),
      got: String(groupSize),
    });
  }
  if (k % groupSize !== 0) {
    throw new XpuShapeError('in_features (K) must be a multiple of the group size', {
      op,
      arg: 'groupSize',
      expected: `a group size dividing K = ${k} (K % ${groupSize} = ${k % groupSize})`,
      got: String(groupSize),
    });
  }
}
