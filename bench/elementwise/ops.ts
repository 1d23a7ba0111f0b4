/**
 * The benchmarked ops: how to make their inputs, run them, how many bytes they must move at
 * least, and a float64 reference for the correctness check.
 */
import * as xpu from '../../src/index.js';

type Tensor = xpu.Tensor;

/** Softmax and LayerNorm normalise rows of this length. */
export const ROW = 1024;
/** Elements of the output (and of each input) compared with the reference: 4 rows. */
export const CHECK_ELEMENTS = 4 * ROW;
const LN_EPS = 1e-5;

export interface OpCase {
  name: 'add' | 'softmax' | 'layerNorm';
  shape(n: number): number[];
  /** Bytes one op must read and write at least (f32). */
  bytes(n: number): number;
  /** Relative error allowed against the float64 reference. */
  bound: number;
  makeInputs(device: 'xpu' | 'cpu', n: number): Tensor[];
  run(inputs: Tensor[]): Tensor;
  /** The reference on the inputs' first CHECK_ELEMENTS elements (whole inputs when smaller). */
  reference(host: Float32Array[]): Float64Array;
}

export const add: OpCase = {
  name: 'add',
  shape: (n) => [n],
  bytes: (n) => 3 * 4 * n,
  bound: 1e-6,
  makeInputs: (device, n) => [xpu.randn([n], { device }), xpu.randn([n], { device })],
  run: ([a, b]) => a.add(b),
  reference: ([a, b]) => Float64Array.from(a, (v, i) => v + b[i]),
};

export const softmax: OpCase = {
  name: 'softmax',
  shape: (n) => [n / ROW, ROW],
  bytes: (n) => 2 * 4 * n,
  bound: 1e-5,
  makeInputs: (device, n) => [xpu.randn([n / ROW, ROW], { device })],
  run: ([x]) => xpu.softmax(x, -1),
  reference: ([x]) => {
    const out = new Float64Array(x.length);
    for (let r = 0; r < x.length; r += ROW) {
      let m = -Infinity;
      for (let j = 0; j < ROW; j++) m = Math.max(m, x[r + j]);
      let s = 0;
      for (let j = 0; j < ROW; j++) s += (out[r + j] = Math.exp(x[r + j] - m));
      for (let j = 0; j < ROW; j++) out[r + j] /= s;
    }
    return out;
  },
};

export const layerNorm: OpCase = {
  name: 'layerNorm',
  shape: (n) => [n / ROW, ROW],
  // Weight and bias (2 x ROW floats) are read by every row but stay in cache: not counted.
  bytes: (n) => 2 * 4 * n,
  bound: 1e-4,
  makeInputs: (device, n) => [xpu.randn([n / ROW, ROW], { device }), xpu.randn([ROW], { device }), xpu.randn([ROW], { device })],
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

export const OPS: OpCase[] = [add, softmax, layerNorm];

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
