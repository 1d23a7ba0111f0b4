/**
 * The benchmarked ops: how to make their inputs, run them, how many bytes they must move at
 * least, their flops, and a float64 reference for the correctness check.
 */
import * as xpu from '../../src/index.js';

type Tensor = xpu.Tensor;
export type FloatDType = 'float32' | 'float16';

/** Softmax and LayerNorm normalise rows of this length. */
export const ROW = 1024;
/** Elements of the output (and of each input) compared with the reference: 4 rows. */
export const CHECK_ELEMENTS = 4 * ROW;
const LN_EPS = 1e-5;
export const ITEM_BYTES: Record<FloatDType, number> = { float32: 4, float16: 2 };

export interface OpCase {
  name:
    | 'add'
    | 'exp'
    | 'sum'
    | 'sumAll'
    | 'softmax'
    | 'layerNorm'
    | 'clone'
    | 'mul'
    | 'gelu'
    | 'where'
    | 'rmsNorm'
    | 'max'
    | 'transpose'
    | 'cat';
  shape(n: number): number[];
  /** Elements one op must read plus write (times the item size: the bytes it must move). */
  traffic(n: number): number;
  /** Floating-point operations of one op (exp counted as one). */
  flops(n: number): number;
  /** Relative error allowed against the float64 reference (f16 results are rounded to 11 bits). */
  bound: Record<FloatDType, number>;
  /** n must be a multiple of this. */
  multipleOf: number;
  makeInputs(device: 'xpu' | 'cpu', n: number, dtype: FloatDType): Tensor[];
  run(inputs: Tensor[]): Tensor;
  /** The reference on the inputs' first CHECK_ELEMENTS elements (whole inputs when smaller). */
  reference(host: Float32Array[]): Float64Array;
  /** The reference needs every input element (a reduction over all of them), not a prefix. */
  checkWhole?: boolean;
}

export const add: OpCase = {
  name: 'add',
  shape: (n) => [n],
  traffic: (n) => 3 * n,
  flops: (n) => n,
  bound: { float32: 1e-6, float16: 1e-3 },
  multipleOf: 1,
  makeInputs: (device, n, dtype) => [xpu.randn([n], { device, dtype }), xpu.randn([n], { device, dtype })],
  run: ([a, b]) => a.add(b),
  reference: ([a, b]) => Float64Array.from(a, (v, i) => v + b[i]),
};

export const exp: OpCase = {
  name: 'exp',
  shape: (n) => [n],
  traffic: (n) => 2 * n,
  flops: (n) => n,
  bound: { float32: 1e-6, float16: 1e-3 },
  multipleOf: 1,
  makeInputs: (device, n, dtype) => [xpu.randn([n], { device, dtype })],
  run: ([x]) => x.exp(),
  reference: ([x]) => Float64Array.from(x, Math.exp),
};

/** The sum of each row of ROW elements (the reduction over the last, contiguous dim). */
export const sum: OpCase = {
  name: 'sum',
  shape: (n) => [n / ROW, ROW],
  // Reads n, writes n / ROW.
  traffic: (n) => n + n / ROW,
  flops: (n) => n,
  bound: { float32: 1e-6, float16: 1e-3 },
  multipleOf: ROW,
  makeInputs: (device, n, dtype) => [xpu.randn([n / ROW, ROW], { device, dtype })],
  run: ([x]) => x.sum(-1),
  reference: ([x]) => {
    const out = new Float64Array(x.length / ROW);
    for (let r = 0; r < out.length; r++) for (let j = 0; j < ROW; j++) out[r] += x[r * ROW + j];
    return out;
  },
};

