import { describe, expect, it } from 'vitest';
import { caught, testDevices, xpu } from './helpers.js';

/**
 * Issue 15's shape ops on both devices against references written here over row-major host
 * arrays: split, chunk, repeat, tile, flip, roll, pad (constant / reflect / replicate), with
 * torch 1.13's shapes and edge cases (quoted), non-contiguous inputs, integer dtypes, empty
 * tensors and negative dims. Inputs share shapes so that each kernel compiles once per rank.
 */

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Every coordinate of `shape` in row-major order. */
function coords(shape: readonly number[]): number[][] {
  const n = shape.reduce((a, b) => a * b, 1);
  const st = strides(shape);
  return Array.from({ length: n }, (_, i) => shape.map((s, d) => Math.floor(i / st[d]) % s));
}

/** A row-major array of `shape` with element value f(coords). */
const build = (shape: readonly number[], f: (c: number[]) => number): number[] => coords(shape).map(f);
const at = (data: readonly number[], shape: readonly number[], c: readonly number[]): number =>
  data[c.reduce((a, v, d) => a + v * strides(shape)[d], 0)];

const SHAPE = [3, 4, 5];
const VALUES = build(SHAPE, (c) => c[0] * 100 + c[1] * 10 + c[2]);

describe.each(testDevices())('shape ops on %s', (device) => {
  const x = () => xpu.tensor(VALUES, { device, shape: SHAPE });

  it("split and chunk: views with torch's sizes", async () => {
    const t = xpu.arange(10, undefined, 1, { device });
    expect(xpu.split(t, 3).map((v) => v.shape[0])).toEqual([3, 3, 3, 1]);
    expect(t.split([3, 7]).map((v) => v.shape[0])).toEqual([3, 7]);
    expect(t.split(20).map((v) => v.shape[0])).toEqual([10]);
    expect(await t.split(3)[3].toArray()).toEqual([9]);
    // torch.chunk: 10 into 3 -> [4, 4, 2], into 4 -> [3, 3, 3, 1], 6 into 4 -> [2, 2, 2]; empty into 3 -> three empties.
    expect(t.chunk(3).map((v) => v.shape[0])).toEqual([4, 4, 2]);
    expect(xpu.chunk(t, 4).map((v) => v.shape[0])).toEqual([3, 3, 3, 1]);
    expect(
      xpu
        .arange(6, undefined, 1, { device })
        .chunk(4)
        .map((v) => v.shape[0]),
    ).toEqual([2, 2, 2]);
    expect(
      xpu
        .zeros([0], { device })
        .chunk(3)
        .map((v) => v.shape),
    ).toEqual([[0], [0], [0]]);
    expect(
      xpu
        .zeros([0], { device })
        .split(0)
        .map((v) => v.shape),
    ).toEqual([[0]]);
    // Along a negative dim, as views of the base (no copy).
    const parts = x().split([1, 4], -1);
    expect(parts.map((p) => p.shape)).toEqual([
      [3, 4, 1],
      [3, 4, 4],
    ]);
    expect(parts[1].isContiguous()).toBe(false);
    expect(await parts[1].data()).toEqual(Float32Array.from(build([3, 4, 4], (c) => at(VALUES, SHAPE, [c[0], c[1], c[2] + 1]))));
    caught(() => t.split([3, 6]), xpu.XpuShapeError);
    caught(() => t.split(0), xpu.XpuValueError);
    caught(() => t.chunk(0), xpu.XpuValueError);
    caught(() => xpu.tensor(1, { device }).chunk(2), xpu.XpuShapeError);
  });

  it('repeat and tile: copies of expanded views, leading dims added', async () => {
    const base = x().narrow(1, 1, 2); // non-contiguous [3, 2, 5]
    const bv = build([3, 2, 5], (c) => at(VALUES, SHAPE, [c[0], c[1] + 1, c[2]]));
    const r = base.repeat(2, 1, 3, 2);
    expect(r.shape).toEqual([2, 3, 6, 10]);
    expect(Array.from(await r.data())).toEqual(build([2, 3, 6, 10], (c) => at(bv, [3, 2, 5], [c[1] % 3, c[2] % 2, c[3] % 5])));
    // torch: tensor([1, 2]).repeat(2, 2) = [[1, 2, 1, 2], [1, 2, 1, 2]]; repeat(0, 2) has shape [0, 4].
    const v = xpu.tensor([1, 2], { device, dtype: 'int32' });
    expect(await v.repeat([2, 2]).toArray()).toEqual([
      [1, 2, 1, 2],
      [1, 2, 1, 2],
    ]);
    expect(v.repeat(0, 2).shape).toEqual([0, 4]);
    expect(xpu.tensor(5, { device }).repeat(2, 3).shape).toEqual([2, 3]);
    expect(xpu.tensor(5, { device }).repeat([]).shape).toEqual([]);
    // Five repeated dims: copied in two groups (a copy has at most MAX_RANK dims).
    const five = xpu.tensor([[[[[1, 2]]]]], { device, dtype: 'int8' }).repeat(2, 2, 2, 2, 2);
    expect(five.shape).toEqual([2, 2, 2, 2, 4]);
    expect(Array.from(await five.data())).toEqual(Array.from({ length: 64 }, (_, i) => (i % 2) + 1));
    // torch.tile(tensor([[1, 2]]), (2,)) = [[1, 2, 1, 2]]: dims padded with leading 1s.
    expect(await xpu.tile(xpu.tensor([[1, 2]], { device }), [2]).toArray()).toEqual([[1, 2, 1, 2]]);
    expect(await v.tile(2, 2).toArray()).toEqual([
      [1, 2, 1, 2],
      [1, 2, 1, 2],
    ]);
    expect(await v.tile([]).toArray()).toEqual([1, 2]);
    caught(() => xpu.tensor([[1, 2]], { device }).repeat(2), xpu.XpuShapeError);
    caught(() => v.repeat(-1, 2), xpu.XpuValueError);
  });

  it('flip: negative strides read in place, any dims, any dtype', async () => {
    const f = x().flip(0, -1);
    expect(f.isContiguous()).toBe(true);
    expect(Array.from(await f.data())).toEqual(build(SHAPE, (c) => at(VALUES, SHAPE, [2 - c[0], c[1], 4 - c[2]])));
    const tr = x().transpose(0, 2).flip([1]); // non-contiguous input [5, 4, 3]
    expect(Array.from(await tr.data())).toEqual(build([5, 4, 3], (c) => at(VALUES, SHAPE, [c[2], 3 - c[1], c[0]])));
    // torch.flip(arange(6).reshape(2, 3), [-1]) = [[2, 1, 0], [5, 4, 3]]; [] copies; a 0-d tensor flips to itself.
    const m = xpu.arange(6, undefined, 1, { device, dtype: 'uint8' }).reshape(2, 3);
    expect(await m.flip(-1).toArray()).toEqual([
      [2, 1, 0],
      [5, 4, 3],
    ]);
    expect(await m.flip([]).toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(await xpu.tensor(3, { device }).flip(0).item()).toBe(3);
    expect(xpu.zeros([0, 2], { device }).flip(0).shape).toEqual([0, 2]);
    caught(() => m.flip(0, 0), xpu.XpuValueError);
    caught(() => m.flip(2), xpu.XpuIndexError);
  });

  it('roll: shifts along dims, or the flattened tensor', async () => {
    const r = x().roll([1, -2], [0, 2]);
    expect(Array.from(await r.data())).toEqual(build(SHAPE, (c) => at(VALUES, SHAPE, [(c[0] + 2) % 3, c[1], (c[2] + 2) % 5])));
    // torch.roll(arange(6).reshape(2, 3), 1) = [[5, 0, 1], [2, 3, 4]]; (1, 7) over (0, 1) = [[5, 3, 4], [2, 0, 1]].
    const m = xpu.arange(6, undefined, 1, { device, dtype: 'int32' }).reshape(2, 3);
    expect(await m.roll(1).toArray()).toEqual([
      [5, 0, 1],
      [2, 3, 4],
    ]);
    expect(await xpu.roll(m, [1, 7], [0, 1]).toArray()).toEqual([
      [5, 3, 4],
      [2, 0, 1],
    ]);
    expect(await m.roll([1, 1], [1, 1]).toArray()).toEqual([
      [1, 2, 0],
      [4, 5, 3],
    ]);
    expect(await m.roll(-1, 1).toArray()).toEqual([
      [1, 2, 0],
      [4, 5, 3],
    ]);
    expect(await m.roll(3, 1).toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(xpu.zeros([0], { device }).roll(3).shape).toEqual([0]);
    expect(await xpu.tensor(3, { device }).roll(1).item()).toBe(3);
    caught(() => m.roll([1, 2], [0]), xpu.XpuShapeError);
    caught(() => m.roll(1, 2), xpu.XpuIndexError);
  });

  /** pad's reference: each padded dim maps c to c - before, then mode's rule outside [0, n). */
  function padRef(data: number[], shape: number[], amounts: number[], mode: string, value = 0): { shape: number[]; data: number[] } {
    const k = amounts.length / 2;
    const out = shape.map((s, d) => {
      const j = shape.length - 1 - d;
      return j < k ? s + amounts[2 * j] + amounts[2 * j + 1] : s;
    });
    const values = build(out, (c) => {
      const src = c.slice();
      for (let j = 0; j < k; j++) {
        const d = shape.length - 1 - j;
        const n = shape[d];
        let s = c[d] - amounts[2 * j];
        if (s < 0 || s >= n) {
          if (mode === 'constant') return value;
          s = mode === 'replicate' ? Math.min(n - 1, Math.max(0, s)) : s < 0 ? -s : 2 * (n - 1) - s;
        }
        src[d] = s;
      }
      return at(data, shape, src);
    });
    return { shape: out, data: values };
  }

  it.each(['constant', 'reflect', 'replicate'] as const)(
    'pad %s: one, two and three dims, negative amounts, a strided input',
    async (mode) => {
      const cases: number[][] = [
        [2, 1],
        [1, 3, 2, 0],
        [-1, 2, 3, 1, 1, 2],
      ];
      for (const amounts of cases) {
        const ref = padRef(VALUES, SHAPE, amounts, mode, 7.5);
        const out = xpu.pad(x(), amounts, mode === 'constant' ? { mode, value: 7.5 } : { mode });
        expect(out.shape, `${mode} ${amounts}`).toEqual(ref.shape);
        expect(Array.from(await out.data()), `${mode} ${amounts}`).toEqual(ref.data);
      }
      // A transposed (non-contiguous) input, padded on its last two dims.
      const tv = build([5, 4, 3], (c) => at(VALUES, SHAPE, [c[2], c[1], c[0]]));
      const ref = padRef(tv, [5, 4, 3], [2, 1, 0, 3], mode);
      expect(Array.from(await xpu.pad(x().transpose(0, 2), [2, 1, 0, 3], { mode }).data())).toEqual(ref.data);
    },
  );

  it("size, dim, float, half, detach as torch's Tensor methods", async () => {
    const t = x();
    expect([t.size(), t.size(1), t.size(-1), t.dim(), xpu.tensor(1, { device }).dim()]).toEqual([[3, 4, 5], 4, 5, 3, 0]);
    caught(() => t.size(3), xpu.XpuIndexError);
    caught(() => xpu.tensor(1, { device }).size(0), xpu.XpuIndexError);
    const i = xpu.tensor([1, 2], { device, dtype: 'int32' });
    expect([i.float().dtype, Array.from(await i.float().data())]).toEqual(['float32', [1, 2]]);
    expect([i.half().dtype, Array.from(await i.half().data())]).toEqual(['float16', [1, 2]]);
    const f = xpu.tensor([1], { device });
    expect(f.float()).toBe(f); // already float32: the tensor itself, as torch
    const d = t.transpose(0, 2).detach();
    expect([d.shape, d.isContiguous()]).toEqual([[5, 4, 3], false]);
    d.dispose();
    expect(await t.sum().item()).toBe(VALUES.reduce((a, b) => a + b, 0)); // storage shared, still alive
  });

  it("pad: torch's results, dtypes and errors", async () => {
    const r = xpu.arange(3, undefined, 1, { device, dtype: 'float32' });
    // F.pad(arange(3.), (1, 2), value=7.5) = [7.5, 0, 1, 2, 7.5, 7.5]; (-1, 2) crops: [1, 2, 0, 0].
    expect(await xpu.pad(r, [1, 2], { value: 7.5 }).toArray()).toEqual([7.5, 0, 1, 2, 7.5, 7.5]);
    expect(await xpu.pad(r, [-1, 2]).toArray()).toEqual([1, 2, 0, 0]);
    // An int tensor takes the value as its dtype: F.pad(arange(3), (1, 2), value=7.5) = [7, 0, 1, 2, 7, 7].
    const ri = xpu.arange(3, undefined, 1, { device, dtype: 'int32' });
    expect(await xpu.pad(ri, [1, 2], { value: 7.5 }).toArray()).toEqual([7, 0, 1, 2, 7, 7]);
    // F.pad(arange(3.).reshape(1, 3), (2, 2), mode='reflect') = [[2, 1, 0, 1, 2, 1, 0]]; replicate (4, 4).
    const row = r.reshape(1, 3);
    expect(await xpu.pad(row, [2, 2], { mode: 'reflect' }).toArray()).toEqual([[2, 1, 0, 1, 2, 1, 0]]);
    expect(await xpu.pad(row, [4, 4], { mode: 'replicate' }).toArray()).toEqual([[0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2]]);
    // F.pad(arange(6.).reshape(1, 2, 3), (-1, 1), mode='reflect') = [[[1, 2, 1], [4, 5, 4]]]
    expect(
      await xpu.pad(xpu.arange(6, undefined, 1, { device, dtype: 'float32' }).reshape(1, 2, 3), [-1, 1], { mode: 'reflect' }).toArray(),
    ).toEqual([
      [
        [1, 2, 1],
        [4, 5, 4],
      ],
    ]);
    expect(await xpu.pad(xpu.zeros([0], { device }), [1, 1]).toArray()).toEqual([0, 0]);
    expect(xpu.pad(xpu.zeros([2, 0], { device }), [0, 0, 1, 1]).shape).toEqual([4, 0]);
    caught(() => xpu.pad(row, [3, 2], { mode: 'reflect' }), xpu.XpuValueError);
    caught(() => xpu.pad(r, [1]), xpu.XpuShapeError);
    caught(() => xpu.pad(r, [1, 1, 1, 1]), xpu.XpuShapeError);
    caught(() => xpu.pad(r, [-2, -2]), xpu.XpuShapeError);
    caught(() => xpu.pad(r, [1, 1], { mode: 'circular' as never }), xpu.XpuValueError);
    caught(() => xpu.pad(xpu.zeros([2, 0], { device }), [1, 1], { mode: 'replicate' }), xpu.XpuValueError);
  });
});
