import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearHostPool } from '../src/backends/cpu/host_pool.js';
import { isJobDone } from '../src/backends/cpu/native_jobs.js';
import { nativeGemmUnavailable } from '../src/backends/cpu/native_gemm.js';
import { nativeCompute } from '../src/backends/cpu/native_jobs.js';
import { CpuStorage } from '../src/backends/cpu/storage.js';
import { expectClose, randomData, TOL, xpu } from './helpers.js';

/**
 * The cpu GEMM on both of its paths: the native oneDNN GEMM on the compute thread
 * (XPU_CPU_GEMM=native, which fails instead of falling back) and the TypeScript GEMM
 * (XPU_CPU_GEMM=ts). Every case is checked against a float64 reference computed here from the
 * operands' logical contents; then the asynchronous parts of the native path: ordering of
 * dependent GEMMs, disposing while a GEMM is pending, and the event loop running while an awaited
 * GEMM computes.
 */

const why = nativeGemmUnavailable();
const hasNative = why === null;
// CI installs oneDNN (scripts/setup.sh) and requires the addon: there a missing native GEMM fails.
if (process.env.XPU_REQUIRE_MPI === '1' && !hasNative) throw new Error(`the native GEMM is required in CI: ${why}`);
// Built with oneMKL beside oneDNN (scripts/fetch-mkl.sh), the native path runs twice: with oneMKL
// taking its shapes (gemm.cc) and with XPU_CPU_MKL=off (oneDNN and our GEMV only).
const hasMkl = hasNative && nativeCompute()?.info().blas != null;
type Path = 'native' | 'native, XPU_CPU_MKL=off' | 'ts';
const PATHS: Path[] = hasNative ? (hasMkl ? ['native', 'native, XPU_CPU_MKL=off', 'ts'] : ['native', 'ts']) : ['ts'];

type T = xpu.Tensor;

/** float64 reference: logical [batch..., m, k] x [batch..., k, n] (already broadcast to one batch shape). */
function refGemm(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const av = a[z * m * k + i * k + p];
        const bo = z * k * n + p * n;
        const oo = z * m * n + i * n;
        for (let j = 0; j < n; j++) out[oo + j] += av * b[bo + j];
      }
    }
  }
  return out;
}

const numel = (s: readonly number[]): number => s.reduce((x, y) => x * y, 1);

/** A cpu float32 tensor of `shape` with fresh random data (never zeros). */
function rand(shape: number[], seed: number, dtype: 'float32' | 'float16' = 'float32'): T {
  const t = xpu.tensor(Float32Array.from(randomData(numel(shape), seed)), { device: 'cpu', shape });
  return dtype === 'float32' ? t : t.to('float16');
}

/** Checks xpu.matmul(a, b) against the float64 reference of the operands' logical contents. */
async function checkMatmul(a: T, b: T, tol: number, what: string): Promise<void> {
  const out = xpu.matmul(a, b);
  const batch = out.shape.slice(0, -2);
  const [m, k, n] = [a.shape[a.shape.length - 2], a.shape[a.shape.length - 1], b.shape[b.shape.length - 1]];
  const ae = await a.expand([...batch, m, k]).data();
  const be = await b.expand([...batch, k, n]).data();
  expectClose(await out.data(), refGemm(ae, be, numel(batch), m, k, n), tol, what);
}

