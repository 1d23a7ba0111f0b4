import { describe, expect, it } from 'vitest';
import { contiguousStrides, expectClose, expectEqual, randomData, testDevices, TOL, xpu } from './helpers.js';
import { poison, viewHost } from './reference.js';

/** float64 reference of a row op applied along `dim` of row-major data of `shape`. */
function alongDim(data: ArrayLike<number>, shape: number[], dim: number, f: (row: number[]) => number[]): number[] {
  const d = dim < 0 ? dim + shape.length : dim;
  const cs = contiguousStrides(shape);
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    if (Math.floor(i / cs[d]) % shape[d] !== 0) continue; // visit each row from its first element
    const idx = Array.from({ length: shape[d] }, (_, j) => i + j * cs[d]);
    f(idx.map((k) => data[k])).forEach((v, j) => (out[idx[j]] = v));
  }
  return out;
}

const softmaxRef = (r: number[]): number[] => {
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const logSoftmaxRef = (r: number[]): number[] => {
  const m = Math.max(...r);
  const ls = Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0));
  return r.map((v) => v - m - ls);
};

/** LayerNorm (center = true) or RMSNorm over rows of length n, with optional weight/bias. */
function normRef(
  data: ArrayLike<number>,
  n: number,
  eps: number,
  center: boolean,
  weight?: ArrayLike<number>,
  bias?: ArrayLike<number>,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < data.length / n; r++) {
    const row = Array.from({ length: n }, (_, j) => data[r * n + j]);
    const mean = center ? row.reduce((a, b) => a + b, 0) / n : 0;
    const inv = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mean) ** 2, 0) / n + eps);
    row.forEach((v, j) => out.push((v - mean) * inv * (weight ? weight[j] : 1) + (bias ? bias[j] : 0)));
  }
  return out;
}

