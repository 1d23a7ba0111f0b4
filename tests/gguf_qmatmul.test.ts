import { afterEach, describe, expect, it, vi } from 'vitest';
import { lastNativeQgemmFallback } from '../src/backends/cpu/native_quant.js';
import { nativeCompute } from '../src/backends/cpu/native_jobs.js';
import { rng, testDevices, xpu } from './helpers.js';

/**
 * The quantized linear on GGUF block formats kept as they are (q4_0, q4_1, q8_0, q4_k, q6_k): on
 * each device (cpu: native and TypeScript kernels; xpu: WGSL GEMV and tile GEMM), for M = 1, 3
 * (GEMV) and 64 (tiles), odd N, against float64 products of the weights that
 * xpu.quant.dequantizeGguf gives (verified bit-exact against ggml in gguf_quant.test.ts) from the
 * same random blocks. dequantize() must give those weights bit for bit (it runs the kernels'
 * decoders against the identity), up to the sign of zero.
 */

const { quantizedFromGguf, dequantizeGguf, GGUF_WEIGHT_FORMATS, ggufFormatInfo } = xpu.quant;
type Fmt = (typeof GGUF_WEIGHT_FORMATS)[number];

/** float16 bits of a random normal value 2^(e-15) * (1 + f/1024), e in [eLo, eHi], random sign. */
function randomHalf(r: () => number, eLo: number, eHi: number): number {
  const e = eLo + Math.floor(r() * (eHi - eLo + 1));
  return (r() < 0.5 ? 0x8000 : 0) | (e << 10) | Math.floor(r() * 1024);
}

/** N rows of K / block random blocks: random quant bytes, finite scales of moderate size. */
function randomBlocks(fmt: Fmt, n: number, k: number, seed: number): Uint8Array {
  const info = ggufFormatInfo(fmt);
  const r = rng(seed);
  const blocks = (n * k) / info.block;
  const out = new Uint8Array(blocks * info.typeSize);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  const put = (at: number, h: number) => {
    out[at] = h & 255;
    out[at + 1] = h >> 8;
  };
  for (let b = 0; b < blocks; b++) {
    const at = b * info.typeSize;
    switch (fmt) {
      case 'q4_0':
      case 'q8_0':
        put(at, randomHalf(r, 8, 12));
        break;
      case 'q4_1':
        put(at, randomHalf(r, 8, 12));
        put(at + 2, randomHalf(r, 10, 14));
        break;
      case 'q4_k':
        put(at, randomHalf(r, 4, 8));
        put(at + 2, randomHalf(r, 4, 8));
        break;
      case 'q6_k':
        put(at + 208, randomHalf(r, 3, 6));
        break;
    }
  }
  return out;
}

/** erf to ~1e-7 (Abramowitz-Stegun 7.1.26 is not enough: a series and a continued fraction). */
function erf(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a < 2.5) {
    let term = a,
      sum = a;
    for (let n = 1; n < 60; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let f = 0;
    for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  }
  return x < 0 ? -r : r;
}

function randomX(m: number, k: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: m * k }, () => r() * 2 - 1);
}

/** out[i, j] = sum_k x[i, k] w[j, k] in float64, and the scale sum_k |x| max|w_j| of its error. */
function reference(
  x: Float32Array,
  w: Float32Array,
  m: number,
  n: number,
  k: number,
  bias?: Float32Array,
): { ref: Float64Array; mag: Float64Array } {
  const ref = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let j = 0; j < n; j++) {
    let wmax = 0;
    for (let p = 0; p < k; p++) wmax = Math.max(wmax, Math.abs(w[j * k + p]));
    for (let i = 0; i < m; i++) {
      let s = 0;
      let a = 0;
      for (let p = 0; p < k; p++) {
        s += x[i * k + p] * w[j * k + p];
        a += Math.abs(x[i * k + p]);
      }
      ref[i * n + j] = s + (bias ? bias[j] : 0);
      mag[i * n + j] = a * wmax;
    }
  }
  return { ref, mag };
}

/**
 * Every element within 2e-5 of sum |x| max |w| (float32 accumulation over K <= 512 stays ~10x
 * below; one wrong weight moves an element by ~|x| d, far more).
 */
