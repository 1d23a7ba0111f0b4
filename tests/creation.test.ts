import { describe, expect, it } from 'vitest';
import { philox } from '../src/ops/random.js';
import type { DType } from '../src/tensor/dtype.js';
import { expectClose, expectEqual, randomData, randomInts, relErr, rng, testDevices, xpu } from './helpers.js';

const DTYPES: DType[] = ['float32', 'float16', 'int32', 'uint32', 'int8', 'uint8', 'bool'];

/** IEEE binary16 rounding (nearest, ties to even), written independently of src/tensor/dtype.ts. */
function f16Round(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  const e = Math.max(Math.floor(Math.log2(a)), -14); // subnormals share the smallest exponent
  const quantum = 2 ** (e - 10);
  const q = a / quantum;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const out = r * quantum;
  return Math.sign(v) * (out >= 65520 ? Infinity : out);
}

/** PyTorch's cast of one value: floats truncate toward zero and integers wrap (through int64). */
function refCast(v: number, to: DType): number {
  switch (to) {
    case 'float32':
      return Math.fround(v);
    case 'float16':
      return f16Round(Math.fround(v));
    case 'bool':
      return v !== 0 ? 1 : 0;
    default: {
      const bits = to === 'int8' || to === 'uint8' ? 8 : 32;
      const m = 2 ** bits;
      const u = ((Math.trunc(v) % m) + m) % m;
      return to.startsWith('u') || u < m / 2 ? u : u - m;
    }
  }
}

/** Source values per dtype for the cast test: fractions, negatives, zero and wrapping values. */
function castSource(dtype: DType): number[] {
  const ints = (lo: number, hi: number) => Array.from(randomInts(40, DTYPES.indexOf(dtype) + 1, lo, hi));
  switch (dtype) {
    // |x| <= 127.9 so float -> int8 is defined in PyTorch; negatives show uint8's wrap.
    case 'float32':
      return [0, -0.5, 0.5, -1, 1.9999, -127.9, 127.9, 100.25, ...Array.from(randomData(40, 3, 40))];
    case 'float16':
      return [0, -0.5, 1.5, -1, 127.5, -128, ...ints(-2047, 2047).map((v) => v / 16)];
    case 'int32':
      return [0, -1, 1, 255, 256, -129, 65504, 70000, -2147483648, 2147483647, 16777217, ...ints(-2e9, 2e9)];
    case 'uint32':
      return [0, 1, 255, 256, 2147483648, 4294967295, 16777217, ...ints(0, 2e9)];
    case 'int8':
      return [0, -1, 127, -128, ...ints(-128, 127)];
    case 'uint8':
      return [0, 1, 127, 128, 255, ...ints(0, 255)];
    case 'bool':
      return [0, 1, 1, 0, ...ints(0, 1)];
  }
}

