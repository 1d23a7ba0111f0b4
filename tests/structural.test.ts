import { describe, expect, it } from 'vitest';
import type { DType } from '../src/tensor/dtype.js';
import { expectEqual, randomInts, testDevices, xpu, caught, caughtAsync } from './helpers.js';
import { flatValues, hostTensor, numelOf, poison, randomPair, sliceH, transposeH, type HostTensor } from './host_tensor.js';

const DTYPES: DType[] = ['float32', 'float16', 'int32', 'uint32', 'int8', 'uint8', 'bool'];
const INDEX_DTYPES: DType[] = ['int32', 'uint32', 'int8', 'uint8'];

/** Reference cat of host tensors along dim d. */
function catH(parts: HostTensor[], d: number): HostTensor {
  const shape = parts[0].shape.slice();
  shape[d] = parts.reduce((a, p) => a + p.shape[d], 0);
  return {
    shape,
    at: (c) => {
      let k = 0;
      let x = c[d];
      while (x >= parts[k].shape[d]) x -= parts[k++].shape[d];
      return parts[k].at(c.map((v, j) => (j === d ? x : v)));
    },
  };
}

async function expectTensor(out: xpu.Tensor, ref: HostTensor, what: string): Promise<void> {
  expect(out.shape, `${what} shape`).toEqual(ref.shape);
  expectEqual(await out.data(), flatValues(ref), what);
}

/** Random indices in [0, size) as a device tensor of `dtype` (values that fit the dtype). */
function indexPair(device: string, dtype: DType, shape: number[], size: number, seed: number): { t: xpu.Tensor; values: number[] } {
  const max = Math.min(size - 1, dtype === 'int8' ? 127 : dtype === 'uint8' ? 255 : size - 1);
  const values = Array.from(randomInts(numelOf(shape), seed, 0, max));
  return { t: xpu.tensor(Float64Array.from(values), { device, dtype, shape }), values };
}

