import type { ComputeKind } from '../tensor/dtype.js';
import * as tw from './twins.js';
import { erf, erfc, gelu } from '../backends/scalar_math.js';

export { erf, erfc, gelu };

/**
 * Every elementwise op, defined once for both devices: a WGSL body over x0, x1, x2 (in the
 * argument kind A, returning R) and its JavaScript twin. The WGSL helpers in
 * kernels/common/math.wgsl are within a few ulp of float64; the twins compute in float64 (then
 * round to the dtype), with the same special values (NaN propagation, signed zeros, pow's C99
 * cases), so the devices agree to a few ulp and exactly on special values.
 */
export interface ElementwiseDef {
  wgsl: (kind: ComputeKind) => string;
  js: (kind: ComputeKind) => (...x: number[]) => number;
}

const f = (wgsl: string, js: (...x: number[]) => number): ElementwiseDef => ({ wgsl: () => wgsl, js: () => js });

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);


/** 0.5 x (1 + tanh(v)) written as x sigmoid(2v): the same function, no cancellation for x < 0. */
export const geluTanh = (x: number): number => x / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));

/**
 * A unary def. floatOnly: integer inputs compute in float32 (exp of an int32 is float32), as torch.
 * boolOut: the result is bool whatever the input (isnan, logicalNot). refuse: dtypes torch rejects
 * ('bool': floor of a bool; 'nonfloat': activations of integers). boolAsInt: a bool input computes
 * as int32 (torch's square of a bool is an integer).
 */
export interface UnaryDef extends ElementwiseDef {
  floatOnly: boolean;
  boolOut?: boolean;
  refuse?: 'bool' | 'nonfloat';
  boolAsInt?: boolean;
}

/** Floats through `wgsl` / `js`; integers unchanged (floor, ceil, round and trunc of an integer). */
const roundingOp = (wgsl: string, js: (x: number) => number): UnaryDef => ({
  floatOnly: false, refuse: 'bool', wgsl: (k) => (k === 'f32' ? wgsl : 'return x0;'), js: (k) => (k === 'f32' ? js : (x) => x),
});

/** A bool result from a float test; integers (never NaN or inf) give `int`. */
const floatTest = (wgsl: string, js: (x: number) => boolean, int: boolean): UnaryDef => ({
  floatOnly: false, boolOut: true,
  wgsl: (k) => (k === 'f32' ? `return select(0u, 1u, ${wgsl});` : `return ${int ? '1u' : '0u'};`),
  js: (k) => (k === 'f32' ? (x) => (js(x) ? 1 : 0) : () => (int ? 1 : 0)),
});

/** x != 0 as WGSL on the argument kind (NaN is true, as torch's bool(x); tested on the bits). */
const nonzero = (k: ComputeKind, x: string): string => (k === 'f32' ? `(${x} != 0.0 || is_nan(${x}))` : `(${x} != A(0))`);

const activation = (wgsl: string, js: (...x: number[]) => number): UnaryDef => ({ floatOnly: true, refuse: 'nonfloat', ...f(wgsl, js) });