describe.each(PATHS)('cpu GEMM, %s path', (path) => {
  const native = path !== 'ts';
  const mkl = path === 'native' && hasMkl;
  beforeEach(() => {
    vi.stubEnv('XPU_CPU_GEMM', native ? 'native' : 'ts');
    if (hasMkl) vi.stubEnv('XPU_CPU_MKL', mkl ? 'on' : 'off');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  // Up to 2^21 multiply-adds the native GEMM runs on the JS thread (single-threaded, dnnl_sgemm)
  // when the queue is idle; 257 x 300 x 190 and 300^3 go to the compute thread.
  it.each([
    [1, 1, 1],
    [3, 7, 5],
    [17, 33, 1],
    [1, 255, 3],
    [64, 64, 64],
    [100, 37, 129],
    [257, 300, 190],
    [300, 300, 300],
  ])('%i x %i x %i, dense', async (m, k, n) => {
    await checkMatmul(rand([m, k], m + k), rand([k, n], k + n), TOL.float32, `${m}x${k}x${n}`);
  });

  it('writes every element of a poisoned output (a reused host array)', async () => {
    clearHostPool();
    // 512 x 512 float32 is 1 MiB: the host pool keeps it and hands it to the next output.
    xpu.full([512, 512], NaN, { device: 'cpu' }).dispose();
    await checkMatmul(rand([512, 96], 1), rand([96, 512], 2), TOL.float32, 'poisoned');
  });

  it('reads transposed and sliced operands in place, packs the rest', async () => {
    const [m, k, n] = [37, 45, 29];
    const aT = rand([k, m], 3).T; // column-major A
    const bT = rand([n, k], 4).T; // column-major B (a Linear weight)
    const aWide = rand([m, k + 11], 5).narrow(1, 6, k); // leading dim > k, offset
    const bWide = rand([k + 3, n + 7], 6)
      .narrow(0, 2, k)
      .narrow(1, 3, n);
    const aStep = rand([m, 2 * k], 7).slice(1, 0, 2 * k, 2); // stride 2 along k: no BLAS layout
    const bStep = rand([2 * k, 2 * n], 8)
      .slice(0, 0, 2 * k, 2)
      .slice(1, 1, 2 * n, 2);
    const a = rand([m, k], 9);
    const b = rand([k, n], 10);
    for (const [x, y, what] of [
      [aT, b, 'A^T'],
      [a, bT, 'B^T'],
      [aT, bT, 'both ^T'],
      [aWide, bWide, 'sliced'],
      [aStep, b, 'A step 2'],
      [a, bStep, 'B step 2'],
      [aStep, bT, 'A step, B^T'],
    ] as [T, T, string][]) {
      await checkMatmul(x, y, TOL.float32, what);
    }
  });

  it('batches with broadcasting (folded into M when B stays put)', async () => {
    const [m, k, n] = [13, 21, 17];
    await checkMatmul(rand([4, m, k], 11), rand([k, n], 12), TOL.float32, '[4,m,k] @ [k,n] (folded)');
    await checkMatmul(rand([2, 3, m, k], 13), rand([3, k, n], 14), TOL.float32, '[2,3,m,k] @ [3,k,n]');
    await checkMatmul(rand([2, 1, m, k], 15), rand([1, 3, k, n], 16), TOL.float32, '[2,1] x [1,3] batch broadcast');
    await checkMatmul(rand([m, k], 17), rand([5, k, n], 18), TOL.float32, 'A broadcast over the batch');
    await checkMatmul(rand([3, k, m], 19).transpose(1, 2), rand([3, n, k], 20).transpose(1, 2), TOL.float32, 'batched, both transposed');
    await checkMatmul(
      rand([m, 3, k], 21).transpose(0, 1),
      rand([k, n], 22),
      TOL.float32,
      'batch dim strided inside the rows (not foldable)',
    );
    // A few rows per batch entry (the small-M path, entry by entry).
    await checkMatmul(rand([2, 3, 2, k], 23), rand([3, n, k], 24).transpose(1, 2), TOL.float32, '[2,3,2,k] @ [3,k,n]^T');
    await checkMatmul(rand([3, 1, k], 25), rand([3, k, n], 26), TOL.float32, 'batched vectors');
  });

  it('float16 operands and output (f32 accumulation, one rounding)', async () => {
    const [m, k, n] = [33, 70, 41];
    const a = rand([2, m, k], 23, 'float16');
    const b = rand([n, k], 24, 'float16').T;
    const out = xpu.matmul(a, b);
    expect(out.dtype).toBe('float16');
    const ref = refGemm(await a.data(), await b.expand([2, k, n]).data(), 2, m, k, n);
    expectClose(await out.data(), ref, TOL.float16, 'f16');
  });

  // float16 weights (a Linear's W [N, K]): the streaming GEMV for M <= 8, N-blocks converted to
  // f32 tiles for more rows; odd N and K (vector tails), bias and activation; the reference from the f16 input values.
  it.each([1, 3, 8, 9, 40])('float16 weight, %i rows, odd N and K, bias and activation', async (rows) => {
    const [k, n] = [67, 53];
    const w = rand([n, k], 50 + rows, 'float16');
    const bias = rand([n], 60 + rows, 'float16');
    const we = await w.T.contiguous().data();
    const be = await bias.data();
    const acts: Record<string, (v: number) => number> = {
      relu: (v) => Math.max(v, 0),
      gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
      silu: (v) => v / (1 + Math.exp(-v)),
    };
    for (const xDtype of ['float32', 'float16'] as const) {
      const x = rand([rows, k], 70 + rows, xDtype).to('float16');
      const xe = await x.data();
      const mm = refGemm(xe, we, 1, rows, k, n);
      for (const act of [undefined, 'relu', 'gelu', 'silu'] as const) {
        const out = xpu.linear(x, w, { bias, activation: act });
        if (native) expect(nativeCompute()!.info().stats?.lastImpl).toBe(rows <= 8 ? 'f16_gemv' : 'f16_blocked_sgemm');
        const ref = mm.map((v, i) => {
          const y = v + be[i % n];
          return act ? acts[act](y) : y;
        });
        expectClose(await out.data(), ref, TOL.float16, `f16 linear ${rows} rows ${xDtype} ${act ?? 'none'}`);
      }
    }
    // A batch over the weight (not folded) and a sliced weight (row stride > K).
    const wb = rand([2, n, k + 5], 80 + rows, 'float16').narrow(2, 3, k);
    const xb = rand([2, rows, k], 90 + rows, 'float16');
    const outb = xpu.matmul(xb, wb.transpose(1, 2));
    const wbe = await wb.transpose(1, 2).contiguous().data();
    expectClose(await outb.data(), refGemm(await xb.data(), wbe, 2, rows, k, n), TOL.float16, `f16 batched sliced weight ${rows} rows`);
  });

  // f32 weights read as W [N, K] (a Linear): the streaming GEMV for M <= 4 (native), across odd K
  // (the masked vector tail, K below one vector), a column-major A (packed for the GEMV), a sliced
  // weight (row stride > K), a batch over the weight, alpha from addmm.
  it.each([1, 2, 4, 5])('f32 Linear weight, %i rows: GEMV shapes, layouts, alpha', async (rows) => {
    for (const [k, n] of [
      [67, 53],
      [5, 9],
      [16, 33],
      [129, 2],
    ]) {
      const w = rand([n, k], 100 + rows + k);
      const we = await w.T.contiguous().data();
      const x = rand([rows, k], 110 + rows + n);
      const xe = await x.data();
      const out = xpu.linear(x, w);
      if (native) {
        // One row with oneMKL: its sgemv; else our GEMV up to 4 rows.
        const impl = nativeCompute()!.info().stats?.lastImpl;
        if (rows === 1 && mkl) expect(impl).toBe('mkl_sgemv');
        else if (rows <= 4) expect(impl).toBe('f32_gemv');
        else expect(impl).not.toBe('f32_gemv');
      }
      expectClose(await out.data(), refGemm(xe, we, 1, rows, k, n), TOL.float32, `f32 linear ${rows}x${k}x${n}`);
      const xT = rand([k, rows], 120 + rows).T;
      expectClose(
        await xpu.linear(xT, w).data(),
        refGemm(await xT.contiguous().data(), we, 1, rows, k, n),
        TOL.float32,
        `column-major x ${rows}x${k}x${n}`,
      );
    }
    const [k, n] = [70, 41];
    const wb = rand([2, n, k + 5], 130 + rows).narrow(2, 3, k);
    const xb = rand([2, rows, k], 140 + rows);
    const wbe = await wb.transpose(1, 2).contiguous().data();
    expectClose(
      await xpu.matmul(xb, wb.transpose(1, 2)).data(),
      refGemm(await xb.data(), wbe, 2, rows, k, n),
      TOL.float32,
      `batched sliced f32 weight ${rows} rows`,
    );
    const input = rand([rows, n], 150 + rows);
    const a = rand([rows, k], 160 + rows);
    const w = rand([n, k], 170 + rows);
    const mm = refGemm(await a.data(), await w.T.contiguous().data(), 1, rows, k, n);
    const ie = await input.data();
    const out = xpu.addmm(input, a, w.T, { alpha: -1.5, beta: 0.5 });
    expectClose(
      await out.data(),
      mm.map((v, i) => -1.5 * v + 0.5 * ie[i]),
      TOL.float32,
      `addmm alpha beta ${rows} rows`,
    );
  });

  it('fused epilogue: bias, activation, residual; addmm alpha and beta', async () => {
    const [s, k, n] = [19, 33, 27];
    const x = rand([2, s, k], 25);
    const w = rand([n, k], 26);
    const bias = rand([n], 27);
    const res = rand([s, n], 28);
    const xe = await x.data();
    const we = await w.T.contiguous().data();
    const be = await bias.data();
    const re = await res.data();
    const mm = refGemm(xe, new Float64Array([...we, ...we]), 2, s, k, n);
    const acts: Record<string, (v: number) => number> = {
      relu: (v) => Math.max(v, 0),
      gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
      silu: (v) => v / (1 + Math.exp(-v)),
    };
    for (const act of [undefined, 'relu', 'gelu', 'silu'] as const) {
      const out = xpu.linear(x, w, { bias, activation: act, residual: res });
      const ref = mm.map((v, i) => {
        const j = i % n;
        const row = Math.floor(i / n) % s;
        let y = v + be[j];
        if (act) y = acts[act](y);
        return y + re[row * n + j];
      });
      expectClose(await out.data(), ref, TOL.float32, `linear ${act ?? 'none'}`);
    }
    // One to four rows (the small-M path: its epilogue is a second pass, not oneDNN post-ops).
    for (const rows of [1, 3]) {
      const xs = rand([rows, k], 32 + rows);
      const xse = await xs.data();
      const mms = refGemm(xse, we, 1, rows, k, n);
      for (const act of [undefined, 'relu', 'gelu', 'silu'] as const) {
        const out = xpu.linear(xs, w, { bias, activation: act, residual: res.narrow(0, 0, rows) });
        const ref = mms.map((v, i) => {
          let y = v + be[i % n];
          if (act) y = acts[act](y);
          return y + re[i];
        });
        expectClose(await out.data(), ref, TOL.float32, `linear ${rows} rows ${act ?? 'none'}`);
      }
    }
    const input = rand([1, n], 29);
    const ie = await input.data();
    const a2 = rand([s, k], 30);
    const b2 = rand([k, n], 31);
    const mm2 = refGemm(await a2.data(), await b2.data(), 1, s, k, n);
    for (const [alpha, beta] of [
      [1, 1],
      [0.5, -2],
      [-3, 0.25],
    ]) {
      const out = xpu.addmm(input, a2, b2, { alpha, beta });
      expectClose(
        await out.data(),
        mm2.map((v, i) => alpha * v + beta * ie[i % n]),
        TOL.float32,
        `addmm ${alpha} ${beta}`,
      );
    }
  });

  // On the compute thread (XPU_CPU_GEMM_INLINE=0: every GEMM queued), on each side of gemm.cc's
  // choice of library: a row-major B (oneMKL when built with it), a Linear weight below and from
  // 384 rows (oneDNN, then oneMKL), with bias / residual / alpha (oneMKL plus the epilogue pass) and
  // with an activation (oneDNN's fused post-op), a column-major A, the one-row GEMV on a row-major
  // B and on a strided row; K off the SIMD widths throughout.
  it('compute-thread shapes on each side of the library choice', async () => {
    vi.stubEnv('XPU_CPU_GEMM_INLINE', '0');
    const impl = (mklImpl: string | null, what: string): void => {
      if (!native) return;
      const got = nativeCompute()!.info().stats?.lastImpl;
      if (mkl && mklImpl) expect(got, what).toBe(mklImpl);
      else expect(got, what).not.toMatch(/^mkl_/);
    };
    const linearCheck = async (x: T, w: T, mklImpl: string | null, what: string): Promise<void> => {
      const out = xpu.linear(x, w);
      impl(mklImpl, what);
      const [m, k] = x.shape;
      const ref = refGemm(await x.contiguous().data(), await w.T.contiguous().data(), 1, m, k, w.shape[0]);
      expectClose(await out.data(), ref, TOL.float32, what);
    };
    const a = rand([20, 333], 41);
    const b = rand([333, 401], 42);
    const out = xpu.matmul(a, b);
    impl('mkl_sgemm', 'row-major B');
    expectClose(await out.data(), refGemm(await a.data(), await b.data(), 1, 20, 333, 401), TOL.float32, 'row-major B, 20 rows');
    await linearCheck(rand([100, 131], 43), rand([173, 131], 44), null, 'Linear weight, 100 rows');
    await linearCheck(rand([400, 67], 45), rand([83, 67], 46), 'mkl_sgemm', 'Linear weight, 400 rows');
    await linearCheck(rand([67, 400], 47).T, rand([83, 67], 48), 'mkl_sgemm', 'column-major x, 400 rows');
    await linearCheck(rand([1, 2053], 49), rand([1111, 2053], 50), 'mkl_sgemv', 'one row');
    const strided = rand([2053, 3], 51).T.narrow(0, 1, 1);
    expect(strided.isContiguous()).toBe(false);
    await linearCheck(strided, rand([1111, 2053], 52), 'mkl_sgemv', 'one strided row');
    const v = rand([1, 2053], 53);
    const bRow = rand([2053, 1111], 54);
    const outV = xpu.matmul(v, bRow);
    impl('mkl_sgemv', 'one row, row-major B');
    expectClose(await outV.data(), refGemm(await v.data(), await bRow.data(), 1, 1, 2053, 1111), TOL.float32, 'one row, row-major B');
    // Epilogues from 400 rows: bias + residual (oneMKL, then a pass), alpha / beta, gelu (oneDNN).
    const x = rand([400, 67], 55);
    const w = rand([83, 67], 56);
    const bias = rand([83], 57);
    const res = rand([400, 83], 58);
    const mm = refGemm(await x.data(), await w.T.contiguous().data(), 1, 400, 67, 83);
    const be = await bias.data();
    const re = await res.data();
    const withBias = xpu.linear(x, w, { bias, residual: res });
    impl('mkl_sgemm', 'bias and residual');
    expectClose(
      await withBias.data(),
      mm.map((y, i) => y + be[i % 83] + re[i]),
      TOL.float32,
      'bias and residual, 400 rows',
    );
    const scaled = xpu.addmm(bias, x, w.T, { alpha: -1.5, beta: 0.5 });
    impl('mkl_sgemm', 'addmm');
    expectClose(
      await scaled.data(),
      mm.map((y, i) => -1.5 * y + 0.5 * be[i % 83]),
      TOL.float32,
      'addmm alpha beta, 400 rows',
    );
    const gelu = xpu.linear(x, w, { bias, activation: 'gelu' });
    impl(null, 'gelu');
    expectClose(
      await gelu.data(),
      mm.map((y, i) => {
        const z = y + be[i % 83];
        return 0.5 * z * (1 + erf(z / Math.SQRT2));
      }),
      TOL.float32,
      'bias and gelu, 400 rows',
    );
  });
});

// erf to ~1e-13, independent of the library's: Taylor series near 0, Laplace's continued
// fraction for erfc in the tails.
function erf(x: number): number {
  const ax = Math.abs(x);
  let y: number;
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    y = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let f = ax;
    for (let n = 120; n >= 1; n--) f = ax + n / 2 / f;
    y = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -y : y;
}

describe.runIf(hasNative)('native GEMM on the compute thread', () => {
  beforeEach(() => {
    vi.stubEnv('XPU_CPU_GEMM', 'native');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const writerOf = (t: T): number => (t.ref.storage as CpuStorage).writer;

  it('runs a chain of dependent GEMMs in order (no waiting in between)', async () => {
    const n = 336; // above both inline bounds (2^21, and 2^25 split across the inline team): every step is queued
    const x0 = rand([n, n], 40);
    const w = xpu.mul(rand([n, n], 41), 0.1);
    let x = x0;
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) {
      x = xpu.matmul(x, w);
      ids.push(writerOf(x));
    }
    // Each step was queued behind the previous one, with increasing ids.
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]);
    let ref = Float64Array.from(await x0.data());
    const we = await w.data();
    for (let i = 0; i < 12; i++) ref = refGemm(ref, we, 1, n, n, n);
    expectClose(await x.data(), ref, 1e-4, 'chain');
  });

  it('one completion notice for a run of queued jobs still settles every job and releases its arrays', async () => {
    vi.stubEnv('XPU_CPU_GEMM_INLINE', '0'); // every GEMM queued, back to back
    const c = nativeCompute()!;
    const tracker = (c as unknown as Record<symbol, { keep: Map<number, unknown>; completed: number }>)[Symbol.for('xpu.compute.tracker')];
    const a = rand([40, 50], 44);
    const b = rand([50, 30], 45);
    const outs: T[] = [];
    for (let i = 0; i < 30; i++) outs.push(xpu.matmul(a, b));
    const ids = outs.map(writerOf);
    const ref = refGemm(await a.data(), await b.data(), 1, 40, 50, 30);
    // Any job of the run, awaited on its own, resolves (folded notices cover it), with its result.
    expectClose(await outs[7].data(), ref, TOL.float32, 'job 8 of 30');
    await xpu.accelerator.device('cpu').backend.synchronize();
    expect(tracker.completed).toBeGreaterThanOrEqual(ids[ids.length - 1]);
    for (const id of ids) expect(isJobDone(id)).toBe(true);
    expect(tracker.keep.size).toBe(0);
    expectClose(await outs[29].data(), ref, TOL.float32, 'job 30 of 30');
  });

  it('keeps buffers of a pending GEMM until it is done when its tensors are disposed', async () => {
    clearHostPool();
    const n = 768;
    const a = rand([n, n], 42);
    const b = rand([n, n], 43);
    const ae = await a.data();
    const be = await b.data();
    const c = xpu.matmul(a, b);
    const cRaw = (c.ref.storage as CpuStorage).rawData;
    const aRaw = (a.ref.storage as CpuStorage).rawData;
    const id = writerOf(c);
    c.dispose();
    a.dispose();
    // New tensors of the same sizes must not get the arrays the worker still writes or reads.
    const fresh = [xpu.full([n, n], 7, { device: 'cpu' }), xpu.full([n, n], 8, { device: 'cpu' })];
    if (!isJobDone(id)) {
      for (const f of fresh) {
        expect((f.ref.storage as CpuStorage).rawData).not.toBe(cRaw);
        expect((f.ref.storage as CpuStorage).rawData).not.toBe(aRaw);
      }
    }
    // A second GEMM on the same inputs sees them intact.
    const a2 = xpu.tensor(Float32Array.from(ae), { device: 'cpu', shape: [n, n] });
    const d = xpu.matmul(a2, b);
    await xpu.accelerator.synchronize('cpu'); // the public API reaches the cpu's compute queue
    expect(isJobDone(id)).toBe(true);
    expect(isJobDone(writerOf(d))).toBe(true);
    expect((await fresh[0].data()).every((v) => v === 7)).toBe(true);
    expect((await fresh[1].data()).every((v) => v === 8)).toBe(true);
    // Spot-check rows of d against float64.
    const dd = await d.data();
    for (const i of [0, 311, n - 1]) {
      const row = refGemm(ae.subarray(i * n, (i + 1) * n), be, 1, 1, n, n);
      expectClose(dd.subarray(i * n, (i + 1) * n), row, TOL.float32, `row ${i}`);
    }
  });

  it('leaves the event loop free while an awaited GEMM runs', async () => {
    const n = 2048; // 17 GFLOP: tens of milliseconds even at this machine's peak
    const a = rand([n, n], 44);
    const b = rand([n, n], 45);
    const c = xpu.matmul(a, b);
    const id = writerOf(c);
    expect(id).toBeGreaterThan(0);
    let ticksWhilePending = 0;
    let running = true;
    const tick = (): void => {
      if (!running) return;
      if (!isJobDone(id)) ticksWhilePending++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const row = await c.narrow(0, 5, 1).data();
    running = false;
    // The loop turned while the worker computed (if the GEMM was still running when awaited).
    expect(ticksWhilePending).toBeGreaterThan(0);
    const ae = await a.narrow(0, 5, 1).data();
    expectClose(row, refGemm(ae, await b.data(), 1, 1, n, n), TOL.float32, 'row 5');
  });

  it('small GEMMs run inline while the queue is idle; XPU_CPU_GEMM_INLINE=0 queues them too', async () => {
    vi.stubEnv('XPU_CPU_GEMM_INLINE', ''); // the default bound
    await xpu.accelerator.device('cpu').backend.synchronize(); // an idle queue
    const a = rand([20, 30], 60);
    const b = rand([30, 10], 61);
    const inline = xpu.matmul(a, b);
    expect(writerOf(inline)).toBe(0);
    vi.stubEnv('XPU_CPU_GEMM_INLINE', '0');
    const queued = xpu.matmul(a, b);
    expect(writerOf(queued)).toBeGreaterThan(0);
    const ref = refGemm(await a.data(), await b.data(), 1, 20, 30, 10);
    expectClose(await inline.data(), ref, TOL.float32, 'inline');
    expectClose(await queued.data(), ref, TOL.float32, 'queued');
  });

  // Above the 2^21 bound, on the JS thread with the output columns split across the addon's
  // inline team: one activation row at any size (a decode step's projections) and float32 products
  // up to 2^25 multiply-adds, both with a Linear weight read in place (W^T) and a plain [k, n] B.
  it.each(
    (hasMkl ? ['on', 'off'] : ['unset']).flatMap((mkl) => [
      { mkl, m: 1, k: 768, n: 3001 },
      { mkl, m: 200, k: 256, n: 300 },
    ]),
  )('$m x $k x $n runs inline, split across the inline team (XPU_CPU_MKL $mkl)', async ({ mkl, m, k, n }) => {
    const c = nativeCompute() as unknown as { inlineTeam(): { threads: number; splits: number } };
    const x = rand([m, k], 70);
    const w = rand([n, k], 71);
    const plain = rand([k, n], 72);
    for (const [b, what] of [
      [w.transpose(0, 1), 'W^T'],
      [plain, '[k, n]'],
    ] as const) {
      if (mkl !== 'unset') vi.stubEnv('XPU_CPU_MKL', mkl);
      vi.stubEnv('XPU_CPU_GEMM_INLINE', '');
      await xpu.accelerator.device('cpu').backend.synchronize(); // an idle queue
      const splits = c.inlineTeam().splits;
      const inline = xpu.matmul(x, b);
      expect(writerOf(inline), `${what} ran inline`).toBe(0);
      if (c.inlineTeam().threads > 1) expect(c.inlineTeam().splits, `${what} split`).toBe(splits + 1);
      vi.stubEnv('XPU_CPU_GEMM_INLINE', '0');
      const queued = xpu.matmul(x, b);
      expect(writerOf(queued)).toBeGreaterThan(0);
      const ref = refGemm(await x.data(), await b.contiguous().data(), 1, m, k, n);
      expectClose(await inline.data(), ref, TOL.float32, `${what} inline`);
      expectClose(await queued.data(), ref, TOL.float32, `${what} queued`);
    }
  });

  it('a synchronous consumer waits for the pending GEMM', async () => {
    const n = 512;
    const a = rand([n, n], 46);
    const b = rand([n, n], 47);
    const c = xpu.matmul(a, b);
    const s = xpu.sum(c); // TypeScript kernel reading c: blocks until the GEMM is done
    const ref = refGemm(await a.data(), await b.data(), 1, n, n, n).reduce((x, y) => x + y, 0);
    expect(Math.abs((await s.data())[0] - ref)).toBeLessThan(1e-4 * Math.sqrt(n * n) * n);
  });

  it('refuses a malformed descriptor with an error, never a crash', () => {
    const c = nativeCompute()!;
    const f = new Float32Array(16);
    const op = (data: Float32Array, strides: number[], offset = 0) => ({ data, f16: false, offset, strides });
    const base = { m: 4, n: 4, k: 4, batch: [] as number[], out: new Float32Array(16), outF16: false, alpha: 1, beta: 1 };
    expect(() => c.gemm!({ ...base, a: op(f, [4, 1]), b: op(f, [4, 2]) })).toThrow(RangeError);
    expect(() => c.gemm!({ ...base, a: op(f, [4, 1], -1), b: op(f, [4, 1]) })).toThrow(RangeError);
    expect(() => c.gemm!({ ...base, out: new Float32Array(15), a: op(f, [4, 1]), b: op(f, [4, 1]) })).toThrow(RangeError);
    expect(() => c.gemm!({ ...base, a: op(f, [4]), b: op(f, [4, 1]) })).toThrow(RangeError);
    expect(() =>
      c.gemm!({ ...base, a: { data: new Uint16Array(16), f16: false, offset: 0, strides: [4, 1] } as never, b: op(f, [4, 1]) }),
    ).toThrow(TypeError);
    expect(() => c.gemm!({ ...base, activation: 'tanh', a: op(f, [4, 1]), b: op(f, [4, 1]) })).toThrow(RangeError);
  });
});

describe('cpu GEMM path selection', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('XPU_CPU_GEMM=ts never queues a native job', () => {
    vi.stubEnv('XPU_CPU_GEMM', 'ts');
    const c = xpu.matmul(rand([8, 8], 50), rand([8, 8], 51));
    expect((c.ref.storage as CpuStorage).writer).toBe(0);
  });

  it.runIf(!hasNative)('XPU_CPU_GEMM=native fails with a typed error when the native GEMM is absent', () => {
    vi.stubEnv('XPU_CPU_GEMM', 'native');
    expect(() => xpu.matmul(rand([8, 8], 52), rand([8, 8], 53))).toThrow(xpu.XpuDeviceError);
  });
});
