import type { MapKernel } from '../backends/backend.js';
import { XpuDTypeError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { fmtValue, typeName } from '../format_value.js';
import { dtypeInfo, isFloating, resultType, type DType, type PromotionOperand } from '../tensor/dtype.js';
import { broadcastShapes, fmtShape, numberArg } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, copyAs, operand, optionsArg, runMap, tensorArg } from './common.js';
import { run } from './elementwise.js';
import { TERNARY } from './elementwise_table.js';
import { all } from './logical_reduce.js';
import { item } from './transfer.js';
import { needsGrad, recordOp, track } from '../autograd/record.js';

/**
 * Elementwise ops of more than two operands or with options: clamp/clip, lerp, maskedFill,
 * isclose/allclose. Each is one map kernel (the TERNARY table in elementwise_table.ts, or
 * isclose's own below), with torch's dtypes and NaN rules.
 */

type Bound = Tensor | number | null | undefined;

/** The smallest and largest values of an integer dtype (a bound beyond them clamps nothing more). */
function intRange(dtype: DType): [number, number] {
  switch (dtype) {
    case 'int8': return [-128, 127];
    case 'uint8': case 'bool': return [0, 255];
    case 'int32': return [-(2 ** 31), 2 ** 31 - 1];
    default: return [0, 2 ** 32 - 1];
  }
}

/** A tensor or a number (a boolean too where `bool`): anything else is an XpuTypeError. */
function tensorOrNumberArg(op: string, arg: string, x: unknown, bool = false): void {
  if (x instanceof Tensor) tensorArg(op, arg, x);
  else if (typeof x !== 'number' && !(bool && typeof x === 'boolean')) {
    throw new XpuTypeError('must be a tensor or a number', { op, arg, expected: bool ? 'Tensor, number or boolean' : 'Tensor or number', got: typeName(x) });
  }
}

function boundArg(op: string, arg: string, x: unknown): void {
  if (x === undefined || x === null) return;
  if (x instanceof Tensor) tensorArg(op, arg, x);
  else if (typeof x !== 'number') throw new XpuTypeError('must be a tensor, a number or absent', { op, arg, expected: 'Tensor, number, null or undefined', got: typeName(x) });
}

/**
 * clamp(x, min, max): min(max(x, min), max) elementwise (max wins where min > max), bounds as
 * tensors (broadcast) or numbers, either absent but not both. NaN as torch: a NaN element stays
 * NaN; a NaN tensor bound, or a NaN number bound beside another bound, gives NaN; a single NaN
 * number bound is ignored (torch's scalar clamp_min / clamp_max). The dtype is torch.result_type's
 * of the given operands (int8 clamped by 2.5 is float32).
 */
export function clamp(x: Tensor, min?: Bound, max?: Bound): Tensor {
  return clampAs('clamp', x, min, max);
}

/** Alias of clamp, as torch.clip. */
export function clip(x: Tensor, min?: Bound, max?: Bound): Tensor {
  return clampAs('clip', x, min, max);
}

function clampAs(op: string, x: Tensor, min: Bound, max: Bound): Tensor {
  tensorArg(op, 'input', x);
  boundArg(op, 'min', min);
  boundArg(op, 'max', max);
  const given = [min, max].filter((b): b is Tensor | number => b !== undefined && b !== null);
  if (given.length === 0) throw new XpuValueError('at least one of min and max must be given', { op, arg: 'min', expected: 'a tensor or a number for min or max', got: 'neither' });
  const dtype = resultType([x, ...given].map((t): PromotionOperand => (t instanceof Tensor ? { dtype: t.dtype, zeroDim: t.ndim === 0 } : t)));
  // torch's clamp_min / clamp_max with one number ignore a NaN bound: x, in the result dtype.
  if (given.length === 1 && typeof given[0] === 'number' && Number.isNaN(given[0])) return track('alias', x, copyAs(op, x, dtype));
  const kind = dtypeInfo(dtype).compute;
  const [lo, hi] = kind === 'f32' ? [-Infinity, Infinity] : intRange(dtype);
  // Number bounds outside an integer dtype's range saturate to it (the same elements clamp).
  const fit = (b: Bound, absent: number): Tensor | number => {
    if (b instanceof Tensor) return b;
    if (b === undefined || b === null) return absent;
    return kind === 'f32' ? b : Math.min(hi, Math.max(lo, b));
  };
  const out = run(op, TERNARY.clamp, [x, fit(min, lo), fit(max, hi)], dtype, dtype, ['input', 'min', 'max']);
  if (needsGrad(x, min, max)) recordOp('clamp', [x, min ?? null, max ?? null], out);
  return out;
}

