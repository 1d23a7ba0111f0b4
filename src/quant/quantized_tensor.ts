import type { QuantWeight } from '../backends/backend.js';
import type { Device, DeviceLike } from '../device/device.js';
import { XpuValueError } from '../errors.js';
import { runMap } from '../ops/common.js';
import { toAsync } from '../ops/transfer.js';
import { dtypeInfo } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { int8RowStride, weightFormat, type QuantScheme, type ScaleDType } from './formats.js';
import { INT4_DEQUANTIZE, INT8_DEQUANTIZE } from './kernels.js';

/** What a QuantizedTensor is, without its data. */
export interface QuantMetadata {
  scheme: QuantScheme;
  /** [N, K]: out_features, in_features. */
  shape: [number, number];
  /** K for the int8 schemes. */
  groupSize: number;
  scaleDtype: ScaleDType;
  /** 'int8 [N, rowStride]' or 'uint32 [N, K/8]' (docs/quantization.md). */
  layout: string;
  /** Bytes of q + scales + zeros. */
  byteSize: number;
  /** The float32 weight's bytes over byteSize. */
  compression: number;
}

/**
 * A weight [N, K] in one of the formats of src/quant/formats.ts: the packed values `qdata`, the
 * `scales` and (int4) the `zeros`, on one device. It stands where a Linear weight stood:
 * xpu.linear(x, qw) runs the quantized kernels on it.
 */
export class QuantizedTensor {
  readonly shape: readonly [number, number];

  /** @internal Use quant.quantize() or an importer (fromMatMulNBits, fromGptq). */
  constructor(
    readonly scheme: QuantScheme,
    n: number,
    k: number,
    readonly groupSize: number,
    readonly scaleDtype: ScaleDType,
    /** int8 [N, rowStride(K)] or uint32 [N, K / 8]. */
    readonly qdata: Tensor,
    /** [N] or [N, K / groupSize], in scaleDtype. */
    readonly scales: Tensor,
    /** int4: uint8 [N, K / groupSize]. */
    readonly zeros?: Tensor,
  ) {
    this.shape = Object.freeze([n, k]) as readonly [number, number];
    // The kernels read the parts' storage from its start: they must be whole, contiguous tensors.
    for (const [arg, t] of [['qdata', qdata], ['scales', scales], ['zeros', zeros]] as const) {
      if (t && (!t.isContiguous() || t.offset !== 0)) throw new XpuValueError('quantized parts must be contiguous tensors starting at their storage', { op: 'QuantizedTensor', arg, expected: 'a contiguous tensor (use .contiguous() on a copy)', got: `strides [${t.strides.join(', ')}], offset ${t.offset}` });
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

  get metadata(): QuantMetadata {
    const [n, k] = this.shape;
    return {
      scheme: this.scheme,
      shape: [n, k],
      groupSize: this.groupSize,
      scaleDtype: this.scaleDtype,
      layout: weightFormat(this.scheme) === 'int4' ? `uint32 [${n}, ${k / 8}] (8 nibbles per word)` : `int8 [${n}, ${int8RowStride(k)}] (rows padded to 32)`,
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
      format: weightFormat(this.scheme), n, k, groupSize: this.groupSize,
      q: this.qdata.ref.storage, scales: this.scales.ref.storage, scaleDtype: this.scaleDtype, zeros: this.zeros?.ref.storage,
    };
  }

  /** The weight the kernels compute with, as a dense [N, K] tensor (float32 by default). */
  dequantize(dtype: 'float32' | 'float16' = 'float32'): Tensor {
    const op = 'dequantize';
    this.check(op, 'self');
    if (dtype !== 'float32' && dtype !== 'float16') throw new XpuValueError('dequantize gives a float tensor', { op, arg: 'dtype', expected: "'float32' or 'float16'", got: String(dtype) });
    const [n, k] = this.shape;
    const device = this.device;
    const at = (t: Tensor, strides: number[]) => ({ storage: t.ref.storage, dtype: t.dtype, strides, offset: t.offset });
    if (weightFormat(this.scheme) === 'int8') {
      return runMap({ device, kernel: INT8_DEQUANTIZE, inputs: [at(this.qdata, [int8RowStride(k), 1]), at(this.scales, [1, 0])], outShape: [n, k], outDtype: dtype, argKind: 'f32' });
    }
    const groups = k / this.groupSize;
    const zeros = this.zeros as Tensor;
    return runMap({
      device, kernel: INT4_DEQUANTIZE, inputs: [at(this.qdata, [0, 0]), at(this.scales, [0, 0]), at(zeros, [0, 0])], outShape: [n, k], outDtype: dtype,
      argKind: 'f32', loadKinds: ['u32', 'f32', 'f32'], scalars: [{ kind: 'u32', value: k }, { kind: 'u32', value: groups }, { kind: 'u32', value: this.groupSize }],
    });
  }

  /** A copy on another device (the packed data is moved as it is). */
  async toAsync(device: DeviceLike): Promise<QuantizedTensor> {
    this.check('QuantizedTensor.toAsync', 'self');
    const [n, k] = this.shape;
    const q = await toAsync(this.qdata, device);
    if (q === this.qdata) return this; // already there: toAsync gives the same tensor back
    const [s, z] = await Promise.all([toAsync(this.scales, device), this.zeros ? toAsync(this.zeros, device) : undefined]);
    return new QuantizedTensor(this.scheme, n, k, this.groupSize, this.scaleDtype, q, s, z);
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

export function isQuantizedTensor(x: unknown): x is QuantizedTensor {
  return x instanceof QuantizedTensor;
}