describe.each(testDevices())('cat and stack on %s', (device) => {
  it('cat along every dim of non-contiguous 3-D inputs, negative dims included', async () => {
    const a = randomPair(device, 'float32', [5, 3, 4], 1);
    const av = a.t.transpose(0, 2); // [4, 3, 5]
    const ah = transposeH(a.h, 0, 2);
    const b = randomPair(device, 'float32', [7, 3, 8], 2);
    const bv = b.t.slice(2, 1, 8, 2).transpose(0, 2); // [4, 3, 7], strided along the cat dim
    const bh = transposeH(sliceH(b.h, 2, 1, 8, 2), 0, 2);
    const c = randomPair(device, 'float32', [4, 17, 5], 3);
    const d = randomPair(device, 'float32', [4, 3, 1], 4);
    await expectTensor(xpu.cat([av, bv.narrow(2, 0, 5)], 0), catH([ah, sliceH(bh, 2, 0, 5)], 0), 'cat dim 0');
    await expectTensor(xpu.cat([av, c.t, av], 1), catH([ah, c.h, ah], 1), 'cat dim 1');
    await expectTensor(xpu.cat([av, c.t], -2), catH([ah, c.h], 1), 'cat dim -2');
    poison(device, 'float32', [4, 3, 13]);
    await expectTensor(xpu.cat([av, d.t, bv], -1), catH([ah, d.h, bh], 2), 'cat dim -1');
    await expectTensor(xpu.cat([bv, av], 2), catH([bh, ah], 2), 'cat dim 2');
  });

  it.each(DTYPES)('cat of %s along the last dim with odd lengths (packed sub-word words)', async (dtype) => {
    for (const lengths of [
      [1, 3],
      [3, 1, 17],
      [17, 1000],
      [5, 3, 1, 2],
    ]) {
      const parts = lengths.map((n, k) => randomPair(device, dtype, [3, n], 10 * k + n));
      const ref = catH(
        parts.map((p) => p.h),
        1,
      );
      poison(device, dtype, ref.shape);
      const out = xpu.cat(
        parts.map((p) => p.t),
        -1,
      );
      expect(out.dtype).toBe(dtype);
      await expectTensor(out, ref, `${dtype} ${lengths}`);
      // Strided views of a sub-word dtype: every other element, starting at an odd offset.
      const wide = randomPair(device, dtype, [3, 2 * lengths[0] + 1], 99);
      const view = wide.t.slice(1, 1, undefined, 2);
      const viewH = sliceH(wide.h, 1, 1, 2 * lengths[0] + 1, 2);
      await expectTensor(xpu.cat([parts[1].t, view, parts[0].t], 1), catH([parts[1].h, viewH, parts[0].h], 1), `${dtype} view ${lengths}`);
      // Along dim 0 the rows of the packed output are not word aligned either.
      await expectTensor(
        xpu.cat([view.T, parts[0].t.T], 0),
        catH([transposeH(viewH, 0, 1), transposeH(parts[0].h, 0, 1)], 0),
        `${dtype} dim0 ${lengths}`,
      );
    }
  });

  it('cat of 1, 2, 11 and 50 inputs (more inputs than one dispatch binds, groups of groups)', async () => {
    for (const count of [1, 2, 11, 50]) {
      const parts = Array.from({ length: count }, (_, k) => randomPair(device, 'int8', [2, 1 + ((k * 7) % 5), 3], 100 + k));
      const views = parts.map((p) => p.t.transpose(0, 2)); // [3, n_k, 2]
      const ref = catH(
        parts.map((p) => transposeH(p.h, 0, 2)),
        1,
      );
      poison(device, 'int8', ref.shape);
      await expectTensor(xpu.cat(views, 1), ref, `cat of ${count}`);
    }
    // 11 float inputs, some of them empty along the cat dim, one of them 1000 long.
    const sizes = [0, 3, 1000, 0, 1, 17, 2, 0, 5, 4, 1];
    const parts = sizes.map((n, k) => randomPair(device, 'float32', [n], 200 + k));
    await expectTensor(
      xpu.cat(parts.map((p) => p.t)),
      catH(
        parts.map((p) => p.h),
        0,
      ),
      'cat of 11 with empties',
    );
  });

  it('cat promotes dtypes and skips 1-D empty tensors like PyTorch', async () => {
    const i8 = randomPair(device, 'int8', [2, 3], 1);
    const u8 = randomPair(device, 'uint8', [2, 3], 2);
    const b = randomPair(device, 'bool', [1, 3], 3);
    const h = randomPair(device, 'float16', [2, 3], 4);
    const i32 = xpu.tensor(Int32Array.from([-1_000_000, 7, 123_456]), { device, shape: [1, 3] });
    const f = randomPair(device, 'float32', [2, 3], 5);
    const cases: [xpu.Tensor[], HostTensor[], DType][] = [
      [[i8.t, u8.t], [i8.h, u8.h], 'int32'],
      [[b.t, h.t], [b.h, h.h], 'float16'],
      [[i32, f.t], [hostTensor([1, 3], [-1_000_000, 7, 123_456]), f.h], 'float32'],
      [[u8.t, b.t], [u8.h, b.h], 'uint8'],
      [[h.t, i8.t, f.t], [h.h, i8.h, f.h], 'float32'],
    ];
    for (const [ts, hs, dtype] of cases) {
      const out = xpu.cat(ts, 0);
      expect(out.dtype, ts.map((t) => t.dtype).join('+')).toBe(dtype);
      await expectTensor(out, catH(hs, 0), `promote to ${dtype}`);
    }
    // A 1-D empty tensor (float32 by default) joins any tensor, and takes part in promotion.
    const empty = xpu.tensor([], { device });
    const out = xpu.cat([empty, i8.t, empty], 1);
    expect(out.dtype).toBe('float32');
    await expectTensor(out, i8.h, 'cat with 1-D empties');
    const allEmpty = xpu.cat([empty, xpu.zeros([0], { device, dtype: 'int8' })]);
    expect(allEmpty.shape).toEqual([0]);
    expect((await allEmpty.data()).length).toBe(0);
    // Other empty tensors must match shapes, and may have no elements at all.
    await expectTensor(xpu.cat([xpu.zeros([0, 3], { device, dtype: 'int8' }), i8.t]), i8.h, 'cat [0,3] + [2,3]');
    const none = xpu.cat([xpu.zeros([2, 0], { device }), xpu.zeros([3, 0], { device })]);
    expect(none.shape).toEqual([5, 0]);
  });

  it('stack of 1, 2 and 11 tensors along new dims, views included', async () => {
    for (const count of [1, 2, 11]) {
      const parts = Array.from({ length: count }, (_, k) => randomPair(device, 'float16', [3, 4], 300 + k));
      for (const dim of [0, 1, 2, -1, -3]) {
        const d = dim < 0 ? dim + 3 : dim;
        const views = parts.map((p) => p.t.T); // [4, 3]
        const hv = parts.map((p) => transposeH(p.h, 0, 1));
        const out = xpu.stack(views, dim);
        const shape = [4, 3];
        shape.splice(d, 0, count);
        const ref: HostTensor = { shape, at: (c) => hv[c[d]].at(c.filter((_, j) => j !== d)) };
        await expectTensor(out, ref, `stack ${count} dim ${dim}`);
      }
    }
    const scalars = [3, -1, 7].map((v) => xpu.tensor(v, { device, dtype: 'int32' }));
    await expectTensor(xpu.stack(scalars), hostTensor([3], [3, -1, 7]), 'stack of 0-d');
    const empties = xpu.stack([xpu.zeros([0], { device }), xpu.zeros([0], { device })], 1);
    expect(empties.shape).toEqual([0, 2]);
  });

  it('bad arguments throw typed errors and leave the device working', async () => {
    const a = randomPair(device, 'float32', [2, 3], 1);
    const e = caught(() => xpu.cat([a.t, xpu.ones([2, 4], { device })], 0), xpu.XpuShapeError);
    expect(e.op).toBe('cat');
    expect(e.arg).toBe('tensors[1]');
    expect(e.message).toContain('[2, 4]');
    caught(() => xpu.cat([a.t, xpu.ones([2, 3, 1], { device })], 0), xpu.XpuShapeError);
    caught(() => xpu.cat([xpu.tensor(1, { device }), xpu.tensor(2, { device })]), xpu.XpuShapeError);
    expect(caught(() => xpu.cat([a.t], 2), xpu.XpuIndexError).arg).toBe('dim');
    caught(() => xpu.cat([a.t], -3), xpu.XpuIndexError);
    caught(() => xpu.cat([], 0), xpu.XpuValueError);
    caught(() => xpu.cat([a.t, 3 as never]), xpu.XpuValueError);
    caught(() => xpu.stack([a.t, a.t.T]), xpu.XpuShapeError);
    caught(() => xpu.stack([a.t], 3), xpu.XpuIndexError);
    const gone = xpu.ones([2, 3], { device });
    gone.dispose();
    caught(() => xpu.cat([a.t, gone]), xpu.XpuDisposedError);
    await expectTensor(xpu.cat([a.t, a.t], 1), catH([a.h, a.h], 1), 'after errors');
  });
});

