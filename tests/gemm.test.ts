import { describe, expect, it } from 'vitest';
import {
  chooseGemmConfig,
  defaultTileConfig,
  fixedSubgroup,
  gemmAdapterInfo,
  heuristicGemmConfig,
  setGemmConfigOverride,
  type GemmAdapterInfo,
  type GemmConfig,
} from '../src/backends/webgpu/gemm_config.js';
import { xpuEntries } from '../src/device/registry.js';
import { expectClose, randomData, randomInts, testDevices, xpu } from './helpers.js';

/**
 * The GEMM (tiles, small-M split-K, fused epilogues) on both devices against float64 references:
 * odd sizes in every dim, transposed / strided / offset views read in place, batch broadcasting,
 * float16, every epilogue combination, and outputs that must overwrite a freed NaN block.
 */

type Dtype = 'float32' | 'float16';
/** How an operand sits in memory; the logical matrix is the same in every case. */
type Layout = 'contig' | 'T' | 'step' | 'offset';

/** A logical tensor (row-major float64 values) and the device tensor that views it. */
interface Pair {
  t: xpu.Tensor;
  /** Logical values, row-major over `shape`. */
  v: Float64Array;
  shape: number[];
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Values exactly representable in the dtype, so the reference sees what the device stores. */
function values(dtype: Dtype, n: number, seed: number): Float64Array {
  if (dtype === 'float16') return Float64Array.from(randomInts(n, seed, -1024, 1024), (x) => x / 256);
  return Float64Array.from(Float32Array.from(randomData(n, seed)));
}

/**
 * A device tensor of logical `shape` stored per `layout`: 'T' keeps the last two dims swapped in
 * memory (a transposed view), 'step' takes every other column of a wider tensor starting at 1,
 * 'offset' starts 3 elements into rows 3 wider (unaligned offset and row stride).
 */
function operandPair(device: string, dtype: Dtype, shape: number[], layout: Layout, seed: number): Pair {
  const r = shape.length;
  const [rows, cols] = shape.slice(-2);
  const lead = shape.slice(0, -2);
  const storeShape =
    layout === 'T'
      ? [...lead, cols, rows]
      : layout === 'step'
        ? [...lead, rows, 2 * cols + 1]
        : layout === 'offset'
          ? [...lead, rows, cols + 3]
          : shape;
  const stored = values(dtype, numel(storeShape), seed);
  const base = xpu.tensor(stored, { device, dtype, shape: storeShape });
  const t =
    layout === 'T'
      ? base.transpose(r - 2, r - 1)
      : layout === 'step'
        ? xpu.slice(base, r - 1, 1, 2 * cols + 1, 2)
        : layout === 'offset'
          ? xpu.narrow(base, r - 1, 3, cols)
          : base;
  const v = new Float64Array(numel(shape));
  const sc = storeShape[r - 1];
  const sr = storeShape[r - 2];
  for (let z = 0; z < numel(lead); z++) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const src =
          layout === 'T'
            ? z * sr * sc + j * sc + i
            : layout === 'step'
              ? z * sr * sc + i * sc + 1 + 2 * j
              : layout === 'offset'
                ? z * sr * sc + i * sc + 3 + j
                : (z * rows + i) * cols + j;
        v[(z * rows + i) * cols + j] = stored[src];
      }
    }
  }
  expect(t.shape).toEqual(shape);
  return { t, v, shape };
}

/**
 * A device tensor of logical `shape`, narrowed along `dim` out of one `extra` elements longer
 * whose elements past the view are inf, NaN and -inf: a kernel that reads past the view (e.g.
 * past K) turns them into NaN through the zero padding (0 * inf), where the true result is finite.
 */
function fencedPair(device: string, dtype: Dtype, shape: number[], dim: number, extra: number, seed: number): Pair {
  const storeShape = shape.map((x, d) => (d === dim ? x + extra : x));
  const stored = values(dtype, numel(storeShape), seed);
  const v = new Float64Array(numel(shape));
  const inner = numel(storeShape.slice(dim + 1));
  let j = 0;
  for (let i = 0; i < stored.length; i++) {
    const c = Math.floor(i / inner) % storeShape[dim];
    if (c >= shape[dim]) stored[i] = [Infinity, NaN, -Infinity][i % 3];
    else v[j++] = stored[i];
  }
  const t = xpu.narrow(xpu.tensor(stored, { device, dtype, shape: storeShape }), dim, 0, shape[dim]);
  expect(t.shape).toEqual(shape);
  return { t, v, shape };
}

/** Index of batch coordinates `c` (of the broadcast batch shape) in an operand's own batch dims. */
function batchIndex(own: readonly number[], full: readonly number[], flat: number): number {
  let idx = 0;
  let rem = flat;
  const coords = new Array<number>(full.length);
  for (let d = full.length - 1; d >= 0; d--) {
    coords[d] = rem % full[d];
    rem = Math.floor(rem / full[d]);
  }
  const lead = full.length - own.length;
  for (let d = 0; d < own.length; d++) idx = idx * own[d] + (own[d] === 1 ? 0 : coords[lead + d]);
  return idx;
}