/** The sum of every element (one output). */
export const sumAll: OpCase = {
  name: 'sumAll',
  shape: (n) => [n],
  traffic: (n) => n + 1,
  flops: (n) => n,
  // One output: the error is relative to the sum itself, which random signs make ~sqrt(n) while the
  // terms add up to ~0.8 n, so a float32 accumulation (xpu's tree) is off by ~1e-7 * 0.8 n / sqrt(n)
  // of it: 2-3e-6 at 64K, more at 16M. The cpu kernel accumulates in float64 and stays near 1e-8.
  bound: { float32: 1e-4, float16: 1e-2 },
  multipleOf: 1,
  makeInputs: (device, n, dtype) => [xpu.randn([n], { device, dtype })],
  run: ([x]) => x.sum(),
  reference: ([x]) => Float64Array.of(x.reduce((a, v) => a + v, 0)),
  checkWhole: true,
};

export const softmax: OpCase = {
  name: 'softmax',
  shape: (n) => [n / ROW, ROW],
  traffic: (n) => 2 * n,
  // max, subtract, exp, sum, divide
  flops: (n) => 5 * n,
  bound: { float32: 1e-5, float16: 2e-3 },
  multipleOf: ROW,
  makeInputs: (device, n, dtype) => [xpu.randn([n / ROW, ROW], { device, dtype })],
  run: ([x]) => xpu.softmax(x, -1),
  reference: ([x]) => {
    const out = new Float64Array(x.length);
    for (let r = 0; r < x.length; r += ROW) {
      let m = -Infinity;
      for (let j = 0; j < ROW; j++) m = Math.max(m, x[r + j]);
      let s = 0;
      for (let j = 0; j < ROW; j++) s += out[r + j] = Math.exp(x[r + j] - m);
      for (let j = 0; j < ROW; j++) out[r + j] /= s;
    }
    return out;
  },
};

export const layerNorm: OpCase = {
  name: 'layerNorm',
  shape: (n) => [n / ROW, ROW],
  // Weight and bias (2 x ROW values) are read by every row but stay in cache: not counted.
  traffic: (n) => 2 * n,
  // mean (1), variance (3), then subtract, scale, weight, bias (4)
  flops: (n) => 8 * n,
  bound: { float32: 1e-4, float16: 2e-3 },
  multipleOf: ROW,
  makeInputs: (device, n, dtype) => [
    xpu.randn([n / ROW, ROW], { device, dtype }),
    xpu.randn([ROW], { device, dtype }),
    xpu.randn([ROW], { device, dtype }),
  ],
  run: ([x, weight, bias]) => xpu.layerNorm(x, [ROW], { weight, bias, eps: LN_EPS }),
  reference: ([x, w, b]) => {
    const out = new Float64Array(x.length);
    for (let r = 0; r < x.length; r += ROW) {
      let mean = 0;
      for (let j = 0; j < ROW; j++) mean += x[r + j];
      mean /= ROW;
      let v = 0;
      for (let j = 0; j < ROW; j++) v += (x[r + j] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / ROW + LN_EPS);
      for (let j = 0; j < ROW; j++) out[r + j] = (x[r + j] - mean) * inv * w[j] + b[j];
    }
    return out;
  },
};

/** The runtime's own copy (a buffer copy for contiguous data): what a user pays for x.clone(). */
export const clone: OpCase = {
  name: 'clone',
  shape: (n) => [n],
  traffic: (n) => 2 * n,
  flops: () => 0,
  bound: { float32: 0, float16: 0 },
  multipleOf: 1,
  makeInputs: (device, n, dtype) => [xpu.randn([n], { device, dtype })],
  run: ([x]) => x.clone(),
  reference: ([x]) => Float64Array.from(x),
};

export const OPS: OpCase[] = [add, exp, sum, sumAll, softmax, layerNorm, clone];

/** The first `count` elements of a contiguous tensor, read to the host. */
export async function readPrefix(t: Tensor, count = CHECK_ELEMENTS): Promise<Float32Array> {
  const flat = t.reshape([t.numel]);
  const head = flat.narrow(0, 0, Math.min(count, t.numel));
  try {
    return (await head.data()) as Float32Array;
  } finally {
    head.dispose();
    flat.dispose();
  }
}
