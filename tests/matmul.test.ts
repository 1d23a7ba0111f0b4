import { describe, expect, it } from 'vitest';
import { expectClose, randomData, testDevices, TOL, xpu } from './helpers.js';

/** float64 reference of a[b, m, k] x b[b, k, n] on row-major host data. */
function refMatmul(a: Float64Array, b: Float64Array, batch: number, m: number, k: number, n: number, bBatch = batch): number[] {
  const out: number[] = [];
  for (let z = 0; z < batch; z++) {
    const bz = bBatch === 1 ? 0 : z;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += Math.fround(a[z * m * k + i * k + p]) * Math.fround(b[bz * k * n + p * n + j]);
        out.push(s);
      }
    }
  }
  return out;
}

describe.each(testDevices())('matmul (simple stand-in) on %s', (device) => {
  it.each([
    [1, 1, 1],
    [3, 7, 5],
    [17, 33, 1],
    [1, 255, 3],
    [33, 64, 40],
  ])('%i x %i x %i', async (m, k, n) => {
    const a = randomData(m * k, m + k);
    const b = randomData(k * n, k + n);
    const out = xpu.matmul(
      xpu.tensor(Float32Array.from(a), { device, shape: [m, k] }),
      xpu.tensor(Float32Array.from(b), { device, shape: [k, n] }),
    );
    expect(out.shape).toEqual([m, n]);
    expectClose(await out.data(), refMatmul(a, b, 1, m, k, n), 1e-5);
  });

  it('reads transposed operands in place and broadcasts batch dims', async () => {
    const [m, k, n] = [5, 9, 4];
    const a = randomData(3 * m * k, 1);
    const bt = randomData(n * k, 2); // stored as [n, k], used as its transpose
    const ta = xpu.tensor(Float32Array.from(a), { device, shape: [3, m, k] });
    const tb = xpu.tensor(Float32Array.from(bt), { device, shape: [n, k] }).T;
    const out = xpu.matmul(ta, tb);
    expect(out.shape).toEqual([3, m, n]);
    const b = new Float64Array(k * n);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) b[p * n + j] = bt[j * k + p];
    expectClose(await out.data(), refMatmul(a, b, 3, m, k, n, 1), 1e-5);
  });

  it('1-D operands follow torch.matmul', async () => {
    const v = xpu.tensor([1, 2, 3], { device });
    const mtx = xpu.tensor(
      [
        [1, 0],
        [0, 1],
        [1, 1],
      ],
      { device },
    );
    expect(xpu.matmul(v, v).shape).toEqual([]);
    expect(await xpu.matmul(v, v).item()).toBe(14);
    expect(await xpu.matmul(v, mtx).toArray()).toEqual([4, 5]);
    expect(await xpu.matmul(mtx.T, v).toArray()).toEqual([4, 5]);
  });

  it('float16 accumulates in float32', async () => {
    const a = randomData(16 * 300, 3);
    const b = randomData(300 * 8, 4);
    const out = xpu.matmul(
      xpu.tensor(Float32Array.from(a), { device, shape: [16, 300], dtype: 'float16' }),
      xpu.tensor(Float32Array.from(b), { device, shape: [300, 8], dtype: 'float16' }),
    );
    expect(out.dtype).toBe('float16');
    expectClose(await out.data(), refMatmul(a, b, 1, 16, 300, 8), 4 * TOL.float16);
  });

  it('rejects mismatched inner dims and mixed dtypes', () => {
    const a = xpu.ones([2, 3], { device });
    expect(() => xpu.matmul(a, xpu.ones([4, 2], { device }))).toThrow(xpu.XpuShapeError);
    expect(() => xpu.matmul(a, xpu.ones([3, 2], { device, dtype: 'float16' }))).toThrow(xpu.XpuDTypeError);
    expect(() => xpu.matmul(a, xpu.ones([3, 2], { device, dtype: 'int32' }))).toThrow(xpu.XpuDTypeError);
  });
});
