import { where } from '../../ops/elementwise.js';
import {
  abs,
  add,
  cos,
  div,
  eq,
  erf,
  exp,
  floor,
  ge,
  gt,
  le,
  log,
  logicalAnd,
  lt,
  mul,
  neg,
  pow,
  sigmoid,
  sign,
  sin,
  sub,
  tanh,
  trunc,
} from '../../ops/math.js';
import { zerosLike } from '../../ops/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineGrad, type BackwardFn, type SavedContext, type SaveSpec } from '../record.js';
import { fusedGrad } from './fused.js';

/**
 * Gradients of the elementwise ops (src/ops/elementwise.ts records them by the op's name). The
 * formulas are torch's (tools/autograd/derivatives.yaml), written with our public ops so that a
 * backward under createGraph is itself differentiable.
 */

type T = Tensor;
const x0 = (c: SavedContext): T => c.inputs[0] as T;
const y0 = (c: SavedContext): T => c.outputs[0];

/** A unary op whose gradient is g * d(x, out). */
function unary(name: string, save: 'input' | 'output' | 'both', d: (g: T, x: T, out: T, c: SavedContext) => T): void {
  defineGrad(name, {
    save: { inputs: save !== 'output', outputs: save !== 'input' },
    backward: ([g], c) => [d(g as T, x0(c), y0(c), c)],
  });
}

const SQRT_2_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

unary('neg', 'input', (g) => neg(g));
unary('abs', 'input', (g, x) => mul(g, sign(x)));
unary('relu', 'output', (g, _x, y) => where(gt(y, 0), g, 0));
unary('exp', 'output', (g, _x, y) => mul(g, y));
unary('log', 'input', (g, x) => div(g, x));
unary('sqrt', 'output', (g, _x, y) => div(g, mul(y, 2)));
unary('rsqrt', 'output', (g, _x, y) => mul(g, mul(pow(y, 3), -0.5)));
unary('sin', 'input', (g, x) => mul(g, cos(x)));
unary('cos', 'input', (g, x) => mul(g, neg(sin(x))));
unary('tanh', 'output', (g, _x, y) => fusedGrad('tanhBackward', g, y) ?? mul(g, sub(1, mul(y, y))));
unary('sigmoid', 'output', (g, _x, y) => fusedGrad('sigmoidBackward', g, y) ?? mul(g, mul(y, sub(1, y))));
/** g * silu'(x) = g s (1 + x (1 - s)). */
export function siluGrad(g: T, x: T): T {
  const fused = fusedGrad('siluBackward', g, x);
  if (fused) return fused;
  const s = sigmoid(x);
  return mul(g, mul(s, add(1, mul(x, sub(1, s)))));
}
/** g * gelu'(x): d/dx x Phi(x) = Phi(x) + x phi(x). */
export function geluGrad(g: T, x: T): T {
  const fused = fusedGrad('geluBackward', g, x);
  if (fused) return fused;
  const cdf = mul(add(erf(mul(x, INV_SQRT_2)), 1), 0.5);
  const pdf = mul(exp(mul(mul(x, x), -0.5)), INV_SQRT_2PI);
  return mul(g, add(cdf, mul(x, pdf)));
}
/** g * relu'(x) (0 at 0, as torch). */
export const reluGrad = (g: T, x: T): T => where(gt(x, 0), g, 0);
unary('silu', 'input', siluGrad);
unary('gelu', 'input', geluGrad);
// 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
unary('gelu_tanh', 'input', (g, x) => {
  const x2 = mul(x, x);
  const t = tanh(mul(mul(x, add(mul(x2, 0.044715), 1)), SQRT_2_PI));
  const du = mul(add(mul(x2, 3 * 0.044715), 1), SQRT_2_PI);
  const d = add(mul(add(t, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, mul(t, t))), du));
  return mul(g, d);
});
unary('erf', 'input', (g, x) => mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))));
unary('log1p', 'input', (g, x) => div(g, add(x, 1)));
unary('expm1', 'output', (g, _x, y) => mul(g, add(y, 1)));
unary('reciprocal', 'output', (g, _x, y) => mul(neg(g), mul(y, y)));
unary('square', 'input', (g, x) => mul(g, mul(x, 2)));
// torch's hardswish_backward: 0 below -3, x/3 + 1/2 up to 3 (inclusive), 1 above.
unary('hardswish', 'input', (g, x) => mul(g, where(lt(x, -3), 0, where(le(x, 3), add(div(x, 3), 0.5), 1))));
// mish = x tanh(softplus(x)): tanh(sp) + x sech^2(sp) sigmoid(x).
unary('mish', 'input', (g, x) => {
  const softplus = add(log(add(exp(neg(abs(x))), 1)), where(gt(x, 0), x, 0));
  const t = tanh(softplus);
  return mul(g, add(t, mul(mul(x, sub(1, mul(t, t))), sigmoid(x))));
});
for (const name of ['floor', 'ceil', 'round', 'trunc', 'sign']) unary(name, 'input', (g) => zerosLike(g));

