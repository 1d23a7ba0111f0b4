import { describe, expect, it } from 'vitest';
import type { DType } from '../src/tensor/dtype.js';
import { expectEqual, testDevices, xpu, caught } from './helpers.js';
import { flatValues, permuteH, randomPair, sliceH, transposeH, type HostTensor } from './host_tensor.js';

/** Views are checked against index maps on host data (tests/host_tensor.ts), never against each other. */

async function expectTensor(out: xpu.Tensor, ref: HostTensor, what: string): Promise<void> {
  expect(out.shape, `${what} shape`).toEqual(ref.shape);
  expectEqual(await out.data(), flatValues(ref), what);
}

/** A row-major reinterpretation of h with another shape (what view/reshape mean). */
function reshapeH(h: HostTensor, shape: number[]): HostTensor {
  const flat = flatValues(h);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return { shape, at: (c) => flat[c.reduce((a, v, i) => a + v * strides[i], 0)] };
}

function selectH(h: HostTensor, dim: number, index: number): HostTensor {
  return { shape: h.shape.filter((_, j) => j !== dim), at: (c) => h.at([...c.slice(0, dim), index, ...c.slice(dim)]) };
}

/** Broadcast h to `shape` (new leading dims, size-1 dims repeated). */
function expandH(h: HostTensor, shape: number[]): HostTensor {
  const lead = shape.length - h.shape.length;
  return { shape, at: (c) => h.at(c.slice(lead).map((v, j) => (h.shape[j] === 1 ? 0 : v))) };
}

const sharesStorage = (a: xpu.Tensor, b: xpu.Tensor): boolean => a.ref.storage === b.ref.storage;