export const UNARY: Record<string, UnaryDef> = {
  neg: { floatOnly: false, wgsl: (k) => (k === 'u32' ? 'return 0u - x0;' : 'return -x0;'), js: () => (x) => -x },
  abs: { floatOnly: false, wgsl: () => 'return abs(x0);', js: () => Math.abs },
  // torch.relu keeps NaN and -0: x < 0 is false for both (WGSL's max(NaN, 0) may give 0).
  relu: { floatOnly: false, wgsl: () => 'return select(x0, A(0), x0 < A(0));', js: () => (x) => (x < 0 ? 0 : x) },
  exp: { floatOnly: true, ...f('return exp_f32(x0);', Math.exp) },
  log: { floatOnly: true, ...f('return log_f32(x0);', Math.log) },
  sqrt: { floatOnly: true, ...f('return select(sqrt(x0), f32_nan(), x0 < 0.0);', Math.sqrt) },
  rsqrt: { floatOnly: true, ...f('return rsqrt_f32(x0);', (x) => 1 / Math.sqrt(x)) },
  sin: { floatOnly: true, ...f('return sin_f32(x0);', Math.sin) },
  cos: { floatOnly: true, ...f('return cos_f32(x0);', Math.cos) },
  tanh: { floatOnly: true, ...f('return tanh_f32(x0);', Math.tanh) },
  sigmoid: { floatOnly: true, ...f('return sigmoid_f32(x0);', sigmoid) },
  silu: { floatOnly: true, ...f('return silu_f32(x0);', (x) => x * sigmoid(x)) },
  gelu: { floatOnly: true, ...f('return gelu_f32(x0);', gelu) },
  gelu_tanh: { floatOnly: true, ...f('return gelu_tanh_f32(x0);', geluTanh) },
  floor: roundingOp('return floor(x0);', Math.floor),
  ceil: roundingOp('return ceil(x0);', Math.ceil),
  // WGSL's round is half to even, as torch.round (std::nearbyint).
  round: roundingOp('return round(x0);', tw.roundHalfEven),
  trunc: roundingOp('return trunc(x0);', Math.trunc),
  sign: {
    floatOnly: false,
    wgsl: (k) => (k === 'f32' ? 'return sign_f32(x0);' : k === 'i32' ? 'return select(select(0, -1, x0 < 0), 1, x0 > 0);' : 'return select(0u, 1u, x0 > 0u);'),
    js: () => tw.sign,
  },
  erf: { floatOnly: true, ...f('return erf_f32(x0);', erf) },
  log1p: { floatOnly: true, ...f('return log1p_f32(x0);', Math.log1p) },
  expm1: { floatOnly: true, ...f('return expm1_f32(x0);', Math.expm1) },
  reciprocal: { floatOnly: true, ...f('return 1.0 / x0;', (x) => 1 / x) },
  square: {
    floatOnly: false, boolAsInt: true, wgsl: () => 'return x0 * x0;',
    js: (k) => (k === 'f32' ? (x) => x * x : k === 'i32' ? (x) => Math.imul(x, x) : (x) => Math.imul(x, x) >>> 0),
  },
  logicalNot: { floatOnly: false, boolOut: true, wgsl: (k) => `return select(1u, 0u, ${nonzero(k, 'x0')});`, js: () => (x) => (x !== 0 ? 0 : 1) },
  isnan: floatTest('is_nan(x0)', Number.isNaN, false),
  isinf: floatTest('is_inf(x0)', (x) => x === Infinity || x === -Infinity, false),
  isfinite: floatTest('!is_nan(x0) && !is_inf(x0)', Number.isFinite, true),
  hardswish: activation('return hardswish_f32(x0);', tw.hardswish),
  mish: activation('return mish_f32(x0);', tw.mish),
};

/**
 * Unary ops with float parameters (scalars x1, x2 as float32 uniforms): activations refuse
 * integer inputs as torch does; round with decimals computes in float32 steps like torch.
 */
export const PARAMETRIC: Record<string, UnaryDef> = {
  leakyRelu: activation('return select(x0 * x1, x0, x0 > 0.0);', tw.leakyRelu),
  elu: activation('return select(select(x1 * expm1_f32(x0), 0.0, x0 == 0.0), x0, x0 > 0.0 || is_nan(x0));', tw.elu),
  softplus: activation('return softplus_f32(x0, x1, x2);', tw.softplus),
  roundDecimals: {
    floatOnly: true, refuse: 'nonfloat',
    ...f('return select(round(x0 * x1) / x1, round(x0 / x1) * x1, x2 != 0.0);', tw.roundDecimals),
  },
};

/** pow with C99's special cases, as torch.pow (JS's Math.pow differs: 1 ** NaN and (-1) ** inf are NaN there). */
export function powC99(a: number, b: number): number {
  if (b === 0 || a === 1) return 1;
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  if (a === -1 && !Number.isFinite(b)) return 1;
  return Math.pow(a, b);
}

function powJs(kind: ComputeKind): (a: number, b: number) => number {
  if (kind === 'f32') return powC99;
  return (a, b) => {
    if (kind === 'i32' && b < 0) return a === 1 ? 1 : a === -1 ? (b & 1 ? -1 : 1) : 0;
    let r = 1, base = a, e = b >>> 0;
    while (e > 0) {
      if (e & 1) r = Math.imul(r, base);
      base = Math.imul(base, base);
      e >>>= 1;
    }
    return r;
  };
}

// Float comparisons test NaN on the bits: WGSL lets a compiler assume there is none, and Mesa
// compiles NaN != x to false (torch: true).
const cmp = (op: string, js: (a: number, b: number) => boolean): ElementwiseDef => ({
  wgsl: (k) => {
    if (k !== 'f32') return `return select(0u, 1u, x0 ${op} x1);`;
    return op === '!=' ? 'return select(0u, 1u, x0 != x1 || is_nan(x0) || is_nan(x1));' : `return select(0u, 1u, x0 ${op} x1 && !is_nan(x0) && !is_nan(x1));`;
  },
  js: () => (a, b) => (js(a, b) ? 1 : 0),
});

// torch.maximum/minimum: NaN wins, and otherwise a unless b is strictly larger (smaller), so
// maximum(-0, 0) = -0 (Math.max gives 0).
const maximum = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? b : a);
const minimum = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : b < a ? b : a);