/**
 * start + weight (end - start) (torch.lerp: weight < 0.5 from start, else from end); float
 * tensors of one dtype, weight a number or a tensor of that dtype, all broadcast.
 */
export function lerp(start: Tensor, end: Tensor, weight: Tensor | number): Tensor {
  const op = 'lerp';
  tensorArg(op, 'input', start);
  tensorArg(op, 'end', end);
  tensorOrNumberArg(op, 'weight', weight);
  if (!isFloating(start.dtype)) throw new XpuDTypeError('needs floating point tensors', { op, arg: 'input', expected: 'float32 or float16', got: start.dtype });
  for (const [arg, t] of [['end', end], ['weight', weight]] as const) {
    if (t instanceof Tensor && t.dtype !== start.dtype) throw new XpuDTypeError('must have the dtype of input', { op, arg, expected: start.dtype, got: t.dtype });
  }
  // A number weight stays float32 for float16 tensors (torch computes half ops in float).
  const argDtype = weight instanceof Tensor ? start.dtype : 'float32';
  const out = run(op, TERNARY.lerp, [start, end, weight], argDtype, start.dtype, ['input', 'end', 'weight']);
  if (needsGrad(start, end, weight)) recordOp(op, [start, end, weight], out);
  return out;
}

/**
 * x with `value` where mask is true (torch.masked_fill): mask bool, broadcast with x; value a
 * number or a 0-d tensor, converted to x's dtype as torch does (7.5 fills an int tensor with 7).
 */
export function maskedFill(x: Tensor, mask: Tensor, value: Tensor | number | boolean): Tensor {
  const op = 'maskedFill';
  tensorArg(op, 'input', x);
  tensorArg(op, 'mask', mask);
  tensorOrNumberArg(op, 'value', value, true);
  if (value instanceof Tensor && value.ndim !== 0) {
    throw new XpuShapeError('value must be a 0-d tensor', { op, arg: 'value', expected: 'a number or a 0-d tensor', got: `a tensor of shape ${fmtShape(value.shape)}` });
  }
  if (mask.dtype !== 'bool') throw new XpuDTypeError('mask must be bool', { op, arg: 'mask', expected: 'bool', got: mask.dtype });
  const out = run(op, TERNARY.maskedFill, [x, mask, value], x.dtype, x.dtype, ['input', 'mask', 'value']);
  if (needsGrad(x, value)) recordOp(op, [x, mask, value], out);
  return out;
}

export interface IscloseOptions {
  /** Relative tolerance, >= 0 (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance, >= 0 (default 1e-8). */
  atol?: number;
  /** NaN equals NaN (default false). */
  equalNan?: boolean;
}

const ISCLOSE = new Map<string, MapKernel>();

/**
 * |a - b| <= atol + rtol |b| or a == b (torch.isclose, torch's formula and special values: equal
 * infinities are close, other infinities and NaN are not unless equalNan). Floats compute in
 * float32; integers take |a - b| exactly (as u32) so that no wrap or rounding decides.
 * Scalars: 0 rtol, 1 atol (f32), 2 equalNan (u32).
 */
