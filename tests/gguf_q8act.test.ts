import { afterEach, describe, expect, it, vi } from 'vitest';
import { lastNativeQgemmFallback } from '../src/backends/cpu/native_quant.js';
import { nativeCompute } from '../src/backends/cpu/native_jobs.js';
import { rng, testDevices, xpu } from './helpers.js';

/**
 * GGUF q4_0 / q4_1 / q8_0 linears with llama.cpp's 8-bit activations (ggufActivations 'q8': the
 * default of a GGUF model loaded on cpu). The reference below is written from ggml's algorithm
 * (quantize_row_q8_0 / q8_1 and the x86 vec_dot_*_q8_* of the llama.cpp node-llama-cpp bundles),
 * not from the code under test: activations quantized per 32-value block with float32 steps
 * (Math.fround) and float16 scales, integer products in groups of 4, 8 float32 lanes updated by
 * a correctly rounded fma, ggml's horizontal-sum order. It must equal the kernels bit for bit
 * (both cpu kernels: native and TypeScript); a float64 check of the same sums guards the
 * reference itself. On xpu the flag is ignored: the float path, checked against float64.
 */

const { quantizedFromGguf, dequantizeGguf, ggufFormatInfo } = xpu.quant;
type Fmt = 'q4_0' | 'q4_1' | 'q8_0';
const FORMATS: Fmt[] = ['q4_0', 'q4_1', 'q8_0'];

// ---- float32 / float16 arithmetic, written here ---------------------------------------------------

const fr = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 value of a float32 (round to nearest even; overflow to inf). */
function toHalf(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  // The float16 spacing at a: 2^(e - 10) for normals, 2^-24 below 2^-14.
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  let ulp = 2 ** (e - 10);
  if (a / ulp >= 2048)
    ulp *= 2; // log2 rounded across a power of two
  else if (e > -14 && a / ulp < 1024) ulp /= 2;
  const q = a / ulp; // exact: a is a float32 and ulp a power of two
  const f = Math.floor(q);
  const r = q - f > 0.5 || (q - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  return Math.sign(x) * r * ulp;
}

const halfValue = (h: number): number => {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
};

/** Round half to even. */
function rne(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/** float32(a * b + c), one rounding (a, b, c float32): float64 TwoSum, then the float32 rounding with the error as tie-breaker. */
function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact (24 + 24 bits)
  const s = p + c;
  const t = s - p;
  const err = p - (s - t) + (c - t);
  const r = fr(s);
  if (err === 0 || r === s || !Number.isFinite(s)) return r;
  f32[0] = r;
  u32[0] += s > r === r >= 0 ? 1 : -1; // the float32 on s's side of r
  const other = r === 0 ? Math.sign(s - r) * 2 ** -149 : f32[0];
  return s - r === (other - r) / 2 && err * (s - r) > 0 ? other : r;
}

// ---- ggml's arithmetic, from its description -------------------------------------------------------

interface QBlock {
  q: number[];
  d: number;
  s: number;
}

function quantizeBlock(x: ArrayLike<number>): QBlock {
  let amax = 0;
  for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[i]));
  if (!Number.isFinite(amax) || Number.isNaN(amax)) return { q: new Array(32).fill(0), d: NaN, s: NaN };
  const d = fr(amax / 127);
  const id = amax !== 0 ? fr(127 / amax) : 0;
  const q = Array.from({ length: 32 }, (_, i) => rne(fr(x[i] * id)));
  const sum = q.reduce((a, b) => a + b, 0);
  return { q, d: toHalf(d), s: toHalf(fr(d * sum)) };
}

/** Block b of row n as integers and its float16 scale (and q4_1's minimum). */
function weightBlock(fmt: Fmt, raw: Uint8Array, n: number, k: number, b: number): { w: number[]; d: number; m: number } {
  const ts = ggufFormatInfo(fmt).typeSize;
  const at = (n * (k / 32) + b) * ts;
  const h = (o: number): number => halfValue(raw[at + o] | (raw[at + o + 1] << 8));
  if (fmt === 'q8_0') return { w: Array.from({ length: 32 }, (_, i) => (raw[at + 2 + i] << 24) >> 24), d: h(0), m: 0 };
  const qs = fmt === 'q4_0' ? at + 2 : at + 4;
  const off = fmt === 'q4_0' ? 8 : 0;
  const w = Array.from({ length: 32 }, (_, i) => (i < 16 ? raw[qs + i] & 15 : raw[qs + i - 16] >> 4) - off);
  return { w, d: h(0), m: fmt === 'q4_1' ? h(2) : 0 };
}