function expectWithin(got: ArrayLike<number>, ref: Float64Array, mag: Float64Array, what: string): void {
  expect(got.length, what).toBe(ref.length);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]) / mag[i]);
  expect(worst, what).toBeLessThan(2e-5);
}

const SHAPES: Record<Fmt, [number, number][]> = {
  // [N, K]: odd N; K of 3 blocks (the GEMV's chunk count not a multiple of 2 or 4) and 8.
  q4_0: [
    [37, 96],
    [5, 256],
  ],
  q4_1: [
    [37, 96],
    [5, 256],
  ],
  q8_0: [
    [37, 96],
    [5, 256],
  ],
  q4_k: [
    [37, 512],
    [3, 256],
  ],
  q6_k: [
    [37, 512],
    [3, 256],
  ],
};

const hasNative = (): boolean => !!(nativeCompute() as unknown as { qmatmulGguf?: unknown } | null)?.qmatmulGguf;
// CI builds the addon and requires it (XPU_REQUIRE_MPI=1, as tests/native_quant.test.ts).
if (process.env.XPU_REQUIRE_MPI === '1' && !hasNative())
  throw new Error('the native GGUF quantized linear is required in CI (rebuild the addon: npm run build:native)');

afterEach(() => vi.unstubAllEnvs());

const runs: { device: 'cpu' | 'xpu'; path?: 'ts' | 'native' }[] = testDevices().flatMap((device) =>
  device === 'cpu' ? [...(hasNative() ? [{ device, path: 'native' as const }] : []), { device, path: 'ts' as const }] : [{ device }],
);

/** Selects the cpu kernel; after a native run, checks it did not fall back to TypeScript. */
function usePath(path: 'ts' | 'native' | undefined): () => void {
  if (path) vi.stubEnv('XPU_CPU_QGEMM', path);
  return () => {
    if (path === 'native') expect(lastNativeQgemmFallback).toBeNull();
  };
}