/** Reference index_select on host data. */
function indexSelectH(x: HostTensor, d: number, idx: number[]): HostTensor {
  const shape = x.shape.slice();
  shape[d] = idx.length;
  return { shape, at: (c) => x.at(c.map((v, j) => (j === d ? idx[v] : v))) };
}

describe.each(testDevices())('indexSelect, gather and embedding on %s', (device) => {
  it.each(INDEX_DTYPES)('indexSelect with %s indices on every dim of a non-contiguous input', async (idtype) => {
    const x = randomPair(device, 'float32', [7, 5, 17], 11);
    const xv = x.t.permute(2, 0, 1); // [17, 7, 5]
    const xh = { shape: [17, 7, 5], at: (c: number[]) => x.h.at([c[1], c[2], c[0]]) };
    for (let d = 0; d < 3; d++) {
      for (const n of [1, 3, 17, 1000]) {
        const size = xh.shape[d];
        const idx = indexPair(device, idtype, [2 * n], size, 40 + n + d);
        const every2 = idx.t.slice(0, 0, undefined, 2); // a strided index
        const values = idx.values.filter((_, j) => j % 2 === 0);
        const ref = indexSelectH(xh, d, values);
        poison(device, 'float32', ref.shape);
        await expectTensor(xv.indexSelect(d - 3, every2), ref, `dim ${d} n ${n}`);
      }
    }
  });

  it.each(DTYPES)('indexSelect and gather of %s values', async (dtype) => {
    const x = randomPair(device, dtype, [9, 6], 21);
    const idx = indexPair(device, 'int32', [13], 9, 22);
    await expectTensor(x.t.indexSelect(0, idx.t), indexSelectH(x.h, 0, idx.values), `indexSelect ${dtype}`);
    const cols = indexPair(device, 'uint8', [9, 5], 6, 23);
    const ref: HostTensor = { shape: [9, 5], at: (c) => x.h.at([c[0], cols.values[c[0] * 5 + c[1]]]) };
    poison(device, dtype, [9, 5]);
    await expectTensor(x.t.gather(1, cols.t), ref, `gather ${dtype}`);
  });

  it('0-d and empty indices, and a 0-d input', async () => {
    const x = randomPair(device, 'int8', [4, 3], 31);
    await expectTensor(x.t.indexSelect(1, xpu.tensor(2, { device, dtype: 'int32' })), indexSelectH(x.h, 1, [2]), '0-d index');
    const empty = x.t.indexSelect(0, xpu.zeros([0], { device, dtype: 'int32' }));
    expect(empty.shape).toEqual([0, 3]);
    expect((await empty.data()).length).toBe(0);
    const noRows = x.t.gather(0, xpu.zeros([0, 3], { device, dtype: 'int32' }));
    expect(noRows.shape).toEqual([0, 3]);
    expect((await noRows.data()).length).toBe(0);
    expect(xpu.embedding(xpu.zeros([2, 0], { device, dtype: 'uint8' }), x.t).shape).toEqual([2, 0, 3]);
    const s = xpu.tensor(5, { device, dtype: 'int32' });
    const out = s.indexSelect(0, xpu.tensor([0], { device, dtype: 'uint8' }));
    expect(out.shape).toEqual([]);
    expect(await out.item()).toBe(5);
  });

  it('gather on every dim with a smaller, transposed index', async () => {
    const x = randomPair(device, 'float32', [6, 5, 17], 41);
    for (let d = 0; d < 3; d++) {
      const shape = [4, 5, 3];
      shape[d] = 11; // along the gather dim the index may be longer than x
      const size = x.h.shape[d];
      const idx = indexPair(device, 'int32', [shape[2], shape[1], shape[0]], size, 50 + d);
      const iv = idx.t.permute(2, 1, 0); // non-contiguous [shape]
      const ih = transposeH(hostTensor([shape[2], shape[1], shape[0]], idx.values), 0, 2);
      const ref: HostTensor = { shape, at: (c) => x.h.at(c.map((v, j) => (j === d ? ih.at(c) : v))) };
      poison(device, 'float32', shape);
      await expectTensor(xpu.gather(x.t, d - 3, iv), ref, `gather dim ${d}`);
    }
    const scalar = xpu.tensor(2.5, { device });
    expect(await scalar.gather(0, xpu.tensor(0, { device, dtype: 'int32' })).item()).toBe(2.5);
  });

  it('embedding looks up rows of a (non-contiguous) weight', async () => {
    for (const wdtype of ['float32', 'float16', 'int8'] as DType[]) {
      const w = randomPair(device, wdtype, [8, 17], 61); // used as weight [17, 8]
      const wv = w.t.T;
      for (const idtype of INDEX_DTYPES) {
        const ids = indexPair(device, idtype, [3, 5], 17, 62);
        const ref: HostTensor = { shape: [3, 5, 8], at: (c) => w.h.at([c[2], ids.values[c[0] * 5 + c[1]]]) };
        poison(device, wdtype, ref.shape);
        await expectTensor(xpu.embedding(ids.t, wv), ref, `embedding ${wdtype} ${idtype}`);
      }
    }
    const w = randomPair(device, 'float32', [1000, 3], 63);
    const one = xpu.embedding(xpu.tensor(999, { device, dtype: 'int32' }), w.t);
    await expectTensor(one, { shape: [3], at: (c) => w.h.at([999, c[0]]) }, '0-d id');
    const ids = xpu.tensor(Int32Array.from([999, 998, 0, 1]), { device });
    await expectTensor(xpu.embedding(ids, w.t), { shape: [4, 3], at: (c) => w.h.at([[999, 998, 0, 1][c[0]], c[1]]) }, 'edge ids');
  });

  it('indices above 2^24 stay exact beside float data (no rounding through f32)', async () => {
    const n = 2 ** 24 + 2;
    // x[i] = i - 2^24 as float32: exact, and x[2^24 + 1] = 1 differs from x[2^24] = 0.
    const host = new Float32Array(n);
    for (let i = 0; i < n; i++) host[i] = i - 2 ** 24;
    const x = xpu.tensor(host, { device });
    const idx = xpu.tensor(Int32Array.from([n - 1, n - 2, n - 3, 5]), { device });
    expectEqual(await x.indexSelect(0, idx).data(), [1, 0, -1, 5 - 2 ** 24]);
    expectEqual(await xpu.embedding(idx, x.view(n, 1)).data(), [1, 0, -1, 5 - 2 ** 24]);
    x.dispose();
  });

  it('out-of-range and negative indices: XpuIndexError on cpu at the call, on xpu at the next read (device-side assert)', async () => {
    // x is the first 4 rows of an 8-row storage: an unchecked index 4..7 would read real data.
    const base = randomPair(device, 'float32', [8, 3], 71);
    const x = { t: base.t.narrow(0, 0, 4), h: sliceH(base.h, 0, 0, 4) };
    const bad = [
      xpu.tensor(Int32Array.from([1, 4, 7]), { device }),
      xpu.tensor(Int32Array.from([-1, 2, 0]), { device }),
      xpu.tensor(Uint32Array.from([0, 4294967295, 3]), { device }),
      xpu.tensor(Int8Array.from([2, 3, -128]), { device }),
    ];
    for (const idx of bad) {
      const values = Array.from(await idx.data());
      const inRange = (v: number) => v >= 0 && v < 4;
      if (device === 'cpu') {
        const e = caught(() => x.t.indexSelect(0, idx), xpu.XpuIndexError);
        expect(e.op).toBe('indexSelect');
        expect(e.arg).toBe('index');
        caught(() => xpu.embedding(idx, x.t), xpu.XpuIndexError);
        caught(() => x.t.T.gather(1, idx.unsqueeze(0).expand(3, 3)), xpu.XpuIndexError);
      } else {
        // The kernel cannot throw: its device-side assert makes the next read throw XpuIndexError
        // naming the op (as torch's device asserts do); the bad output stays failed, and tensors
        // computed in the same batch before and after it read back intact.
        const asI32 = values.map((v) => v | 0).filter((v) => !inRange(v));
        const before = x.t.mul(2);
        const y = x.t.indexSelect(0, idx);
        const after = x.t.add(1);
        const e = await caughtAsync(after.data(), xpu.XpuIndexError);
        expect([e.op, e.arg]).toEqual(['indexSelect', 'index']);
        expect(asI32).toContain(Number(e.got));
        await expectTensor(after, { shape: [4, 3], at: (c) => x.h.at(c) + 1 }, 'after the assert');
        await expectTensor(before, { shape: [4, 3], at: (c) => x.h.at(c) * 2 }, 'before the assert');
        expect((await caughtAsync(y.data(), xpu.XpuIndexError)).op).toBe('indexSelect');
        // What is computed from the bad output fails the same way.
        expect((await caughtAsync(y.mul(3).sum().data(), xpu.XpuIndexError)).op).toBe('indexSelect');
        const emb = xpu.embedding(idx, x.t);
        const se = await caughtAsync(xpu.accelerator.synchronize(), xpu.XpuIndexError);
        expect([se.op, se.arg]).toEqual(['embedding', 'input']);
        await caughtAsync(emb.data(), xpu.XpuIndexError);
        const g = x.t.T.gather(1, idx.unsqueeze(0).expand(3, 3));
        expect((await caughtAsync(g.data(), xpu.XpuIndexError)).op).toBe('gather');
        // Good indices after the assert run clean.
        await expectTensor(
          x.t.indexSelect(0, xpu.tensor(Int32Array.from([3, 0]), { device })),
          indexSelectH(x.h, 0, [3, 0]),
          'good after bad',
        );
      }
    }
    // The device keeps working and other tensors are untouched.
    await expectTensor(x.t.indexSelect(1, xpu.tensor(Int32Array.from([2, 0]), { device })), indexSelectH(x.h, 1, [2, 0]), 'after');
  });

  it('bad arguments throw typed errors', async () => {
    const x = randomPair(device, 'float32', [4, 3], 81);
    const i = xpu.tensor(Int32Array.from([0, 1]), { device });
    for (const dt of ['float32', 'float16', 'bool'] as DType[]) {
      const e = caught(() => x.t.indexSelect(0, xpu.zeros([2], { device, dtype: dt })), xpu.XpuDTypeError);
      expect(e.got).toBe(dt);
      caught(() => x.t.gather(0, xpu.zeros([2, 3], { device, dtype: dt })), xpu.XpuDTypeError);
      caught(() => xpu.embedding(xpu.zeros([2], { device, dtype: dt }), x.t), xpu.XpuDTypeError);
    }
    caught(() => x.t.indexSelect(0, i.view(1, 2)), xpu.XpuShapeError);
    caught(() => x.t.indexSelect(2, i), xpu.XpuIndexError);
    caught(() => x.t.gather(0, i), xpu.XpuShapeError); // rank differs
    caught(() => x.t.gather(0, xpu.zeros([2, 4], { device, dtype: 'int32' })), xpu.XpuShapeError); // 4 > 3 at dim 1
    caught(() => xpu.embedding(i, xpu.ones([5], { device })), xpu.XpuShapeError);
    caught(() => x.t.indexSelect(0, [0, 1] as never), xpu.XpuValueError);
    await expectTensor(x.t.indexSelect(0, i), indexSelectH(x.h, 0, [0, 1]), 'after errors');
  });
});