/** llama.cpp's result for every (m, n), and a float64 evaluation of the same quantized sums. */
function reference(
  fmt: Fmt,
  raw: Uint8Array,
  x: Float32Array,
  m: number,
  n: number,
  k: number,
): { exact: Float32Array; chain: Float32Array; f64: Float64Array; mag: Float64Array } {
  const B = k / 32;
  const exact = new Float32Array(m * n);
  // q8_0 / q4_0 from 16 activation rows (the native wide kernel): one fma chain over the blocks.
  const chain = new Float32Array(m * n);
  const f64 = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const qa = Array.from({ length: B }, (_, b) => quantizeBlock(x.subarray(i * k + b * 32, i * k + b * 32 + 32)));
    for (let j = 0; j < n; j++) {
      const acc = new Array(8).fill(0);
      let summs = 0;
      let c = 0;
      let s64 = 0;
      let g = 0;
      for (let b = 0; b < B; b++) {
        const wb = weightBlock(fmt, raw, j, k, b);
        const scale = fr(wb.d * qa[b].d);
        let isum = 0;
        for (let l = 0; l < 8; l++) {
          let lane = 0;
          for (let t = 4 * l; t < 4 * l + 4; t++) lane += wb.w[t] * qa[b].q[t];
          acc[l] = fma32(scale, lane, acc[l]);
          isum += lane;
        }
        c = fma32(scale, isum, c);
        s64 += wb.d * qa[b].d * isum;
        g += Math.abs(wb.d * qa[b].d * isum);
        if (fmt === 'q4_1') {
          summs = fma32(wb.m, qa[b].s, summs);
          s64 += wb.m * qa[b].s;
          g += Math.abs(wb.m * qa[b].s);
        }
      }
      const t = [0, 1, 2, 3].map((l) => fr(acc[l] + acc[l + 4]));
      let v = fr(fr(t[0] + t[2]) + fr(t[1] + t[3]));
      if (fmt === 'q4_1') v = fr(v + summs);
      exact[i * n + j] = v;
      chain[i * n + j] = c;
      f64[i * n + j] = s64;
      mag[i * n + j] = g;
    }
  }
  return { exact, chain, f64, mag };
}

// ---- data --------------------------------------------------------------------------------------------

function randomHalf(r: () => number, eLo: number, eHi: number): number {
  const e = eLo + Math.floor(r() * (eHi - eLo + 1));
  return (r() < 0.5 ? 0x8000 : 0) | (e << 10) | Math.floor(r() * 1024);
}

function randomBlocks(fmt: Fmt, n: number, k: number, seed: number): Uint8Array {
  const info = ggufFormatInfo(fmt);
  const r = rng(seed);
  const blocks = (n * k) / 32;
  const out = new Uint8Array(blocks * info.typeSize);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  for (let b = 0; b < blocks; b++) {
    const at = b * info.typeSize;
    const d = randomHalf(r, 8, 12);
    out[at] = d & 255;
    out[at + 1] = d >> 8;
    if (fmt === 'q4_1') {
      const mn = randomHalf(r, 10, 14);
      out[at + 2] = mn & 255;
      out[at + 3] = mn >> 8;
    }
  }
  return out;
}

/** Activations with a spread of block magnitudes, exact ties (x * id = k + 0.5), a zero block. */
function randomX(m: number, k: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(m * k);
  for (let i = 0; i < x.length; i++) x[i] = (r() * 2 - 1) * 2 ** Math.floor(r() * 6 - 3);
  // Block 0 of row 0: amax 127 makes id = 1, so the halves below are ties for round-half-even.
  if (k >= 64) {
    x.fill(0, 32, 64);
    x[0] = 127;
    for (let i = 1; i < 32; i++) x[i] = (i % 5) - 2 + 0.5;
  }
  return x;
}

interface Compute {
  submitted(): number;
  inlineTeam(): { threads: number; splits: number };
}

const hasNative = (): boolean => !!(nativeCompute() as unknown as { qmatmulGguf?: unknown } | null)?.qmatmulGguf;
if (process.env.XPU_REQUIRE_MPI === '1' && !hasNative())
  throw new Error('the native GGUF quantized linear is required in CI (npm run build:native)');

