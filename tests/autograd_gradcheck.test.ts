import { describe, expect, it } from 'vitest';
import { rng, testDevices, xpu } from './helpers.js';
import type { Tensor } from '../src/index.js';

/**
 * gradcheck over every op with a gradient (src/autograd/formulas), on both devices: the analytic
 * v^T J of autograd against central differences (xpu.autograd.gradcheck). Shapes are tiny: each
 * input element costs two evaluations.
 */

type Kind = 'any' | 'pos' | 'away';
type Spec = [number[], Kind?];
interface Case {
  inputs: Spec[];
  fn: (...x: Tensor[]) => Tensor | Tensor[];
  /** Looser tolerances where the op amplifies float32 rounding (e.g. products of several factors). */
  tol?: { atol?: number; rtol?: number };
}

/** Values for an input: any in [-1, 1], positive in [0.5, 1.5], or away from 0 and ties (|v| in [0.2, 1], spread out). */
function values(n: number, kind: Kind, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, (_, i) => {
    if (kind === 'pos') return 0.5 + r();
    if (kind === 'away') return (r() < 0.5 ? -1 : 1) * (0.2 + (0.8 * (i + r() * 0.5)) / n);
    return r() * 2 - 1;
  });
}

const idx = (data: number[], shape: number[], device: string): Tensor =>
  xpu.tensor(Int32Array.from(data), { shape, dtype: 'int32', device });

