import type { ComputeKind } from '../tensor/dtype.js';

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

/**
 * erfc in float64, to ~1e-13 relative: 1 - erf by its series of positive terms below 2.5
 * (erf(x) = 2/sqrt(pi) e^-x^2 sum (2x^2)^n x / (2n+1)!!), the continued fraction
 * erfc(x) = e^-x^2 / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))) above.
 * (The WGSL twin in kernels/common/math.wgsl is an f32 fit of the same function.)
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) return 1 - erfSeries(x);
  if (x > 27) return 0;
  let t = x;
  for (let k = 60; k >= 1; k--) t = x + k / 2 / t;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * t);
}

function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && term > sum * 1e-17; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const r = a < 2.5 ? erfSeries(a) : 1 - erfc(a);
  return x < 0 ? -r : r;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** gelu(x) = x Phi(x), Phi through erfc so that the negative tail keeps its precision. */
export const gelu = (x: number): number => (x === -Infinity ? NaN : x * 0.5 * erfc(-x * Math.SQRT1_2));

/** 0.5 x (1 + tanh(v)) written as x sigmoid(2v): the same function, no cancellation for x < 0. */
export const geluTanh = (x: number): number => x / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));

export const UNARY: Record<string, ElementwiseDef & { floatOnly: boolean }> = {
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
};

export const COMPARISONS = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
