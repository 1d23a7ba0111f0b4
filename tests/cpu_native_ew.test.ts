import { describe, expect, it } from 'vitest';
import { loadNative } from '../src/backends/cpu/native.js';
import { setQueueMinForTests } from '../src/backends/cpu/native_ew_path.js';
import { gelu64 } from './float64.js';
import { randomData, xpu } from './helpers.js';

/**
 * The addon's float32 elementwise, row, reduction and rotary kernels (native/compute/
 * elementwise.cc, rows.cc) against float64 references: special values (NaN, infinities, signed
 * zeros, exp's overflow and underflow), every operand layout they take (contiguous, scalar on
 * either side, row and column broadcast), sizes that run inline and sizes that go to the compute
 * thread (QUEUE_MIN and above, odd lengths across chunk boundaries, and PARALLEL: two OpenMP
 * threads), and chains of queued jobs
 * read back by TypeScript ops. XPU_CPU_ELEMENTWISE=native makes every covered case native,
 * whatever its size; tests/cpu_map_fast.test.ts and cpu_rows_fast.test.ts rerun under it below.
 */

const compute = loadNative().addon?.compute as Record<string, unknown> | undefined;
const hasKernels = typeof compute?.ew === 'function' && typeof compute?.rowOp === 'function';
if (hasKernels) process.env.XPU_CPU_ELEMENTWISE = 'native';

const device = 'cpu';
// Jobs from 2^16 elements go to the compute thread here (2^21 by default), so the queued path
// runs on modest sizes; the kernels' second thread starts at 2^21 (PARALLEL below).
const QUEUE_MIN = 1 << 16;
setQueueMinForTests(QUEUE_MIN);
const PARALLEL = (1 << 21) + 5;
const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 88.7, 88.8, -103.9, -104, -87.3, 1e-40, -1e-40, 3.4e38, -3.4e38, 0.5, 2];

/** float16 rounding of a value as the runtime stores float16: to float32 first, then to nearest even. */
function f16(x: number): number {
  const f = Math.fround(x);
  if (Number.isNaN(f) || f === 0 || !Number.isFinite(f)) return f;
  const a = Math.abs(f);
  if (a >= 65520) return Math.sign(f) * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const q = 2 ** (Math.max(e, -14) - 10);
  const m = a / q;
  let r = Math.floor(m);
  if (m - r > 0.5 || (m - r === 0.5 && r % 2 === 1)) r++;
  return Math.sign(f) * r * q;
}

/** Inputs: special values first, then random values of several magnitudes. */
function inputs(n: number, seed: number): Float32Array {
  const r = randomData(n, seed, 30);
  const x = Float32Array.from(r);
  for (let i = 0; i < Math.min(n, SPECIALS.length); i++) x[i] = SPECIALS[i];
  return x;
}

/** Exactly the float32 rounding of the float64 result, or (transcendentals) within one ulp of it. */
function expectF32(out: Float32Array, ref: (i: number) => number, what: string, ulps = 0): void {
  for (let i = 0; i < out.length; i++) {
    const r = Math.fround(ref(i));
    const o = out[i];
    if (Object.is(o, r)) continue;
    if (ulps > 0 && Number.isFinite(r) && Number.isFinite(o) && r !== 0) {
      const ulp = Math.abs(Math.fround(r * (1 + 2 ** -23)) - r) || 2 ** -149;
      if (Math.abs(o - r) <= ulps * ulp) continue;
    }
    throw new Error(`${what}: element ${i} is ${o}, expected ${r}`);
  }
}

const maximum = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? b : a);
const minimum = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : b < a ? b : a);
const BINARY: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum,
  minimum,
};
const UNARY: Record<string, [(x: xpu.Tensor) => xpu.Tensor, (x: number) => number, number]> = {
  neg: [(x) => x.neg(), (x) => -x, 0],
  abs: [(x) => x.abs(), Math.abs, 0],
  relu: [(x) => x.relu(), (x) => (x < 0 ? 0 : x), 0],
  sqrt: [(x) => x.sqrt(), Math.sqrt, 0],
  exp: [(x) => x.exp(), Math.exp, 1],
  sigmoid: [(x) => x.sigmoid(), (x) => 1 / (1 + Math.exp(-x)), 1],
  silu: [(x) => x.silu(), (x) => x / (1 + Math.exp(-x)), 1],
  gelu: [(x) => x.gelu(), gelu64, 1],
};

