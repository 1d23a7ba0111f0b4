import type { ComputeKind } from '../tensor/dtype.js';
import * as tw from './twins.js';
import { erf, erfc, gelu, sigmoid } from '../backends/scalar_math.js';

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
  /** The public function and Tensor method made from this entry; absent for internal entries (gelu_tanh). */
  api?: ApiDecl;
}

/**
 * How an entry appears in the public API. scripts/gen_ops.ts reads these fields and writes
 * src/ops/generated/: the function `xpu.<name>` (the entry's key) with `doc` as its doc comment,
 * and, unless `method` is false, the Tensor method `t.<name>(...)` with its type. The signature
 * comes from the kind:
 * - 'unary': (x: Tensor), 'binary': (a, b: Tensor | number | boolean; numbers act as scalars),
 *   'tensors': (a: Tensor, b: Tensor), numbers refused by name (torch's logical ops);
 * - 'wrapper': hand-written in src/ops/elementwise_wrappers.ts under the same name, for ops with
 *   options or parameters (gelu's approximate, round's decimals); the method's type is derived
 *   from the wrapper's (its parameters after the first).
 */
export interface ApiDecl {
  kind: 'unary' | 'binary' | 'tensors' | 'wrapper';
  doc: string;
  method: boolean;
}

const apiDecl =
  (kind: ApiDecl['kind']) =>
  (doc: string, { method = true }: { method?: boolean } = {}): ApiDecl => ({ kind, doc, method });
const unaryFn = apiDecl('unary');
const binaryFn = apiDecl('binary');
const tensorsFn = apiDecl('tensors');
const wrapperFn = apiDecl('wrapper');

const f = (wgsl: string, js: (...x: number[]) => number): ElementwiseDef => ({ wgsl: () => wgsl, js: () => js });

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
  floatOnly: false,
  refuse: 'bool',
  wgsl: (k) => (k === 'f32' ? wgsl : 'return x0;'),
  js: (k) => (k === 'f32' ? js : (x) => x),
});

/** A bool result from a float test; integers (never NaN or inf) give `int`. */
const floatTest = (wgsl: string, js: (x: number) => boolean, int: boolean): UnaryDef => ({
  floatOnly: false,
  boolOut: true,
  wgsl: (k) => (k === 'f32' ? `return select(0u, 1u, ${wgsl});` : `return ${int ? '1u' : '0u'};`),
  js: (k) => (k === 'f32' ? (x) => (js(x) ? 1 : 0) : () => (int ? 1 : 0)),
});

/** x != 0 as WGSL on the argument kind (NaN is true, as torch's bool(x); tested on the bits). */
const nonzero = (k: ComputeKind, x: string): string => (k === 'f32' ? `(${x} != 0.0 || is_nan(${x}))` : `(${x} != A(0))`);

const activation = (wgsl: string, js: (...x: number[]) => number): UnaryDef => ({ floatOnly: true, refuse: 'nonfloat', ...f(wgsl, js) });