describe.each(testDevices())('normalisations on %s', (device) => {
  it('softmax and logSoftmax over the last dim, odd and long rows (> 64, > 4096)', async () => {
    for (const shape of [[1], [3], [17], [4, 1000], [2, 5000], [3, 1]]) {
      const host = Float32Array.from(
        randomData(
          shape.reduce((a, b) => a * b, 1),
          shape.length * 100 + shape[shape.length - 1],
          3,
        ),
      );
      const x = xpu.tensor(host, { device, shape });
      poison(device, host.length);
      const p = x.softmax(-1);
      expect(p.shape).toEqual(shape);
      expect(p.dtype).toBe('float32');
      expectClose(await p.data(), alongDim(host, shape, -1, softmaxRef), TOL.float32, `softmax ${shape}`);
      poison(device, host.length);
      expectClose(
        await xpu.logSoftmax(x, shape.length - 1).data(),
        alongDim(host, shape, -1, logSoftmaxRef),
        TOL.float32,
        `logSoftmax ${shape}`,
      );
    }
  });

  it('softmax over a middle and a first dim writes the original layout', async () => {
    const shape = [3, 17, 5];
    const host = Float32Array.from(randomData(3 * 17 * 5, 40, 2));
    const x = xpu.tensor(host, { device, shape });
    for (const dim of [1, 0, -2]) {
      poison(device, host.length);
      const p = xpu.softmax(x, dim);
      expect(p.shape).toEqual(shape);
      expect(p.isContiguous()).toBe(true);
      expectClose(await p.data(), alongDim(host, shape, dim, softmaxRef), TOL.float32, `softmax dim ${dim}`);
      expectClose(await x.logSoftmax(dim).data(), alongDim(host, shape, dim, logSoftmaxRef), TOL.float32, `logSoftmax dim ${dim}`);
    }
  });

  it('non-contiguous inputs: transposed, sliced and expanded', async () => {
    const base = Float32Array.from(randomData(20 * 30, 41, 2));
    const b = xpu.tensor(base, { device, shape: [20, 30] });
    const cases: [string, xpu.Tensor, Float64Array][] = [
      ['transpose', b.T, viewHost(base, [30, 20], [1, 30])],
      ['slice', b.slice(1, 2, 29, 3), viewHost(base, [20, 9], [30, 3], 2)],
      ['expand', b.slice(0, 4, 5).expand(6, 30), viewHost(base, [6, 30], [0, 1], 120)],
    ];
    for (const [what, t, host] of cases) {
      const sh = t.shape.slice();
      for (const dim of [0, 1]) {
        expectClose(await t.softmax(dim).data(), alongDim(host, sh, dim, softmaxRef), TOL.float32, `softmax ${what} ${dim}`);
      }
      const n = sh[1];
      expectClose(await t.layerNorm([n]).data(), normRef(host, n, 1e-5, true), TOL.float32, `layerNorm ${what}`);
      expectClose(await t.rmsNorm([n], { eps: 1e-6 }).data(), normRef(host, n, 1e-6, false), TOL.float32, `rmsNorm ${what}`);
    }
  });

  it('-Infinity entries get probability 0; a row of only -Infinity gives NaN (PyTorch)', async () => {
    const x = xpu.tensor(
      [
        [0, -Infinity, 1, -Infinity],
        [-Infinity, -Infinity, -Infinity, -Infinity],
        [2, 2, 2, 2],
      ],
      { device },
    );
    const p = await x.softmax(1).data();
    expectClose(Array.from(p).slice(0, 4), softmaxRef([0, -Infinity, 1, -Infinity]), TOL.float32, 'partly -inf');
    expect(Array.from(p).slice(4, 8).every(Number.isNaN)).toBe(true);
    expectEqual(Array.from(p).slice(8), [0.25, 0.25, 0.25, 0.25]);
    const lp = await x.logSoftmax(-1).data();
    expectClose(Array.from(lp).slice(0, 4), logSoftmaxRef([0, -Infinity, 1, -Infinity]), TOL.float32, 'log partly -inf');
    expect(Array.from(lp).slice(4, 8).every(Number.isNaN)).toBe(true);
    // A long masked row (as causal attention makes): the mask spans several workgroup lanes.
    const host = Float32Array.from(randomData(300, 5));
    for (let j = 100; j < 300; j++) host[j] = -Infinity;
    expectClose(await xpu.tensor(host, { device }).softmax(0).data(), softmaxRef(Array.from(host)), TOL.float32, 'masked row');
  });

  it('a NaN in a row makes the whole row NaN, other rows untouched', async () => {
    const x = xpu.tensor(
      [
        [1, NaN, 3],
        [0.5, -1, 2],
      ],
      { device },
    );
    for (const out of [x.softmax(1), x.logSoftmax(1), x.layerNorm([3]), x.rmsNorm([3])]) {
      const d = Array.from(await out.data());
      expect(d.slice(0, 3).every(Number.isNaN)).toBe(true);
      expect(d.slice(3).every(Number.isFinite)).toBe(true);
    }
  });

  it('9-d inputs (more dims than a GPU kernel indexes) work once dims merge', async () => {
    const shape = [2, 1, 2, 3, 2, 1, 2, 2, 3];
    const n = shape.reduce((a, b) => a * b, 1);
    const host = Float32Array.from(randomData(n, 90));
    const x = xpu.tensor(host, { device, shape });
    expectClose(await x.softmax(3).data(), alongDim(host, shape, 3, softmaxRef), TOL.float32, 'softmax 9-d');
    expectClose(await x.layerNorm([2, 2, 3]).data(), normRef(host, 12, 1e-5, true), TOL.float32, 'layerNorm 9-d');
  });

  it('float16 inputs give float16 outputs', async () => {
    const x = xpu.tensor(Float32Array.from(randomData(6 * 70, 12, 2)), { device, shape: [6, 70], dtype: 'float16' });
    const host = await x.data();
    const w = Float32Array.from(randomData(70, 13));
    const p = x.softmax(1);
    expect(p.dtype).toBe('float16');
    expectClose(await p.data(), alongDim(host, [6, 70], 1, softmaxRef), TOL.float16, 'softmax f16');
    expectClose(await x.logSoftmax(0).data(), alongDim(host, [6, 70], 0, logSoftmaxRef), TOL.float16, 'logSoftmax f16');
    const ln = x.layerNorm([70], { weight: xpu.tensor(w, { device }) });
    expect(ln.dtype).toBe('float16');
    expectClose(await ln.data(), normRef(host, 70, 1e-5, true, w), TOL.float16, 'layerNorm f16');
    expectClose(await x.rmsNorm([6, 70]).data(), normRef(host, 420, 2 ** -10, false), TOL.float16, 'rmsNorm f16');
  });

  it('layerNorm over 1 and 2 trailing dims, with and without weight and bias', async () => {
    const shape = [4, 7, 33];
    const host = Float32Array.from(randomData(4 * 7 * 33, 50, 3).map((v) => v + 1.5));
    const x = xpu.tensor(host, { device, shape });
    for (const ns of [[33], [7, 33]]) {
      const n = ns.reduce((a, b) => a * b, 1);
      const w = Float32Array.from(randomData(n, 51));
      const bias = Float32Array.from(randomData(n, 52));
      const tw = xpu.tensor(w, { device, shape: ns });
      const tb = xpu.tensor(bias, { device, shape: ns });
      for (const [what, opts, ref] of [
        ['plain', {}, normRef(host, n, 1e-5, true)],
        ['weight', { weight: tw }, normRef(host, n, 1e-5, true, w)],
        ['weight+bias', { weight: tw, bias: tb }, normRef(host, n, 1e-5, true, w, bias)],
        ['bias, eps 0.1', { bias: tb, eps: 0.1 }, normRef(host, n, 0.1, true, undefined, bias)],
      ] as const) {
        poison(device, host.length);
        const out = xpu.layerNorm(x, ns, opts);
        expect(out.shape).toEqual(shape);
        expectClose(await out.data(), ref, TOL.float32, `layerNorm ${ns} ${what}`);
      }
    }
  });

  it('rmsNorm over 1 and 2 trailing dims, default eps is finfo(dtype).eps', async () => {
    const shape = [5, 3, 40];
    const host = Float32Array.from(randomData(5 * 3 * 40, 60));
    const x = xpu.tensor(host, { device, shape });
    for (const ns of [[40], [3, 40]]) {
      const n = ns.reduce((a, b) => a * b, 1);
      const w = Float32Array.from(randomData(n, 61));
      poison(device, host.length);
      expectClose(await x.rmsNorm(ns, { eps: 1e-6 }).data(), normRef(host, n, 1e-6, false), TOL.float32, `rmsNorm ${ns}`);
      expectClose(
        await x.rmsNorm(ns, { weight: xpu.tensor(w, { device, shape: ns }), eps: 1e-6 }).data(),
        normRef(host, n, 1e-6, false, w),
        TOL.float32,
        `rmsNorm ${ns} weight`,
      );
    }
    // Tiny values, where the mean square (~1e-8) is below eps: only the right default passes.
    const tiny = Float32Array.from(randomData(3 * 16, 62, 1e-4));
    const t = xpu.tensor(tiny, { device, shape: [3, 16] });
    expectClose(await t.rmsNorm([16]).data(), normRef(tiny, 16, 2 ** -23, false), TOL.float32, 'default eps f32');
  });

  it('weight and bias in other layouts and dtypes are converted (non-contiguous, offset, float16)', async () => {
    const host = Float32Array.from(randomData(3 * 8, 70));
    const x = xpu.tensor(host, { device, shape: [3, 8] });
    const wBase = Float32Array.from(randomData(2 * 8, 71));
    const wT = xpu.tensor(wBase, { device, shape: [8, 2] }).select(1, 1); // stride 2, offset 1
    const wOff = xpu.tensor(wBase, { device }).slice(0, 8); // contiguous, offset 8
    const wHalf = xpu.tensor(wBase.subarray(0, 8), { device, dtype: 'float16' });
    const half = await wHalf.data();
    expectClose(
      await x.layerNorm([8], { weight: wT }).data(),
      normRef(host, 8, 1e-5, true, viewHost(wBase, [8], [2], 1)),
      TOL.float32,
      'strided weight',
    );
    expectClose(
      await x.layerNorm([8], { bias: wOff }).data(),
      normRef(host, 8, 1e-5, true, undefined, wBase.subarray(8)),
      TOL.float32,
      'offset bias',
    );
    expectClose(await x.rmsNorm([8], { weight: wHalf }).data(), normRef(host, 8, 2 ** -23, false, half), TOL.float32, 'float16 weight');
  });

  it('0-d and empty inputs', async () => {
    expect(await xpu.tensor(2.5, { device }).softmax(0).item()).toBe(1);
    expect(await xpu.tensor(2.5, { device }).logSoftmax(-1).item()).toBe(0);
    const e = xpu.zeros([0, 5], { device });
    expect(e.softmax(1).shape).toEqual([0, 5]);
    expect((await e.softmax(0).data()).length).toBe(0);
    expect((await e.layerNorm([5]).data()).length).toBe(0);
  });

  it('errors are typed and leave the runtime working', async () => {
    const x = xpu.tensor(Float32Array.from(randomData(12, 80)), { device, shape: [3, 4] });
    const ints = xpu.tensor(Int32Array.from([1, 2, 3]), { device });
    for (const f of [() => ints.softmax(0), () => ints.logSoftmax(0), () => ints.layerNorm([3]), () => ints.rmsNorm([3])]) {
      expect(f).toThrow(xpu.XpuDTypeError);
    }
    expect(() => x.layerNorm([4], { weight: xpu.ones([4], { device, dtype: 'int32' }) })).toThrow(xpu.XpuDTypeError);
    expect(() => x.softmax(2)).toThrow(xpu.XpuIndexError);
    expect(() => x.logSoftmax(-3)).toThrow(xpu.XpuIndexError);
    const shapeErr = (f: () => unknown, arg: string) => {
      expect(f).toThrow(xpu.XpuShapeError);
      try {
        f();
      } catch (e) {
        expect((e as xpu.XpuError).arg).toBe(arg);
      }
    };
    shapeErr(() => x.layerNorm([3]), 'normalizedShape');
    shapeErr(() => x.rmsNorm([2, 3, 4]), 'normalizedShape');
    shapeErr(() => x.layerNorm([]), 'normalizedShape');
    shapeErr(() => x.layerNorm([4], { weight: xpu.ones([3], { device }) }), 'weight');
    shapeErr(() => x.layerNorm([3, 4], { weight: xpu.ones([3, 4], { device }), bias: xpu.ones([12], { device }) }), 'bias');
    shapeErr(() => x.rmsNorm([4], { weight: xpu.ones([1, 4], { device }) }), 'weight');
    expect(() => x.layerNorm([4], { eps: -1 })).toThrow(xpu.XpuValueError);
    if (testDevices().length > 1) {
      const other = device === 'cpu' ? 'xpu' : 'cpu';
      expect(() => x.layerNorm([4], { weight: xpu.ones([4], { device: other }) })).toThrow(xpu.XpuDeviceError);
    }
    // Nothing was harmed.
    expectClose(await x.softmax(1).sum(1).data(), [1, 1, 1], TOL.float32);
  });
});
