/**
 * The rest of issue 15's elementwise rows (mul, gelu, where, rmsNorm, max, transpose+contiguous,
 * cat), beside ops.ts's add, exp, sum, softmax, layerNorm and clone. Same contract: inputs, the
 * op, the bytes it must move, a float64 reference on a prefix (or the whole input).
 */
import * as xpu from '../../src/index.js';
import { ROW, type OpCase } from './ops.js';

const RMS_EPS = 1e-6;
const SQRT1_2 = Math.SQRT1_2;

/** erf by Abramowitz-Stegun 7.1.26 is too coarse for a 1e-6 check: a series / continued fraction in float64. */
function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    // Maclaurin series: converges fast enough below 3 in float64.
    let term = ax;
    let sum = ax;
    for (let k = 1; k < 80; k++) {
      term *= (-ax * ax) / k;
      sum += term / (2 * k + 1);
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // Continued fraction for erfc (Lentz), accurate for |x| >= 3.
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export const mul: OpCase = {
  name: 'mul',
  shape: (n) => [n],
  traffic: (n) => 3 * n,
  flops: (n) => n,
  bound: { float32: 1e-6, float16: 1e-3 },
  multipleOf: 1,
  makeInputs: (device, n, dtype) => [xpu.randn([n], { device, dtype }), xpu.randn([n], { device, dtype })],
  run: ([a, b]) => a.mul(b),
  reference: ([a, b]) => Float64Array.from(a, (v, i) => v * b[i]),
};

export const gelu: OpCase = {
  name: 'gelu',
  shape: (n) => [n],
  traffic: (n) => 2 * n,
  // erf's polynomial and the products: counted as 8.
  flops: (n) => 8 * n,
  bound: { float32: 2e-6, float16: 1e-3 },
  multipleOf: 1,
  makeInputs: (device, n, dtype) => [xpu.randn([n], { device, dtype })],
  run: ([x]) => xpu.gelu(x),
  reference: ([x]) => Float64Array.from(x, (v) => 0.5 * v * (1 + erf64(v * SQRT1_2))),
};

/** where(a > 0, a, b): the mask is made in setup (bool, one byte an element), not timed. */
export const where: OpCase = {
  name: 'where',
  shape: (n) => [n],
  // mask (1 byte), a, b read; out written: counted in elements of the float dtype, the mask as 1/4.
  traffic: (n) => 3.25 * n,
  flops: (n) => n,
  bound: { float32: 0, float16: 0 },
  multipleOf: 1,
  makeInputs: (device, n, dtype) => {
    const a = xpu.randn([n], { device, dtype });
    return [a.gt(0), a, xpu.randn([n], { device, dtype })];
  },
  run: ([m, a, b]) => xpu.where(m, a, b),
  reference: ([m, a, b]) => Float64Array.from(a, (v, i) => (m[i] ? v : b[i])),
};

export const rmsNorm: OpCase = {
  name: 'rmsNorm',
  shape: (n) => [n / ROW, ROW],
  traffic: (n) => 2 * n,
  // square-sum (2), scale, weight (2)
  flops: (n) => 4 * n,
  bound: { float32: 1e-5, float16: 2e-3 },
  multipleOf: ROW,
  makeInputs: (device, n, dtype) => [xpu.randn([n / ROW, ROW], { device, dtype }), xpu.randn([ROW], { device, dtype })],
  run: ([x, weight]) => xpu.rmsNorm(x, [ROW], { weight, eps: RMS_EPS }),
  reference: ([x, w]) => {
    const out = new Float64Array(x.length);
    for (let r = 0; r < x.length; r += ROW) {
      let s = 0;
      for (let j = 0; j < ROW; j++) s += x[r + j] ** 2;
      const inv = 1 / Math.sqrt(s / ROW + RMS_EPS);
      for (let j = 0; j < ROW; j++) out[r + j] = x[r + j] * inv * w[j];
    }
    return out;
  },
};

/** The max of each row of ROW elements. */
export const max: OpCase = {
  name: 'max',
  shape: (n) => [n / ROW, ROW],
  traffic: (n) => n + n / ROW,
  flops: (n) => n,
  bound: { float32: 0, float16: 0 },
  multipleOf: ROW,
  makeInputs: (device, n, dtype) => [xpu.randn([n / ROW, ROW], { device, dtype })],
  run: ([x]) => xpu.max(x, -1),
  reference: ([x]) => {
    const out = new Float64Array(x.length / ROW).fill(-Infinity);
    for (let r = 0; r < out.length; r++) for (let j = 0; j < ROW; j++) out[r] = Math.max(out[r], x[r * ROW + j]);
    return out;
  },
};

/** x [n / ROW, ROW] transposed and made contiguous: a strided gather, [ROW, n / ROW] out. */
export const transpose: OpCase = {
  name: 'transpose',
  shape: (n) => [n / ROW, ROW],
  traffic: (n) => 2 * n,
  flops: () => 0,
  bound: { float32: 0, float16: 0 },
  multipleOf: ROW,
  makeInputs: (device, n, dtype) => [xpu.randn([n / ROW, ROW], { device, dtype })],
  run: ([x]) => x.transpose(0, 1).contiguous(),
  reference: ([x]) => {
    const rows = x.length / ROW;
    return Float64Array.from({ length: 4 * ROW }, (_, i) => x[(i % rows) * ROW + Math.floor(i / rows)]);
  },
  checkWhole: true,
};

/** Two [n / (2 ROW), ROW] halves side by side: cat along the last dim, [n / (2 ROW), 2 ROW] out. */
export const cat: OpCase = {
  name: 'cat',
  shape: (n) => [n / (2 * ROW), 2 * ROW],
  traffic: (n) => 2 * n,
  flops: () => 0,
  bound: { float32: 0, float16: 0 },
  multipleOf: 2 * ROW,
  makeInputs: (device, n, dtype) => [
    xpu.randn([n / (2 * ROW), ROW], { device, dtype }),
    xpu.randn([n / (2 * ROW), ROW], { device, dtype }),
  ],
  run: ([a, b]) => xpu.cat([a, b], -1),
  reference: ([a, b]) =>
    Float64Array.from({ length: 4 * ROW }, (_, i) => {
      const r = Math.floor(i / (2 * ROW));
      const j = i % (2 * ROW);
      return j < ROW ? a[r * ROW + j] : b[r * ROW + j - ROW];
    }),
};

export const MORE_OPS: OpCase[] = [mul, gelu, where, rmsNorm, max, transpose, cat];