const call = (op: string, a: xpu.Tensor | number, b: xpu.Tensor | number): xpu.Tensor =>
  (xpu as unknown as Record<string, (x: unknown, y: unknown) => xpu.Tensor>)[op](a, b);

describe.runIf(hasKernels)('native cpu elementwise kernels', () => {
  // Inline (small), queued (>= QUEUE_MIN), and an odd length across the 16K chunks.
  const SIZES = [100, 16384 * 3 + 7, QUEUE_MIN + 33];

  it.each(Object.keys(UNARY))('%s on special values and random inputs, inline and queued', async (name) => {
    const [f, ref, ulps] = UNARY[name];
    for (const n of SIZES) {
      const x = inputs(n, n + 1);
      const out = (await f(xpu.tensor(x, { device })).data()) as Float32Array;
      expectF32(out, (i) => ref(x[i]), `${name} n=${n}`, ulps);
    }
  });

  it.each(Object.keys(BINARY))('%s: contiguous, scalar on either side, row and column broadcast', async (name) => {
    const f = BINARY[name];
    for (const n of SIZES) {
      const a = inputs(n, 2 * n);
      const b = inputs(n, 3 * n).reverse();
      const ta = xpu.tensor(a, { device });
      const tb = xpu.tensor(b, { device });
      expectF32((await call(name, ta, tb).data()) as Float32Array, (i) => f(a[i], b[i]), `${name} contiguous n=${n}`);
      for (const s of [2.5, -0, NaN]) {
        expectF32((await call(name, ta, s).data()) as Float32Array, (i) => f(a[i], s), `${name} tensor, ${s} n=${n}`);
        expectF32((await call(name, s, ta).data()) as Float32Array, (i) => f(s, a[i]), `${name} ${s}, tensor n=${n}`);
      }
    }
    const [R, C] = [37, 300];
    const m = inputs(R * C, 5);
    const row = inputs(C, 6);
    const col = inputs(R, 7).reverse();
    const tm = xpu.tensor(m, { device, shape: [R, C] });
    const trow = xpu.tensor(row, { device });
    const tcol = xpu.tensor(col, { device, shape: [R, 1] });
    expectF32((await call(name, tm, trow).data()) as Float32Array, (i) => f(m[i], row[i % C]), `${name} row broadcast`);
    expectF32((await call(name, tcol, tm).data()) as Float32Array, (i) => f(col[Math.floor(i / C)], m[i]), `${name} column broadcast`);
    // An offset view with rows apart (a narrow of the last dim): rows x inner with a row stride.
    const nv = tm.narrow(1, 3, 250);
    expectF32(
      (await call(name, nv, trow.narrow(0, 0, 250)).data()) as Float32Array,
      (i) => f(m[Math.floor(i / 250) * C + 3 + (i % 250)], row[i % 250]),
      `${name} narrowed rows`,
    );
  });

  it('add, exp, softmax and sum across two OpenMP threads (2^21 elements and more)', async () => {
    const x = inputs(PARALLEL, 91);
    const y = inputs(PARALLEL, 92);
    const tx = xpu.tensor(x, { device });
    const ty = xpu.tensor(y, { device });
    expectF32((await tx.add(ty).data()) as Float32Array, (i) => x[i] + y[i], 'add, parallel');
    expectF32((await tx.exp().data()) as Float32Array, (i) => Math.exp(x[i]), 'exp, parallel', 1);
    let s = 0;
    for (let i = 0; i < PARALLEL; i++) s += x[i];
    expectF32((await tx.sum().data()) as Float32Array, () => s, 'sum, parallel');
    const rows = (PARALLEL - 5) / 1024;
    const m = tx.narrow(0, 0, rows * 1024).reshape([rows, 1024]);
    const sm = (await xpu.softmax(m, -1).data()) as Float32Array;
    for (const r of [0, 1, rows - 1]) {
      const row = Array.from(x.subarray(r * 1024, (r + 1) * 1024));
      expectClose(
        sm.subarray(r * 1024, (r + 1) * 1024),
        rowRef('softmax', row, 0).map(Math.fround),
        2 ** -22,
        `softmax row ${r}, parallel`,
      );
    }
  });

  it('float16 operands and outputs (f32 math, rounded once to float16) and the float32 <-> float16 casts', async () => {
    for (const n of [100, QUEUE_MIN + 33]) {
      const a = inputs(n, 5 * n);
      const b = inputs(n, 7 * n).reverse();
      const a16 = Float32Array.from(a, f16);
      const b16 = Float32Array.from(b, f16);
      // float32 -> float16 and back.
      const ah = xpu.tensor(a, { device }).to('float16');
      expect(ah.dtype).toBe('float16');
      expectF32((await ah.to('float32').data()) as Float32Array, (i) => a16[i], `float32 -> float16 n=${n}`);
      const bh = xpu.tensor(b16, { device, dtype: 'float16' });
      for (const [name, f] of Object.entries(BINARY)) {
        const out = call(name, ah, bh);
        expect(out.dtype).toBe('float16');
        expectF32((await out.data()) as Float32Array, (i) => f16(f(a16[i], b16[i])), `${name} float16 n=${n}`);
        expectF32((await call(name, 2.5, ah).data()) as Float32Array, (i) => f16(f(2.5, a16[i])), `${name} 2.5, float16 n=${n}`);
      }
      for (const [name, [op, ref]] of Object.entries(UNARY)) {
        expectF32((await op(ah).data()) as Float32Array, (i) => f16(ref(a16[i])), `${name} float16 n=${n}`);
      }
    }
  });

  it('chains of queued jobs, read by TypeScript ops in between, give the float64 results', async () => {
    const n = QUEUE_MIN * 2 + 5;
    const a = inputs(n, 11);
    const ta = xpu.tensor(a, { device });
    const y = ta.mul(2).add(ta).exp().neg(); // four queued jobs, each reading the last
    const z = y.to('float16').to('float32'); // TypeScript casts: wait for the queue
    const w = z.sub(y); // native again, after a TypeScript op
    const yv = (await y.data()) as Float32Array;
    const expected = (i: number) => -Math.fround(Math.exp(Math.fround(Math.fround(a[i] * 2) + a[i])));
    expectF32(yv, expected, 'chain', 1);
    const wv = (await w.data()) as Float32Array;
    const zv = (await z.data()) as Float32Array;
    expectF32(wv, (i) => zv[i] - yv[i], 'after a TypeScript op');
  });

  it('a burst of queued ops reuses the arrays of intermediates disposed while still queued, and computes the float64 results', async () => {
    // host_pool.ts: an array given back while a queued job uses it is handed to the next native op
    // at once (the queue runs that op's job after). Poison mode never does (it would write under
    // the job), so it is off here; the suite's poison run covers the other path.
    const { clearHostPool, setHostPoison } = await import('../src/backends/cpu/host_pool.js');
    const poison = process.env.XPU_POISON === '1';
    setHostPoison(false);
    clearHostPool();
    try {
      const n = QUEUE_MIN * 2 + 5;
      const a = inputs(n, 12);
      const ta = xpu.tensor(a, { device });
      const arrays = new Set<unknown>();
      const outputs: ReturnType<typeof xpu.tensor>[] = [];
      const rounds = 8;
      // No await in the loop: every job is queued behind the last, and each intermediate is
      // disposed while the job that reads it may still be waiting.
      const made = <T extends { ref: unknown }>(t: T): T => {
        arrays.add((t.ref as { storage: { rawData: unknown } }).storage.rawData);
        return t;
      };
      for (let r = 0; r < rounds; r++) {
        const t1 = made(ta.mul(r + 1));
        const t2 = made(t1.add(ta));
        t1.dispose();
        const t3 = made(t2.exp());
        t2.dispose();
        const t4 = made(t3.neg());
        t3.dispose();
        outputs.push(t4);
      }
      // Without the reuse each round takes 4 fresh arrays (the given-back ones came back only when
      // the event loop saw their jobs finish); with it, a round keeps one (its output) and reuses the rest.
      expect(arrays.size).toBeLessThanOrEqual(rounds + 3);
      for (let r = 0; r < rounds; r++) {
        const got = (await outputs[r].data()) as Float32Array;
        expectF32(got, (i) => -Math.fround(Math.exp(Math.fround(Math.fround(a[i] * (r + 1)) + a[i]))), `round ${r}`, 1);
      }
    } finally {
      setHostPoison(poison);
      clearHostPool();
    }
  });
});