function cases(device: string): Record<string, Case> {
  const A = (shape: number[], kind: Kind = 'any'): Spec => [shape, kind];
  const un = (f: (x: Tensor) => Tensor, kind: Kind = 'any'): Case => ({ inputs: [A([2, 3], kind)], fn: f });
  const mask = xpu.tensor(
    [
      [true, false, true],
      [false, false, true],
    ],
    { device },
  );
  return {
    neg: un(xpu.neg),
    abs: un(xpu.abs, 'away'),
    exp: un(xpu.exp),
    log: un(xpu.log, 'pos'),
    sqrt: un(xpu.sqrt, 'pos'),
    rsqrt: un(xpu.rsqrt, 'pos'),
    sin: un(xpu.sin),
    cos: un(xpu.cos),
    tanh: un(xpu.tanh),
    sigmoid: un(xpu.sigmoid),
    relu: un(xpu.relu, 'away'),
    silu: un(xpu.silu),
    gelu: un((x) => xpu.gelu(x)),
    geluTanh: un((x) => xpu.gelu(x, { approximate: 'tanh' })),
    erf: un(xpu.erf),
    log1p: un(xpu.log1p, 'pos'),
    expm1: un(xpu.expm1),
    reciprocal: un(xpu.reciprocal, 'pos'),
    square: un(xpu.square),
    hardswish: un((x) => xpu.hardswish(x.mul(4)), 'away'),
    mish: un(xpu.mish),
    leakyRelu: un((x) => xpu.leakyRelu(x, 0.1), 'away'),
    elu: un((x) => xpu.elu(x, 0.7), 'away'),
    softplus: un((x) => xpu.softplus(x.mul(3), 2, 1.5), 'away'),
    floor: un((x) => xpu.floor(x.mul(0.3)).add(x), 'away'),
    add: { inputs: [A([2, 3]), A([3])], fn: xpu.add },
    sub: { inputs: [A([2, 1]), A([2, 3])], fn: xpu.sub },
    mul: { inputs: [A([2, 3]), A([1, 3])], fn: xpu.mul },
    div: { inputs: [A([2, 3]), A([3], 'pos')], fn: xpu.div },
    mulScalar: { inputs: [A([2, 3])], fn: (x) => xpu.mul(2.5, x).sub(1) },
    pow: { inputs: [A([2, 3], 'pos'), A([2, 3])], fn: xpu.pow },
    powScalar: { inputs: [A([4], 'pos')], fn: (x) => xpu.add(xpu.pow(x, 3), xpu.pow(2, x)) },
    maximum: { inputs: [A([2, 3], 'away'), A([3], 'away')], fn: xpu.maximum },
    minimum: { inputs: [A([2, 3], 'away'), A([2, 3], 'away')], fn: xpu.minimum },
    remainder: { inputs: [A([4], 'pos'), A([4], 'pos')], fn: (a, b) => xpu.remainder(a.mul(3), b) },
    where: { inputs: [A([2, 3]), A([3])], fn: (a, b) => xpu.where(mask, a, b) },
    sumAll: { inputs: [A([2, 3])], fn: (x) => x.sum() },
    sumDim: { inputs: [A([2, 3])], fn: (x) => x.sum(1) },
    sumKeep: { inputs: [A([2, 3, 2])], fn: (x) => x.sum([0, 2], true) },
    mean: { inputs: [A([2, 3])], fn: (x) => x.mean(0) },
    prod: { inputs: [A([2, 3], 'away')], fn: (x) => x.prod(1) },
    var: { inputs: [A([2, 3])], fn: (x) => xpu.var(x, 1) },
    std: { inputs: [A([2, 3])], fn: (x) => xpu.std(x, 1, { correction: 0, keepdim: true }) },
    max: { inputs: [A([2, 3], 'away')], fn: (x) => x.max(1) },
    minAll: { inputs: [A([2, 3], 'away')], fn: (x) => x.min() },
    logsumexp: { inputs: [A([2, 3])], fn: (x) => xpu.logsumexp(x, 1) },
    normFro: { inputs: [A([2, 3])], fn: (x) => xpu.norm(x) },
    norm1: { inputs: [A([2, 3], 'away')], fn: (x) => xpu.norm(x, 1, 1) },
    norm3: { inputs: [A([2, 3], 'away')], fn: (x) => xpu.norm(x, 3, 0) },
    normInf: { inputs: [A([2, 3], 'away')], fn: (x) => xpu.norm(x, Infinity, 1) },
    reshape: { inputs: [A([2, 3])], fn: (x) => x.reshape([3, 2]).mul(x.reshape([3, 2])) },
    view: { inputs: [A([2, 3])], fn: (x) => x.view([6]).exp() },
    permute: { inputs: [A([2, 3, 2])], fn: (x) => x.permute([2, 0, 1]).exp() },
    transpose: { inputs: [A([2, 3])], fn: (x) => x.transpose(0, 1).reshape([6]).exp() },
    expand: { inputs: [A([3, 1])], fn: (x) => x.expand([2, 3, 4]).exp() },
    narrow: { inputs: [A([4, 2])], fn: (x) => x.narrow(0, 1, 2).exp() },
    sliceStep: { inputs: [A([5, 2])], fn: (x) => xpu.slice(x, 0, 1, 5, 2).exp() },
    select: { inputs: [A([3, 2])], fn: (x) => x.select(0, 1).exp() },
    squeeze: { inputs: [A([2, 1, 3])], fn: (x) => x.squeeze(1).unsqueeze(0).exp() },
    flatten: { inputs: [A([2, 3, 1])], fn: (x) => x.transpose(0, 1).flatten().exp() },
    contiguous: { inputs: [A([2, 3])], fn: (x) => x.t().contiguous().exp() },
    clone: { inputs: [A([2, 3])], fn: (x) => x.clone().exp() },
    cat: { inputs: [A([2, 3]), A([1, 3])], fn: (a, b) => xpu.cat([a, b], 0).exp() },
    stack: { inputs: [A([3]), A([3])], fn: (a, b) => xpu.stack([a, b], 1).exp() },
    split: { inputs: [A([5])], fn: (x) => xpu.split(x, [2, 3]).map((p) => p.exp()) },
    chunk: { inputs: [A([2, 4])], fn: (x) => xpu.chunk(x, 2, 1)[1].exp() },
    indexSelect: { inputs: [A([3, 2])], fn: (x) => xpu.indexSelect(x, 0, idx([2, 0, 2], [3], device)).exp() },
    gather: { inputs: [A([2, 3])], fn: (x) => xpu.gather(x, 1, idx([0, 0, 2, 1], [2, 2], device)).exp() },
    embedding: { inputs: [A([4, 2])], fn: (w) => xpu.embedding(idx([3, 1, 3], [3], device), w).exp() },
    padConstant: { inputs: [A([2, 3])], fn: (x) => xpu.pad(x, [1, -1, 0, 2]).exp() },
    padReflect: { inputs: [A([2, 3])], fn: (x) => xpu.pad(x, [2, 1], { mode: 'reflect' }).exp() },
    padReplicate: { inputs: [A([2, 3])], fn: (x) => xpu.pad(x, [1, 2, 1, 0], { mode: 'replicate' }).exp() },
    repeat: { inputs: [A([2, 2])], fn: (x) => xpu.repeat(x, [2, 1, 3]).exp() },
    tile: { inputs: [A([3])], fn: (x) => xpu.tile(x, [2]).exp() },
    flip: { inputs: [A([2, 3])], fn: (x) => xpu.flip(x, [0, 1]).exp() },
    roll: { inputs: [A([2, 3])], fn: (x) => xpu.roll(x, [1, -1], [0, 1]).exp() },
    triu: { inputs: [A([3, 3])], fn: (x) => xpu.triu(x, 1).exp() },
    tril: { inputs: [A([3, 3])], fn: (x) => xpu.tril(x).exp() },
    maskedFill: { inputs: [A([2, 3]), A([])], fn: (x, v) => xpu.maskedFill(x, mask, v).exp() },
    scatterAdd: { inputs: [A([2, 3]), A([2, 2])], fn: (x, s) => xpu.scatterAdd(x, 1, idx([0, 0, 2, 1], [2, 2], device), s).exp() },
    scatter: { inputs: [A([2, 3]), A([2, 2])], fn: (x, s) => xpu.scatter(x, 1, idx([0, 1, 2, 1], [2, 2], device), s).exp() },
    matmul: { inputs: [A([2, 3]), A([3, 2])], fn: xpu.matmul },
    matmulBatched: { inputs: [A([2, 1, 2, 3]), A([2, 3, 2])], fn: xpu.matmul },
    matmulVec: { inputs: [A([3]), A([2, 3, 2]), A([2])], fn: (v, m, w) => [xpu.matmul(v, m), xpu.matmul(m, w)] },
    dot: { inputs: [A([3]), A([3])], fn: xpu.dot },
    bmm: { inputs: [A([2, 2, 3]), A([2, 3, 2])], fn: xpu.bmm },
    addmm: { inputs: [A([2]), A([2, 3]), A([3, 2])], fn: (i, a, b) => xpu.addmm(i, a, b, { alpha: 0.5, beta: 2 }) },
    linear: {
      inputs: [A([2, 3]), A([2, 3]), A([2]), A([2, 2])],
      fn: (x, w, b, r) => xpu.linear(x, w, { bias: b, activation: 'gelu', residual: r }),
    },
    linearRelu: {
      inputs: [A([2, 2, 3], 'away'), A([4, 3], 'away')],
      fn: (x, w) => xpu.linear(x, w, { activation: 'relu' }),
      tol: { atol: 3e-3 },
    },
    linearSilu: { inputs: [A([3]), A([2, 3]), A([2])], fn: (x, w, b) => xpu.linear(x, w, { bias: b, activation: 'silu' }) },
    einsum: { inputs: [A([2, 3]), A([3, 2])], fn: (a, b) => xpu.einsum('ij,jk->ik', a, b) },
    outer: { inputs: [A([2]), A([3])], fn: xpu.outer },
    softmax: { inputs: [A([2, 3])], fn: (x) => xpu.softmax(x, 1).mul(xpu.arange(3, undefined, 1, { device, dtype: 'float32' })) },
    logSoftmax: { inputs: [A([2, 3])], fn: (x) => xpu.logSoftmax(x, 0).mul(xpu.arange(3, undefined, 1, { device, dtype: 'float32' })) },
    layerNorm: {
      inputs: [A([2, 4]), A([4]), A([4])],
      fn: (x, w, b) => xpu.layerNorm(x, [4], { weight: w, bias: b }).mul(xpu.arange(4, undefined, 1, { device, dtype: 'float32' })),
      tol: { atol: 3e-3 },
    },
    rmsNorm: {
      inputs: [A([2, 3]), A([3])],
      fn: (x, w) => xpu.rmsNorm(x, [3], { weight: w, eps: 1e-6 }).mul(xpu.arange(3, undefined, 1, { device, dtype: 'float32' })),
    },
    applyRotary: { inputs: [A([2, 4]), A([2, 4]), A([4])], fn: xpu.applyRotary },
    clamp: { inputs: [A([2, 3], 'away')], fn: (x) => xpu.clamp(x, -0.5, 0.6) },
    clampTensors: {
      inputs: [A([2, 3], 'away'), A([3], 'away'), A([2, 1], 'away')],
      fn: (x, lo, hi) => xpu.clamp(x, lo.mul(0.5), hi.abs()),
    },
    lerp: { inputs: [A([2, 3]), A([3]), A([2, 3])], fn: xpu.lerp },
    lerpScalar: { inputs: [A([3]), A([3])], fn: (a, b) => xpu.lerp(a, b, 0.25) },
    cumsum: { inputs: [A([2, 3])], fn: (x) => xpu.cumsum(x, 1).exp() },
    cumprod: { inputs: [A([2, 3], 'away')], fn: (x) => xpu.cumprod(x, 0) },
    sortValues: {
      inputs: [A([2, 3], 'away')],
      fn: (x) => xpu.sort(x, 1).values.mul(xpu.arange(3, undefined, 1, { device, dtype: 'float32' })),
    },
    topkValues: { inputs: [A([5], 'away')], fn: (x) => xpu.topk(x, 2).values.exp() },
    // flexAttention's gradients (score-mod derivatives) are checked in tests/attention_autograd.test.ts (each mod compiles its own pipelines).
    sdpa: {
      inputs: [A([1, 2, 3, 4]), A([1, 1, 5, 4]), A([1, 1, 5, 3])],
      fn: (q, k, v) => xpu.scaledDotProductAttention(q, k, v, { isCausal: true, enableGqa: true }),
    },
    quantizedLinear: {
      inputs: [A([2, 4]), A([3])],
      fn: (x, b) =>
        xpu.linear(
          x,
          xpu.quant.quantize(
            xpu.tensor(
              [
                [0.5, -1, 0.25, 2],
                [1, 1, -0.5, 0],
                [0.1, 0.2, 0.3, -0.4],
              ],
              { device },
            ),
            { scheme: 'int8_weight_only' },
          ),
          { bias: b, activation: 'silu' },
        ),
    },
  };
}

describe.each(testDevices())('gradcheck on %s', (device) => {
  const all = cases(device);
  for (const [name, c] of Object.entries(all)) {
    it(name, async () => {
      const inputs = c.inputs.map(([shape, kind], i) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return xpu.tensor(values(n, kind ?? 'any', 7 + 13 * i + name.length), { shape, device, requiresGrad: true });
      });
      expect(await xpu.autograd.gradcheck(c.fn, inputs, c.tol)).toBe(true);
    });
  }
});
