import { describe, expect, it } from 'vitest';
import { expectClose, expectEqual, randomData, randomInts, testDevices, TOL, xpu } from './helpers.js';
import { groups, poison, viewHost } from './reference.js';

type Ref = (v: number[]) => number;
const sumOf: Ref = (v) => v.reduce((a, b) => a + b, 0);
const varOf =
  (correction: number): Ref =>
  (v) => {
    const m = sumOf(v) / v.length;
    return sumOf(v.map((x) => (x - m) ** 2)) / Math.max(0, v.length - correction);
  };
/** PyTorch's max/argmax: NaN beats every number; ties go to the first index. */
const argBest = (v: number[], better: (a: number, b: number) => boolean): number => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((Number.isNaN(v[i]) && !Number.isNaN(v[best])) || better(v[i], v[best])) best = i;
  return best;
};
const argmaxOf: Ref = (v) => argBest(v, (a, b) => a > b);
const argminOf: Ref = (v) => argBest(v, (a, b) => a < b);

/** float64 references of every float reduction. */
const REF: Record<string, Ref> = {
  sum: sumOf,
  mean: (v) => sumOf(v) / v.length,
  prod: (v) => v.reduce((a, b) => a * b, 1),
  max: (v) => v[argmaxOf(v)],
  min: (v) => v[argminOf(v)],
  var: varOf(1),
  std: (v) => Math.sqrt(varOf(1)(v)),
  argmax: argmaxOf,
  argmin: argminOf,
};
const FLOAT_OPS = ['sum', 'mean', 'prod', 'max', 'min', 'var', 'std'] as const;

type Reducer = (x: xpu.Tensor, dim?: number | number[], keepdim?: boolean) => xpu.Tensor;
const fn = (name: string): Reducer => (xpu as unknown as Record<string, Reducer>)[name];

/** Shape of the result of reducing `dims` (undefined = all) of `shape`. */
function outShape(shape: number[], dims: number | number[] | undefined, keepdim: boolean): number[] {
  const list =
    dims === undefined ? shape.map((_, i) => i) : (Array.isArray(dims) ? dims : [dims]).map((d) => (d < 0 ? d + shape.length : d));
  return keepdim ? shape.map((s, d) => (list.includes(d) ? 1 : s)) : shape.filter((_, d) => !list.includes(d));
}

/** Data for op `name`: values near 1 for prod, so long products stay finite. */
function dataFor(name: string, n: number, seed: number): Float32Array {
  const host = randomData(n, seed);
  return Float32Array.from(name === 'prod' ? host.map((v) => 1 + 0.05 * v) : host);
}