export const UNARY: Record<string, UnaryDef> = {
  neg: {
    api: unaryFn('-x; not for bool tensors.'),
    floatOnly: false,
    wgsl: (k) => (k === 'u32' ? 'return 0u - x0;' : 'return -x0;'),
    js: () => (x) => -x,
  },
  abs: { api: unaryFn('|x|; not for bool tensors.'), floatOnly: false, wgsl: () => 'return abs(x0);', js: () => Math.abs },
  // torch.relu keeps NaN and -0: x < 0 is false for both (WGSL's max(NaN, 0) may give 0).
  relu: {
    api: unaryFn('max(x, 0), keeping NaN and -0 as torch.relu does.'),
    floatOnly: false,
    wgsl: () => 'return select(x0, A(0), x0 < A(0));',
    js: () => (x) => (x < 0 ? 0 : x),
  },
  exp: { api: unaryFn('e^x; integer inputs give float32.'), floatOnly: true, ...f('return exp_f32(x0);', Math.exp) },
  log: { api: unaryFn('The natural logarithm; integer inputs give float32.'), floatOnly: true, ...f('return log_f32(x0);', Math.log) },
  sqrt: {
    api: unaryFn('The square root (NaN below 0); integer inputs give float32.'),
    floatOnly: true,
    ...f('return select(sqrt(x0), f32_nan(), x0 < 0.0);', Math.sqrt),
  },
  rsqrt: {
    api: unaryFn('1 / sqrt(x); integer inputs give float32.'),
    floatOnly: true,
    ...f('return rsqrt_f32(x0);', (x) => 1 / Math.sqrt(x)),
  },
  sin: { api: unaryFn('The sine (radians); integer inputs give float32.'), floatOnly: true, ...f('return sin_f32(x0);', Math.sin) },
  cos: { api: unaryFn('The cosine (radians); integer inputs give float32.'), floatOnly: true, ...f('return cos_f32(x0);', Math.cos) },
  tanh: { api: unaryFn('The hyperbolic tangent; integer inputs give float32.'), floatOnly: true, ...f('return tanh_f32(x0);', Math.tanh) },
  sigmoid: { api: unaryFn('1 / (1 + e^-x); integer inputs give float32.'), floatOnly: true, ...f('return sigmoid_f32(x0);', sigmoid) },
  silu: {
    api: unaryFn('x * sigmoid(x) (SiLU, swish); integer inputs give float32.'),
    floatOnly: true,
    ...f('return silu_f32(x0);', (x) => x * sigmoid(x)),
  },
  gelu: {
    api: wrapperFn("GELU; approximate 'tanh' uses the tanh form, 'none' (default) the exact erf form."),
    floatOnly: true,
    ...f('return gelu_f32(x0);', gelu),
  },
  gelu_tanh: { floatOnly: true, ...f('return gelu_tanh_f32(x0);', geluTanh) },
  floor: { api: unaryFn('Rounds down; integers stay as they are.'), ...roundingOp('return floor(x0);', Math.floor) },
  ceil: { api: unaryFn('Rounds up; integers stay as they are.'), ...roundingOp('return ceil(x0);', Math.ceil) },
  // WGSL's round is half to even, as torch.round (std::nearbyint).
  round: {
    api: wrapperFn(
      'Rounds half to even (torch.round); with `decimals` (float inputs), to that many decimal places (negative: tens, hundreds...), computed in float32 steps as torch does: round(x 10^d) / 10^d.',
    ),
    ...roundingOp('return round(x0);', tw.roundHalfEven),
  },
  trunc: { api: unaryFn('Rounds toward zero; integers stay as they are.'), ...roundingOp('return trunc(x0);', Math.trunc) },
  sign: {
    api: unaryFn('-1, 0 or 1 (sign(NaN) = 0 and sign(-0) = 0, as torch 1.13); bool stays bool.'),
    floatOnly: false,
    wgsl: (k) =>
      k === 'f32'
        ? 'return sign_f32(x0);'
        : k === 'i32'
          ? 'return select(select(0, -1, x0 < 0), 1, x0 > 0);'
          : 'return select(0u, 1u, x0 > 0u);',
    js: () => tw.sign,
  },
  erf: { api: unaryFn('The error function; integer inputs give float32.'), floatOnly: true, ...f('return erf_f32(x0);', erf) },
  log1p: { api: unaryFn('log(1 + x), accurate near 0.'), floatOnly: true, ...f('return log1p_f32(x0);', Math.log1p) },
  expm1: { api: unaryFn('e^x - 1, accurate near 0.'), floatOnly: true, ...f('return expm1_f32(x0);', Math.expm1) },
  reciprocal: { api: unaryFn('1 / x; integer inputs give float32.'), floatOnly: true, ...f('return 1.0 / x0;', (x) => 1 / x) },
  square: {
    api: unaryFn("x * x in x's dtype (bool gives int32)."),
    floatOnly: false,
    boolAsInt: true,
    wgsl: () => 'return x0 * x0;',
    js: (k) => (k === 'f32' ? (x) => x * x : k === 'i32' ? (x) => Math.imul(x, x) : (x) => Math.imul(x, x) >>> 0),
  },
  logicalNot: {
    api: unaryFn('Elementwise not (x == 0) as bool; NaN counts as true, as in torch.'),
    floatOnly: false,
    boolOut: true,
    wgsl: (k) => `return select(1u, 0u, ${nonzero(k, 'x0')});`,
    js: () => (x) => (x !== 0 ? 0 : 1),
  },
  isnan: { api: unaryFn('True where x is NaN (bool).'), ...floatTest('is_nan(x0)', Number.isNaN, false) },
  isinf: {
    api: unaryFn('True where x is +inf or -inf (bool).'),
    ...floatTest('is_inf(x0)', (x) => x === Infinity || x === -Infinity, false),
  },
  isfinite: {
    api: unaryFn('True where x is neither NaN nor infinite (bool).'),
    ...floatTest('!is_nan(x0) && !is_inf(x0)', Number.isFinite, true),
  },
  hardswish: {
    api: unaryFn('x * relu6(x + 3) / 6 (torch.nn.functional.hardswish); float inputs only.', { method: false }),
    ...activation('return hardswish_f32(x0);', tw.hardswish),
  },
  mish: {
    api: unaryFn('x * tanh(softplus(x)) (torch.nn.functional.mish); float inputs only.', { method: false }),
    ...activation('return mish_f32(x0);', tw.mish),
  },
};