/** float64 a @ b with broadcast batch dims: a [...ba, m, k], b [...bb, k, n]. */
function refMatmul(a: Pair, b: Pair): { out: Float64Array; shape: number[] } {
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const ba = a.shape.slice(0, -2);
  const bb = b.shape.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const batch = pad(ba).map((x, i) => Math.max(x, pad(bb)[i]));
  const out = new Float64Array(numel(batch) * m * n);
  for (let z = 0; z < numel(batch); z++) {
    const ao = batchIndex(ba, batch, z) * m * k;
    const bo = batchIndex(bb, batch, z) * k * n;
    for (let i = 0; i < m; i++) {
      const row = (z * m + i) * n;
      for (let p = 0; p < k; p++) {
        const av = a.v[ao + i * k + p];
        for (let j = 0; j < n; j++) out[row + j] += av * b.v[bo + p * n + j];
      }
    }
  }
  return { out, shape: [...batch, m, n] };
}

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

const ACT: Record<string, (x: number) => number> = {
  relu: (x) => Math.max(x, 0),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  silu: (x) => x / (1 + Math.exp(-x)),
};

const TOL32 = 1e-5;
const TOL16 = 1e-3;

describe('reference helpers', () => {
  it('erf matches known values', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 12);
    expect(erf(-1)).toBeCloseTo(-0.8427007929497149, 12);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 12);
  });
});

describe('chooseGemmConfig (deterministic heuristics, env and tuner overrides)', () => {
  const lavapipe: GemmAdapterInfo = {
    vendor: 'mesa',
    architecture: 'software',
    features: new Set(['subgroups', 'shader-f16']),
    subgroupMinSize: 8,
    subgroupMaxSize: 8,
    maxWorkgroupStorageBytes: 32768,
    maxInvocationsPerWorkgroup: 1024,
  };
  const gpu: GemmAdapterInfo = {
    vendor: 'intel',
    architecture: 'xe-lpg',
    features: new Set(),
    maxWorkgroupStorageBytes: 16384,
    maxInvocationsPerWorkgroup: 256,
  };
  const withEnv = <T>(value: string | undefined, fn: () => T): T => {
    const before = process.env.XPU_GEMM_VARIANT;
    if (value === undefined) delete process.env.XPU_GEMM_VARIANT;
    else process.env.XPU_GEMM_VARIANT = value;
    try {
      return fn();
    } finally {
      if (before === undefined) delete process.env.XPU_GEMM_VARIANT;
      else process.env.XPU_GEMM_VARIANT = before;
    }
  };

  it('picks split-K for decode against a weight read along k, tiles otherwise', () =>
    withEnv(undefined, () => {
      expect(chooseGemmConfig(lavapipe, 1, 4096, 4096, 'float32', { bAlongK: true })).toEqual({
        path: 'gemv',
        wg: 8,
        cols: 4,
        subgroups: true,
      });
      expect(chooseGemmConfig(lavapipe, 4, 4096, 4096, 'float32', { bAlongK: true }).path).toBe('gemv');
      expect(chooseGemmConfig(lavapipe, 5, 4096, 4096, 'float32', { bAlongK: true }).path).toBe('tile');
      expect(chooseGemmConfig(gpu, 8, 4096, 4096, 'float16', { bAlongK: true })).toEqual({
        path: 'gemv',
        wg: 64,
        cols: 4,
        subgroups: false,
      });
      expect(chooseGemmConfig(lavapipe, 1, 4096, 4096, 'float32', { bAlongK: false }).path).toBe('tile');
      expect(chooseGemmConfig(lavapipe, 9, 4096, 4096, 'float32', { bAlongK: true }).path).toBe('tile');
      expect(chooseGemmConfig(lavapipe, 1, 4096, 64, 'float32', { bAlongK: true }).path).toBe('tile');
    }));

  it('defaults to texture-packed tiles on a software adapter (register tiles below 64 rows), shared tiles on a GPU; same input, same answer', () =>
    withEnv(undefined, () => {
      const soft = heuristicGemmConfig(lavapipe, 1024, 1024, 1024);
      // 8-lane subgroups of one fixed size: the lanes share A rows (subgroupBroadcast).
      expect(soft).toMatchObject({ path: 'tile', variant: 'texture', wgX: 8, wgY: 4, tm: 32, tn: 16, sg: 8 });
      expect(heuristicGemmConfig(lavapipe, 1024, 1024, 1024)).toEqual(soft);
      expect(heuristicGemmConfig(lavapipe, 100, 1024, 1024)).toMatchObject({ variant: 'texture', wgX: 8, wgY: 2, tm: 32, tn: 8, sg: 8 });
      // A small output with a long K: split-K slices (4 workgroups in flight).
      expect(heuristicGemmConfig(lavapipe, 64, 64, 65536)).toMatchObject({ variant: 'texture', splitK: 4 });
      expect(heuristicGemmConfig(lavapipe, 64, 128, 65536)).toMatchObject({ variant: 'texture', splitK: 2 });
      expect(heuristicGemmConfig(lavapipe, 64, 64, 2048).splitK).toBe(2);
      expect(heuristicGemmConfig(lavapipe, 128, 128, 16384).splitK).toBeUndefined();
      expect(heuristicGemmConfig(lavapipe, 1024, 1024, 65536).splitK).toBeUndefined();
      // Without fixed-size subgroups: per-lane texture tiles.
      expect(heuristicGemmConfig({ ...lavapipe, subgroupMaxSize: 16 }, 1024, 1024, 1024)).toEqual({
        path: 'tile',
        variant: 'texture',
        wgX: 8,
        wgY: 8,
        tm: 16,
        tn: 8,
        tk: 4,
      });
      expect(heuristicGemmConfig({ ...lavapipe, features: new Set() }, 1024, 1024, 1024)).toMatchObject({
        variant: 'texture',
        tm: 16,
        tn: 8,
      });
      expect(heuristicGemmConfig(lavapipe, 48, 1024, 1024)).toMatchObject({ path: 'tile', variant: 'register', wgX: 16, wgY: 16 });
      expect(heuristicGemmConfig(lavapipe, 1024, 16, 1024)).toMatchObject({
        path: 'tile',
        variant: 'register',
        wgX: 16,
        wgY: 16,
        tm: 4,
        tn: 8,
      });
      expect(defaultTileConfig(lavapipe, 1024, 'register')).toMatchObject({
        path: 'tile',
        variant: 'register',
        wgX: 16,
        wgY: 16,
        tm: 4,
        tn: 8,
      });
      const hw = chooseGemmConfig(gpu, 1024, 1024, 1024, 'float32');
      expect(hw).toMatchObject({ path: 'tile', variant: 'shared' });
      // 128 x 128 tiles need 16 KiB of workgroup memory: they fit this adapter exactly.
      expect(hw).toMatchObject({ tm: 8, tn: 8, tk: 16 });
      expect(defaultTileConfig({ ...gpu, maxWorkgroupStorageBytes: 8192 }, 1024, 'shared')).toMatchObject({ tm: 4 });
      // Few rows: no workgroup row of padding.
      expect(chooseGemmConfig(lavapipe, 3, 512, 64, 'float32')).toMatchObject({ path: 'tile', wgY: 1, tm: 4 });
    }));

  it('XPU_GEMM_VARIANT forces the strategy; a bad value is a typed error; the tuner hook wins', () => {
    expect(withEnv('shared', () => chooseGemmConfig(lavapipe, 1024, 1024, 1024, 'float32'))).toMatchObject({ variant: 'shared' });
    expect(withEnv('register', () => chooseGemmConfig(lavapipe, 1024, 1024, 1024, 'float32'))).toMatchObject({ variant: 'register' });
    expect(withEnv('texture', () => chooseGemmConfig(gpu, 1024, 1024, 1024, 'float32'))).toMatchObject({ variant: 'texture' });
    expect(withEnv('register', () => chooseGemmConfig(gpu, 1024, 1024, 1024, 'float32'))).toMatchObject({ variant: 'register' });
    expect(withEnv('naive', () => chooseGemmConfig(lavapipe, 1024, 1024, 1024, 'float32'))).toEqual({ path: 'naive' });
    expect(() => withEnv('fast', () => chooseGemmConfig(lavapipe, 64, 64, 64, 'float32'))).toThrow(xpu.XpuValueError);
    const mine: GemmConfig = { path: 'tile', variant: 'shared', wgX: 8, wgY: 8, tm: 2, tn: 4, tk: 8 };
    setGemmConfigOverride((_a, m) => (m === 77 ? mine : undefined));
    try {
      expect(withEnv('naive', () => chooseGemmConfig(lavapipe, 77, 64, 64, 'float32'))).toEqual(mine);
      expect(withEnv(undefined, () => chooseGemmConfig(lavapipe, 78, 64, 64, 'float32'))).toMatchObject({ variant: 'texture' });
    } finally {
      setGemmConfigOverride(null);
    }
  });
});