describe.each(testDevices())('creation on %s', (device) => {
  it('tensor() from nested arrays, TypedArrays, booleans and with a shape', async () => {
    const nested = xpu.tensor(
      [
        [1.5, -2],
        [3, 4.25],
        [0, 7],
      ],
      { device },
    );
    expect(nested.shape).toEqual([3, 2]);
    expect(nested.dtype).toBe('float32');
    expect(await nested.toArray()).toEqual([
      [1.5, -2],
      [3, 4.25],
      [0, 7],
    ]);
    const three = xpu.tensor(
      [
        [[1], [2]],
        [[3], [4]],
      ],
      { device, dtype: 'int8' },
    );
    expect(three.shape).toEqual([2, 2, 1]);
    expectEqual(await three.data(), [1, 2, 3, 4]);
    const typed: [ArrayLike<number>, DType][] = [
      [Float32Array.from([1.25, -3]), 'float32'],
      [Float64Array.from([0.1, 2]), 'float32'],
      [Int32Array.from([-5, 2 ** 31 - 1]), 'int32'],
      [Uint32Array.from([4294967295, 3]), 'uint32'],
      [Int8Array.from([-128, 127]), 'int8'],
      [Uint8Array.from([255, 0]), 'uint8'],
      [Int16Array.from([-300, 7]), 'int32'],
      [Uint16Array.from([65535, 1]), 'uint32'],
    ];
    for (const [arr, dtype] of typed) {
      const t = xpu.tensor(arr, { device });
      expect(t.dtype, arr.constructor.name).toBe(dtype);
      expectEqual(
        await t.data(),
        Array.from(arr, (v) => (dtype === 'float32' ? Math.fround(v) : v)),
        arr.constructor.name,
      );
    }
    const b = xpu.tensor([[true, false, true]], { device });
    expect(b.dtype).toBe('bool');
    expect(await b.toArray()).toEqual([[true, false, true]]);
    const shaped = xpu.tensor(
      Int32Array.from({ length: 12 }, (_, i) => i * 3 - 7),
      { device, shape: [3, 1, 4] },
    );
    expect(shaped.shape).toEqual([3, 1, 4]);
    expect(await shaped.toArray()).toEqual([[[-7, -4, -1, 2]], [[5, 8, 11, 14]], [[17, 20, 23, 26]]]);
    const flatShaped = xpu.tensor([1, 2, 3, 4, 5, 6], { device, shape: [2, 3], dtype: 'uint8' });
    expect(await flatShaped.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const scalar = xpu.tensor(2.5, { device });
    expect(scalar.shape).toEqual([]);
    expect(await scalar.item()).toBe(2.5);
    const empty = xpu.tensor([], { device });
    expect(empty.shape).toEqual([0]);
    expect((await empty.data()).length).toBe(0);
    expect(() => xpu.tensor([1, 2, 3], { device, shape: [2, 2] })).toThrow(xpu.XpuShapeError);
    expect(() => xpu.tensor([[1, 2], [3]], { device })).toThrow(xpu.XpuShapeError);
    expect(() => xpu.tensor([1, 'a' as never], { device })).toThrow(xpu.XpuValueError);
  });

  it.each(DTYPES)('zeros, ones and full of %s', async (dtype) => {
    for (const shape of [[1], [3], [17], [1000], [2, 3, 5], [0, 4], []]) {
      const n = shape.reduce((a, b) => a * b, 1);
      for (const [t, v] of [
        [xpu.zeros(shape, { device, dtype }), 0],
        [xpu.ones(shape, { device, dtype }), 1],
      ] as const) {
        expect(t.shape).toEqual(shape);
        expect(t.dtype).toBe(dtype);
        expectEqual(await t.data(), new Array(n).fill(v), `${dtype} ${shape}`);
      }
    }
    const value = dtype === 'bool' ? 1 : -3.75;
    const f = xpu.full([3, 17], value, { device, dtype });
    expectEqual(await f.data(), new Array(51).fill(refCast(value, dtype)), `full ${dtype}`);
  });

  it('full infers bool and float32, and casts its value', async () => {
    expect(xpu.full([2], true, { device }).dtype).toBe('bool');
    expect(xpu.full([2], 3, { device }).dtype).toBe('float32');
    expectEqual(await xpu.full([3], 300, { device, dtype: 'uint8' }).data(), [44, 44, 44]);
    expectEqual(await xpu.full([2], -2.9, { device, dtype: 'int32' }).data(), [-2, -2]);
    expect(await xpu.full([2], 0.1, { device, dtype: 'bool' }).toArray()).toEqual([true, true]);
  });

  it('arange with integer and float steps, negative steps and empty ranges', async () => {
    const cases: [number, number | undefined, number, number[]][] = [
      [5, undefined, 1, [0, 1, 2, 3, 4]],
      [2, 11, 3, [2, 5, 8]],
      [10, 0, -3, [10, 7, 4, 1]],
      [-3, 2, 1, [-3, -2, -1, 0, 1]],
      [5, 0, 1, []],
      [0, 5, -1, []],
    ];
    for (const [a, b, step, ref] of cases) {
      const t = xpu.arange(a, b, step, { device });
      expect(t.dtype).toBe('int32');
      expectEqual(await t.data(), ref, `arange(${a}, ${b}, ${step})`);
    }
    const floats: [number, number, number][] = [
      [0, 1, 0.1],
      [1, -1, -0.3],
      [-2.5, 7, 0.37],
      [0, 1000, 1.5],
    ];
    for (const [a, b, step] of floats) {
      const n = Math.ceil((b - a) / step);
      const t = xpu.arange(a, b, step, { device });
      expect(t.dtype).toBe('float32');
      expect(t.shape).toEqual([n]);
      // PyTorch computes start + i * step in double; the GPU's f32 arithmetic is within a few ulp.
      expectClose(
        await t.data(),
        Array.from({ length: n }, (_, i) => a + i * step),
        1e-6,
        `arange(${a}, ${b}, ${step})`,
      );
    }
    expectEqual(await xpu.arange(0, 5, 1, { device, dtype: 'float16' }).data(), [0, 1, 2, 3, 4]);
    expectEqual(await xpu.arange(3, -3, -2, { device, dtype: 'int8' }).data(), [3, 1, -1]);
    expect(() => xpu.arange(0, 5, 0, { device })).toThrow(xpu.XpuValueError);
  });

  it('linspace with 0, 1, 2 and many steps', async () => {
    expect(xpu.linspace(0, 1, 0, { device }).shape).toEqual([0]);
    expectEqual(await xpu.linspace(3, 10, 1, { device }).data(), [3]);
    expectEqual(await xpu.linspace(3, 10, 2, { device }).data(), [3, 10]);
    expectEqual(await xpu.linspace(-1, 1, 5, { device }).data(), [-1, -0.5, 0, 0.5, 1]);
    for (const [a, b, n] of [
      [0, 1, 3],
      [-2.5, 7.25, 17],
      [10, -10, 1000],
    ]) {
      const t = await xpu.linspace(a, b, n, { device }).data();
      expectClose(
        t,
        Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1)),
        1e-6,
        `linspace(${a}, ${b}, ${n})`,
      );
      expect(t[0]).toBe(Math.fround(a));
      expect(t[n - 1]).toBe(Math.fround(b));
    }
    expectEqual(await xpu.linspace(0, 10, 4, { device, dtype: 'int32' }).data(), [0, 3, 6, 10]);
    expect(() => xpu.linspace(0, 1, -1, { device })).toThrow(xpu.XpuValueError);
  });

  it('eye, square and n x m', async () => {
    for (const [n, m] of [
      [1, 1],
      [3, 3],
      [2, 5],
      [5, 2],
      [0, 3],
      [17, 17],
    ]) {
      const t = xpu.eye(n, m, { device });
      expect(t.shape).toEqual([n, m]);
      expectEqual(
        await t.data(),
        Array.from({ length: n * m }, (_, i) => (Math.floor(i / m) === i % m ? 1 : 0)),
        `eye(${n}, ${m})`,
      );
    }
    expect(await xpu.eye(2, undefined, { device, dtype: 'int8' }).toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  it.each(DTYPES)('casts from %s to every dtype', async (from) => {
    const src = castSource(from);
    const x = xpu.tensor(Float64Array.from(src), { device, dtype: from });
    const stored = src.map((v) => refCast(v, from));
    expectEqual(await x.data(), stored, `${from} as stored`);
    for (const to of DTYPES) {
      const y = x.to(to);
      expect(y.dtype).toBe(to);
      const ref = stored.map((v) => refCast(v, to));
      const out = await y.data();
      // Rounding to float16 may differ by an ulp on a GPU; everything else is exact.
      if (to === 'float16' && from !== 'float16') expectClose(out, ref, 1e-3, `${from} -> ${to}`);
      else expectEqual(out, ref, `${from} -> ${to}`);
    }
    // A strided view casts too.
    expectEqual(
      await x.slice(0, 1, undefined, 3).to('int32').data(),
      stored.filter((_, i) => i % 3 === 1).map((v) => refCast(v, 'int32')),
      `${from} view`,
    );
  });

  it('cast edge cases: truncation toward zero, uint8 wrap, bool of NaN, f16 overflow', async () => {
    const f = xpu.tensor([-1, -2.7, 2.7, -0.5, 255.9, -256], { device });
    expectEqual(await f.to('uint8').data(), [255, 254, 2, 0, 255, 0]);
    expectEqual(await f.to('int32').data(), [-1, -2, 2, 0, 255, -256]);
    expectEqual(await f.to('int8').data(), [-1, -2, 2, 0, -1, 0]);
    expect(await xpu.tensor([NaN, 0, -0, 0.25, Infinity], { device }).to('bool').toArray()).toEqual([true, false, false, true, true]);
    const f16 = xpu.tensor([65520, 65504, -65520, 1e-8, 2049, 0.1], { device }).to('float16');
    expectEqual(await f16.data(), [Infinity, 65504, -Infinity, 0, 2048, f16Round(0.1)]);
  });

  it('float16 round trip keeps representable values', async () => {
    const r = rng(7);
    // Random f16 values across the exponent range, normals and subnormals.
    const values = Array.from({ length: 1000 }, () => f16Round((r() - 0.5) * 2 ** Math.floor(r() * 40 - 24)));
    values.push(65504, -65504, 2 ** -24, 0.5, 1, 2048);
    const h = xpu.tensor(Float32Array.from(values), { device, dtype: 'float16' });
    expectEqual(await h.data(), values, 'host -> f16');
    expectEqual(await h.to('float32').to('float16').data(), values, 'f16 -> f32 -> f16');
    expectEqual(await xpu.tensor(Float32Array.from(values), { device }).to('float16').data(), values, 'f32 -> f16 on device');
    expect(await xpu.tensor([65520], { device, dtype: 'float16' }).item()).toBe(Infinity);
  });

  it('data, toArray and item', async () => {
    const x = xpu.tensor(
      Int32Array.from({ length: 24 }, (_, i) => i * 7 - 50),
      { device, shape: [2, 3, 4] },
    );
    const ref = (i: number, j: number, k: number) => (i * 12 + j * 4 + k) * 7 - 50;
    expect(await x.toArray()).toEqual([0, 1].map((i) => [0, 1, 2].map((j) => [0, 1, 2, 3].map((k) => ref(i, j, k)))));
    const d = await x.data();
    expect(d).toBeInstanceOf(Int32Array);
    expect(d.length).toBe(24);
    // A view with an offset and strides reads back in its own row-major order.
    const v = x.select(0, 1).narrow(1, 1, 2).T; // [2, 3]
    expect(await v.toArray()).toEqual([1, 2].map((k) => [0, 1, 2].map((j) => ref(1, j, k))));
    const tail = x.view(24).narrow(0, 5, 3);
    expectEqual(
      await tail.data(),
      [5, 6, 7].map((i) => i * 7 - 50),
    );
    expect(await x.select(0, 1).select(0, 2).select(0, 3).item()).toBe(ref(1, 2, 3));
    expect(await xpu.tensor([true], { device }).item()).toBe(true);
    expect(await xpu.tensor([1.5], { device, dtype: 'float16' }).data()).toBeInstanceOf(Float32Array);
    await expect(x.item()).rejects.toBeInstanceOf(xpu.XpuValueError);
    const i8 = xpu.tensor(Int8Array.from([-1, 2, -3]), { device });
    expectEqual(await i8.narrow(0, 1, 2).data(), [2, -3]);
  });
});

describe.each(testDevices())('random numbers on %s', (device) => {
  it('rand is in [0, 1) and matches Philox4x32-10 element by element', async () => {
    // Known answer from the Random123 paper: counter 0, key 0.
    expect(philox(0, 0, 0, 0)).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    xpu.manualSeed(0);
    const n = 100_000;
    const u = await xpu.rand([n], { device }).data();
    let min = 1,
      max = 0,
      sum = 0;
    for (const v of u) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    // Element i uses counter i (offset 0 after the seed) and keeps 24 bits of the first word.
    for (const i of [0, 1, 2, 999, n - 1]) expect(u[i]).toBe((philox(i, 0, 0, 0)[0] >>> 8) * 2 ** -24);
  });

  it('successive calls differ, the seed repeats, shapes and dtypes', async () => {
    xpu.manualSeed(1234);
    const a = await xpu.rand([3, 17], { device }).data();
    const b = await xpu.rand([3, 17], { device }).data();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    xpu.manualSeed(1234);
    expectEqual(await xpu.rand([3, 17], { device }).data(), a);
    expectEqual(await xpu.rand([3, 17], { device }).data(), b);
    xpu.manualSeed(1234);
    const n1 = await xpu.randn([1000], { device }).data();
    xpu.manualSeed(1234);
    expectEqual(await xpu.randn([1000], { device }).data(), n1);
    expect(xpu.rand([2, 0], { device }).shape).toEqual([2, 0]);
    // float16 draws stay below 1 too (24 random bits would round up to 1.0 about once in 4096).
    const h = xpu.rand([100_000], { device, dtype: 'float16' });
    expect(h.dtype).toBe('float16');
    const hv = await h.data();
    expect(Math.max(...hv)).toBeLessThan(1);
    expect(Math.min(...hv)).toBeGreaterThanOrEqual(0);
    expect(new Set(hv).size).toBeGreaterThan(1000);
    const scaled = await xpu.rand([1000], { device, low: -3, high: 5 }).data();
    for (const v of scaled) expect(v >= -3 && v < 5).toBe(true);
    expect(() => xpu.rand([2], { device, dtype: 'int32' })).toThrow(xpu.XpuValueError);
    expect(() => xpu.manualSeed(-1)).toThrow(xpu.XpuValueError);
  });

  it('randn of 100k samples has mean ~0 and std ~1', async () => {
    xpu.manualSeed(42);
    const z = await xpu.randn([100_000], { device }).data();
    let s = 0,
      s2 = 0;
    for (const v of z) {
      s += v;
      s2 += v * v;
    }
    const mean = s / z.length;
    const std = Math.sqrt(s2 / z.length - mean * mean);
    // Standard errors are 0.003 (mean) and 0.002 (std): these bounds are ~6 of them.
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std - 1)).toBeLessThan(0.015);
    const shifted = await xpu.randn([10_000], { device, mean: 3, std: 0.5 }).data();
    const m2 = Array.from(shifted).reduce((a, v) => a + v, 0) / shifted.length;
    expect(Math.abs(m2 - 3)).toBeLessThan(0.05);
  });
});

