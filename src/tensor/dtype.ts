import { XpuDTypeError } from '../errors.js';

/** Tensor element types, with PyTorch's names. */
export type DType = 'float32' | 'float16' | 'int32' | 'uint32' | 'int8' | 'uint8' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'int32', 'uint32', 'int8', 'uint8', 'bool'];

/** The arithmetic a dtype's values are computed in: f32, i32 or u32 (as in WGSL). */
export type ComputeKind = 'f32' | 'i32' | 'u32';

export interface DTypeInfo {
  readonly itemsize: number;
  readonly compute: ComputeKind;
  readonly isFloat: boolean;
}

const INFO: Record<DType, DTypeInfo> = {
  float32: { itemsize: 4, compute: 'f32', isFloat: true },
  float16: { itemsize: 2, compute: 'f32', isFloat: true },
  int32: { itemsize: 4, compute: 'i32', isFloat: false },
  uint32: { itemsize: 4, compute: 'u32', isFloat: false },
  int8: { itemsize: 1, compute: 'i32', isFloat: false },
  uint8: { itemsize: 1, compute: 'u32', isFloat: false },
  bool: { itemsize: 1, compute: 'u32', isFloat: false },
};

export function dtypeInfo(dtype: DType): DTypeInfo {
  return INFO[dtype];
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && x in INFO;
}

export function checkDType(op: string, arg: string, x: unknown): DType {
  if (!isDType(x)) throw new XpuDTypeError('unknown dtype', { op, arg, expected: DTYPES.join(' | '), got: String(x) });
  return x;
}

export const isFloating = (d: DType): boolean => INFO[d].isFloat;

/** Host storage for each dtype. float16 is kept as its raw bits (Node 20 has no Float16Array). */
export type HostArray = Float32Array | Uint16Array | Int32Array | Uint32Array | Int8Array | Uint8Array;

export function allocHost(dtype: DType, n: number): HostArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float16':
      return new Uint16Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
  }
}

export function hostFromBytes(dtype: DType, bytes: ArrayBuffer, n: number): HostArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(bytes, 0, n);
    case 'float16':
      return new Uint16Array(bytes, 0, n);
    case 'int32':
      return new Int32Array(bytes, 0, n);
    case 'uint32':
      return new Uint32Array(bytes, 0, n);
    case 'int8':
      return new Int8Array(bytes, 0, n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(bytes, 0, n);
  }
}

// ---- float16 <-> float32, round to nearest even, as IEEE 754 and PyTorch do ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const F16_TO_F32 = new Float32Array(65536);
for (let h = 0; h < 65536; h++) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  F16_TO_F32[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
}

export function f16BitsToNumber(h: number): number {
  return F16_TO_F32[h & 0xffff];
}

export function numberToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow to inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
  return sign | h;
}

/** Converts a number to what a dtype can hold, with PyTorch's cast semantics (truncate, wrap). */
export function castNumber(x: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(x);
    case 'float16':
      return f16BitsToNumber(numberToF16Bits(x));
    case 'int32':
      return Number.isFinite(x) ? Math.trunc(x) | 0 : 0;
    case 'uint32':
      return Number.isFinite(x) ? (Math.trunc(x) | 0) >>> 0 : 0;
    case 'int8':
      return Number.isFinite(x) ? (Math.trunc(x) << 24) >> 24 : 0;
    case 'uint8':
      return Number.isFinite(x) ? Math.trunc(x) & 0xff : 0;
    case 'bool':
      return x !== 0 ? 1 : 0; // NaN is true, as in PyTorch
  }
}

/**
 * Converts a value between compute kinds exactly as the WGSL kernels do (see
 * backends/webgpu/codegen.ts convertExpr): float to int truncates toward zero, and a float goes to
 * u32 through i32, so -1.0 becomes 0xffffffff as PyTorch's cast through int64 gives.
 */