describe.each(testDevices())('views on %s', (device) => {
  it('view and reshape of contiguous tensors share storage and keep row-major order', async () => {
    const x = randomPair(device, 'float32', [3, 4, 5], 1);
    for (const shape of [[12, 5], [60], [5, 12], [3, 20], [1, 3, 1, 20, 1], [2, 2, 15]]) {
      const v = x.t.view(shape);
      expect(sharesStorage(v, x.t)).toBe(true);
      await expectTensor(v, reshapeH(x.h, shape), `view ${shape}`);
      const r = x.t.reshape(...shape);
      expect(sharesStorage(r, x.t)).toBe(true);
      await expectTensor(r, reshapeH(x.h, shape), `reshape ${shape}`);
    }
    await expectTensor(x.t.view(-1, 10), reshapeH(x.h, [6, 10]), 'view -1');
    await expectTensor(x.t.reshape([4, -1]), reshapeH(x.h, [4, 15]), 'reshape -1');
    caught(() => x.t.view(7, -1), xpu.XpuShapeError);
    caught(() => x.t.reshape(-1, -1), xpu.XpuShapeError);
  });

  it.each(['float32', 'int8', 'float16', 'bool'] as DType[])(
    'reshape of a non-contiguous %s tensor copies; view of it throws',
    async (dtype) => {
      const x = randomPair(device, dtype, [3, 5, 7], 2);
      const t = x.t.transpose(0, 2); // [7, 5, 3]
      const th = transposeH(x.h, 0, 2);
      const e = caught(() => t.view(35, 3), xpu.XpuShapeError);
      expect(e.op).toBe('view');
      caught(() => t.view(-1), xpu.XpuShapeError);
      const r = t.reshape(35, 3);
      expect(sharesStorage(r, x.t)).toBe(false);
      await expectTensor(r, reshapeH(th, [35, 3]), 'reshape copy');
      await expectTensor(t.flatten(), reshapeH(th, [105]), 'flatten copy');
      // Splitting a dim of a strided tensor needs no copy.
      const s = x.t.slice(2, 0, 7, 2).transpose(0, 1); // [5, 3, 4]
      const sh = transposeH(sliceH(x.h, 2, 0, 7, 2), 0, 1);
      const v = s.view(5, 3, 2, 2);
      expect(sharesStorage(v, x.t)).toBe(true);
      await expectTensor(v, reshapeH(sh, [5, 3, 2, 2]), 'view split');
    },
  );

  it('permute, transpose, T and t()', async () => {
    const x = randomPair(device, 'int32', [2, 3, 4, 5], 3);
    for (const perm of [
      [3, 1, 0, 2],
      [0, 1, 2, 3],
      [1, 3, 2, 0],
    ]) {
      const p = x.t.permute(perm);
      expect(sharesStorage(p, x.t)).toBe(true);
      await expectTensor(p, permuteH(x.h, perm), `permute ${perm}`);
    }
    await expectTensor(x.t.permute(-1, 0, -2, 1), permuteH(x.h, [3, 0, 2, 1]), 'permute negative');
    await expectTensor(x.t.transpose(1, -1), transposeH(x.h, 1, 3), 'transpose');
    const m = randomPair(device, 'uint8', [3, 17], 4);
    await expectTensor(m.t.T, transposeH(m.h, 0, 1), 'T');
    await expectTensor(m.t.t().T, m.h, 'T of t()');
    const v = randomPair(device, 'float32', [5], 5);
    await expectTensor(v.t.T, v.h, 'T of 1-D');
    caught(() => x.t.permute(0, 1, 2), xpu.XpuValueError);
    caught(() => x.t.permute(0, 0, 1, 2), xpu.XpuValueError);
    caught(() => x.t.T, xpu.XpuShapeError);
  });

  it('expand shares storage and ops read the broadcast data', async () => {
    const x = randomPair(device, 'float32', [3, 1], 6);
    const e = x.t.expand(2, 3, 4);
    expect(sharesStorage(e, x.t)).toBe(true);
    expect(e.strides).toEqual([0, 1, 0]);
    const eh = expandH(x.h, [2, 3, 4]);
    await expectTensor(e, eh, 'expand');
    await expectTensor(x.t.expand(-1, 5), expandH(x.h, [3, 5]), 'expand -1');
    const y = randomPair(device, 'float32', [2, 3, 4], 7);
    const sum = e.add(y.t);
    const ref = flatValues(eh).map((v, i) => Math.fround(v + flatValues(y.h)[i]));
    expectEqual(await sum.data(), ref, 'expand + y');
    // Expanding a strided view of a sub-word dtype.
    const b = randomPair(device, 'int8', [4, 6], 8);
    const col = b.t.narrow(1, 3, 1); // [4, 1], stride 6
    await expectTensor(col.expand(2, 4, 3), expandH(sliceH(b.h, 1, 3, 4), [2, 4, 3]), 'expand strided int8');
    await expectTensor(xpu.tensor(2.5, { device }).expand(3), { shape: [3], at: () => 2.5 }, 'expand 0-d');
    caught(() => x.t.expand(3, 2, 1), xpu.XpuShapeError);
    caught(() => x.t.expand(4, 4), xpu.XpuShapeError);
    caught(() => x.t.expand(4), xpu.XpuShapeError);
    caught(() => x.t.expand(3, -2), xpu.XpuShapeError);
  });

  it('narrow, slice with steps, select', async () => {
    const x = randomPair(device, 'float16', [6, 17], 9);
    await expectTensor(x.t.narrow(1, 3, 10), sliceH(x.h, 1, 3, 13), 'narrow');
    await expectTensor(x.t.narrow(0, -2, 2), sliceH(x.h, 0, 4, 6), 'narrow negative start');
    await expectTensor(x.t.narrow(1, 17, 0), sliceH(x.h, 1, 17, 17), 'narrow empty');
    await expectTensor(x.t.slice(1, 1, 16, 3), sliceH(x.h, 1, 1, 16, 3), 'slice step 3');
    await expectTensor(x.t.slice(1, -5), sliceH(x.h, 1, 12, 17), 'slice negative start');
    await expectTensor(x.t.slice(1, 2, -2, 2), sliceH(x.h, 1, 2, 15, 2), 'slice negative end');
    await expectTensor(x.t.slice(0, 4, 100), sliceH(x.h, 0, 4, 6), 'slice end clamps');
    await expectTensor(x.t.slice(0, 5, 2), sliceH(x.h, 0, 5, 5), 'slice empty');
    await expectTensor(
      x.t.slice(1, 0, undefined, 4).slice(0, 1, undefined, 2),
      sliceH(sliceH(x.h, 1, 0, 17, 4), 0, 1, 6, 2),
      'slice of slice',
    );
    await expectTensor(x.t.select(0, 2), selectH(x.h, 0, 2), 'select row');
    await expectTensor(x.t.select(1, -1), selectH(x.h, 1, 16), 'select last column');
    await expectTensor(x.t.T.select(0, 3).slice(0, 1, 6, 2), sliceH(selectH(x.h, 1, 3), 0, 1, 6, 2), 'select of a view');
    const s = x.t.select(0, 1).select(0, 4);
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(x.h.at([1, 4]));
    caught(() => x.t.narrow(1, 10, 8), xpu.XpuIndexError);
    caught(() => x.t.select(0, 6), xpu.XpuIndexError);
    caught(() => x.t.select(0, -7), xpu.XpuIndexError);
    caught(() => x.t.slice(0, 0, 3, 0), xpu.XpuValueError);
    caught(() => x.t.slice(2), xpu.XpuIndexError);
  });

  it('squeeze, unsqueeze and flatten', async () => {
    const x = randomPair(device, 'int8', [1, 3, 1, 5], 10);
    const sq = (h: HostTensor, drop: number[]): HostTensor => ({
      shape: h.shape.filter((_, j) => !drop.includes(j)),
      at: (c) => {
        const full: number[] = [];
        let k = 0;
        h.shape.forEach((_, j) => full.push(drop.includes(j) ? 0 : c[k++]));
        return h.at(full);
      },
    });
    await expectTensor(x.t.squeeze(), sq(x.h, [0, 2]), 'squeeze all');
    await expectTensor(x.t.squeeze(2), sq(x.h, [2]), 'squeeze dim');
    await expectTensor(x.t.squeeze(-4), sq(x.h, [0]), 'squeeze negative dim');
    await expectTensor(x.t.squeeze(1), x.h, 'squeeze of a non-1 dim is a no-op');
    await expectTensor(x.t.squeeze([0, 2]), sq(x.h, [0, 2]), 'squeeze list');
    const m = randomPair(device, 'float32', [3, 5], 11);
    const mt = m.t.T; // [5, 3] strided
    const mh = transposeH(m.h, 0, 1);
    const u = (h: HostTensor, d: number): HostTensor => ({
      shape: [...h.shape.slice(0, d), 1, ...h.shape.slice(d)],
      at: (c) => h.at(c.filter((_, j) => j !== d)),
    });
    await expectTensor(mt.unsqueeze(0), u(mh, 0), 'unsqueeze 0');
    await expectTensor(mt.unsqueeze(1), u(mh, 1), 'unsqueeze 1');
    await expectTensor(mt.unsqueeze(-1), u(mh, 2), 'unsqueeze -1');
    await expectTensor(mt.unsqueeze(1).squeeze(1), mh, 'unsqueeze then squeeze');
    // unsqueeze's new stride must keep a later view legal: [5, 1, 3] -> [5, 3] is a plain view.
    expect(sharesStorage(m.t.unsqueeze(1).view(3, 5), m.t)).toBe(true);
    const y = randomPair(device, 'uint32', [2, 3, 4, 5], 12);
    await expectTensor(y.t.flatten(), reshapeH(y.h, [120]), 'flatten');
    await expectTensor(y.t.flatten(1, 2), reshapeH(y.h, [2, 12, 5]), 'flatten 1..2');
    await expectTensor(y.t.flatten(-2), reshapeH(y.h, [2, 3, 20]), 'flatten -2..');
    const yp = y.t.permute(3, 2, 1, 0);
    await expectTensor(yp.flatten(0, 1), reshapeH(permuteH(y.h, [3, 2, 1, 0]), [20, 3, 2]), 'flatten of a permuted view');
    const z = xpu.tensor(7, { device, dtype: 'int32' }).flatten();
    expect(z.shape).toEqual([1]);
    caught(() => y.t.flatten(2, 1), xpu.XpuValueError);
    caught(() => x.t.unsqueeze(6), xpu.XpuIndexError);
  });

  it('contiguous and clone', async () => {
    const x = randomPair(device, 'bool', [4, 9], 13);
    const c = x.t.contiguous();
    expect(sharesStorage(c, x.t)).toBe(true);
    await expectTensor(c, x.h, 'contiguous of contiguous');
    const t = x.t.T.slice(0, 1, 9, 3); // [3, 4] strided
    const th = sliceH(transposeH(x.h, 0, 1), 0, 1, 9, 3);
    const tc = t.contiguous();
    expect(sharesStorage(tc, x.t)).toBe(false);
    expect(tc.isContiguous()).toBe(true);
    expect(tc.strides).toEqual([4, 1]);
    await expectTensor(tc, th, 'contiguous copy');
    const cl = x.t.clone();
    expect(sharesStorage(cl, x.t)).toBe(false);
    await expectTensor(cl, x.h, 'clone');
    await expectTensor(t.clone(), th, 'clone of a view');
    x.t.dispose();
    await expectTensor(cl, x.h, 'clone outlives its source');
  });

  it('views keep storage alive after the base is disposed', async () => {
    const x = randomPair(device, 'float32', [4, 6], 14);
    const v = x.t.T.slice(0, 1, 5);
    const e = x.t.select(1, 2).unsqueeze(1).expand(4, 3);
    x.t.dispose();
    expect(x.t.isDisposed).toBe(true);
    const vh = sliceH(transposeH(x.h, 0, 1), 0, 1, 5);
    await expectTensor(v, vh, 'view after base dispose');
    await expectTensor(e, { shape: [4, 3], at: (c) => x.h.at([c[0], 2]) }, 'expand after base dispose');
    // Ops on the surviving view allocate new memory that must not clobber the view's storage.
    const doubled = v.mul(2);
    const fresh = xpu.ones([4, 6], { device });
    await expectTensor(doubled, { shape: vh.shape, at: (c) => Math.fround(2 * vh.at(c)) }, 'op on a view');
    await expectTensor(v, vh, 'view after more allocations');
    fresh.dispose();
  });

  it('using a disposed tensor throws XpuDisposedError', async () => {
    const x = xpu.ones([2, 3], { device });
    const v = x.view(6);
    x.dispose();
    for (const use of [
      () => x.view(6),
      () => x.reshape(3, 2),
      () => x.permute(1, 0),
      () => x.transpose(0, 1),
      () => x.T,
      () => x.expand(2, 2, 3),
      () => x.narrow(0, 0, 1),
      () => x.slice(0),
      () => x.select(0, 0),
      () => x.squeeze(),
      () => x.unsqueeze(0),
      () => x.flatten(),
      () => x.contiguous(),
      () => x.clone(),
      () => x.add(1),
    ]) {
      const e = caught(use, xpu.XpuDisposedError);
      expect(e).toBeInstanceOf(xpu.XpuError);
    }
    await expect(x.data()).rejects.toBeInstanceOf(xpu.XpuDisposedError);
    await expect(x.toArray()).rejects.toBeInstanceOf(xpu.XpuDisposedError);
    expect(await v.toArray()).toEqual([1, 1, 1, 1, 1, 1]);
    v.dispose();
    caught(() => v.add(1), xpu.XpuDisposedError);
  });
});
