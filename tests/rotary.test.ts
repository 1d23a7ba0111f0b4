import { describe, expect, it } from 'vitest';
import { caught, expectClose, randomData, testDevices, TOL, xpu } from './helpers.js';

/** float64 rotate-half rotation of row-major x [rows, d] at per-row angles theta[row][j mod d/2]. */
function rotaryRef(
  x: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  rows: number,
  d: number,
  rowOf: (r: number) => number,
): number[] {
  const h = d / 2;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const t = rowOf(r);
    for (let j = 0; j < d; j++) {
      const rot = j < h ? -x[r * d + j + h] : x[r * d + j - h];
      out.push(x[r * d + j] * cos[t * d + j] + rot * sin[t * d + j]);
    }
  }
  return out;
}

describe('applyRotary', () => {
  for (const device of testDevices()) {
    for (const dtype of ['float32', 'float16'] as const) {
      it(`matches the float64 rotate-half rotation on ${device} (${dtype}), x [B, L, H, D] with tables [1, L, 1, D]`, async () => {
        const [b, l, h, d] = [2, 5, 3, 10];
        const xs = randomData(b * l * h * d, 11);
        const cs = randomData(l * d, 12);
        const ss = randomData(l * d, 13);
        const x = xpu.tensor(xs, { shape: [b, l, h, d], dtype, device });
        const c = xpu.tensor(cs, { shape: [1, l, 1, d], dtype, device });
        const s = xpu.tensor(ss, { shape: [1, l, 1, d], dtype, device });
        const out = xpu.applyRotary(x, c, s);
        expect(out.shape).toEqual([b, l, h, d]);
        expect(out.dtype).toBe(dtype);
        // The reference reads the inputs as stored (f16-rounded where dtype is float16).
        const [xr, cr, sr] = await Promise.all([x.to('float32').data(), c.to('float32').data(), s.to('float32').data()]);
        const ref = rotaryRef(
          xr as ArrayLike<number>,
          cr as ArrayLike<number>,
          sr as ArrayLike<number>,
          b * l * h,
          d,
          (r) => Math.floor(r / h) % l,
        );
        expectClose((await out.to('float32').data()) as ArrayLike<number>, ref, TOL[dtype]);
      });
    }

    it(`reads a transposed (strided) input in place on ${device}`, async () => {
      const [l, hh, d] = [4, 3, 8];
      const base = xpu.tensor(randomData(hh * l * d, 21), { shape: [hh, l, d], device });
      const x = base.transpose(0, 1); // [L, H, D], not contiguous
      const c = xpu.tensor(randomData(l * d, 22), { shape: [l, 1, d], device });
      const s = xpu.tensor(randomData(l * d, 23), { shape: [l, 1, d], device });
      const ref = rotaryRef(
        (await x.contiguous().data()) as ArrayLike<number>,
        (await c.data()) as ArrayLike<number>,
        (await s.data()) as ArrayLike<number>,
        l * hh,
        d,
        (r) => Math.floor(r / hh),
      );
      expectClose((await xpu.applyRotary(x, c, s).data()) as ArrayLike<number>, ref, TOL.float32);
    });

    it(`rejects an odd last dim, a table that does not broadcast, and integer input on ${device}`, () => {
      const x = xpu.zeros([2, 3, 5], { device });
      const t = xpu.zeros([3, 5], { device });
      expect(caught(() => xpu.applyRotary(x, t, t), xpu.XpuShapeError).message).toMatch(/even/);
      const y = xpu.zeros([2, 3, 4], { device });
      const bad = xpu.zeros([2, 4, 4], { device });
      expect(caught(() => xpu.applyRotary(y, bad, bad), xpu.XpuShapeError).message).toMatch(/broadcast/);
      const yi = xpu.zeros([2, 3, 4], { device, dtype: 'int32' });
      expect(caught(() => xpu.applyRotary(yi, t.narrow(1, 0, 4), t.narrow(1, 0, 4)), xpu.XpuDTypeError).message).toMatch(/float/);
    });
  }
});
