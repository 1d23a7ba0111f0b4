import { describe, expect, it } from 'vitest';
import { caught, caughtAsync, randomData, randomInts, rng, testDevices, xpu } from './helpers.js';

/**
 * Issue 15's index ops on both devices against references written here: sort / argsort / topk
 * (stable, NaN largest, -0 equal to 0, as torch), scatter / scatterAdd (device-side asserts for
 * bad indices on xpu, XpuIndexError at the call on cpu) and oneHot. Indices are int32.
 */

/** Exact equality that tells -0 from 0 and accepts NaN for NaN. */
function expectSame(out: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  expect(Array.from(out, show), what).toEqual(Array.from(ref, show));
}

/** The stable sort of a row in torch's order: NaN largest, -0 == 0, ties by position. */
function refOrder(row: number[], descending: boolean): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  return row
    .map((_, i) => i)
    .sort((a, b) => {
      const na = Number.isNaN(row[a]);
      const nb = Number.isNaN(row[b]);
      if (na !== nb) return (na ? 1 : -1) * (descending ? -1 : 1);
      const d = key(row[a]) - key(row[b]);
      return (d === 0 || Number.isNaN(d) ? 0 : (d < 0 ? -1 : 1) * (descending ? -1 : 1)) || a - b;
    });
}

/** Rows of a row-major [r, n] array. */
const rowsOf = (data: ArrayLike<number>, n: number): number[][] =>
  Array.from({ length: data.length / n }, (_, r) => Array.from(data).slice(r * n, r * n + n));