export function convertKind(x: number, from: ComputeKind, to: ComputeKind): number {
  if (from === to) return x;
  if (to === 'f32') return Math.fround(x);
  if (from === 'f32') {
    if (!Number.isFinite(x)) return 0;
    const t = Math.trunc(x);
    const i = t >= 2147483647 ? 2147483647 : t <= -2147483648 ? -2147483648 : t | 0; // WGSL saturates
    return to === 'i32' ? i : i >>> 0;
  }
  return to === 'i32' ? x | 0 : x >>> 0;
}

/** Reads element i of host storage as a JS number (float16 decoded). */
export function readHost(arr: HostArray, dtype: DType, i: number): number {
  return dtype === 'float16' ? F16_TO_F32[arr[i]] : arr[i];
}

/** Writes a number already in the dtype's range (see castNumber) into host storage. */
export function writeHost(arr: HostArray, dtype: DType, i: number, v: number): void {
  arr[i] = dtype === 'float16' ? numberToF16Bits(v) : v;
}

// ---- type promotion (PyTorch's categories: bool < integer < floating) ----

const RANK: Record<DType, number> = { bool: 0, uint8: 1, int8: 1, int32: 2, uint32: 2, float16: 3, float32: 4 };

/**
 * The result dtype of a binary op. Follows torch.result_type where our dtype set allows:
 * float16 op float16 = float16, any other float mix = float32; integer mixes widen to int32
 * (PyTorch would pick int16/int64, which we do not have); uint32 op uint32 stays uint32.
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (isFloating(a) || isFloating(b)) {
    if (isFloating(a) && isFloating(b)) return 'float32';
    return isFloating(a) ? a : b;
  }
  if (a === 'bool') return b;
  if (b === 'bool') return a;
  if (RANK[a] === 1 && RANK[b] === 1) return 'int32'; // int8 with uint8
  return a === 'uint32' && b === 'uint32' ? 'uint32' : 'int32';
}

/**
 * An operand of an elementwise op as type promotion sees it: a tensor with dims, a 0-d tensor,
 * or a JS number / boolean (PyTorch's "wrapped number").
 */
export type PromotionOperand = { dtype: DType; zeroDim: boolean } | number | boolean;

const category = (d: DType): number => (d === 'bool' ? 0 : isFloating(d) ? 2 : 1);

/**
 * The dtype an elementwise op computes in, by torch.result_type's rule: tensors with dims
 * promote among themselves (promoteTypes); 0-d tensors and then JS scalars only count where
 * they are of a higher category (bool < integer < floating) than everything before them. So
 * float16[3] + float32 0-d is float16 and int8[3] + int32 0-d is int8 (a 0-d tensor does not widen
 * the type inside its category), while int8[3] + float16 0-d is float16. A JS number is an
 * int32 if it is an integer, else a float32 (our default dtypes; PyTorch's int is int64), and a
 * boolean is bool: int8[3] * 2.5 is float32, float16[3] * 2.5 stays float16.
 */
export function resultType(operands: readonly PromotionOperand[]): DType {
  let dims: DType | undefined;
  let zeroDim: DType | undefined;
  let scalar: DType | undefined;
  const join = (acc: DType | undefined, d: DType): DType => (acc === undefined ? d : promoteTypes(acc, d));
  for (const o of operands) {
    if (typeof o === 'boolean') scalar = join(scalar, 'bool');
    else if (typeof o === 'number') scalar = join(scalar, Number.isInteger(o) ? 'int32' : 'float32');
    else if (o.zeroDim) zeroDim = join(zeroDim, o.dtype);
    else dims = join(dims, o.dtype);
  }
  // c10's combine_categories: the lower-priority class only counts from a higher category on.
  const combine = (higher: DType | undefined, lower: DType | undefined): DType | undefined => {
    if (higher === undefined) return lower;
    if (lower === undefined || category(higher) >= category(lower)) return higher;
    return promoteTypes(higher, lower);
  };
  const t = combine(dims, combine(zeroDim, scalar));
  if (t === undefined) throw new Error('resultType: no operands');
  return t;
}