export const BINARY: Record<string, ElementwiseDef> = {
  add: { wgsl: () => 'return x0 + x1;', js: () => (a, b) => a + b },
  sub: { wgsl: () => 'return x0 - x1;', js: () => (a, b) => a - b },
  mul: { wgsl: () => 'return x0 * x1;', js: (k) => (k === 'f32' ? (a, b) => a * b : (a, b) => Math.imul(a, b)) },
  div: f('return x0 / x1;', (a, b) => a / b),
  pow: {
    wgsl: (k) => (k === 'f32' ? 'return pow_f32(x0, x1);' : k === 'i32' ? 'return pow_i32(x0, x1);' : 'return pow_u32(x0, x1);'),
    js: powJs,
  },
  maximum: { wgsl: (k) => (k === 'f32' ? 'return max_f32(x0, x1);' : 'return max(x0, x1);'), js: () => maximum },
  minimum: { wgsl: (k) => (k === 'f32' ? 'return min_f32(x0, x1);' : 'return min(x0, x1);'), js: () => minimum },
  eq: cmp('==', (a, b) => a === b),
  ne: cmp('!=', (a, b) => a !== b),
  lt: cmp('<', (a, b) => a < b),
  le: cmp('<=', (a, b) => a <= b),
  gt: cmp('>', (a, b) => a > b),
  ge: cmp('>=', (a, b) => a >= b),
  logicalAnd: { wgsl: (k) => `return select(0u, 1u, ${nonzero(k, 'x0')} && ${nonzero(k, 'x1')});`, js: () => (a, b) => (a !== 0 && b !== 0 ? 1 : 0) },
  logicalOr: { wgsl: (k) => `return select(0u, 1u, ${nonzero(k, 'x0')} || ${nonzero(k, 'x1')});`, js: () => (a, b) => (a !== 0 || b !== 0 ? 1 : 0) },
  logicalXor: { wgsl: (k) => `return select(0u, 1u, ${nonzero(k, 'x0')} != ${nonzero(k, 'x1')});`, js: () => (a, b) => ((a !== 0) !== (b !== 0) ? 1 : 0) },
  floorDivide: {
    wgsl: (k) => (k === 'f32' ? 'return floor_divide_f32(x0, x1);' : k === 'i32' ? 'return floor_divide_i32(x0, x1);' : 'return select(x0 / max(x1, 1u), 0u, x1 == 0u);'),
    js: (k) => (k === 'f32' ? tw.floorDivide : tw.floorDivideInt),
  },
  remainder: {
    wgsl: (k) => (k === 'f32' ? 'return remainder_f32(x0, x1);' : k === 'i32' ? 'return remainder_i32(x0, x1);' : 'return select(x0 % max(x1, 1u), 0u, x1 == 0u);'),
    js: (k) => (k === 'f32' ? tw.remainder : tw.remainderInt),
  },
  fmod: {
    wgsl: (k) => (k === 'f32' ? 'return fmod_f32(x0, x1);' : k === 'i32' ? 'return fmod_i32(x0, x1);' : 'return select(x0 % max(x1, 1u), 0u, x1 == 0u);'),
    js: (k) => (k === 'f32' ? (a, b) => a % b : tw.fmodInt),
  },
};

export const COMPARISONS = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
/** Binary ops whose result is bool: comparisons and the logical ops (any dtype in, bool included). */
export const BOOL_RESULT = new Set([...COMPARISONS, 'logicalAnd', 'logicalOr', 'logicalXor']);
/** Binary ops torch refuses for bool tensors (besides arithmetic, which binaryOp already refuses). */
export const INTEGER_DIVISIONS = new Set(['floorDivide', 'remainder', 'fmod']);

/**
 * Ternary ops. clamp: tensor bounds, NaN from any operand (scalar bounds come as operands too;
 * an absent one is the dtype's extreme). lerp: floats. maskedFill: x where the mask (x1) is 0,
 * else the value (x2).
 */
export const TERNARY: Record<string, ElementwiseDef> = {
  clamp: {
    wgsl: (k) => (k === 'f32' ? 'return clamp_f32(x0, x1, x2);' : 'return min(max(x0, x1), x2);'),
    js: (k) => (k === 'f32' ? tw.clampNaN : (x, lo, hi) => Math.min(Math.max(x, lo), hi)),
  },
  lerp: f('return select(x1 - (x1 - x0) * (1.0 - x2), x0 + x2 * (x1 - x0), abs(x2) < 0.5);', tw.lerp),
  maskedFill: { wgsl: () => 'return select(x0, x2, x1 != A(0));', js: () => (x, m, v) => (m !== 0 ? v : x) },
};