describe.each(testDevices())('reductions on %s', (device) => {
  const shape = [5, 6, 7];
  const dimSets: (number | number[] | undefined)[] = [0, 1, 2, -1, [0, 2], [-1, 0], [1, 2], [0, 1, 2], undefined];

  it.each(FLOAT_OPS)('%s over single, multiple, negative and all dims, keepdim or not', async (name) => {
    const host = dataFor(name, 5 * 6 * 7, name.length);
    const x = xpu.tensor(host, { device, shape });
    for (const dims of dimSets) {
      for (const keepdim of [false, true]) {
        const want = outShape(shape, dims, keepdim);
        poison(
          device,
          want.reduce((a, b) => a * b, 1),
        );
        const out = fn(name)(x, dims, keepdim);
        expect(out.shape, `${name} ${dims} ${keepdim}`).toEqual(want);
        expect(out.dtype).toBe('float32');
        const ref = groups(host, shape, dims === undefined ? [0, 1, 2] : [dims].flat()).map(REF[name]);
        expectClose(await out.data(), ref, TOL.float32, `${name} dims ${JSON.stringify(dims)} keepdim ${keepdim}`);
      }
    }
  });

  it.each(['argmax', 'argmin'])('%s over each dim and over the flattened input', async (name) => {
    const host = Float32Array.from(randomData(5 * 6 * 7, 31));
    const x = xpu.tensor(host, { device, shape });
    for (const dim of [0, 1, 2, -1, -3]) {
      for (const keepdim of [false, true]) {
        const out = fn(name)(x, dim, keepdim);
        expect(out.dtype).toBe('int32');
        expect(out.shape).toEqual(outShape(shape, dim, keepdim));
        expectEqual(await out.data(), groups(host, shape, [dim]).map(REF[name]), `${name} dim ${dim}`);
      }
    }
    const flat = fn(name)(x);
    expect(flat.shape).toEqual([]);
    expect(await flat.item()).toBe(REF[name](Array.from(host)));
    expect(fn(name)(x, undefined, true).shape).toEqual([1, 1, 1]);
  });

  it('odd sizes and reductions long enough to loop the workgroup (> 64, > 4096)', async () => {
    for (const [rows, len] of [
      [1, 1],
      [3, 3],
      [17, 17],
      [2, 1000],
      [3, 5000],
      [1, 70000],
    ]) {
      const host = Float32Array.from(randomData(rows * len, rows + len));
      const x = xpu.tensor(host, { device, shape: [rows, len] });
      const g = groups(host, [rows, len], [1]);
      poison(device, rows);
      // Long f32 reductions accumulate more rounding (DESIGN.md: up to ~1e-4).
      const tol = len > 4096 ? 1e-4 : TOL.float32;
      expectClose(await x.sum(1).data(), g.map(REF.sum), tol, `sum ${rows}x${len}`);
      expectClose(await x.mean(-1).data(), g.map(REF.mean), tol, `mean ${rows}x${len}`);
      expectClose(await x.std(1).data(), g.map(REF.std), tol, `std ${rows}x${len}`);
      expectEqual(await x.max(1).data(), g.map(REF.max), `max ${rows}x${len}`);
      expectEqual(await x.argmin(1).data(), g.map(REF.argmin), `argmin ${rows}x${len}`);
    }
  });

  it('many output rows (the GPU grid folds into 2-D past 65535 workgroups)', async () => {
    const host = Float32Array.from(randomData(70000 * 3, 8));
    const x = xpu.tensor(host, { device, shape: [70000, 3] });
    poison(device, 70000);
    expectClose(await x.sum(1).data(), groups(host, [70000, 3], [1]).map(REF.sum), TOL.float32);
    expectEqual(await x.argmax(1).data(), groups(host, [70000, 3], [1]).map(REF.argmax));
  });

  it('non-contiguous inputs: transpose, permute, strided slice, expand', async () => {
    const base = Float32Array.from(randomData(20 * 30, 77));
    const b2 = xpu.tensor(base, { device, shape: [20, 30] });
    const b3 = xpu.tensor(base.subarray(0, 4 * 5 * 6), { device, shape: [4, 5, 6] });
    const row = xpu.tensor(base.subarray(0, 17), { device, shape: [1, 17] });
    const cases: { what: string; t: xpu.Tensor; host: Float64Array }[] = [
      { what: 'transpose', t: b2.T, host: viewHost(base, [30, 20], [1, 30]) },
      { what: 'permute', t: b3.permute(2, 0, 1), host: viewHost(base, [6, 4, 5], [1, 30, 6]) },
      { what: 'slice', t: b2.slice(1, 3, 28, 2), host: viewHost(base, [20, 13], [30, 2], 3) },
      { what: 'row slice', t: b2.slice(0, 1, 19, 3).slice(1, 5), host: viewHost(base, [6, 25], [90, 1], 35) },
      { what: 'expand', t: row.expand(9, 17), host: viewHost(base, [9, 17], [0, 1]) },
    ];
    for (const { what, t, host } of cases) {
      expect(t.isContiguous(), what).toBe(false);
      const sh = t.shape.slice();
      for (const dims of [0, -1, [0, 1]]) {
        for (const name of ['sum', 'mean', 'max', 'var'] as const) {
          const ref = groups(host, sh, [dims].flat()).map(REF[name]);
          expectClose(await fn(name)(t, dims).data(), ref, TOL.float32, `${name} ${what} ${dims}`);
        }
        if (typeof dims === 'number') expectEqual(await t.argmax(dims).data(), groups(host, sh, [dims]).map(REF.argmax), `argmax ${what}`);
      }
    }
  });

  it('9-d inputs (more dims than a GPU kernel indexes) work once dims merge', async () => {
    const shape = [2, 1, 2, 3, 2, 1, 2, 2, 3];
    const host = Float32Array.from(
      randomData(
        shape.reduce((a, b) => a * b, 1),
        91,
      ),
    );
    const x = xpu.tensor(host, { device, shape });
    for (const dims of [3, [0, 2, 8], [1, 4, 6, 7]]) {
      expectClose(await x.sum(dims).data(), groups(host, shape, [dims].flat()).map(REF.sum), TOL.float32, `sum 9-d ${dims}`);
    }
  });

  it('float16 inputs: sum/mean/max/min/var/std keep float16, accumulate in f32', async () => {
    const x = xpu.tensor(Float32Array.from(randomData(9 * 300, 5)), { device, shape: [9, 300], dtype: 'float16' });
    const host = await x.data(); // the float16 values, widened
    // Values near 1 for prod, so the float16 products neither underflow nor overflow.
    const nearOne = xpu.tensor(dataFor('prod', 9 * 300, 6), { device, shape: [9, 300], dtype: 'float16' });
    const nearOneHost = await nearOne.data();
    for (const name of ['sum', 'mean', 'max', 'min', 'var', 'std', 'prod'] as const) {
      const [xi, hi] = name === 'prod' ? [nearOne, nearOneHost] : [x, host];
      for (const dims of [1, 0, undefined]) {
        const out = fn(name)(xi, dims);
        expect(out.dtype, name).toBe('float16');
        const ref = groups(hi, [9, 300], dims === undefined ? [0, 1] : [dims]).map(REF[name]);
        expectClose(await out.data(), ref, TOL.float16, `${name} f16 dims ${dims}`);
      }
    }
    expectEqual(await x.argmax(1).data(), groups(host, [9, 300], [1]).map(REF.argmax));
  });

  it('integer sums and products accumulate in int32 and wrap; uint32 stays uint32', async () => {
    const i32 = xpu.tensor(Int32Array.from([2147483647, 1, 5, -7, 2147483647, 2147483647]), { device, shape: [2, 3] });
    expect(i32.sum().dtype).toBe('int32');
    expectEqual(await i32.sum(1).data(), [(2147483647 + 1 + 5) | 0, (-7 + 2147483647 + 2147483647) | 0]);
    expectEqual(await i32.prod(0).data(), [Math.imul(2147483647, -7), Math.imul(1, 2147483647), Math.imul(5, 2147483647)]);
    const u32 = xpu.tensor(Uint32Array.from([4294967295, 2, 7]), { device });
    expect(u32.sum().dtype).toBe('uint32');
    expect(await u32.sum().item()).toBe((4294967295 + 2 + 7) % 2 ** 32);
    const u8 = xpu.tensor(Uint8Array.from([250, 250, 255, 3]), { device });
    expect(u8.sum().dtype).toBe('int32');
    expect(await u8.sum().item()).toBe(758);
    const i8 = xpu.tensor(Int8Array.from([-128, -128, 100, 1]), { device });
    expect(await i8.sum().item()).toBe(-155);
    const b = xpu.tensor(
      [
        [true, false, true],
        [true, true, true],
      ],
      { device },
    );
    expect(b.sum().dtype).toBe('int32');
    expectEqual(await b.sum(1).data(), [2, 3]);
    // A long random integer sum, checked against exact wrapping arithmetic.
    const ints = randomInts(3 * 2000, 4, -(2 ** 30), 2 ** 30);
    const t = xpu.tensor(ints, { device, shape: [3, 2000] });
    expectEqual(
      await t.sum(1).data(),
      groups(ints, [3, 2000], [1]).map((v) => v.reduce((a, c) => (a + c) | 0, 0)),
    );
  });

  it('max/min keep integer dtypes; argmax/argmin take the first of ties', async () => {
    const i8 = xpu.tensor(Int8Array.from([-5, 100, -128, 100, 7, -128]), { device, shape: [2, 3] });
    expect(i8.max().dtype).toBe('int8');
    expectEqual(await i8.max(0).data(), [100, 100, -128]);
    expectEqual(await i8.min(1).data(), [-128, -128]);
    const u8 = xpu.tensor(Uint8Array.from([200, 3, 255, 0]), { device });
    expect(u8.min().dtype).toBe('uint8');
    expect(await u8.max().item()).toBe(255);
    const u32 = xpu.tensor(Uint32Array.from([4294967295, 3, 2147483648]), { device });
    expect(await u32.max().item()).toBe(4294967295);
    expect(await u32.argmin().item()).toBe(1);
    expectEqual(await xpu.tensor([1, 3, 3, 2, 3], { device }).argmax().data(), [1]);
    expectEqual(await xpu.tensor([4, 1, 2, 1, 1], { device }).argmin().data(), [1]);
    // Ties spread across workgroup lanes and loop iterations: the lowest index must win.
    const long = Float32Array.from(randomData(1000, 12).map((v) => Math.max(-5, Math.min(5, v))));
    for (const i of [700, 130, 3, 64, 999]) long[i] = 9;
    expect(await xpu.tensor(long, { device }).argmax().item()).toBe(3);
    for (const i of [511, 65, 900]) long[i] = -9;
    expect(await xpu.tensor(long, { device }).argmin().item()).toBe(65);
    const bools = xpu.tensor(
      [
        [false, true, true],
        [false, false, false],
      ],
      { device },
    );
    expect(bools.max(1).dtype).toBe('bool');
    expect(await bools.max(1).toArray()).toEqual([true, false]);
    expectEqual(await bools.argmax(1).data(), [1, 0]);
  });

  it('NaN wins in max/min/argmax/argmin and propagates through sum', async () => {
    const x = xpu.tensor(
      [
        [1, NaN, 5, NaN],
        [2, 8, -1, 0],
      ],
      { device },
    );
    const isNaNs = (a: ArrayLike<number>) => Array.from(a, (v) => Number.isNaN(v));
    expect(isNaNs(await x.max(1).data())).toEqual([true, false]);
    expect(isNaNs(await x.min(1).data())).toEqual([true, false]);
    expectEqual(await x.argmax(1).data(), [1, 1]);
    expectEqual(await x.argmin(1).data(), [1, 2]);
    expect(isNaNs(await x.sum(1).data())).toEqual([true, false]);
    const long = Float32Array.from(randomData(3000, 2));
    long[2500] = NaN;
    long[1700] = NaN;
    expect(await xpu.tensor(long, { device }).argmax().item()).toBe(1700);
  });

  it('var and std with correction 0 and 1, keepdim in the options or as a boolean', async () => {
    const host = Float32Array.from(randomData(4 * 33, 21));
    const x = xpu.tensor(host, { device, shape: [4, 33] });
    for (const correction of [0, 1, 2.5]) {
      const ref = groups(host, [4, 33], [1]).map(varOf(correction));
      expectClose(await x.var(1, { correction }).data(), ref, TOL.float32, `var c=${correction}`);
      expectClose(await xpu.std(x, -1, { correction }).data(), ref.map(Math.sqrt), TOL.float32, `std c=${correction}`);
    }
    expect(x.var(1, { keepdim: true }).shape).toEqual([4, 1]);
    expect(x.std(0, true).shape).toEqual([1, 33]);
    expect(x.var(undefined, { correction: 0, keepdim: true }).shape).toEqual([1, 1]);
    expectClose(await x.var().data(), [varOf(1)(Array.from(host))], TOL.float32);
    // Divisor max(0, N - correction): one element gives NaN (0/0), N - correction <= 0 gives inf.
    const pair = xpu.tensor(
      [
        [1, 3],
        [2, 2],
      ],
      { device },
    );
    expect(Number.isNaN((await xpu.tensor([4], { device }).var().item()) as number)).toBe(true);
    expectEqual(await pair.var(1, { correction: 2 }).data(), [Infinity, NaN]);
    expectEqual(await pair.var(1, { correction: 3 }).data(), [Infinity, NaN]);
  });

  it('the empty tensor: sum 0, prod 1, mean/var NaN, empty outputs', async () => {
    const e = xpu.zeros([0, 3], { device });
    expectEqual(await e.sum(0).data(), [0, 0, 0]);
    expectEqual(await e.prod(0).data(), [1, 1, 1]);
    expectEqual(await e.mean(0).data(), [NaN, NaN, NaN]);
    expectEqual(await e.var(0).data(), [NaN, NaN, NaN]);
    expect(await e.sum().item()).toBe(0);
    expect(e.sum(1).shape).toEqual([0]);
    expect((await e.max(1).data()).length).toBe(0);
    expect((await e.argmax(1).data()).length).toBe(0);
    expect(e.sum(0, true).shape).toEqual([1, 3]);
    expectEqual(await xpu.zeros([0], { device, dtype: 'int32' }).sum().data(), [0]);
  });

  it('0-d tensors', async () => {
    const s = xpu.tensor(3.5, { device });
    expect(s.shape).toEqual([]);
    for (const name of ['sum', 'mean', 'max', 'min', 'prod'] as const) {
      const out = fn(name)(s);
      expect(out.shape).toEqual([]);
      expect(await out.item()).toBe(3.5);
      expect(await fn(name)(s, 0, true).item()).toBe(3.5);
      expect(fn(name)(s, -1, true).shape).toEqual([]);
    }
    expect(await s.argmax().item()).toBe(0);
    expect(await s.argmin(0).item()).toBe(0);
    expect(Number.isNaN((await s.var().item()) as number)).toBe(true);
    expect(await s.var(0, { correction: 0 }).item()).toBe(0);
  });

  it('errors are typed and leave the runtime working', async () => {
    const ints = xpu.tensor(Int32Array.from([1, 2, 3]), { device });
    const x = xpu.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { device },
    );
    for (const f of [() => ints.mean(), () => ints.var(), () => ints.std(0), () => xpu.mean(xpu.ones([2], { device, dtype: 'bool' }))]) {
      expect(f).toThrow(xpu.XpuDTypeError);
    }
    expect(() => x.sum(2)).toThrow(xpu.XpuIndexError);
    expect(() => x.max(-3)).toThrow(xpu.XpuIndexError);
    expect(() => x.argmax(5)).toThrow(xpu.XpuIndexError);
    expect(() => x.sum([0, -2])).toThrow(xpu.XpuValueError);
    expect(() => x.sum(0, 'yes' as never)).toThrow(xpu.XpuValueError);
    expect(() => x.argmax([0, 1] as never)).toThrow(xpu.XpuValueError);
    expect(() => x.var(0, { correction: -1 })).toThrow(xpu.XpuValueError);
    const empty = xpu.zeros([0, 3], { device });
    for (const f of [() => empty.max(), () => empty.min(0), () => empty.argmax(), () => empty.argmin(0)]) {
      expect(f).toThrow(xpu.XpuShapeError);
    }
    try {
      empty.max(0);
    } catch (e) {
      expect((e as xpu.XpuError).op).toBe('max');
      expect((e as xpu.XpuError).message).toContain('[0, 3]');
    }
    const gone = xpu.ones([2], { device });
    gone.dispose();
    expect(() => gone.sum()).toThrow(xpu.XpuDisposedError);
    // Nothing was harmed: the inputs read back and new reductions work.
    expectEqual(await x.sum(1).data(), [3, 7]);
    expectEqual(await ints.sum().data(), [6]);
  });

  it('reductions of more than 2^20 elements a result (xpu: in levels) stay accurate, with a chunk left over and NaN in it', async () => {
    // 2^22 + 5 ones: xpu reduces 2^20 per launch, then the 4 partials, then adds the 5 left over.
    expect(
      (
        await xpu
          .ones([1], { device })
          .expand([2 ** 22 + 5])
          .sum()
          .data()
      )[0],
    ).toBe(2 ** 22 + 5);
    // Values that differ along the cut: [m, 1] expanded to [m, 1024] and reduced whole is cut
    // into chunks of 1024 rows, so the last 7 rows are the chunk left over; NaN only there.
    const m = 4096 + 7;
    const host = Float32Array.from(randomData(m, 11), (v) => 1 + Math.abs(v));
    const big = (h: Float32Array) => xpu.tensor(h, { device, shape: [m, 1] }).expand([m, 1024]);
    const x = big(host);
    const total = 1024 * host.reduce((a, b) => a + b, 0);
    expectClose(await x.sum().data(), [total], 1e-5, 'sum');
    expectClose(await x.mean().data(), [total / (m * 1024)], 1e-5, 'mean');
    expect((await x.max().data())[0]).toBe(Math.max(...host));
    const withNaN = host.slice();
    withNaN[m - 1] = NaN;
    expect(Number.isNaN((await big(withNaN).max().data())[0])).toBe(true);
    expect(Number.isNaN((await big(withNaN).min().data())[0])).toBe(true);
  });

  it('the functional API and Tensor methods agree', async () => {
    const x = xpu.tensor(Float32Array.from(randomData(24, 3)), { device, shape: [2, 3, 4] });
    expectEqual(await xpu.sum(x, [0, 2], true).data(), await x.sum([0, 2], { keepdim: true }).data());
    expectEqual(await xpu.var(x, 1).data(), await x.var(1).data());
    expectEqual(await xpu.argmin(x, 2).data(), await x.argmin(2).data());
    expectEqual(await x.sum([]).data(), await x.sum().data()); // PyTorch: an empty dim list reduces all
  });
});

