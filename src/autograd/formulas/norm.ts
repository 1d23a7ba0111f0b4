import { where } from '../../ops/elementwise.js';
import { add, exp, ge, gt, le, logicalAnd, logicalNot, logicalOr, lt, mul, neg, rsqrt, sub } from '../../ops/math.js';
import { layerNorm, rmsNorm } from '../../ops/norm.js';
import { mean, sum, variance } from '../../ops/reduce.js';
import { cat } from '../../ops/structural.js';
import { narrow } from '../../ops/views.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineGrad } from '../record.js';

/**
 * Gradients of the row ops (softmax, logSoftmax, layerNorm, rmsNorm), applyRotary and the
 * multi-operand pointwise ops (clamp, lerp, maskedFill). The norms recompute their row
 * statistics from the saved input instead of keeping them from the fused forward kernel.
 */

type T = Tensor;

defineGrad('softmax', {
  save: { outputs: true },
  backward: ([g0], c) => {
    const y = c.outputs[0];
    const dim = c.attrs.dim as number;
    const g = g0 as T;
    return [mul(y, sub(g, sum(mul(g, y), dim, true)))];
  },
});
defineGrad('logSoftmax', {
  save: { outputs: true },
  backward: ([g0], c) => {
    const y = c.outputs[0];
    const g = g0 as T;
    return [sub(g, mul(exp(y), sum(g, c.attrs.dim as number, true)))];
  },
});

const trailing = (x: T, k: number): number[] => Array.from({ length: k }, (_, i) => x.ndim - k + i);

/**
 * Through xhat = (x - mu) rstd (layerNorm) or x rstd (rmsNorm), given gxhat = dL/dxhat:
 * dx = rstd (gxhat - mean(gxhat) - xhat mean(gxhat xhat)), without the mean(gxhat) term for rmsNorm.
 */
function normBackward(gxhat: T, xhat: T, rstd: T, dims: number[], centered: boolean): T {
  const proj = mul(xhat, mean(mul(gxhat, xhat), dims, true));
  const inner = centered ? sub(sub(gxhat, mean(gxhat, dims, true)), proj) : sub(gxhat, proj);
  return mul(rstd, inner);
}

defineGrad('layerNorm', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [x, w] = c.inputs as (T | null)[];
    const { k, eps } = c.attrs as { k: number; eps: number };
    const g = g0 as T;
    const dims = trailing(x as T, k);
    // xhat from the fused row kernel (one launch, not six elementwise passes and two reductions);
    // rstd from one variance reduction over the rows.
    const xhat = layerNorm(x as T, (x as T).shape.slice(-k), { eps });
    const gxhat = w ? mul(g, w) : g;
    return [
      c.needs[0] ? normBackward(gxhat, xhat, rsqrt(add(variance(x as T, dims, { correction: 0, keepdim: true }), eps)), dims, true) : null,
      c.needs[1] ? mul(g, xhat) : null, // summed over the rows by the engine
      c.needs[2] ? g : null,
    ];
  },
});
defineGrad('rmsNorm', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [x, w] = c.inputs as (T | null)[];
    const { k, eps } = c.attrs as { k: number; eps: number };
    const g = g0 as T;
    const dims = trailing(x as T, k);
    const xhat = rmsNorm(x as T, (x as T).shape.slice(-k), { eps }); // the fused row kernel, one launch
    const gxhat = w ? mul(g, w) : g;
    const rstd = () => rsqrt(add(mean(mul(x as T, x as T), dims, true), eps));
    return [c.needs[0] ? normBackward(gxhat, xhat, rstd(), dims, false) : null, c.needs[1] ? mul(g, xhat) : null];
  },
});

/** The two halves of the last dim. */
function halves(v: T): [T, T] {
  const h = v.shape[v.ndim - 1] / 2;
  return [narrow(v, -1, 0, h), narrow(v, -1, h, h)];
}
/** rotate_half(v) = cat(-v2, v1). */
function rotateHalf(v: T): T {
  const [a, b] = halves(v);
  return cat([neg(b), a], -1);
}
/** Its transpose: cat(v2, -v1). */
function rotateHalfT(v: T): T {
  const [a, b] = halves(v);
  return cat([b, neg(a)], -1);
}

// out = x cos + rotate_half(x) sin.
defineGrad('applyRotary', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [x, cos, sin] = c.inputs as T[];
    const g = g0 as T;
    return [
      c.needs[0] ? add(mul(g, cos), rotateHalfT(mul(g, sin))) : null,
      c.needs[1] ? mul(g, x) : null,
      c.needs[2] ? mul(g, rotateHalf(x)) : null,
    ];
  },
});

// clamp: x gets the gradient where it lies within [min, max]; a tensor bound where it won.
defineGrad('clamp', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [x, lo, hi] = c.inputs as (T | number | null)[];
    const g = g0 as T;
    const xt = x as T;
    let inside: T | null = null;
    if (lo !== null) inside = ge(xt, lo);
    if (hi !== null) inside = inside ? logicalAnd(inside, le(xt, hi)) : le(xt, hi);
    const ordered = lo !== null && hi !== null && (typeof lo !== 'number' || typeof hi !== 'number') ? le(lo as T, hi) : null;
    const below = lo !== null ? (ordered ? logicalAnd(lt(xt, lo), ordered) : lt(xt, lo)) : null;
    const above = hi !== null ? (ordered ? logicalOr(gt(xt, hi), logicalNot(ordered)) : gt(xt, hi)) : null;
    return [
      c.needs[0] ? where(inside as T, g, 0) : null,
      c.needs[1] ? where(below as T, g, 0) : null,
      c.needs[2] ? where(above as T, g, 0) : null,
    ];
  },
});

// lerp: start + w (end - start).
defineGrad('lerp', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const [s, e, w] = c.inputs as [T, T, T | number];
    const g = g0 as T;
    return [
      c.needs[0] ? mul(g, typeof w === 'number' ? 1 - w : sub(1, w)) : null,
      c.needs[1] ? mul(g, w) : null,
      c.needs[2] ? mul(g, sub(e, s)) : null,
    ];
  },
});
defineGrad('maskedFill', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const mask = c.inputs[1] as T;
    const g = g0 as T;
    return [c.needs[0] ? where(mask, 0, g) : null, null, c.needs[2] ? sum(where(mask, g, 0)) : null];
  },
});