afterEach(() => vi.unstubAllEnvs());

const runs: { device: 'cpu' | 'xpu'; path?: 'ts' | 'native' }[] = testDevices().flatMap((device) =>
  device === 'cpu' ? [...(hasNative() ? [{ device, path: 'native' as const }] : []), { device, path: 'ts' as const }] : [{ device }],
);

// [N, K]: N not a multiple of the 16-row thread chunks; K from one block to many.
const SHAPES: [number, number][] = [
  [37, 96],
  [5, 32],
  [19, 576],
];

/**
 * `want` (one of the reference's float32 orders) is first held to float32 accumulation error of
 * the reference's float64 sums, then xpu.linear(x, qw) must equal it bit for bit.
 */
async function expectBitForBit(
  qw: ReturnType<typeof quantizedFromGguf>,
  x: Float32Array,
  m: number,
  k: number,
  want: Float32Array,
  { f64, mag }: { f64: Float64Array; mag: Float64Array },
  path: string,
  what: string,
): Promise<void> {
  for (let i = 0; i < want.length; i++) expect(Math.abs(want[i] - f64[i])).toBeLessThanOrEqual(1e-6 * (k / 32 + 8) * mag[i] + 1e-30);
  const y = xpu.linear(xpu.tensor(x).reshape([m, k]), qw);
  const got = await y.data();
  if (path === 'native') expect(lastNativeQgemmFallback).toBeNull();
  let diff = 0;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) diff++;
  expect(diff, what).toBe(0);
  y.dispose();
}