describe.each(testDevices())('GEMM on %s', (device) => {
  // Every one of 1, 7, 33, 255, 1000 appears in each of M, N and K; sizes stay moderate for the
  // TypeScript CPU path.
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 7, 7],
    [1000, 7, 33],
    [7, 1000, 255],
    [33, 255, 1000],
    [255, 33, 7],
    [255, 1, 1000],
    [1, 255, 1000],
    [1000, 33, 1],
    [33, 1000, 255],
    [64, 128, 256],
    [128, 96, 64],
  ];
  it.each(shapes)('matmul %i x %i (K = %i), float32', async (m, n, k) => {
    const a = operandPair(device, 'float32', [m, k], 'contig', m * 31 + k);
    const b = operandPair(device, 'float32', [k, n], 'contig', n * 17 + k + 1);
    const out = xpu.matmul(a.t, b.t);
    expect(out.shape).toEqual([m, n]);
    expectClose(await out.data(), refMatmul(a, b).out, TOL32, `${m}x${n}x${k}`);
  });

  const layouts: [Layout, Layout][] = [
    ['T', 'contig'],
    ['contig', 'T'],
    ['T', 'T'],
    ['step', 'contig'],
    ['contig', 'step'],
    ['offset', 'offset'],
    ['step', 'T'],
  ];
  it.each(layouts)('reads A as %s and B as %s in place', async (la, lb) => {
    for (const [m, n, k] of [
      [33, 40, 65],
      [32, 64, 128],
      [5, 12, 300],
    ]) {
      const a = operandPair(device, 'float32', [m, k], la, m + k);
      const b = operandPair(device, 'float32', [k, n], lb, n + 2 * k);
      expectClose(await xpu.matmul(a.t, b.t).data(), refMatmul(a, b).out, TOL32, `${la}/${lb} ${m}x${n}x${k}`);
    }
  });

  it('broadcasts batch dims (both sides, folded into rows, and bmm)', async () => {
    const cases: [number[], number[], Layout, Layout][] = [
      [[2, 3, 9, 20], [3, 20, 11], 'contig', 'contig'],
      [[9, 20], [4, 20, 12], 'contig', 'T'],
      [[5, 7, 24], [24, 16], 'contig', 'contig'], // the batch folds into M
      [[6, 1, 64], [64, 40], 'contig', 'T'], // M = 1 rows folded into one GEMM
      [[2, 1, 3, 17, 8], [4, 1, 8, 5], 'step', 'offset'],
    ];
    for (const [sa, sb, la, lb] of cases) {
      const a = operandPair(device, 'float32', sa, la, sa.length * 7);
      const b = operandPair(device, 'float32', sb, lb, sb.length * 11);
      const ref = refMatmul(a, b);
      const out = xpu.matmul(a.t, b.t);
      expect(out.shape).toEqual(ref.shape);
      expectClose(await out.data(), ref.out, TOL32, `${sa} @ ${sb}`);
    }
    const a = operandPair(device, 'float32', [3, 10, 33], 'contig', 5);
    const b = operandPair(device, 'float32', [3, 33, 9], 'T', 6);
    const out = xpu.bmm(a.t, b.t);
    expect(out.shape).toEqual([3, 10, 9]);
    expectClose(await out.data(), refMatmul(a, b).out, TOL32, 'bmm');
    expectClose(await a.t.bmm(b.t).data(), refMatmul(a, b).out, TOL32, 'Tensor.bmm');
  });

  it('never reads past K: matmul of narrowed views whose next rows (B) or columns (A) are inf or NaN, and of a B whose block slack holds NaN', async () => {
    // The report: B's rows 17..19 are inf, the view stops at 17; N % 4 == 0 and K % 4 != 0 took
    // the vector load along n, which had no k < K check (xpu gave NaN everywhere).
    const big = new Float32Array(20 * 8).fill(1);
    big.fill(Infinity, 17 * 8);
    const out = xpu.matmul(xpu.ones([2, 17], { device }), xpu.narrow(xpu.tensor(big, { device, shape: [20, 8] }), 0, 0, 17));
    expect(Array.from(await out.data())).toEqual(new Array<number>(16).fill(17));
    // No view at all: B [17, 8] (544 bytes) gets a cached 640-byte block whose slack still holds
    // the NaN of the tensor freed before it (the size class rounds up).
    const hitsBefore = device === 'xpu' ? xpu.accelerator.memoryStats().numCacheHits : 0;
    xpu.full([160], NaN, { device }).dispose();
    const plain = xpu.tensor(new Float32Array(17 * 8).fill(1), { device, shape: [17, 8] });
    if (device === 'xpu') expect(xpu.accelerator.memoryStats().numCacheHits).toBeGreaterThan(hitsBefore);
    expect(Array.from(await xpu.matmul(xpu.ones([2, 17], { device }), plain).data())).toEqual(new Array<number>(16).fill(17));
    // N % 4 == 0, K % 4 != 0 (and one K % 4 == 0 control) over the GEMV rows, register tiles and
    // (64+ rows) texture tiles; B along n, A fenced past K too.
    for (const m of [1, 3, 8, 13, 70]) {
      for (const [k, n] of [
        [1, 4],
        [3, 8],
        [17, 12],
        [45, 36],
        [30, 64],
        [32, 8],
      ]) {
        const a = fencedPair(device, 'float32', [m, k], 1, 3, m + k);
        const b = fencedPair(device, 'float32', [k, n], 0, 3, n + k);
        expectClose(await xpu.matmul(a.t, b.t).data(), refMatmul(a, b).out, TOL32, `${m}x${n}x${k}`);
      }
    }
    // float16 operands, a batch (each entry's own rows past K), and a Linear weight read along k.
    const a16 = fencedPair(device, 'float16', [5, 9], 1, 2, 1);
    const b16 = fencedPair(device, 'float16', [9, 8], 0, 3, 2);
    expectClose(await xpu.matmul(a16.t, b16.t).data(), refMatmul(a16, b16).out, TOL16, 'float16');
    const ab = fencedPair(device, 'float32', [2, 6, 13], 2, 3, 3);
    const bb = fencedPair(device, 'float32', [2, 13, 12], 1, 3, 4);
    expectClose(await xpu.bmm(ab.t, bb.t).data(), refMatmul(ab, bb).out, TOL32, 'bmm');
    const x = fencedPair(device, 'float32', [4, 21], 1, 3, 5);
    const w = fencedPair(device, 'float32', [16, 21], 1, 3, 6);
    const wT = { ...w, v: transposeValues(w.v, 16, 21), shape: [21, 16] };
    expectClose(await xpu.linear(x.t, w.t).data(), refMatmul(x, wT).out, TOL32, 'linear');
  });

  it('float16: f32 accumulation, f16 output stored by the GEMM (odd, even and 4-aligned N)', async () => {
    for (const [m, n, k, lb] of [
      [33, 40, 255, 'contig'],
      [16, 48, 128, 'contig'],
      [7, 33, 64, 'T'],
      [20, 30, 1000, 'contig'],
      [1, 66, 512, 'T'],
      [3, 1, 7, 'contig'],
    ] as [number, number, number, Layout][]) {
      const a = operandPair(device, 'float16', [m, k], 'contig', m + 3 * k);
      const b = operandPair(device, 'float16', [k, n], lb, n + k);
      const out = xpu.matmul(a.t, b.t);
      expect(out.dtype).toBe('float16');
      expectClose(await out.data(), refMatmul(a, b).out, TOL16, `f16 ${m}x${n}x${k}`);
    }
  });

  it('small M (M = 1..8: split-K GEMV, or few-row tiles where they win) with K = 4096, weight read along k and along n', async () => {
    const k = 4096;
    const n = 24;
    const wT = operandPair(device, 'float32', [k, n], 'T', 1); // a Linear weight [n, k], transposed
    const wN = operandPair(device, 'float32', [k, n], 'contig', 2);
    for (let m = 1; m <= 8; m++) {
      const x = operandPair(device, 'float32', [m, k], 'contig', 10 + m);
      expectClose(await xpu.matmul(x.t, wT.t).data(), refMatmul(x, wT).out, 3e-5, `along k, M = ${m}`);
      expectClose(await xpu.matmul(x.t, wN.t).data(), refMatmul(x, wN).out, 3e-5, `along n, M = ${m}`);
    }
    // Batched small-M that cannot fold (B differs per batch entry), and a non-multiple of 4 K.
    const xb = operandPair(device, 'float32', [3, 2, 1001], 'contig', 3);
    const wb = operandPair(device, 'float32', [3, 1001, 9], 'T', 4);
    expectClose(await xpu.matmul(xb.t, wb.t).data(), refMatmul(xb, wb).out, 3e-5, 'batched GEMV');
  });

  describe('linear epilogues', () => {
    // x [4, 6, 70] (the batch folds into rows), weight [33, 70]; the small-M (GEMV) kernel shares
    // the store hook, so it runs a few combinations only (each combination is a pipeline).
    const combos: [boolean, string | undefined, boolean][] = [];
    for (const bias of [false, true])
      for (const act of [undefined, 'relu', 'gelu', 'silu']) for (const res of [false, true]) combos.push([bias, act, res]);
    it.each(combos)('bias %s, activation %s, residual %s', async (hasBias, act, hasRes) => {
      const gemv = (hasBias && hasRes) || (!hasBias && !hasRes && act === undefined);
      const shapes: [number[], number][] = [[[4, 6, 70], 33], ...(gemv ? [[[3, 512], 20] as [number[], number]] : [])];
      for (const [xs, n] of shapes) {
        const k = xs[xs.length - 1];
        const x = operandPair(device, 'float32', xs, 'contig', 100 + k);
        const w = operandPair(device, 'float32', [n, k], 'contig', 200 + n);
        const outShape = [...xs.slice(0, -1), n];
        const bias = hasBias ? operandPair(device, 'float32', [1, n], 'contig', 300) : undefined;
        // The residual broadcasts over the leading dim when there is one.
        const resShape = xs.length > 2 ? [xs[1], n] : outShape;
        const res = hasRes ? operandPair(device, 'float32', resShape, 'contig', 400) : undefined;
        const out = xpu.linear(x.t, w.t, { bias: bias?.t.reshape([n]), activation: act as xpu.Activation | undefined, residual: res?.t });
        expect(out.shape).toEqual(outShape);
        // Reference: x @ w^T in float64, then the epilogue.
        const wT = { ...w, v: transposeValues(w.v, n, k), shape: [k, n] } as Pair;
        const ref = refMatmul({ ...x, shape: [numel(xs.slice(0, -1)), k] } as Pair, wT).out;
        const resRows = res ? numel(resShape) / n : 1;
        for (let i = 0; i < ref.length; i++) {
          const j = i % n;
          let v = ref[i] + (bias ? bias.v[j] : 0);
          if (act) v = ACT[act](v);
          if (res) v += res.v[(Math.floor(i / n) % resRows) * n + j];
          ref[i] = v;
        }
        expectClose(await out.data(), ref, TOL32, `linear ${xs} -> ${n}`);
      }
    });
  });

  it('linear: 1-D input, float16 with every epilogue part, Tensor.linear', async () => {
    const w = operandPair(device, 'float16', [10, 36], 'contig', 7);
    const x = operandPair(device, 'float16', [1, 36], 'contig', 8);
    const bias = operandPair(device, 'float16', [1, 10], 'contig', 9);
    const res = operandPair(device, 'float16', [1, 10], 'contig', 10);
    const out = x.t.reshape([36]).linear(w.t, { bias: bias.t.reshape([10]), activation: 'gelu', residual: res.t.reshape([10]) });
    expect(out.shape).toEqual([10]);
    expect(out.dtype).toBe('float16');
    const ref = Array.from({ length: 10 }, (_, j) => {
      let s = bias.v[j];
      for (let p = 0; p < 36; p++) s += x.v[p] * w.v[j * 36 + p];
      return ACT.gelu(s) + res.v[j];
    });
    expectClose(await out.data(), ref, TOL16, 'f16 linear');
  });

  it('addmm: beta * input + alpha * (mat1 @ mat2), input broadcast', async () => {
    const [m, k, n] = [13, 40, 22];
    const a = operandPair(device, 'float32', [m, k], 'contig', 1);
    const b = operandPair(device, 'float32', [k, n], 'T', 2);
    const mm = refMatmul(a, b).out;
    const inputs: number[][] = [[m, n], [n], [m, 1], [1]];
    for (const shape of inputs) {
      const inp = operandPair(device, 'float32', shape.length === 1 ? [1, shape[0]] : shape, 'contig', 3);
      const input = shape.length === 1 ? inp.t.reshape(shape) : inp.t;
      for (const [beta, alpha] of [
        [1, 1],
        [0.5, -2],
        [2, 0.25],
      ]) {
        const out = xpu.addmm(input, a.t, b.t, { beta, alpha });
        expect(out.shape).toEqual([m, n]);
        const ref = mm.map((v, i) => {
          const r = Math.floor(i / n);
          const c = i % n;
          const iv =
            shape.length === 2 ? inp.v[(shape[0] === 1 ? 0 : r) * shape[1] + (shape[1] === 1 ? 0 : c)] : inp.v[shape[0] === 1 ? 0 : c];
          return beta * iv + alpha * v;
        });
        expectClose(await out.data(), ref, TOL32, `addmm input ${shape} beta ${beta} alpha ${alpha}`);
      }
    }
    // beta = 0 ignores input entirely, NaN included (PyTorch's rule).
    const nan = xpu.full([m, n], NaN, { device });
    expectClose(
      await xpu.addmm(nan, a.t, b.t, { beta: 0, alpha: 3 }).data(),
      mm.map((v) => 3 * v),
      TOL32,
      'beta 0',
    );
    expectClose(await nan.addmm(a.t, b.t, { beta: 0 }).data(), mm, TOL32, 'Tensor.addmm');
  });

  it('empty dims: K = 0 gives the epilogue of zeros, M = 0 an empty result', async () => {
    const x = xpu.zeros([3, 0], { device });
    const w = xpu.zeros([4, 0], { device });
    const bias = xpu.tensor([1, -2, 3, -4], { device });
    expect(Array.from(await xpu.linear(x, w, { bias, activation: 'relu' }).data())).toEqual([1, 0, 3, 0, 1, 0, 3, 0, 1, 0, 3, 0]);
    const e = xpu.matmul(xpu.zeros([0, 5], { device }), xpu.ones([5, 2], { device }));
    expect(e.shape).toEqual([0, 2]);
    expect((await e.data()).length).toBe(0);
  });

  it('writes every output element: outputs reuse a block that held NaN', async () => {
    const cases: [number, number, number, Dtype, 'matmul' | 'linear'][] = [
      [37, 29, 45, 'float32', 'matmul'],
      [64, 64, 64, 'float32', 'matmul'],
      [5, 31, 600, 'float32', 'linear'],
      [19, 22, 30, 'float16', 'matmul'],
      [3, 14, 256, 'float16', 'linear'],
      [9, 7, 5, 'float16', 'matmul'],
    ];
    for (const [m, n, k, dtype, how] of cases) {
      const a = operandPair(device, dtype, [m, k], 'contig', m);
      const b = operandPair(device, dtype, how === 'linear' ? [n, k] : [k, n], 'contig', n);
      const hitsBefore = device === 'xpu' ? xpu.accelerator.memoryStats().numCacheHits : 0;
      xpu.full([m, n], NaN, { device, dtype }).dispose();
      const out = how === 'linear' ? xpu.linear(a.t, b.t) : xpu.matmul(a.t, b.t);
      // On xpu the output must really have come from the cache (the freed NaN block).
      if (device === 'xpu') expect(xpu.accelerator.memoryStats().numCacheHits).toBeGreaterThan(hitsBefore);
      const bRef = how === 'linear' ? { ...b, v: transposeValues(b.v, n, k), shape: [k, n] } : b;
      expectClose(await out.data(), refMatmul(a, bRef).out, dtype === 'float16' ? TOL16 : TOL32, `${how} ${dtype} ${m}x${n}x${k}`);
    }
  });

  it('rejects bad arguments with typed errors', () => {
    const a = xpu.ones([2, 3], { device });
    const w = xpu.ones([4, 3], { device });
    expect(() => xpu.linear(a, xpu.ones([4, 5], { device }))).toThrow(xpu.XpuShapeError);
    expect(() => xpu.linear(a, xpu.ones([3], { device }))).toThrow(xpu.XpuShapeError);
    expect(() => xpu.linear(a, w, { bias: xpu.ones([3], { device }) })).toThrow(xpu.XpuShapeError);
    expect(() => xpu.linear(a, w, { residual: xpu.ones([3, 4], { device }) })).toThrow(xpu.XpuShapeError);
    expect(() => xpu.linear(a, w, { residual: xpu.ones([5, 2, 4], { device }) })).toThrow(xpu.XpuShapeError);
    expect(() => xpu.linear(a, w, { activation: 'tanh' as xpu.Activation })).toThrow(xpu.XpuValueError);
    expect(() => xpu.linear(a, xpu.ones([4, 3], { device, dtype: 'float16' }))).toThrow(xpu.XpuDTypeError);
    expect(() => xpu.linear(a, w, { bias: xpu.ones([4], { device, dtype: 'float16' }) })).toThrow(xpu.XpuDTypeError);
    expect(() => xpu.linear(xpu.ones([2, 3], { device, dtype: 'int32' }), w)).toThrow(xpu.XpuDTypeError);
    expect(() => xpu.bmm(a, w)).toThrow(xpu.XpuShapeError);
    expect(() => xpu.bmm(xpu.ones([2, 2, 3], { device }), xpu.ones([3, 3, 2], { device }))).toThrow(xpu.XpuShapeError);
    expect(() => xpu.bmm(xpu.ones([2, 2, 3], { device }), xpu.ones([2, 4, 2], { device }))).toThrow(xpu.XpuShapeError);
    expect(() => xpu.addmm(xpu.ones([3, 3], { device }), a, w.T)).toThrow(xpu.XpuShapeError);
    expect(() => xpu.addmm(xpu.ones([4], { device }), a, w)).toThrow(xpu.XpuShapeError);
    expect(() => xpu.addmm(xpu.ones([4], { device }), a, w.T, { alpha: NaN })).toThrow(xpu.XpuValueError);
    expect(() => xpu.matmul(a, xpu.ones([3, 2], { device, dtype: 'float16' }))).toThrow(xpu.XpuDTypeError);
    if (device === 'xpu') expect(() => xpu.linear(a, xpu.ones([4, 3], { device: 'cpu' }))).toThrow(xpu.XpuDeviceError);
  });
});

