import type { ComputeKind } from '../tensor/dtype.js';

/**
 * Every elementwise op, defined once for both devices: a WGSL body over x0, x1, x2 (in the
 * argument kind A, returning R) and its JavaScript twin. The twins follow the WGSL helpers in
 * kernels/common/math.wgsl so the devices agree (NaN propagation, pow's special cases, erf).
 */
export interface ElementwiseDef {
  wgsl: (kind: ComputeKind) => string;
  js: (kind: ComputeKind) => (...x: number[]) => number;
}

const f = (wgsl: string, js: (...x: number[]) => number): ElementwiseDef => ({ wgsl: () => wgsl, js: () => js });

// erf: the same Abramowitz & Stegun / Numerical Recipes erfc form as kernels/common/math.wgsl.
export function erf(x: number): number {
  const a = Math.abs(x);
  const t = 1 / (1 + 0.5 * a);
  const y = 1 - t * Math.exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x < 0 ? -y : y;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export const UNARY: Record<string, ElementwiseDef & { floatOnly: boolean }> = {
  neg: { floatOnly: false, wgsl: (k) => (k === 'u32' ? 'return 0u - x0;' : 'return -x0;'), js: () => (x) => -x },
  abs: { floatOnly: false, wgsl: () => 'return abs(x0);', js: () => Math.abs },
  relu: { floatOnly: false, wgsl: () => 'return max(x0, A(0));', js: () => (x) => (Number.isNaN(x) ? x : Math.max(x, 0)) },
  exp: { floatOnly: true, ...f('return exp(x0);', Math.exp) },
  log: { floatOnly: true, ...f('return select(log(x0), f32_nan(), x0 < 0.0);', Math.log) },
  sqrt: { floatOnly: true, ...f('return select(sqrt(x0), f32_nan(), x0 < 0.0);', Math.sqrt) },
  rsqrt: { floatOnly: true, ...f('return select(inverseSqrt(x0), select(f32_inf(), f32_nan(), x0 < 0.0), x0 <= 0.0);', (x) => 1 / Math.sqrt(x)) },
  sin: { floatOnly: true, ...f('return sin(x0);', Math.sin) },
  cos: { floatOnly: true, ...f('return cos(x0);', Math.cos) },
  tanh: { floatOnly: true, ...f('return tanh_f32(x0);', Math.tanh) },
  sigmoid: { floatOnly: true, ...f('return sigmoid_f32(x0);', sigmoid) },
  silu: { floatOnly: true, ...f('return x0 * sigmoid_f32(x0);', (x) => x * sigmoid(x)) },
  gelu: { floatOnly: true, ...f('return 0.5 * x0 * (1.0 + erf_f32(x0 * 0.7071067811865476));', (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2))) },
  gelu_tanh: {
    floatOnly: true,
    ...f('return 0.5 * x0 * (1.0 + tanh_f32(0.7978845608028654 * (x0 + 0.044715 * x0 * x0 * x0)));',
      (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))),
  },
};

function powJs(kind: ComputeKind): (a: number, b: number) => number {
  if (kind === 'f32') return (a, b) => (b === 0 ? 1 : Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.pow(a, b));
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

const cmp = (op: string, js: (a: number, b: number) => boolean): ElementwiseDef => f(`return select(0u, 1u, x0 ${op} x1);`, (a, b) => (js(a, b) ? 1 : 0));

export const BINARY: Record<string, ElementwiseDef> = {
  add: { wgsl: () => 'return x0 + x1;', js: () => (a, b) => a + b },
  sub: { wgsl: () => 'return x0 - x1;', js: () => (a, b) => a - b },
  mul: { wgsl: () => 'return x0 * x1;', js: (k) => (k === 'f32' ? (a, b) => a * b : (a, b) => Math.imul(a, b)) },
  div: f('return x0 / x1;', (a, b) => a / b),
  pow: {
    wgsl: (k) => (k === 'f32' ? 'return pow_f32(x0, x1);' : k === 'i32' ? 'return pow_i32(x0, x1);' : 'return pow_u32(x0, x1);'),
    js: powJs,
  },
  maximum: { wgsl: (k) => (k === 'f32' ? 'return max_f32(x0, x1);' : 'return max(x0, x1);'), js: () => Math.max },
  minimum: { wgsl: (k) => (k === 'f32' ? 'return min_f32(x0, x1);' : 'return min(x0, x1);'), js: () => Math.min },
  eq: cmp('==', (a, b) => a === b),
  ne: cmp('!=', (a, b) => a !== b),
  lt: cmp('<', (a, b) => a < b),
  le: cmp('<=', (a, b) => a <= b),
  gt: cmp('>', (a, b) => a > b),
  ge: cmp('>=', (a, b) => a >= b),
};

export const COMPARISONS = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