describe.each(runs.filter((r) => r.device === 'cpu'))('GGUF linear with int8 activations on cpu $path', ({ path }) => {
  it.each(FORMATS)("%s: llama.cpp's result bit for bit, M = 1, 3, 6, 9", async (fmt) => {
    vi.stubEnv('XPU_CPU_QGEMM', path!);
    for (const [si, [n, k]] of SHAPES.entries()) {
      const raw = randomBlocks(fmt, n, k, 40 + si);
      const qw = quantizedFromGguf(fmt, raw, [n, k], { device: 'cpu', activations: 'q8' });
      expect(qw.ggufActivations).toBe('q8');
      for (const m of [1, 3, 6, 9]) {
        const x = randomX(m, k, 11 * m + si);
        const r = reference(fmt, raw, x, m, n, k);
        await expectBitForBit(qw, x, m, k, r.exact, r, path!, `${fmt} [${n}, ${k}] M = ${m}: outputs that differ from llama.cpp's`);
      }
      qw.dispose();
    }
  });

  // Prompt-sized batches of q8_0 and q4_0 take the wide VNNI kernel (native/compute/qgemm_gguf_q8_wide.cc):
  // the same integers and scales, one fma chain per output; llama.cpp's own batches use yet another
  // order (tinyBLAS), so this is checked against its own order and float64.
  it.each(['q8_0', 'q4_0'] as const)("%s from 16 activation rows: the wide kernel's fma chain bit for bit, M = 16, 21, 40", async (fmt) => {
    vi.stubEnv('XPU_CPU_QGEMM', path!);
    for (const [si, [n, k]] of [...SHAPES, [64, 2048] as [number, number]].entries()) {
      const raw = randomBlocks(fmt, n, k, 70 + si);
      const qw = quantizedFromGguf(fmt, raw, [n, k], { device: 'cpu', activations: 'q8' });
      for (const m of [16, 21, 40]) {
        const x = randomX(m, k, 13 * m + si);
        const r = reference(fmt, raw, x, m, n, k);
        await expectBitForBit(qw, x, m, k, r.chain, r, path!, `${fmt} [${n}, ${k}] M = ${m}: outputs that differ from the fma chain`);
      }
      qw.dispose();
    }
  });

  // A decode-sized projection (more than 2^21 multiply-adds) runs on the JS thread with its rows
  // split across the addon's inline team; queued, the same kernel runs on the compute thread's
  // OpenMP threads. Both must be llama.cpp's result, bit for bit (a row never straddles a part).
  if (path === 'native')
    it('q4_1: a wide GEMV runs inline across the inline team, equal to the queued run and to llama.cpp', async () => {
      vi.stubEnv('XPU_CPU_QGEMM', 'native');
      const c = nativeCompute() as unknown as Compute;
      const [n, k] = [4099, 576];
      const raw = randomBlocks('q4_1', n, k, 77);
      const qw = quantizedFromGguf('q4_1', raw, [n, k], { device: 'cpu', activations: 'q8' });
      for (const m of [1, 5]) {
        const x = randomX(m, k, 78 + m);
        const { exact } = reference('q4_1', raw, x, m, n, k);
        const xt = xpu.tensor(x).reshape([m, k]);
        await xpu.accelerator.device('cpu').backend.synchronize(); // an idle queue
        vi.stubEnv('XPU_CPU_GEMM_INLINE', '');
        let before = c.submitted();
        const splits = c.inlineTeam().splits;
        const inline = xpu.linear(xt, qw);
        expect(c.submitted(), 'ran inline').toBe(before);
        // Split across the team's threads when the worker has more than one core to use.
        if (c.inlineTeam().threads > 1) expect(c.inlineTeam().splits).toBe(splits + 1);
        vi.stubEnv('XPU_CPU_GEMM_INLINE', '0');
        before = c.submitted();
        const queued = xpu.linear(xt, qw);
        expect(c.submitted(), 'queued').toBe(before + 1);
        const [a, q] = [await inline.data(), await queued.data()];
        let diffInline = 0;
        let diffQueued = 0;
        for (let i = 0; i < exact.length; i++) {
          if (a[i] !== exact[i]) diffInline++;
          if (q[i] !== exact[i]) diffQueued++;
        }
        expect(diffInline, `M = ${m}: inline outputs that differ from llama.cpp's`).toBe(0);
        expect(diffQueued, `M = ${m}: queued outputs that differ from llama.cpp's`).toBe(0);
        for (const t of [xt, inline, queued]) t.dispose();
      }
      qw.dispose();
    });

  it.each(FORMATS)('%s: differs from the exact-float path, which stays the default of quantizedFromGguf', async (fmt) => {
    vi.stubEnv('XPU_CPU_QGEMM', path!);
    const [n, k, m] = [21, 128, 2];
    const raw = randomBlocks(fmt, n, k, 3);
    const x = randomX(m, k, 4);
    const plain = quantizedFromGguf(fmt, raw, [n, k], { device: 'cpu' });
    expect(plain.ggufActivations).toBe('float');
    const q8 = quantizedFromGguf(fmt, raw, [n, k], { device: 'cpu', activations: 'q8' });
    const a = await xpu.linear(xpu.tensor(x).reshape([m, k]), plain).data();
    const b = await xpu.linear(xpu.tensor(x).reshape([m, k]), q8).data();
    const w = dequantizeGguf(ggufFormatInfo(fmt).ggml, raw, n * k);
    let moved = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        let g = 0;
        for (let p = 0; p < k; p++) {
          s += x[i * k + p] * w[j * k + p];
          g += Math.abs(x[i * k + p] * w[j * k + p]);
        }
        expect(Math.abs(a[i * n + j] - s)).toBeLessThanOrEqual(1e-5 * g);
        if (Math.abs(b[i * n + j] - s) > 1e-5 * g) moved++;
      }
    // 8-bit activations move most outputs by far more than float32 rounding.
    expect(moved).toBeGreaterThan((m * n) / 2);
    plain.dispose();
    q8.dispose();
  });

  it('NaN or inf in a block makes every output of that row NaN; other rows are unaffected', async () => {
    vi.stubEnv('XPU_CPU_QGEMM', path!);
    const [n, k, m] = [17, 96, 3];
    for (const fmt of FORMATS) {
      const raw = randomBlocks(fmt, n, k, 8);
      const qw = quantizedFromGguf(fmt, raw, [n, k], { device: 'cpu', activations: 'q8' });
      const x = randomX(m, k, 9);
      x[1 * k + 40] = NaN;
      x[2 * k + 70] = -Infinity;
      const got = await xpu.linear(xpu.tensor(x).reshape([m, k]), qw).data();
      const { exact } = reference(fmt, raw, x.slice(0, k), 1, n, k);
      expect(Array.from(got.subarray(0, n))).toEqual(Array.from(exact));
      for (let i = n; i < 3 * n; i++) expect(Number.isNaN(got[i]), `${fmt} output ${i}`).toBe(true);
      qw.dispose();
    }
    // The wide q8_0 kernel (16+ rows): the same rule, checked against its own order.
    const mw = 20;
    const raw = randomBlocks('q8_0', n, k, 18);
    const qw = quantizedFromGguf('q8_0', raw, [n, k], { device: 'cpu', activations: 'q8' });
    const x = randomX(mw, k, 19);
    x[5 * k + 3] = NaN;
    x[17 * k + 90] = Infinity;
    const got = await xpu.linear(xpu.tensor(x).reshape([mw, k]), qw).data();
    const { chain } = reference('q8_0', raw, x, mw, n, k);
    for (let r = 0; r < mw; r++)
      for (let j = 0; j < n; j++) {
        const i = r * n + j;
        if (r === 5 || r === 17) expect(Number.isNaN(got[i]), `wide q8_0 output ${i}`).toBe(true);
        else expect(got[i], `wide q8_0 output ${i}`).toBe(chain[i]);
      }
    qw.dispose();
  });

  it('fuses bias, activation and residual after the integer product; float16 activations', async () => {
    vi.stubEnv('XPU_CPU_QGEMM', path!);
    const [n, k, m] = [23, 64, 2];
    const raw = randomBlocks('q4_1', n, k, 12);
    const qw = quantizedFromGguf('q4_1', raw, [n, k], { device: 'cpu', activations: 'q8' });
    const x16 = await xpu
      .tensor(randomX(m, k, 13))
      .to('float16')
      .to('float32')
      .data();
    const { exact } = reference('q4_1', raw, x16 as Float32Array, m, n, k);
    const bias = Float32Array.from({ length: n }, (_, j) => (j % 5) - 2);
    const res = Float32Array.from({ length: m * n }, (_, i) => (i % 3) * 0.25);
    const y = xpu.linear(xpu.tensor(x16).reshape([m, k]), qw, {
      bias: xpu.tensor(bias),
      activation: 'relu',
      residual: xpu.tensor(res).reshape([m, n]),
    });
    const got = await y.data();
    // float32 steps natively, float64 then one rounding in TypeScript: within 2 float32 ulps.
    for (let i = 0; i < m * n; i++) {
      const want = Math.max(0, exact[i] + bias[i % n]) + res[i];
      expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(2 ** -22 * (Math.abs(exact[i]) + Math.abs(bias[i % n]) + res[i]));
    }
    qw.dispose();
  });
});