// Every strategy and tile shape the config can name must compute the same thing: the heuristics
// only pick among them (and the autotuner will), so each is checked here, not just the default.
describe.runIf(testDevices().includes('xpu'))('GEMM configs on xpu (forced through the tuner hook)', () => {
  // The adapter's defaults already run in the suite above; these are the other strategies and
  // shapes (an odd TM, tiles smaller than the problem, V > WG in the small-M reduction), each
  // compiled per case, which is what a cold shader cache pays for here.
  // (Collected even where the block is skipped: no xpu entry then, and no adapter to ask.)
  const entry = xpuEntries()[0];
  const adapter = entry ? gemmAdapterInfo(entry.backend.device) : undefined;
  const tiles: GemmConfig[] = [
    { path: 'tile', variant: 'register', wgX: 8, wgY: 8, tm: 3, tn: 4, tk: 4 },
    adapter ? defaultTileConfig(adapter, 64, 'shared') : { path: 'tile', variant: 'shared', wgX: 16, wgY: 16, tm: 8, tn: 8, tk: 16 },
    { path: 'tile', variant: 'shared', wgX: 8, wgY: 4, tm: 2, tn: 4, tk: 8 },
    // Texture-packed operands: the lavapipe default, and an odd TM with tiles that overhang.
    { path: 'tile', variant: 'texture', wgX: 8, wgY: 8, tm: 16, tn: 8, tk: 4 },
    { path: 'tile', variant: 'texture', wgX: 4, wgY: 2, tm: 3, tn: 4, tk: 4 },
    // Subgroup-shared rows, where the adapter's subgroups have one fixed size (lavapipe: 8).
    ...(adapter && fixedSubgroup(adapter)
      ? ([
          defaultTileConfig(adapter, 1024, 'texture'),
          {
            path: 'tile',
            variant: 'texture',
            wgX: fixedSubgroup(adapter),
            wgY: 3,
            tm: fixedSubgroup(adapter),
            tn: 4,
            tk: 4,
            sg: fixedSubgroup(adapter),
          },
        ] as GemmConfig[])
      : []),
    { path: 'naive' },
  ];
  const gemvs: GemmConfig[] = [
    { path: 'gemv', wg: 64, cols: 4, subgroups: false },
    ...(adapter?.features.has('subgroups')
      ? ([
          { path: 'gemv', wg: 64, cols: 4, subgroups: true },
          { path: 'gemv', wg: 8, cols: 8, subgroups: true },
        ] as GemmConfig[])
      : []),
  ];
  const forced = async (config: GemmConfig, fn: () => xpu.Tensor): Promise<Float32Array> => {
    setGemmConfigOverride(() => config);
    try {
      return (await fn().data()) as Float32Array;
    } finally {
      setGemmConfigOverride(null);
    }
  };

  it.each(tiles.map((c) => [JSON.stringify(c), c] as const))('tile config %s', async (_name, config) => {
    // Each case is one pipeline (lavapipe compiles one in ~0.5 s): vector loads along n, along k,
    // scalar strided loads, and float16.
    const cases: [Dtype, Layout, Layout, number, number, number][] = [
      ['float32', 'contig', 'contig', 64, 64, 32],
      ['float32', 'T', 'T', 40, 36, 52],
      ['float32', 'offset', 'step', 37, 29, 45],
      ['float16', 'contig', 'T', 37, 30, 64],
    ];
    for (const [dtype, la, lb, m, n, k] of cases) {
      const a = operandPair('xpu', dtype, [m, k], la, m);
      const b = operandPair('xpu', dtype, [k, n], lb, n);
      const out = await forced(config, () => xpu.matmul(a.t, b.t));
      expectClose(out, refMatmul(a, b).out, dtype === 'float16' ? TOL16 : TOL32, `${dtype} ${la}/${lb} ${m}x${n}x${k}`);
    }
    // With an epilogue (the naive baseline has none and falls back to the default tiles).
    const x = operandPair('xpu', 'float32', [2, 9, 40], 'contig', 1);
    const w = operandPair('xpu', 'float32', [40, 21], 'T', 2);
    const bias = operandPair('xpu', 'float32', [1, 21], 'contig', 3);
    const out = await forced(config, () => xpu.linear(x.t, w.t.T, { bias: bias.t.reshape([21]), activation: 'silu', residual: bias.t }));
    const ref = refMatmul(x, w).out.map((v, i) => ACT.silu(v + bias.v[i % 21]) + bias.v[i % 21]);
    expectClose(out, ref, TOL32, 'linear');
  });

  it('texture variant: bmm (entries stacked in the textures), batch folded into rows, split-K, a K that is not a multiple of 4; textures reused and released', async () => {
    const config: GemmConfig = { path: 'tile', variant: 'texture', wgX: 8, wgY: 8, tm: 16, tn: 8, tk: 4 };
    // bmm: B walks the batch, so nothing folds into rows: the entries are stacked in the textures.
    const a = operandPair('xpu', 'float32', [3, 20, 19], 'contig', 5);
    const b = operandPair('xpu', 'float32', [3, 19, 13], 'T', 6);
    expectClose(await forced(config, () => xpu.matmul(a.t, b.t)), refMatmul(a, b).out, TOL32, 'bmm');
    // Batch folded into rows (A [2, 33, 130] @ B [130, 70]): one packed GEMM of 66 rows.
    const x = operandPair('xpu', 'float32', [2, 33, 130], 'contig', 7);
    const w = operandPair('xpu', 'float32', [130, 70], 'contig', 8);
    for (let i = 0; i < 2; i++) expectClose(await forced(config, () => xpu.matmul(x.t, w.t)), refMatmul(x, w).out, TOL32, `folded ${i}`);
    xpu.accelerator.emptyCache();
    expectClose(await forced(config, () => xpu.matmul(x.t, w.t)), refMatmul(x, w).out, TOL32, 'after emptyCache');
    // bmm on textures (one batch dim: entries stacked in the textures), B broadcast over it too.
    const b2 = operandPair('xpu', 'float32', [1, 19, 13], 'contig', 9);
    expectClose(await forced(config, () => xpu.matmul(a.t, b2.t)), refMatmul(a, b2).out, TOL32, 'bmm, B broadcast');
    // Split-K (small output, long K): K cut into slices, partials summed; an epilogue, a K that is
    // not a multiple of 4 slices or a float16 output run unsplit.
    const split: GemmConfig = { ...config, splitK: 4 };
    for (const [m, n, k, la, lb] of [
      [20, 12, 1024, 'contig', 'contig'],
      [7, 30, 2048, 'T', 'T'],
      [20, 12, 1000, 'contig', 'offset'],
    ] as const) {
      const p = operandPair('xpu', 'float32', [m, k], la, m);
      const q = operandPair('xpu', 'float32', [k, n], lb, n);
      expectClose(await forced(split, () => xpu.matmul(p.t, q.t)), refMatmul(p, q).out, 3e-5, `split-K ${m}x${n}x${k} ${la}/${lb}`);
    }
    const xs = operandPair('xpu', 'float32', [16, 512], 'contig', 10);
    const ws = operandPair('xpu', 'float32', [512, 8], 'T', 11);
    const bs = operandPair('xpu', 'float32', [1, 8], 'contig', 12);
    const outS = await forced(split, () => xpu.linear(xs.t, ws.t.T, { bias: bs.t.reshape([8]), activation: 'relu' }));
    expectClose(
      outS,
      refMatmul(xs, ws).out.map((v, i) => ACT.relu(v + bs.v[i % 8])),
      3e-5,
      'split-K config with an epilogue',
    );
  });

  it.each(gemvs.map((c) => [JSON.stringify(c), c] as const))('small-M config %s', async (_name, config) => {
    // One pipeline per case (the kernel specialises on M): along k with vector loads, along n
    // with an odd K, and float16 with 8 rows.
    const cases: [number, Layout, Dtype, number, number][] = [
      [5, 'T', 'float32', 20, 1024],
      [3, 'contig', 'float32', 9, 301],
      [8, 'T', 'float16', 10, 512],
    ];
    for (const [m, lb, dtype, n, k] of cases) {
      const a = operandPair('xpu', dtype, [m, k], 'contig', m + k);
      const b = operandPair('xpu', dtype, [k, n], lb, n);
      const out = await forced(config, () => xpu.matmul(a.t, b.t));
      expectClose(out, refMatmul(a, b).out, dtype === 'float16' ? TOL16 : 3e-5, `${dtype} M=${m} ${lb} ${n}x${k}`);
    }
    const x = operandPair('xpu', 'float32', [4, 256], 'contig', 1);
    const w = operandPair('xpu', 'float32', [256, 12], 'T', 2);
    const bias = operandPair('xpu', 'float32', [1, 12], 'contig', 3);
    const out = await forced(config, () => xpu.linear(x.t, w.t.T, { bias: bias.t.reshape([12]), activation: 'relu' }));
    expectClose(
      out,
      refMatmul(x, w).out.map((v, i) => ACT.relu(v + bias.v[i % 12])),
      TOL32,
      'linear',
    );
  });
});

/** Row-major [rows, cols] values as row-major [cols, rows]. */
function transposeValues(v: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(v.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = v[i * cols + j];
  return t;
}