/** Float64 references of the row ops (as tests/cpu_rows_fast.test.ts). */
function rowRef(op: string, x: number[], eps: number, w?: Float32Array, b?: Float32Array): number[] {
  if (op === 'softmax' || op === 'logSoftmax') {
    let m = Math.max(...x);
    if (m === -Infinity) m = 0;
    const e = x.map((v) => Math.exp(v - m));
    const s = e.reduce((a, c) => a + c, 0);
    return op === 'softmax' ? e.map((v) => v / s) : x.map((v) => v - m - Math.log(s));
  }
  const mean = op === 'layerNorm' ? x.reduce((a, c) => a + c, 0) / x.length : 0;
  const v = x.reduce((a, c) => a + (c - mean) ** 2, 0) / x.length;
  const inv = 1 / Math.sqrt(v + eps);
  return x.map((c, i) => (c - mean) * inv * (w ? w[i] : 1) + (b ? b[i] : 0));
}

function expectClose(out: Float32Array, ref: number[], rel: number, what: string): void {
  expect(out.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i];
    const o = out[i];
    const ok = Number.isNaN(r) ? Number.isNaN(o) : !Number.isFinite(r) ? o === r : Math.abs(o - r) <= rel * Math.abs(r) + 1e-30;
    if (!ok) throw new Error(`${what}: element ${i} is ${o}, expected ${r}`);
  }
}