describe.runIf(testDevices().includes('xpu'))('cpu and xpu together', () => {
  it('after manualSeed(0) cpu and xpu draw the same numbers', async () => {
    xpu.manualSeed(0);
    const rc = await xpu.rand([1000], { device: 'cpu' }).data();
    const nc = await xpu.randn([4097], { device: 'cpu' }).data();
    xpu.manualSeed(0);
    const rx = await xpu.rand([1000], { device: 'xpu' }).data();
    const nx = await xpu.randn([4097], { device: 'xpu' }).data();
    expectEqual(rx, rc, 'rand bit for bit');
    expect(relErr(nx, nc)).toBeLessThan(1e-5);
  });

  it('moves cpu -> xpu with to() and back with await cpu()', async () => {
    for (const dtype of DTYPES) {
      const values = castSource(dtype).map((v) => refCast(v, dtype));
      const c = xpu.tensor(Float64Array.from(values), { device: 'cpu', dtype, shape: [values.length] });
      const g = c.to('xpu');
      expect(g.device.type).toBe('xpu');
      expect(g.dtype).toBe(dtype);
      expectEqual(await g.data(), values, `${dtype} on xpu`);
      const back = await g.cpu();
      expect(back.device.type).toBe('cpu');
      expectEqual(await back.data(), values, `${dtype} back on cpu`);
      // An odd-length strided view with an offset moves too.
      const view = c.slice(0, 1, undefined, 2);
      expectEqual(
        await view.to('xpu').data(),
        values.filter((_, i) => i % 2 === 1),
        `${dtype} view to xpu`,
      );
      expectEqual(
        await (await g.slice(0, 3, undefined, 3).cpu()).data(),
        values.filter((_, i) => i >= 3 && i % 3 === 0),
        `${dtype} view to cpu`,
      );
    }
    const g = xpu.ones([2], { device: 'xpu' });
    expect(() => g.to('cpu')).toThrow(xpu.XpuValueError);
    const cast = await g.toAsync({ device: 'cpu', dtype: 'int8' });
    expect(cast.dtype).toBe('int8');
    expect(cast.device.type).toBe('cpu');
    expectEqual(await cast.data(), [1, 1]);
    const both = xpu.tensor([1.5, -2], { device: 'cpu' }).to({ device: 'xpu', dtype: 'float16' });
    expect(both.device.type).toBe('xpu');
    expectEqual(await both.data(), [1.5, -2]);
  });
});