/**
 * Unary ops with float parameters (scalars x1, x2 as float32 uniforms): activations refuse
 * integer inputs as torch does; round with decimals computes in float32 steps like torch.
 */
export const PARAMETRIC: Record<string, UnaryDef> = {
  leakyRelu: {
    api: wrapperFn('x where x > 0, else negativeSlope * x (torch.nn.functional.leaky_relu); float inputs only.', { method: false }),
    ...activation('return select(x0 * x1, x0, x0 > 0.0);', tw.leakyRelu),
  },
  elu: {
    api: wrapperFn('x where x > 0, else alpha * (e^x - 1) (torch.nn.functional.elu); float inputs only.', { method: false }),
    ...activation('return select(select(x1 * expm1_f32(x0), 0.0, x0 == 0.0), x0, x0 > 0.0 || is_nan(x0));', tw.elu),
  },
  softplus: {
    api: wrapperFn('log(1 + e^(beta x)) / beta, and x itself where beta x > threshold.', { method: false }),
    ...activation('return softplus_f32(x0, x1, x2);', tw.softplus),
  },
  roundDecimals: {
    floatOnly: true,
    refuse: 'nonfloat',
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
    let r = 1,
      base = a,
      e = b >>> 0;
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
    return op === '!='
      ? 'return select(0u, 1u, x0 != x1 || is_nan(x0) || is_nan(x1));'
      : `return select(0u, 1u, x0 ${op} x1 && !is_nan(x0) && !is_nan(x1));`;
  },
  js: () => (a, b) => (js(a, b) ? 1 : 0),
});

// torch.maximum/minimum: NaN wins, and otherwise a unless b is strictly larger (smaller), so
// maximum(-0, 0) = -0 (Math.max gives 0).
const maximum = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? b : a);
const minimum = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : b < a ? b : a);

