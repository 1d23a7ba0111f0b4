import { describe, expect, it } from 'vitest';
import { expectClose, expectEqual, randomData, randomInts, testDevices, TOL, xpu } from './helpers.js';
import { gelu64 } from './float64.js';

const UNARY_REF: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => Math.max(0, x),
  silu: (x) => x / (1 + Math.exp(-x)),
  gelu: gelu64,
};

describe.each(testDevices())('elementwise on %s', (device) => {
  it.each(Object.keys(UNARY_REF))('%s matches float64 on odd sizes and views', async (name) => {
    for (const shape of [[1], [3], [17], [1000], [7, 33]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const positive = ['log', 'sqrt', 'rsqrt'].includes(name);
      const host = randomData(n, n + name.length).map((v) => (positive ? Math.abs(v) + 0.01 : v));
      const x = xpu.tensor(Float32Array.from(host), { device, shape });
      const out = (x as unknown as Record<string, () => xpu.Tensor>)[name]();
      const ref = Array.from(Float32Array.from(host), UNARY_REF[name]);
      expect(out.shape).toEqual(shape);
      expectClose(await out.data(), ref, 2e-6, `${name} ${shape}`);
    }
  });

  it('binary ops broadcast, including strided and expanded views', async () => {
    const a = randomData(4 * 5 * 6, 1);
    const b = randomData(5 * 1, 2).map((v) => v + 3);
    const ta = xpu.tensor(Float32Array.from(a), { device, shape: [4, 6, 5] }).transpose(1, 2); // [4, 5, 6], non-contiguous
    const tb = xpu.tensor(Float32Array.from(b), { device, shape: [5, 1] });
    const refA = (i: number, j: number, k: number) => Math.fround(a[i * 30 + k * 5 + j]);
    const refB = (j: number) => Math.fround(b[j]);
    const ops: Record<string, (x: number, y: number) => number> = {
      add: (x, y) => x + y,
      sub: (x, y) => x - y,
      mul: (x, y) => x * y,
      div: (x, y) => x / y,
      maximum: Math.max,
      minimum: Math.min,
      pow: (x, y) => Math.pow(Math.abs(x), y),
    };
    for (const [name, f] of Object.entries(ops)) {
      const lhs = name === 'pow' ? ta.abs() : ta;
      const out = (xpu as unknown as Record<string, (x: xpu.Tensor, y: xpu.Tensor) => xpu.Tensor>)[name](lhs, tb);
      expect(out.shape).toEqual([4, 5, 6]);
      const ref: number[] = [];
      for (let i = 0; i < 4; i++) for (let j = 0; j < 5; j++) for (let k = 0; k < 6; k++) ref.push(f(refA(i, j, k), refB(j)));
      expectClose(await out.data(), ref, 2e-6, name);
    }
  });

  it('comparisons return bool and where selects', async () => {
    const a = xpu.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { device },
    );
    const b = xpu.tensor([3, 2, 1], { device });
    expect(a.gt(b).dtype).toBe('bool');
    expect(await a.gt(b).toArray()).toEqual([
      [false, false, true],
      [true, true, true],
    ]);
    expect(await a.eq(b).toArray()).toEqual([
      [false, true, false],
      [false, false, false],
    ]);
    expect(await a.le(2).toArray()).toEqual([
      [true, true, false],
      [false, false, false],
    ]);
    expect(await xpu.where(a.gt(b), a, b.neg()).toArray()).toEqual([
      [-3, -2, 3],
      [4, 5, 6],
    ]);
  });

  it('integer arithmetic wraps like PyTorch and division is true division', async () => {
    const x = xpu.tensor(Int32Array.from([2147483647, -5, 7]), { device });
    expectEqual(await x.add(1).data(), [-2147483648, -4, 8]);
    expect(x.div(2).dtype).toBe('float32');
    expectEqual(await x.div(2).data(), Float32Array.from([2147483647 / 2, -2.5, 3.5]));
    const u8 = xpu.tensor(Uint8Array.from([250, 3, 0]), { device });
    expectEqual(await u8.add(10).data(), [4, 13, 10]);
    expectEqual(await u8.sub(4).data(), [246, 255, 252]);
    const i8 = xpu.tensor(Int8Array.from([127, -128, 5]), { device });
    expectEqual(await i8.mul(2).data(), [-2, 0, 10]);
    expectEqual(
      await xpu
        .tensor(Int32Array.from([2, -3, 5]), { device })
        .pow(3)
        .data(),
      [8, -27, 125],
    );
    const ints = randomInts(1000, 5, -1000, 1000);
    const t = xpu.tensor(ints, { device });
    expectEqual(
      await t.mul(t).data(),
      Array.from(ints, (v) => Math.imul(v, v)),
    );
  });

  it('float16 stays within f16 bounds and promotes with float32', async () => {
    const host = randomData(1000, 9);
    const h = xpu.tensor(Float32Array.from(host), { device, dtype: 'float16' });
    const f = xpu.tensor(Float32Array.from(host), { device });
    expect(h.add(f).dtype).toBe('float32');
    expect(h.mul(2.5).dtype).toBe('float16');
    expectClose(
      await h.mul(2.5).exp().data(),
      Array.from(host, (v) => Math.exp(v * 2.5)),
      TOL.float16,
    );
  });

  it('scalars follow PyTorch promotion', async () => {
    const i = xpu.tensor(Int32Array.from([1, 2]), { device });
    expect(i.add(1).dtype).toBe('int32');
    expect(i.add(0.5).dtype).toBe('float32');
    expectEqual(await i.add(0.5).data(), [1.5, 2.5]);
    expectEqual(await xpu.sub(10, i).data(), [9, 8]);
  });

  it('0-d tensors promote like torch: within their category they do not widen a dimensioned tensor', async () => {
    const zero = (v: number, dtype: xpu.DType) => xpu.tensor(v, { device, dtype });
    expect(zero(1, 'float32').shape).toEqual([]);
    // torch: float16[3] + float32 0-d 0.1 is float16 [1.099609375, 2.099609375, 3.099609375]
    // (the 0-d value is rounded to float16 first).
    const h = xpu.tensor([1, 2, 3], { device, dtype: 'float16' });
    const hs = h.add(zero(0.1, 'float32'));
    expect(hs.dtype).toBe('float16');
    expectEqual(await hs.data(), [1.099609375, 2.099609375, 3.099609375]);
    // torch: int8 [1, 50] + int32 0-d 300 is int8 [45, 94]; int8 [1, 50] < int32 0-d 300 is
    // [True, False] (300 is cast to int8, 44, first); maximum gives [44, 50].
    const i8 = xpu.tensor(Int8Array.from([1, 50]), { device });
    const big = zero(300, 'int32');
    expect(i8.add(big).dtype).toBe('int8');
    expectEqual(await i8.add(big).data(), [45, 94]);
    expect(await i8.lt(big).toArray()).toEqual([true, false]);
    expectEqual(await xpu.maximum(i8, big).data(), [44, 50]);
    // A higher category does promote: int8 + float16 0-d is float16, int32 + float32 0-d float32.
    expect(i8.add(zero(1.5, 'float16')).dtype).toBe('float16');
    expectEqual(await i8.add(zero(1.5, 'float16')).data(), [2.5, 51.5]);
    expect(xpu.tensor(Int32Array.from([1, 2]), { device }).add(zero(1.5, 'float32')).dtype).toBe('float32');
    // bool + uint8 0-d is uint8; two 0-d tensors promote as full tensors (float16 + float32: float32).
    expect(xpu.tensor([true, false], { device }).mul(zero(3, 'uint8')).dtype).toBe('uint8');
    expect(zero(1, 'float16').add(zero(1, 'float32')).dtype).toBe('float32');
    // where: int8 values with a float32 0-d other are float32 (torch).
    const w = xpu.where(xpu.tensor([true, false], { device }), i8, zero(2.5, 'float32'));
    expect(w.dtype).toBe('float32');
    expectEqual(await w.data(), [1, 2.5]);
  });

  it('JS scalars are cast to the result dtype, as torch casts Python scalars', async () => {
    // torch: uint8 [1, 2] < -1 is [True, True] (-1 is 255 as uint8), uint8 [1, 2] + -1 is uint8 [0, 1].
    const u8 = xpu.tensor(Uint8Array.from([1, 2]), { device });
    expect(await u8.lt(-1).toArray()).toEqual([true, true]);
    expect(u8.add(-1).dtype).toBe('uint8');
    expectEqual(await u8.add(-1).data(), [0, 1]);
    // torch: float16 tensor == 0.1 compares with float16(0.1).
    const h = xpu.tensor([0.1, 0.2], { device, dtype: 'float16' });
    expect(await h.eq(0.1).toArray()).toEqual([true, false]);
    // bool * True stays bool; bool * 2 is an integer (int32 here, torch's int64).
    const b = xpu.tensor([true, false], { device });
    expect(b.mul(true).dtype).toBe('bool');
    expect(b.mul(2).dtype).toBe('int32');
    expect(xpu.tensor(Int8Array.from([1, 2]), { device }).mul(2.5).dtype).toBe('float32');
    expect(h.mul(2.5).dtype).toBe('float16');
  });

  it('special values: NaN propagates through maximum, pow edge cases', async () => {
    const x = xpu.tensor([NaN, 1, -8, 0], { device });
    const m = await xpu.maximum(x, 0).data();
    expect(Number.isNaN(m[0])).toBe(true);
    expectEqual(Array.from(m).slice(1), [1, 0, 0]);
    const p = await x.pow(xpu.tensor([2, 0, 3, -1], { device })).data();
    expect(Number.isNaN(p[0])).toBe(true);
    expectEqual(Array.from(p).slice(1), [1, -512, Infinity]);
    expect(Number.isNaN((await xpu.tensor([-8], { device }).pow(0.5).data())[0])).toBe(true);
  });

  it('the empty tensor', async () => {
    const e = xpu.zeros([0, 3], { device });
    const r = e.add(1).exp();
    expect(r.shape).toEqual([0, 3]);
    expect((await r.data()).length).toBe(0);
  });
});
