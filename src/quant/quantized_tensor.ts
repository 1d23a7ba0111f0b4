import type { QuantWeight } from '../backends/backend.js';
import type { Device, DeviceLike } from '../device/device.js';
import { XpuValueError } from '../errors.js';
import { runMap } from '../ops/common.js';
import { to, toAsync } from '../ops/transfer.js';
import { eye } from '../ops/creation.js';
import { contiguous, transpose } from '../ops/views.js';
import { scope } from '../tensor/scope_api.js';
import { quantizedLinear } from './linear.js';
import { dtypeInfo } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { int8RowStride, weightFormat, type QuantScheme, type ScaleDType } from './formats.js';
import { ggufFormatInfo, isGgufWeightFormat, type GgufWeightFormat } from './gguf_formats.js';
import { INT4_DEQUANTIZE, INT8_DEQUANTIZE } from './kernels.js';

/** How a GGUF weight's linear treats its activations on cpu (QuantizedTensor.ggufActivations). */
export type GgufActivations = 'q8' | 'float';

/** What a QuantizedTensor is, without its data. */
export interface QuantMetadata {
  scheme: QuantScheme | GgufWeightFormat;
  /** [N, K]: out_features, in_features. */
  shape: [number, number];
  /** K for the int8 schemes; the block size (32 or 256) for the GGUF formats. */
  groupSize: number;
  scaleDtype: ScaleDType | 'uint32';
  /** 'int8 [N, rowStride]', 'uint32 [N, K/8]' (docs/quantization.md), or a GGUF format's planes (gguf_formats.ts). */
  layout: string;
  /** Bytes of q + scales + zeros. */
  byteSize: number;
  /** The float32 weight's bytes over byteSize. */
  compression: number;
}

/**
 * A weight [N, K] in one of the formats of src/quant/formats.ts: the packed values `qdata`, the
 * `scales` and (int4) the `zeros`, on one device; or in a GGUF block format (q4_0, q4_1, q8_0,
 * q4_k, q6_k: the blocks' values split into a q plane and a scale plane, gguf_formats.ts). It
 * stands where a Linear weight stood: xpu.linear(x, qw) runs the quantized kernels on it.
 */
export class QuantizedTensor {
  readonly shape: readonly [number, number];
  /**
   * GGUF q4_0 / q4_1 / q8_0 weights on cpu: 'q8' multiplies as llama.cpp's CPU backend does
   * (activations quantized to int8 per 32-value block, integer dot products), 'float' (the
   * default) exactly in float32. The xpu device always uses float activations.
   */
  ggufActivations: GgufActivations = 'float';

  /** @internal Use quant.quantize() or an importer (fromMatMulNBits, fromGptq). */
  constructor(
    readonly scheme: QuantScheme | GgufWeightFormat,
    n: number,
    k: number,
    readonly groupSize: number,
    readonly scaleDtype: ScaleDType | 'uint32',
    /** int8 [N, rowStride(K)] or uint32 [N, K / 8]; GGUF: uint32 [N, blocks * qWords]. */
    readonly qdata: Tensor,
    /** [N] or [N, K / groupSize], in scaleDtype; GGUF: the scale plane. */
    readonly scales: Tensor,
    /** int4: uint8 [N, K / groupSize]. */
    readonly zeros?: Tensor,
  ) {
    this.shape = Object.freeze([n, k]) as readonly [number, number];
    // The kernels read the parts' storage from its start: they must be whole, contiguous tensors.
    for (const [arg, t] of [
      ['qdata', qdata],
      ['scales', scales],
      ['zeros', zeros],
    ] as const) {
      if (t && (!t.isContiguous() || t.offset !== 0))
        throw new XpuValueError('quantized parts must be contiguous tensors starting at their storage', {
          op: 'QuantizedTensor',
          arg,
          expected: 'a contiguous tensor (use .contiguous() on a copy)',
          got: `strides [${t.strides.join(', ')}], offset ${t.offset}`,
        });
    }
  }

  get device(): Device {
    return this.qdata.device;
  }

  get isDisposed(): boolean {
    return this.qdata.isDisposed;
  }

  /** Bytes of the quantized weight's values, scales and zero points (as stored, without allocator rounding). */
  get byteSize(): number {
    return [this.qdata, this.scales, this.zeros].reduce((s, t) => s + (t ? t.numel * dtypeInfo(t.dtype).itemsize : 0), 0);
  }

  /** The kernels' format: 'int8', 'int4' or a GGUF block format. */
  get format(): 'int8' | 'int4' | GgufWeightFormat {
    return isGgufWeightFormat(this.scheme) ? this.scheme : weightFormat(this.scheme);
  }