export const BINARY: Record<string, ElementwiseDef> = {
  add: {
    api: binaryFn("a + b, with torch's type promotion; a number acts as a scalar."),
    wgsl: () => 'return x0 + x1;',
    js: () => (a, b) => a + b,
  },
  sub: {
    api: binaryFn("a - b, with torch's type promotion; a number acts as a scalar."),
    wgsl: () => 'return x0 - x1;',
    js: () => (a, b) => a - b,
  },
  mul: {
    api: binaryFn("a * b, with torch's type promotion; a number acts as a scalar."),
    wgsl: () => 'return x0 * x1;',
    js: (k) => (k === 'f32' ? (a, b) => a * b : (a, b) => Math.imul(a, b)),
  },
  div: { api: binaryFn('a / b (true division: integers give float32).'), ...f('return x0 / x1;', (a, b) => a / b) },
  pow: {
    api: binaryFn("a ** b with C99's special cases, as torch.pow; exact for integer exponents."),
    wgsl: (k) => (k === 'f32' ? 'return pow_f32(x0, x1);' : k === 'i32' ? 'return pow_i32(x0, x1);' : 'return pow_u32(x0, x1);'),
    js: powJs,
  },
  maximum: {
    api: binaryFn('The larger of a and b; NaN wins, as torch.maximum.'),
    wgsl: (k) => (k === 'f32' ? 'return max_f32(x0, x1);' : 'return max(x0, x1);'),
    js: () => maximum,
  },
  minimum: {
    api: binaryFn('The smaller of a and b; NaN wins, as torch.minimum.'),
    wgsl: (k) => (k === 'f32' ? 'return min_f32(x0, x1);' : 'return min(x0, x1);'),
    js: () => minimum,
  },
  eq: { api: binaryFn('a == b (bool).'), ...cmp('==', (a, b) => a === b) },
  ne: { api: binaryFn('a != b (bool; NaN != NaN is true).'), ...cmp('!=', (a, b) => a !== b) },
  lt: { api: binaryFn('a < b (bool).'), ...cmp('<', (a, b) => a < b) },
  le: { api: binaryFn('a <= b (bool).'), ...cmp('<=', (a, b) => a <= b) },
  gt: { api: binaryFn('a > b (bool).'), ...cmp('>', (a, b) => a > b) },
  ge: { api: binaryFn('a >= b (bool).'), ...cmp('>=', (a, b) => a >= b) },
  logicalAnd: {
    api: tensorsFn('a && b elementwise as bool (nonzero is true, NaN too); tensors only, as torch.'),
    wgsl: (k) => `return select(0u, 1u, ${nonzero(k, 'x0')} && ${nonzero(k, 'x1')});`,
    js: () => (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  },
  logicalOr: {
    api: tensorsFn('a || b elementwise as bool (nonzero is true, NaN too); tensors only, as torch.'),
    wgsl: (k) => `return select(0u, 1u, ${nonzero(k, 'x0')} || ${nonzero(k, 'x1')});`,
    js: () => (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
  },
  logicalXor: {
    api: tensorsFn('Exactly one of a and b nonzero, as bool; tensors only, as torch.'),
    wgsl: (k) => `return select(0u, 1u, ${nonzero(k, 'x0')} != ${nonzero(k, 'x1')});`,
    js: () => (a, b) => ((a !== 0) !== (b !== 0) ? 1 : 0),
  },
  floorDivide: {
    api: binaryFn("floor(a / b) (Python's //); integer division by zero throws on cpu (as torch) and gives 0 on xpu."),
    wgsl: (k) =>
      k === 'f32'
        ? 'return floor_divide_f32(x0, x1);'
        : k === 'i32'
          ? 'return floor_divide_i32(x0, x1);'
          : 'return select(x0 / max(x1, 1u), 0u, x1 == 0u);',
    js: (k) => (k === 'f32' ? tw.floorDivide : tw.floorDivideInt),
  },
  remainder: {
    api: binaryFn("a mod b with the sign of b (Python's %, torch.remainder)."),
    wgsl: (k) =>
      k === 'f32'
        ? 'return remainder_f32(x0, x1);'
        : k === 'i32'
          ? 'return remainder_i32(x0, x1);'
          : 'return select(x0 % max(x1, 1u), 0u, x1 == 0u);',
    js: (k) => (k === 'f32' ? tw.remainder : tw.remainderInt),
  },
  fmod: {
    api: binaryFn("a mod b with the sign of a (C's fmod, torch.fmod)."),
    wgsl: (k) =>
      k === 'f32'
        ? 'return fmod_f32(x0, x1);'
        : k === 'i32'
          ? 'return fmod_i32(x0, x1);'
          : 'return select(x0 % max(x1, 1u), 0u, x1 == 0u);',
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
    api: wrapperFn(
      "clamp(x, min, max): min(max(x, min), max) elementwise (max wins where min > max), bounds as tensors (broadcast) or numbers, either absent but not both. NaN as torch: a NaN element stays NaN; a NaN tensor bound, or a NaN number bound beside another bound, gives NaN; a single NaN number bound is ignored (torch's scalar clamp_min / clamp_max). The dtype is torch.result_type's of the given operands (int8 clamped by 2.5 is float32).",
    ),
    wgsl: (k) => (k === 'f32' ? 'return clamp_f32(x0, x1, x2);' : 'return min(max(x0, x1), x2);'),
    js: (k) => (k === 'f32' ? tw.clampNaN : (x, lo, hi) => Math.min(Math.max(x, lo), hi)),
  },
  lerp: {
    api: wrapperFn(
      'start + weight (end - start) (torch.lerp: weight < 0.5 from start, else from end); float tensors of one dtype, weight a number or a tensor of that dtype, all broadcast.',
    ),
    ...f('return select(x1 - (x1 - x0) * (1.0 - x2), x0 + x2 * (x1 - x0), abs(x2) < 0.5);', tw.lerp),
  },
  maskedFill: {
    api: wrapperFn(
      "x with `value` where mask is true (torch.masked_fill): mask bool, broadcast with x; value a number or a 0-d tensor, converted to x's dtype as torch does (7.5 fills an int tensor with 7).",
    ),
    wgsl: () => 'return select(x0, x2, x1 != A(0));',
    js: () => (x, m, v) => (m !== 0 ? v : x),
  },
};
