import {
  castNumber,
  convertKind,
  dtypeInfo,
  f16BitsToNumber,
  numberToF16Bits,
  readHost,
  writeHost,
  type ComputeKind,
  type DType,
  type HostArray,
} from '../../tensor/dtype.js';

/**
 * Whole-row loads and stores for the cpu row kernels (reductions, norms, rotary). The dtype is
 * looked at once per row and each dtype has its own loop, so the element accesses stay
 * monomorphic (a reader closure per element, as host_io.ts hands out, goes megamorphic once a
 * second dtype passes the same call site, and stays slow for the rest of the process). Values
 * are those host_io.ts's readers give: float16 decoded, converted between kinds by convertKind.
 */

/** dst[j] = element base + j * stride of src (a `dtype` array) as a `to` value, for j < n. */
export function loadRow(
  dst: Float64Array,
  src: HostArray,
  dtype: DType,
  base: number,
  stride: number,
  n: number,
  to: ComputeKind = 'f32',
): void {
  if (dtype === 'float32' && to === 'f32') loadF32(dst, src as Float32Array, base, stride, n);
  else if (dtype === 'float16' && to === 'f32') loadF16(dst, src as Uint16Array, base, stride, n);
  else {
    // Integer rows (integer sums, argmax, casts to f32): rare on hot paths, one general loop.
    const from = dtypeInfo(dtype).compute;
    for (let j = 0; j < n; j++) dst[j] = convertKind(readHost(src, dtype, base + j * stride), from, to);
  }
}

function loadF32(dst: Float64Array, src: Float32Array, base: number, stride: number, n: number): void {
  if (stride === 1) for (let j = 0; j < n; j++) dst[j] = src[base + j];
  else for (let j = 0; j < n; j++) dst[j] = src[base + j * stride];
}

function loadF16(dst: Float64Array, src: Uint16Array, base: number, stride: number, n: number): void {
  for (let j = 0; j < n; j++) dst[j] = f16BitsToNumber(src[base + j * stride]);
}

/** Element base + j * stride of dst (a `dtype` array) = src[j] with the dtype's cast (host_io.ts's writers), for j < n. */
export function storeRow(dst: HostArray, dtype: DType, base: number, stride: number, src: Float64Array, n: number): void {
  if (dtype === 'float32') storeF32(dst as Float32Array, base, stride, src, n);
  else if (dtype === 'float16') storeF16(dst as Uint16Array, base, stride, src, n);
  else for (let j = 0; j < n; j++) writeHost(dst, dtype, base + j * stride, castNumber(src[j], dtype));
}

function storeF32(dst: Float32Array, base: number, stride: number, src: Float64Array, n: number): void {
  if (stride === 1) for (let j = 0; j < n; j++) dst[base + j] = src[j];
  else for (let j = 0; j < n; j++) dst[base + j * stride] = src[j];
}

function storeF16(dst: Uint16Array, base: number, stride: number, src: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) dst[base + j * stride] = numberToF16Bits(src[j]);
}
