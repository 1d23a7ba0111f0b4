import {
  castNumber,
  convertKind,
  dtypeInfo,
  f16BitsToNumber,
  numberToF16Bits,
  type ComputeKind,
  type DType,
  type HostArray,
} from '../../tensor/dtype.js';

/**
 * Typed element readers and writers for the CPU kernels, chosen once per launch so the inner
 * loops do no dtype switch: a reader returns element e converted to a compute kind exactly as the
 * GPU loaders do; a writer stores a value with the dtype's cast semantics (round, wrap).
 */
export function hostReader(data: HostArray, dtype: DType, to: ComputeKind): (e: number) => number {
  const from = dtypeInfo(dtype).compute;
  if (dtype === 'float16') {
    return to === 'f32' ? (e) => f16BitsToNumber(data[e]) : (e) => convertKind(f16BitsToNumber(data[e]), 'f32', to);
  }
  if (from === to) return (e) => data[e];
  return (e) => convertKind(data[e], from, to);
}

export function hostWriter(data: HostArray, dtype: DType): (i: number, v: number) => void {
  switch (dtype) {
    case 'float32':
      return (i, v) => {
        data[i] = v;
      }; // Float32Array rounds to nearest
    case 'float16':
      return (i, v) => {
        data[i] = numberToF16Bits(v);
      };
    default:
      return (i, v) => {
        data[i] = castNumber(v, dtype);
      };
  }
}