describe.each(testDevices())('index ops on %s', (device) => {
  it("sort: torch's order of NaN, -0 and infinities, stable in both directions", async () => {
    const x = xpu.tensor([1, NaN, 3, -0, 0, 2, NaN, -Infinity], { device });
    // torch.sort: values [-inf, -0., 0., 1., 2., 3., nan, nan], indices [7, 3, 4, 0, 5, 2, 1, 6];
    // descending=True: [nan, nan, 3., 2., 1., -0., 0., -inf], [1, 6, 2, 5, 0, 3, 4, 7].
    const a = x.sort();
    expectSame(await a.values.data(), [-Infinity, -0, 0, 1, 2, 3, NaN, NaN], 'ascending values');
    expect(Array.from(await a.indices.data())).toEqual([7, 3, 4, 0, 5, 2, 1, 6]);
    expect(a.indices.dtype).toBe('int32');
    const dsc = xpu.sort(x, 0, true);
    expectSame(await dsc.values.data(), [NaN, NaN, 3, 2, 1, -0, 0, -Infinity], 'descending values');
    expect(Array.from(await dsc.indices.data())).toEqual([1, 6, 2, 5, 0, 3, 4, 7]);
    // torch.sort([2, 1, 2, 1, 2], descending=True, stable=True) indices = [0, 2, 4, 1, 3].
    const ties = xpu.tensor([2, 1, 2, 1, 2], { device, dtype: 'int32' });
    expect(Array.from(await ties.argsort(-1, true).data())).toEqual([0, 2, 4, 1, 3]);
    expect(Array.from(await ties.argsort().data())).toEqual([1, 3, 0, 2, 4]);
  });

  it('sort: random rows of any length along any dim, strided inputs, against a stable reference', async () => {
    const r = rng(60);
    // [5, 37]: rows not a power of two, with repeats, NaN, infinities and signed zeros.
    const pool = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 2.5];
    const v = Array.from({ length: 5 * 37 }, () => (r() < 0.3 ? pool[Math.floor(r() * pool.length)] : Math.fround((r() - 0.5) * 10)));
    const x = xpu.tensor(v, { device, shape: [5, 37] });
    for (const descending of [false, true]) {
      const s = x.sort(1, descending);
      const idx = rowsOf(await s.indices.data(), 37);
      const vals = rowsOf(await s.values.data(), 37);
      rowsOf(v, 37).forEach((row, i) => {
        const order = refOrder(row, descending);
        expect(idx[i], `row ${i} descending ${descending}`).toEqual(order);
        expectSame(
          vals[i],
          order.map((j) => row[j]),
          `row ${i} values`,
        );
      });
    }
    // Along dim 0 of the same tensor (a strided row), and on a transposed view.
    const cols = x.sort(0);
    const ci = Array.from(await cols.indices.data());
    for (let c = 0; c < 37; c++) {
      const col = [0, 1, 2, 3, 4].map((i) => v[i * 37 + c]);
      expect(
        [0, 1, 2, 3, 4].map((i) => ci[i * 37 + c]),
        `column ${c}`,
      ).toEqual(refOrder(col, false));
    }
    const t = x.T.sort(-1, true);
    expect(t.indices.shape).toEqual([37, 5]);
    const ti = rowsOf(await t.indices.data(), 5);
    for (let c = 0; c < 37; c++)
      expect(ti[c]).toEqual(
        refOrder(
          [0, 1, 2, 3, 4].map((i) => v[i * 37 + c]),
          true,
        ),
      );
    // One long row (many bitonic stages, several elements per invocation).
    const long = Array.from(randomData(3000, 61, 100)).map(Math.fround);
    const ls = xpu.tensor(long, { device }).sort();
    expect(Array.from(await ls.indices.data())).toEqual(refOrder(long, false));
  });

  it('sort and topk of integer, bool and float16 tensors; empty and 0-d tensors', async () => {
    const ints = Array.from(randomInts(40, 62, -1000, 1000));
    const si = xpu.tensor(ints, { device, dtype: 'int32' }).sort(0, true);
    expect(Array.from(await si.values.data())).toEqual(refOrder(ints, true).map((j) => ints[j]));
    const u8 = [250, 3, 0, 255, 3, 128];
    expect(Array.from(await xpu.tensor(u8, { device, dtype: 'uint8' }).argsort().data())).toEqual(refOrder(u8, false));
    // torch.sort([True, False, True]) = [False, True, True], indices [1, 0, 2].
    const b = xpu.tensor([true, false, true], { device }).sort();
    expect([b.values.dtype, await b.values.toArray(), Array.from(await b.indices.data())]).toEqual([
      'bool',
      [false, true, true],
      [1, 0, 2],
    ]);
    const h = xpu.tensor([0.5, -2, 65504, -0.25, 0.5], { device, dtype: 'float16' }).sort();
    expect([h.values.dtype, Array.from(await h.values.data()), Array.from(await h.indices.data())]).toEqual([
      'float16',
      [-2, -0.25, 0.5, 0.5, 65504],
      [1, 3, 0, 4, 2],
    ]);
    expect(xpu.zeros([2, 0], { device }).sort().indices.shape).toEqual([2, 0]);
    expect(xpu.zeros([0, 3], { device }).topk(2).values.shape).toEqual([0, 2]);
    // torch.sort(tensor(3.)) = (3., 0); topk(tensor(3.), 1) = (3., 0).
    const z = xpu.tensor(3, { device }).sort();
    expect([await z.values.item(), await z.indices.item()]).toEqual([3, 0]);
    expect(await xpu.tensor(3, { device }).topk(1).indices.item()).toBe(0);
  });

  it('topk: the k largest or smallest, sorted, NaN largest, earliest ties first', async () => {
    const x = xpu.tensor([1, NaN, 3, 2, NaN], { device });
    // torch.topk(x, 3) = values [nan, nan, 3.], indices [1, 4, 2]; largest=False: [1., 2., 3.], [0, 3, 2].
    const t = x.topk(3);
    expectSame(await t.values.data(), [NaN, NaN, 3], 'topk values');
    expect(Array.from(await t.indices.data())).toEqual([1, 4, 2]);
    const s = xpu.topk(x, 3, { largest: false });
    expect([Array.from(await s.values.data()), Array.from(await s.indices.data())]).toEqual([
      [1, 2, 3],
      [0, 3, 2],
    ]);
    const v = Array.from(randomData(4 * 50, 63, 5)).map(Math.fround);
    const m = xpu.tensor(v, { device, shape: [4, 50] });
    const k = m.topk(5, { dim: 1 });
    expect(k.values.shape).toEqual([4, 5]);
    expect(k.indices.isContiguous()).toBe(true);
    const ki = rowsOf(await k.indices.data(), 5);
    const kv = rowsOf(await k.values.data(), 5);
    rowsOf(v, 50).forEach((row, i) => {
      const order = refOrder(row, true).slice(0, 5);
      expect(ki[i]).toEqual(order);
      expect(kv[i]).toEqual(order.map((j) => row[j]));
    });
    const k0 = m.topk(2, { dim: 0, largest: false });
    expect(k0.indices.shape).toEqual([2, 50]);
    expect(Array.from(await m.topk(0).values.data())).toEqual([]);
    caught(() => m.topk(51), xpu.XpuValueError);
    caught(() => m.topk(-1), xpu.XpuValueError);
  });

  it("scatter and scatterAdd: torch's examples, numbers, strided operands", async () => {
    const x = xpu.zeros([3, 4], { device });
    const src = xpu.arange(1, 13, 1, { device, dtype: 'float32' }).reshape(3, 4);
    const idx = xpu.tensor([[0, 1, 2, 0]], { device, dtype: 'int32' });
    // torch.scatter(zeros(3, 4), 0, [[0, 1, 2, 0]], arange(1., 13).reshape(3, 4)) = [[1, 0, 0, 4], [0, 2, 0, 0], [0, 0, 3, 0]]
    expect(await x.scatter(0, idx, src).toArray()).toEqual([
      [1, 0, 0, 4],
      [0, 2, 0, 0],
      [0, 0, 3, 0],
    ]);
    expect(await xpu.scatter(x, 0, idx, 7.5).toArray()).toEqual([
      [7.5, 0, 0, 7.5],
      [0, 7.5, 0, 0],
      [0, 0, 7.5, 0],
    ]);
    // torch.scatter_add(zeros(3, 4), 0, [[0, 0], [0, 0]], src) = [[6, 8, 0, 0], [0, ...], [0, ...]]
    const dup = xpu.tensor(
      [
        [0, 0],
        [0, 0],
      ],
      { device, dtype: 'int32' },
    );
    expect(await x.scatterAdd(0, dup, src).toArray()).toEqual([
      [6, 8, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    // Along dim 1 into a strided (transposed) input, with a uint8 index and a strided source.
    const base = xpu.arange(0, 12, 1, { device, dtype: 'float32' }).reshape(4, 3).T; // [3, 4]
    const i1 = xpu.tensor(
      [
        [3, 0],
        [1, 2],
        [0, 3],
      ],
      { device, dtype: 'uint8' },
    );
    const s1 = xpu.tensor(
      [
        [10, 20, 30],
        [40, 50, 60],
      ],
      { device },
    ).T; // [3, 2]
    const bv = [
      [0, 3, 6, 9],
      [1, 4, 7, 10],
      [2, 5, 8, 11],
    ];
    const ref = bv.map((row) => row.slice());
    [
      [3, 0],
      [1, 2],
      [0, 3],
    ].forEach((r, i) =>
      r.forEach((j, c) => {
        ref[i][j] = [
          [10, 40],
          [20, 50],
          [30, 60],
        ][i][c];
      }),
    );
    expect(await base.scatter(1, i1, s1).toArray()).toEqual(ref);
    // A scalar value in an int8 tensor, cast as torch (7.9 -> 7).
    const i8 = xpu.zeros([2, 5], { device, dtype: 'int8' }).scatter(1, xpu.tensor([[4], [1]], { device, dtype: 'int32' }), 7.9);
    expect(await i8.toArray()).toEqual([
      [0, 0, 0, 0, 7],
      [0, 7, 0, 0, 0],
    ]);
    // An empty index leaves a copy.
    expect(await x.scatter(0, xpu.zeros([0, 4], { device, dtype: 'int32' }), src).toArray()).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect(
      await xpu
        .tensor(1, { device })
        .scatter(0, xpu.tensor(0, { device, dtype: 'int32' }), xpu.tensor(5, { device }))
        .item(),
    ).toBe(5);
  });

  it.each(['float32', 'int32', 'uint32', 'float16', 'int8', 'uint8'] as const)(
    'scatterAdd of %s sums every duplicate (a histogram)',
    async (dtype) => {
      // 600 contributions into 7 bins: the sums are integers, exact in every dtype here (bins of
      // int8 / uint8 wrap exactly as the dtype does).
      const bins = Array.from(randomInts(600, 64, 0, 6));
      const vals = Array.from(randomInts(600, 65, dtype === 'uint32' || dtype === 'uint8' ? 0 : -3, 3));
      const x = xpu.tensor([1, 2, 3, 4, 5, 6, 7], { device, dtype });
      const out = x.scatterAdd(0, xpu.tensor(bins, { device, dtype: 'int32' }), xpu.tensor(vals, { device, dtype }));
      const wrap = (v: number) => (dtype === 'int8' ? (v << 24) >> 24 : dtype === 'uint8' ? v & 0xff : dtype === 'uint32' ? v >>> 0 : v);
      const ref = [1, 2, 3, 4, 5, 6, 7].map((b, j) => wrap(bins.reduce((a, k, i) => a + (k === j ? vals[i] : 0), b)));
      expect(Array.from(await out.data())).toEqual(ref);
      // scatter (no add) with duplicates keeps one of the candidates.
      const one = await xpu
        .zeros([2], { device, dtype })
        .scatter(0, xpu.tensor([1, 1, 1], { device, dtype: 'int32' }), xpu.tensor([3, 4, 5], { device, dtype }))
        .data();
      expect(one[0]).toBe(0);
      expect([3, 4, 5]).toContain(one[1]);
    },
  );

  it('scatter: bad indices are XpuIndexError (at the call on cpu, at the next read on xpu); shapes and dtypes checked', async () => {
    const x = xpu.zeros([3, 4], { device });
    const src = xpu.ones([3, 4], { device });
    const bad = xpu.tensor([[0, 3, 1, 0]], { device, dtype: 'int32' });
    if (device === 'cpu') {
      const e = caught(() => x.scatter(0, bad, src), xpu.XpuIndexError);
      expect([e.op, e.arg]).toEqual(['scatter', 'index']);
      caught(() => x.scatterAdd(0, xpu.tensor([[-1]], { device, dtype: 'int32' }), src), xpu.XpuIndexError);
    } else {
      const out = x.scatter(0, bad, src);
      const e = await caughtAsync(out.data(), xpu.XpuIndexError);
      expect([e.op, e.arg, e.got]).toEqual(['scatter', 'index', '3']);
      // Other tensors read normally after the failure.
      expect(await src.sum().item()).toBe(12);
    }
    caught(() => x.scatter(0, xpu.tensor([0], { device, dtype: 'int32' }), src), xpu.XpuShapeError);
    caught(() => x.scatter(0, xpu.zeros([4, 4], { device, dtype: 'int32' }), src), xpu.XpuShapeError);
    caught(() => x.scatter(0, xpu.zeros([1, 1], { device }), src), xpu.XpuDTypeError);
    caught(() => x.scatter(0, xpu.zeros([1, 1], { device, dtype: 'int32' }), src.to('float16')), xpu.XpuDTypeError);
    caught(
      () =>
        xpu
          .zeros([2], { device, dtype: 'bool' })
          .scatterAdd(0, xpu.zeros([1], { device, dtype: 'int32' }), xpu.zeros([1], { device, dtype: 'bool' })),
      xpu.XpuDTypeError,
    );
  });

  it('oneHot: int32 one-hot rows, numClasses inferred on cpu, bad classes are XpuIndexError', async () => {
    // F.one_hot(tensor([0, 2, 1])) = [[1, 0, 0], [0, 0, 1], [0, 1, 0]]; with 4 classes one more column.
    const i = xpu.tensor([0, 2, 1], { device, dtype: 'int32' });
    expect(await xpu.oneHot(i, 4).toArray()).toEqual([
      [1, 0, 0, 0],
      [0, 0, 1, 0],
      [0, 1, 0, 0],
    ]);
    const h = xpu.oneHot(
      xpu.tensor(
        [
          [3, 0],
          [1, 1],
        ],
        { device, dtype: 'uint8' },
      ),
      5,
    );
    expect([h.dtype, h.shape]).toEqual(['int32', [2, 2, 5]]);
    expect(await h.toArray()).toEqual([
      [
        [0, 0, 0, 1, 0],
        [1, 0, 0, 0, 0],
      ],
      [
        [0, 1, 0, 0, 0],
        [0, 1, 0, 0, 0],
      ],
    ]);
    expect(await xpu.oneHot(xpu.tensor(2, { device, dtype: 'int32' }), 3).toArray()).toEqual([0, 0, 1]);
    expect(xpu.oneHot(xpu.zeros([0], { device, dtype: 'int32' }), 3).shape).toEqual([0, 3]);
    if (device === 'cpu') {
      expect(await xpu.oneHot(i).toArray()).toEqual([
        [1, 0, 0],
        [0, 0, 1],
        [0, 1, 0],
      ]);
      caught(() => xpu.oneHot(i, 2), xpu.XpuIndexError);
      caught(() => xpu.oneHot(xpu.tensor([0, -1], { device, dtype: 'int32' }), 3), xpu.XpuIndexError);
      caught(() => xpu.oneHot(xpu.zeros([0], { device, dtype: 'int32' })), xpu.XpuValueError);
    } else {
      caught(() => xpu.oneHot(i), xpu.XpuValueError);
      const e = await caughtAsync(xpu.oneHot(i, 2).data(), xpu.XpuIndexError);
      expect([e.op, e.got]).toEqual(['oneHot', '2']);
    }
    caught(() => xpu.oneHot(xpu.zeros([2], { device }), 3), xpu.XpuDTypeError);
  });
});