// Parametric ops: the parameters travel in attrs.params.
const params = (c: SavedContext): number[] => c.attrs.params as number[];
unary('leakyRelu', 'input', (g, x, _y, c) => where(gt(x, 0), g, mul(g, params(c)[0])));
unary('elu', 'both', (g, x, y, c) => where(gt(x, 0), g, mul(g, add(y, params(c)[0]))));
unary('softplus', 'input', (g, x, _y, c) => {
  const [beta, threshold] = params(c);
  const bx = mul(x, beta);
  return where(gt(bx, threshold), g, mul(g, sigmoid(bx)));
});

// ---- binary ops (either operand may be a number, which gets no gradient) ----
function binary(
  name: string,
  save: SaveSpec | ((needs: readonly boolean[]) => SaveSpec),
  fa: ((g: T, a: T | number, b: T | number, out: T) => T) | null,
  fb: ((g: T, a: T | number, b: T | number, out: T) => T) | null,
): void {
  const backward: BackwardFn = ([g], c) => {
    const [a, b] = c.inputs as (T | number)[];
    const out = c.outputs[0];
    return [c.needs[0] && fa ? fa(g as T, a, b, out) : null, c.needs[1] && fb ? fb(g as T, a, b, out) : null];
  };
  defineGrad(name, { save, backward });
}

binary(
  'add',
  {},
  (g) => g,
  (g) => g,
);
binary(
  'sub',
  {},
  (g) => g,
  (g) => neg(g),
);
// Each operand's gradient reads the other one only.
binary(
  'mul',
  (needs) => ({ inputs: [needs[1], needs[0]] }),
  (g, _a, b) => mul(g, b),
  (g, a) => mul(g, a),
);
binary(
  'div',
  (needs) => ({ inputs: [false, true], outputs: needs[1] }),
  (g, _a, b) => div(g, b),
  (g, _a, b, out) => neg(div(mul(g, out), b)),
);
// torch: exponent * x^(exponent - 1), 0 where the exponent is 0; x^e log(x), 0 where x = 0 and e >= 0.
binary(
  'pow',
  { inputs: true, outputs: true },
  (g, a, b) => {
    const d = mul(b, pow(a, typeof b === 'number' ? b - 1 : sub(b, 1)));
    return mul(g, typeof b === 'number' ? (b === 0 ? mul(d, 0) : d) : where(eq(b, 0), 0, d));
  },
  (g, a, _b, out) => {
    if (typeof a === 'number') return mul(g, mul(out, Math.log(a)));
    const d = mul(out, log(a));
    return mul(g, where(logicalAnd(eq(a, 0), ge(out, 0)), 0, d));
  },
);
// Ties share the gradient equally (torch's maximum / minimum).
const extremeGrad =
  (mine: (a: T | number, b: T | number) => T) =>
  (g: T, a: T | number, b: T | number): T =>
    where(eq(a as T, b), mul(g, 0.5), where(mine(a, b), g, 0));
binary(
  'maximum',
  { inputs: true },
  extremeGrad((a, b) => gt(a as T, b)),
  extremeGrad((a, b) => gt(b as T, a)),
);
binary(
  'minimum',
  { inputs: true },
  extremeGrad((a, b) => lt(a as T, b)),
  extremeGrad((a, b) => lt(b as T, a)),
);
binary(
  'remainder',
  { inputs: true },
  (g) => g,
  (g, a, b) => neg(mul(g, floor(div(a as T, b)))),
);
binary(
  'fmod',
  { inputs: true },
  (g) => g,
  (g, a, b) => neg(mul(g, trunc(div(a as T, b)))),
);

// where(cond, a, b): the condition gets none.
defineGrad('where', {
  save: { inputs: true },
  backward: ([g], c) => {
    const cond = c.inputs[0] as T;
    return [null, c.needs[1] ? where(cond, g as T, 0) : null, c.needs[2] ? where(cond, 0, g as T) : null];
  },
});