describe.each(testDevices())('triu and tril on %s', (device) => {
  const triH = (x: HostTensor, diag: number, upper: boolean): HostTensor => ({
    shape: x.shape,
    at: (c) => {
      const k = c[c.length - 1] - c[c.length - 2];
      return (upper ? k >= diag : k <= diag) ? x.at(c) : 0;
    },
  });

  it.each(DTYPES)('%s with batch dims, views and diagonals', async (dtype) => {
    const x = randomPair(device, dtype, [2, 7, 3, 5], 91);
    const xv = x.t.transpose(1, 3); // [2, 5, 3, 7]: the matrix dims are strided
    const xh = transposeH(x.h, 1, 3);
    for (const diag of [0, 1, -1, 3, -4, 100, -100]) {
      poison(device, dtype, xh.shape);
      await expectTensor(xv.triu(diag), triH(xh, diag, true), `triu ${diag}`);
      await expectTensor(xpu.tril(xv, diag), triH(xh, diag, false), `tril ${diag}`);
    }
  });

  it('odd and empty matrix sizes', async () => {
    for (const shape of [
      [1, 1],
      [3, 17],
      [17, 3],
      [2, 1000],
      [0, 4],
      [3, 0, 2],
    ]) {
      const x = randomPair(device, 'float32', shape, numelOf(shape));
      await expectTensor(x.t.triu(), triH(x.h, 0, true), `triu ${shape}`);
      await expectTensor(x.t.tril(-1), triH(x.h, -1, false), `tril ${shape}`);
    }
  });

  it('bad arguments throw typed errors', async () => {
    caught(() => xpu.ones([3], { device }).triu(), xpu.XpuShapeError);
    caught(() => xpu.tril(xpu.tensor(1, { device })), xpu.XpuShapeError);
    caught(() => xpu.ones([2, 2], { device }).triu(0.5), xpu.XpuValueError);
    expect(await xpu.ones([2, 2], { device }).triu().toArray()).toEqual([
      [1, 1],
      [0, 1],
    ]);
  });
});

describe.runIf(testDevices().includes('xpu'))('structural ops across devices', () => {
  it('mixing devices is an XpuDeviceError', async () => {
    const a = xpu.ones([2], { device: 'cpu' });
    const b = xpu.ones([2], { device: 'xpu' });
    const i = xpu.tensor(Int32Array.from([0]), { device: 'cpu' });
    expect(caught(() => xpu.cat([a, b]), xpu.XpuDeviceError).arg).toBe('tensors[1]');
    caught(() => xpu.stack([b, a]), xpu.XpuDeviceError);
    caught(() => b.indexSelect(0, i), xpu.XpuDeviceError);
    caught(() => b.gather(0, i), xpu.XpuDeviceError);
    caught(() => xpu.embedding(i, b.view(2, 1)), xpu.XpuDeviceError);
    expect(await xpu.cat([a.to('xpu'), b]).toArray()).toEqual([1, 1, 1, 1]);
  });
});