describe.each(runs)('GGUF quantized linear on $device $path', ({ device, path }) => {
  it.each(GGUF_WEIGHT_FORMATS as Fmt[])("%s: M = 1, 3, 64 against float64 of ggml's weights", async (fmt) => {
    const ran = usePath(path);
    for (const [si, [n, k]] of SHAPES[fmt].entries()) {
      const raw = randomBlocks(fmt, n, k, 100 + si);
      const w = dequantizeGguf(ggufFormatInfo(fmt).ggml, raw, n * k);
      const qw = quantizedFromGguf(fmt, raw, [n, k], { device });
      for (const m of [1, 3, 64]) {
        const x = randomX(m, k, 7 * m + si);
        const { ref, mag } = reference(x, w, m, n, k);
        const xt = xpu.tensor(x, { device }).reshape([m, k]);
        const y = xpu.linear(xt, qw);
        ran();
        expect(y.shape).toEqual([m, n]);
        expectWithin(await y.data(), ref, mag, `${fmt} [${n}, ${k}] M = ${m}`);
        xt.dispose();
        y.dispose();
      }
      qw.dispose();
    }
  });

  // Up to the sign of zero: a weight of 0 with a negative scale is -0 in ggml, and a product with
  // the identity sums it with +0 products (+0).
  it.each(GGUF_WEIGHT_FORMATS as Fmt[])("%s: dequantize() is ggml's float32, bit for bit", async (fmt) => {
    const ran = usePath(path);
    const [n, k] = SHAPES[fmt][1];
    const raw = randomBlocks(fmt, n, k, 31);
    const qw = quantizedFromGguf(fmt, raw, [n, k], { device });
    const d = qw.dequantize();
    ran();
    const got = await d.data();
    const want = dequantizeGguf(ggufFormatInfo(fmt).ggml, raw, n * k);
    let diff = 0;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) diff++;
    expect(diff, `${fmt} elements that differ`).toBe(0);
    d.dispose();
    qw.dispose();
  });

  it('bias, float16 activations, a strided input and leading batch dims', async () => {
    const ran = usePath(path);
    const [n, k, m] = [37, 96, 3];
    const raw = randomBlocks('q4_1', n, k, 5);
    const w = dequantizeGguf('Q4_1', raw, n * k);
    const qw = quantizedFromGguf('Q4_1', raw, [n, k], { device });
    const bias = Float32Array.from({ length: n }, (_, j) => (j % 7) - 3);
    // x as float16 (the reference uses the rounded values), laid out [1, m, k] but read through a
    // transposed view of a [k, m] tensor.
    const x16 = await xpu
      .tensor(randomX(m, k, 9), { device })
      .reshape([m, k])
      .to('float16')
      .to('float32')
      .data();
    const { ref, mag } = reference(x16 as Float32Array, w, m, n, k, bias);
    const xT = xpu.tensor(x16, { device }).reshape([m, k]).transpose(0, 1).contiguous().to('float16'); // [k, m]
    const y = xpu.linear(xT.transpose(0, 1).reshape([1, m, k]), qw, { bias: xpu.tensor(bias, { device }) });
    ran();
    expect(y.shape).toEqual([1, m, n]);
    expect(y.dtype).toBe('float16');
    // float16 output: one more rounding (2^-11 relative).
    const got = await y.to('float32').data();
    for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThanOrEqual(2e-5 * mag[i] + Math.abs(ref[i]) * 2 ** -11);
    qw.dispose();
  });

  it.each(['silu', 'gelu', 'relu'] as const)('activation %s and a residual in the store (fused on cpu)', async (act) => {
    const ran = usePath(path);
    const [n, k, m] = [37, 96, 3];
    const raw = randomBlocks('q8_0', n, k, 12);
    const w = dequantizeGguf('Q8_0', raw, n * k);
    const qw = quantizedFromGguf('Q8_0', raw, [n, k], { device });
    const x = randomX(m, k, 4);
    const resHost = randomX(m, n, 5);
    const bias = Float32Array.from({ length: n }, (_, j) => 0.1 * (j % 5) - 0.2);
    const { ref, mag } = reference(x, w, m, n, k, bias);
    const f = {
      silu: (v: number) => v / (1 + Math.exp(-v)),
      relu: (v: number) => Math.max(v, 0),
      gelu: (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
    }[act];
    const want = Float64Array.from(ref, (v, i) => f(v) + resHost[i]);
    const y = xpu.linear(xpu.tensor(x, { device }).reshape([1, m, k]), qw, {
      bias: xpu.tensor(bias, { device }),
      activation: act,
      residual: xpu.tensor(resHost, { device }).reshape([1, m, n]),
    });
    ran();
    expect(y.shape).toEqual([1, m, n]);
    const got = await y.data();
    // The activations' slopes are at most ~1.13, so the GEMM's error bound carries over; plus
    // float32 rounding of the activation and the add.
    for (let i = 0; i < want.length; i++)
      expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(2.5e-5 * mag[i] + 4e-7 * (Math.abs(want[i]) + 1));
    qw.dispose();
  });

  it('refuses shapes that are not whole blocks, and unknown types', () => {
    expect(() => quantizedFromGguf('Q4_0', new Uint8Array(18), [1, 16], { device })).toThrow(xpu.XpuShapeError);
    expect(() => quantizedFromGguf('Q4_0', new Uint8Array(17), [1, 32], { device })).toThrow(xpu.XpuShapeError);
    expect(() => quantizedFromGguf('Q5_0', new Uint8Array(22), [1, 32], { device })).toThrow(xpu.XpuDTypeError);
  });
});

it("the planes keep every byte: toGgufBytes gives the file's blocks back, rows reordered as asked", () => {
  for (const fmt of GGUF_WEIGHT_FORMATS as Fmt[]) {
    const [n, k] = SHAPES[fmt][1];
    const raw = randomBlocks(fmt, n, k, 3);
    const order = Array.from({ length: n }, (_, i) => n - 1 - i);
    const p = xpu.quant.toGgufPlanes(fmt, raw, n, k, order);
    const back = xpu.quant.toGgufBytes(fmt, p.q, p.scales, k, 0, n);
    const row = raw.length / n;
    for (let i = 0; i < n; i++) expect(back.subarray(i * row, (i + 1) * row)).toEqual(raw.subarray((n - 1 - i) * row, (n - i) * row));
  }
});