// kernels/reduce.wgsl indexes with 32-bit counters; xpu reductions past 2^20 elements a result run
// in levels (src/backends/webgpu/reduce_split.ts), what cannot is a typed error.
describe.runIf(testDevices().includes('xpu'))('xpu reductions past 32-bit indices', () => {
  it('sum over an expanded view of more than 2^32 elements is exact (its count wrapped: 65536)', async () => {
    const x = xpu.ones([1], { device: 'xpu' }).expand([65536, 65537]);
    expect((await x.sum().data())[0]).toBe(65536 * 65537); // 2^32 + 2^16, exact in f32
  });

  it('levels with kept dims, integer wrap-around and products, uint32 max/min, float16 mean; argmax in one launch', async () => {
    const device = 'xpu';
    const m = 4096 + 7; // cut into chunks of 1024 rows of 1024: 7 rows left over
    const rowsHost = Float32Array.from(randomData(3 * m, 12), (v) => 1 + Math.abs(v));
    const y = xpu.tensor(rowsHost, { device, shape: [3, m, 1] }).expand([3, m, 1024]);
    const rowSums = [0, 1, 2].map((r) => 1024 * rowsHost.subarray(r * m, (r + 1) * m).reduce((a, b) => a + b, 0));
    const kept = y.sum([1, 2], true);
    expect(kept.shape).toEqual([3, 1, 1]);
    expectClose(await kept.data(), rowSums, 1e-5, 'kept dims');
    // int32 sums and products wrap modulo 2^32 whatever the order: exact references.
    const ints = randomInts(m, 13, -(2 ** 30), 2 ** 30);
    const xi = xpu.tensor(ints, { device, shape: [m, 1] }).expand([m, 1024]);
    let s = 0;
    for (const v of ints) s = (s + Math.imul(1024, v)) | 0;
    expectEqual(await xi.sum().data(), [s]);
    const odd = Int32Array.from(randomInts(m, 14, -3, 3), (v) => 2 * v + 1);
    let p = 1;
    for (const v of odd) for (let t = 0; t < 1024; t++) p = Math.imul(p, v);
    expectEqual(
      await xpu
        .tensor(odd, { device, shape: [m, 1] })
        .expand([m, 1024])
        .prod()
        .data(),
      [p],
    );
    const u = Uint32Array.from(randomInts(m, 15, 0, 2 ** 31 - 1), (v, i) => (i % 2 ? v * 2 + 1 : v));
    const xu = xpu.tensor(u, { device, shape: [m, 1] }).expand([m, 1024]);
    expectEqual(await xu.max().data(), [Math.max(...u)]);
    expectEqual(await xu.min().data(), [Math.min(...u)]);
    const halves = Float32Array.from(randomInts(m, 16, 128, 511), (v) => v / 256);
    const h = xpu.tensor(halves, { device, dtype: 'float16', shape: [m, 1] }).expand([m, 1024]);
    const hm = h.mean();
    expect(hm.dtype).toBe('float16');
    expectClose(await hm.data(), [halves.reduce((a, b) => a + b, 0) / m], 1e-3, 'float16 mean');
    // argmax (int32 indices) stays one launch up to 2^31 - 1 elements: first of the ties.
    const at = 3000;
    const peak = rowsHost.slice(0, m);
    peak[at] = 100;
    expectEqual(
      await xpu
        .tensor(peak, { device, shape: [m, 1] })
        .expand([m, 1024])
        .argmax()
        .data(),
      [at * 1024],
    );
  });

  it('var, argmax and argmin past 2^31 - 1 elements a result, and map / rows past it, throw typed errors', async () => {
    const x = xpu.ones([1], { device: 'xpu' }).expand([65536, 65537]);
    expect(() => x.var()).toThrow(xpu.XpuValueError);
    expect(() => x.argmax()).toThrow(xpu.XpuValueError);
    expect(() => x.argmin()).toThrow(xpu.XpuValueError);
    expect(() => xpu.add(x, 1)).toThrow(xpu.XpuShapeError);
    expect(() => xpu.softmax(x, 1)).toThrow(xpu.XpuShapeError);
    expectEqual(await xpu.ones([2], { device: 'xpu' }).sum().data(), [2]);
  });
});