describe.runIf(testDevices().includes('xpu'))('GGUF linear on xpu ignores ggufActivations', () => {
  it('q4_1 with activations q8 is the float path', async () => {
    const device = 'xpu';
    const [n, k, m] = [21, 96, 2];
    const raw = randomBlocks('q4_1', n, k, 21);
    const w = dequantizeGguf('Q4_1', raw, n * k);
    const qw = quantizedFromGguf('q4_1', raw, [n, k], { device, activations: 'q8' });
    const x = randomX(m, k, 22);
    const got = await xpu.linear(xpu.tensor(x, { device }).reshape([m, k]), qw).data();
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        let g = 0;
        for (let p = 0; p < k; p++) {
          s += x[i * k + p] * w[j * k + p];
          g += Math.abs(x[i * k + p] * w[j * k + p]);
        }
        expect(Math.abs(got[i * n + j] - s)).toBeLessThanOrEqual(2e-5 * g);
      }
    qw.dispose();
  });
});

describe('ggufActivations option', () => {
  it('rejects unknown modes with XpuValueError; toAsync keeps the mode', async () => {
    const raw = randomBlocks('q8_0', 2, 32, 1);
    expect(() => quantizedFromGguf('q8_0', raw, [2, 32], { activations: 'int8' as never })).toThrow(xpu.XpuValueError);
    const q = quantizedFromGguf('q8_0', raw, [2, 32], { device: 'cpu', activations: 'q8' });
    // the test's own float16 rounding: ties to even, subnormals, overflow
    expect([toHalf(fr(1 + 2 ** -11)), toHalf(fr(1 + 3 * 2 ** -11)), toHalf(3 * 2 ** -26), toHalf(70000)]).toEqual([
      1,
      1 + 2 ** -9,
      2 ** -24,
      Infinity,
    ]);
    expect((await q.toAsync('cpu')).ggufActivations).toBe('q8');
    q.dispose();
  });
});