function iscloseKernel(kind: 'f32' | 'i32' | 'u32'): MapKernel {
  let k = ISCLOSE.get(kind);
  if (k) return k;
  const diff = kind === 'f32' ? 'abs(x0 - x1)' : kind === 'i32' ? 'f32(select(bitcast<u32>(x1 - x0), bitcast<u32>(x0 - x1), x0 > x1))' : 'f32(select(x1 - x0, x0 - x1, x0 > x1))';
  const absB = kind === 'f32' ? 'abs(x1)' : kind === 'i32' ? 'f32(select(bitcast<u32>(x1), bitcast<u32>(0 - x1), x1 < 0))' : 'f32(x1)';
  const nan = kind === 'f32' ? ' || (su(2u) != 0u && is_nan(x0) && is_nan(x1))' : '';
  const finite = kind === 'f32' ? ' && !is_inf(d) && !is_nan(d)' : '';
  k = {
    name: `isclose_${kind}`,
    wgsl: `let d = ${diff};\n  return select(0u, 1u, x0 == x1${nan} || (d <= sf(1u) + sf(0u) * ${absB}${finite}));`,
    js: (x, c) => {
      const [a, b] = x;
      if (a === b || (c.scalars[2] !== 0 && Number.isNaN(a) && Number.isNaN(b))) return 1;
      const d = Math.abs(a - b);
      return Number.isFinite(d) && d <= c.scalars[1] + c.scalars[0] * Math.abs(b) ? 1 : 0;
    },
  };
  ISCLOSE.set(kind, k);
  return k;
}

function iscloseArgs(op: string, a: Tensor, b: Tensor, options: IscloseOptions | undefined): { rtol: number; atol: number; equalNan: boolean } {
  tensorArg(op, 'input', a);
  tensorArg(op, 'other', b);
  const o = optionsArg(op, options);
  const rtol = numberArg(op, 'rtol', o.rtol ?? 1e-5, true);
  const atol = numberArg(op, 'atol', o.atol ?? 1e-8, true);
  for (const [arg, v] of [['rtol', rtol], ['atol', atol]] as const) {
    if (v < 0) throw new XpuValueError('tolerance must be >= 0', { op, arg, expected: 'a number >= 0', got: fmtValue(v) });
  }
  if (o.equalNan !== undefined && typeof o.equalNan !== 'boolean') throw new XpuTypeError('must be a boolean', { op, arg: 'equalNan', expected: 'boolean', got: typeName(o.equalNan) });
  if (a.dtype !== b.dtype) throw new XpuDTypeError('input and other must have the same dtype', { op, arg: 'other', expected: a.dtype, got: b.dtype });
  return { rtol, atol, equalNan: o.equalNan === true };
}

/** Elementwise closeness as a bool tensor (broadcast); see iscloseKernel for the rule. */
export function isclose(a: Tensor, b: Tensor, options?: IscloseOptions): Tensor {
  const op = 'isclose';
  const { rtol, atol, equalNan } = iscloseArgs(op, a, b, options);
  const device = checkSameDevice(op, [a, b], ['input', 'other']);
  const outShape = broadcastShapes(op, a.shape, b.shape);
  const kind = dtypeInfo(a.dtype).compute;
  return runMap({
    device, kernel: iscloseKernel(kind), inputs: [operand(a, outShape), operand(b, outShape)], outShape, outDtype: 'bool', argKind: kind,
    scalars: [{ kind: 'f32', value: rtol }, { kind: 'f32', value: atol }, { kind: 'u32', value: equalNan ? 1 : 0 }],
  });
}

/**
 * Whether every element is close (torch.allclose). Awaited: the answer is a read-back (torch
 * returns a Python bool, which on a GPU is a synchronisation too).
 */
export async function allclose(a: Tensor, b: Tensor, options?: IscloseOptions): Promise<boolean> {
  const op = 'allclose';
  iscloseArgs(op, a, b, options);
  const close = isclose(a, b, options);
  const every = all(close);
  close.dispose();
  try {
    return (await item(every)) === true;
  } finally {
    every.dispose();
  }
}