describe('the same seeded program on cpu and xpu', () => {
  it.runIf(testDevices().includes('xpu'))('randn -> softmax -> sum/mean/var/max/argmax agree', async () => {
    const run = async (device: 'cpu' | 'xpu') => {
      xpu.manualSeed(0);
      const x = xpu.randn([33, 130], { device });
      const p = x.softmax(1);
      return {
        rowSums: await p.sum(1).data(),
        colMeans: await x.mean(0).data(),
        vars: await x.var(1).data(),
        maxes: await x.max(1).data(),
        argmax: await x.argmax(1).data(),
        total: await x.sum().data(),
      };
    };
    const cpu = await run('cpu');
    const gpu = await run('xpu');
    expectClose(gpu.rowSums, cpu.rowSums, TOL.float32, 'softmax row sums');
    expectClose(cpu.rowSums, new Array(33).fill(1), TOL.float32, 'softmax rows sum to 1');
    expectClose(gpu.colMeans, cpu.colMeans, 1e-4, 'column means');
    expectClose(gpu.vars, cpu.vars, TOL.float32, 'row variances');
    expectClose(gpu.maxes, cpu.maxes, TOL.float32, 'row maxes');
    expectEqual(gpu.argmax, cpu.argmax, 'row argmax');
    expectClose(gpu.total, cpu.total, 1e-4, 'total');
  });
});