  get metadata(): QuantMetadata {
    const [n, k] = this.shape;
    const f = this.format;
    const gguf = isGgufWeightFormat(f) ? ggufFormatInfo(f) : undefined;
    return {
      scheme: this.scheme,
      shape: [n, k],
      groupSize: this.groupSize,
      scaleDtype: this.scaleDtype,
      layout: gguf
        ? `GGUF ${gguf.ggml} blocks of ${gguf.block}: uint32 [${n}, ${(k / gguf.block) * gguf.qWords}] values, ${gguf.scaleDtype} [${this.scales.shape.join(', ')}] scales`
        : f === 'int4'
          ? `uint32 [${n}, ${k / 8}] (8 nibbles per word)`
          : `int8 [${n}, ${int8RowStride(k)}] (rows padded to 32)`,
      byteSize: this.byteSize,
      compression: (4 * n * k) / this.byteSize,
    };
  }

  /** @internal Throws XpuDisposedError when used after dispose(). */
  check(op: string, arg = 'weight'): this {
    for (const t of [this.qdata, this.scales, this.zeros]) t?.check(op, arg);
    return this;
  }

  /** @internal The kernels' view of this weight. */
  kernelWeight(): QuantWeight {
    const [n, k] = this.shape;
    return {
      format: this.format,
      n,
      k,
      groupSize: this.groupSize,
      q: this.qdata.ref.storage,
      scales: this.scales.ref.storage,
      scaleDtype: this.scaleDtype,
      zeros: this.zeros?.ref.storage,
      q8Activations: this.ggufActivations === 'q8' && isGgufWeightFormat(this.scheme) ? true : undefined,
    };
  }

  /** The weight the kernels compute with, as a dense [N, K] tensor (float32 by default). */
  dequantize(dtype: 'float32' | 'float16' = 'float32'): Tensor {
    const op = 'dequantize';
    this.check(op, 'self');
    if (dtype !== 'float32' && dtype !== 'float16')
      throw new XpuValueError('dequantize gives a float tensor', {
        op,
        arg: 'dtype',
        expected: "'float32' or 'float16'",
        got: String(dtype),
      });
    const [n, k] = this.shape;
    const device = this.device;
    const f = this.format;
    if (isGgufWeightFormat(f)) return dequantizeGgufWeight(this, dtype);
    const at = (t: Tensor, strides: number[]) => ({ storage: t.ref.storage, dtype: t.dtype, strides, offset: t.offset });
    if (f === 'int8') {
      return runMap({
        device,
        kernel: INT8_DEQUANTIZE,
        inputs: [at(this.qdata, [int8RowStride(k), 1]), at(this.scales, [1, 0])],
        outShape: [n, k],
        outDtype: dtype,
        argKind: 'f32',
      });
    }
    const groups = k / this.groupSize;
    const zeros = this.zeros as Tensor;
    return runMap({
      device,
      kernel: INT4_DEQUANTIZE,
      inputs: [at(this.qdata, [0, 0]), at(this.scales, [0, 0]), at(zeros, [0, 0])],
      outShape: [n, k],
      outDtype: dtype,
      argKind: 'f32',
      loadKinds: ['u32', 'f32', 'f32'],
      scalars: [
        { kind: 'u32', value: k },
        { kind: 'u32', value: groups },
        { kind: 'u32', value: this.groupSize },
      ],
    });
  }

  /** A copy on another device (the packed data is moved as it is). */
  async toAsync(device: DeviceLike): Promise<QuantizedTensor> {
    this.check('QuantizedTensor.toAsync', 'self');
    const [n, k] = this.shape;
    const q = await toAsync(this.qdata, device);
    if (q === this.qdata) return this; // already there: toAsync gives the same tensor back
    const [s, z] = await Promise.all([toAsync(this.scales, device), this.zeros ? toAsync(this.zeros, device) : undefined]);
    const moved = new QuantizedTensor(this.scheme, n, k, this.groupSize, this.scaleDtype, q, s, z);
    moved.ggufActivations = this.ggufActivations;
    return moved;
  }

  dispose(): void {
    this.qdata.dispose();
    this.scales.dispose();
    this.zeros?.dispose();
  }

  toString(): string {
    return `QuantizedTensor(scheme=${this.scheme}, shape=[${this.shape.join(', ')}], groupSize=${this.groupSize}, device=${this.device})`;
  }
}

/**
 * A GGUF weight as a dense tensor, on either device through the quantized GEMM itself (no map
 * kernel decodes the blocks): eye(K) @ W^T = W^T, each output one weight times 1 plus zeros,
 * hence exact (the kernels form d * q + m with one rounding, as ggml does); then one transpose.
 * K^2 N multiply-adds: for inspection and tests, not for a hot path.
 */
function dequantizeGgufWeight(w: QuantizedTensor, dtype: 'float32' | 'float16'): Tensor {
  const k = w.shape[1];
  return scope(() => {
    const wt = quantizedLinear(eye(k, k, { device: w.device, dtype: 'float32' }), w); // [K, N] = W^T
    return contiguous(transpose(dtype === 'float32' ? wt : to(wt, dtype), 0, 1));
  });
}

export function isQuantizedTensor(x: unknown): x is QuantizedTensor {
  return x instanceof QuantizedTensor;
}
