import { where } from '../../ops/elementwise.js';
import { abs, div, eq, exp, mul, pow, sign, sub } from '../../ops/math.js';
import { mean, prod, sum } from '../../ops/reduce.js';
import { expand, reshape } from '../../ops/views.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineGrad, type SavedContext } from '../record.js';

/**
 * Gradients of the reductions. Every reduction records attrs { dims (normalised, sorted),
 * keepdim, shape (the input's) }; a gradient is reshaped to keepdim's shape and expanded (a view)
 * back over the reduced dims.
 */

type T = Tensor;
interface ReduceAttrs {
  dims: number[];
  keepdim: boolean;
  shape: number[];
  correction?: number;
  p?: number | 'fro';
}
const attrs = (c: SavedContext): ReduceAttrs => c.attrs as unknown as ReduceAttrs;

/** A reduction's result (or its gradient) as a tensor of the input's shape. */
export function expandBack(g: T, a: ReduceAttrs): T {
  const kept = a.shape.map((s, d) => (a.dims.includes(d) ? 1 : s));
  return expand(a.keepdim ? g : reshape(g, kept), a.shape.slice());
}

const count = (a: ReduceAttrs): number => a.dims.reduce((n, d) => n * a.shape[d], 1);
const x0 = (c: SavedContext): T => c.inputs[0] as T;

defineGrad('sum', { backward: ([g], c) => [expandBack(g as T, attrs(c))] });
defineGrad('mean', { backward: ([g], c) => [div(expandBack(g as T, attrs(c)), count(attrs(c)))] });

// prod: out / x where x != 0; where a slice has exactly one zero, that element gets the product
// of the others; with two or more zeros every gradient of the slice is 0 (torch's prod_backward).
defineGrad('prod', {
  save: { inputs: true, outputs: true },
  backward: ([g], c) => {
    const a = attrs(c);
    const x = x0(c);
    const isZero = eq(x, 0);
    const keep = { ...a, keepdim: true };
    const zeros = sum(isZero, a.dims, true);
    const prodNonzero = prod(where(isZero, 1, x), a.dims, true);
    const out = expandBack(c.outputs[0], a);
    const ge = expandBack(g as T, a);
    const regular = div(out, where(isZero, 1, x));
    const single = where(eq(expandBack(zeros, keep), 1), expandBack(prodNonzero, keep), 0);
    return [mul(ge, where(isZero, single, regular))];
  },
});

/** d var / dx = 2 (x - mean) / (N - correction). */
function varGrad(g: T, x: T, a: ReduceAttrs): T {
  const n = Math.max(0, count(a) - (a.correction ?? 1));
  const centered = sub(x, mean(x, a.dims, true));
  return mul(expandBack(g, a), div(mul(centered, 2), n));
}
defineGrad('var', { save: { inputs: true }, backward: ([g], c) => [varGrad(g as T, x0(c), attrs(c))] });
defineGrad('std', {
  save: { inputs: true, outputs: true },
  backward: ([g], c) => {
    const y = c.outputs[0];
    return [varGrad(where(eq(y, 0), 0, div(g as T, mul(y, 2))), x0(c), attrs(c))];
  },
});

// amax / amin: the gradient is shared equally among the elements equal to the result.
function extremeGrad(g: T, c: SavedContext): T {
  const a = attrs(c);
  const hit = eq(x0(c), expandBack(c.outputs[0], a));
  const n = sum(hit, a.dims, true);
  return where(hit, div(expandBack(g, a), expandBack(n, { ...a, keepdim: true })), 0);
}
defineGrad('max', { save: { inputs: true, outputs: true }, backward: ([g], c) => [extremeGrad(g as T, c)] });
defineGrad('min', { save: { inputs: true, outputs: true }, backward: ([g], c) => [extremeGrad(g as T, c)] });

defineGrad('logsumexp', {
  save: { inputs: true, outputs: true },
  backward: ([g], c) => {
    const a = attrs(c);
    return [mul(expandBack(g as T, a), exp(sub(x0(c), expandBack(c.outputs[0], a))))];
  },
});

// norm: p = 2 / 'fro': x / out (0 where out = 0); 1: sign(x); +-inf: the extreme |x| shares it;
// other p: sign(x) |x|^(p-1) / out^(p-1); 0: no gradient.
defineGrad('norm', {
  save: { inputs: true, outputs: true },
  backward: ([g], c) => {
    const a = attrs(c);
    const x = x0(c);
    const p = a.p ?? 'fro';
    const ge = expandBack(g as T, a);
    const out = expandBack(c.outputs[0], a);
    if (p === 0) return [mul(ge, 0)];
    if (p === 1) return [mul(ge, sign(x))];
    if (p === 'fro' || p === 2) return [where(eq(out, 0), 0, mul(ge, div(x, out)))];
    if (p === Infinity || p === -Infinity) {
      const ax = abs(x);
      const hit = eq(ax, out);
      const n = expandBack(sum(hit, a.dims, true), { ...a, keepdim: true });
      return [where(hit, div(mul(ge, sign(x)), n), 0)];
    }
    const d = div(mul(sign(x), pow(abs(x), p - 1)), pow(out, p - 1));
    return [where(eq(out, 0), 0, mul(ge, d))];
  },
});