describe.runIf(hasKernels)('native cpu row, reduction and rotary kernels', () => {
  it('softmax, logSoftmax, layerNorm, rmsNorm rows (NaN row, -inf row, transposed view), inline and queued', async () => {
    for (const [rows, n] of [
      [9, 100],
      [QUEUE_MIN / 512 + 3, 512],
    ]) {
      const x = Float32Array.from(randomData(rows * n, rows, 4));
      x[3] = NaN;
      for (let j = 0; j < n; j++) x[n + j] = -Infinity;
      x[2 * n + 1] = Infinity;
      const w = Float32Array.from(randomData(n, 1));
      const b = Float32Array.from(randomData(n, 2));
      const t = xpu.tensor(x, { device, shape: [rows, n] });
      const tw = xpu.tensor(w, { device });
      const tb = xpu.tensor(b, { device });
      const rowsOf = (h: Float32Array, r: number, c: number) =>
        Array.from({ length: r }, (_, i) => Array.from(h.subarray(i * c, (i + 1) * c)));
      const hostRows = rowsOf(x, rows, n);
      const cases: [string, xpu.Tensor, number[]][] = [
        ['softmax', xpu.softmax(t, -1), hostRows.flatMap((r) => rowRef('softmax', r, 0))],
        ['logSoftmax', xpu.logSoftmax(t, -1), hostRows.flatMap((r) => rowRef('logSoftmax', r, 0))],
        ['layerNorm', xpu.layerNorm(t, [n], { weight: tw, bias: tb }), hostRows.flatMap((r) => rowRef('layerNorm', r, 1e-5, w, b))],
        ['rmsNorm', xpu.rmsNorm(t, [n], { weight: tw, eps: 1e-6 }), hostRows.flatMap((r) => rowRef('rmsNorm', r, 1e-6, w))],
      ];
      for (const [op, out, ref] of cases)
        expectClose((await out.data()) as Float32Array, ref.map(Math.fround), 2 ** -22, `${op} [${rows}, ${n}]`);
      // A transposed view's rows are strided: the addon declines them and TypeScript runs.
      const tt = xpu.tensor(x, { device, shape: [n, rows] }).transpose(0, 1);
      const colRows = Array.from({ length: rows }, (_, i) => Array.from({ length: n }, (_, j) => x[j * rows + i]));
      expectClose(
        (await xpu.softmax(tt, -1).data()) as Float32Array,
        colRows.flatMap((r) => rowRef('softmax', r, 0)).map(Math.fround),
        2 ** -22,
        'softmax of a transposed view',
      );
      // Rows of a sliced view: contiguous rows at a row stride (offsets per row).
      const sl = t.narrow(1, 4, n - 8);
      expectClose(
        (await xpu.softmax(sl, -1).data()) as Float32Array,
        hostRows.flatMap((r) => rowRef('softmax', r.slice(4, n - 4), 0)).map(Math.fround),
        2 ** -22,
        'softmax of a narrowed view',
      );
    }
  });

  it('sum, mean, max, min of rows and of every element, NaN winning, inline and queued', async () => {
    for (const [rows, n] of [
      [7, 300],
      [3, QUEUE_MIN + 5],
      [1, 3 * 65536 * 2 + 11],
    ]) {
      const x = Float32Array.from(randomData(rows * n, n, 3));
      x[n + 5] = NaN; // row 1
      const t = xpu.tensor(x, { device, shape: [rows, n] });
      const rowsOf = Array.from({ length: rows }, (_, i) => Array.from(x.subarray(i * n, (i + 1) * n)));
      const sum = (r: number[]) => r.reduce((a, c) => a + c, 0);
      const refs: Record<string, (r: number[]) => number> = {
        sum,
        mean: (r) => sum(r) / r.length,
        max: (r) => (r.some(Number.isNaN) ? NaN : r.reduce((a, c) => Math.max(a, c), -Infinity)),
        min: (r) => (r.some(Number.isNaN) ? NaN : r.reduce((a, c) => Math.min(a, c), Infinity)),
      };
      for (const [op, ref] of Object.entries(refs)) {
        const f = (xpu as unknown as Record<string, (x: xpu.Tensor, d?: number) => xpu.Tensor>)[op];
        expectClose(
          (await f(t, 1).data()) as Float32Array,
          rowsOf.map((r) => Math.fround(ref(r))),
          2 ** -22,
          `${op} rows [${rows}, ${n}]`,
        );
        expectClose((await f(t).data()) as Float32Array, [Math.fround(ref(rowsOf.flat()))], 2 ** -22, `${op} all [${rows}, ${n}]`);
      }
    }
  });

  it('applyRotary on float32 [B, L, H, D] (contiguous and head-transposed) with [1, L, 1, D] tables', async () => {
    for (const [B, L, H, D] of [
      [1, 3, 2, 8],
      [2, 64, 12, 64],
    ]) {
      const x = Float32Array.from(randomData(B * L * H * D, D, 2));
      x[5] = NaN;
      const cos = Float32Array.from(randomData(L * D, 1));
      const sin = Float32Array.from(randomData(L * D, 2));
      const tx = xpu.tensor(x, { device, shape: [B, L, H, D] });
      const c4 = xpu.tensor(cos, { device, shape: [1, L, 1, D] });
      const s4 = xpu.tensor(sin, { device, shape: [1, L, 1, D] });
      const ref = (b: number, l: number, h: number, j: number) => {
        const at = (jj: number) => x[((b * L + l) * H + h) * D + jj];
        const first = j < D / 2;
        const partner = at(first ? j + D / 2 : j - D / 2);
        return Math.fround(at(j) * cos[l * D + j] + (first ? -partner : partner) * sin[l * D + j]);
      };
      const out = (await xpu.applyRotary(tx, c4, s4).data()) as Float32Array;
      const want: number[] = [];
      for (let b = 0; b < B; b++)
        for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) for (let j = 0; j < D; j++) want.push(ref(b, l, h, j));
      expectClose(out, want, 2 ** -23, `rotary [${B}, ${L}, ${H}, ${D}]`);
      const outT = (await xpu.applyRotary(tx.transpose(1, 2), c4.transpose(1, 2), s4.transpose(1, 2)).data()) as Float32Array;
      const wantT: number[] = [];
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) for (let j = 0; j < D; j++) wantT.push(ref(b, l, h, j));
      expectClose(outT, wantT, 2 ** -23, `rotary transposed [${B}, ${L}, ${H}, ${D}]`);
    }
  });
});
