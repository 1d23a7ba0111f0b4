import { describe, expect, it } from 'vitest';
import { expectClose, expectEqual, randomData, testDevices, xpu } from './helpers.js';
import { gelu64 } from './float64.js';
import { xpuEntries } from '../src/device/registry.js';

// The vectorised map path (src/backends/webgpu/map_vec.ts: four output words per invocation when
// every operand is contiguous or broadcast) beside the strided path it falls back to: odd sizes
// (a partial last group), views starting at offsets that are not a multiple of 4 (word loads, and
// sub-word starts for float16 / int8), mixed itemsizes (a bool mask beside float32), broadcast
// elements, and sub-word outputs. cpu runs the same cases as the reference device.
const SIZES = [5, 16, 17, 63, 64, 65, 1001];

const f32 = (v: ArrayLike<number>) => Float64Array.from(Float32Array.from(v));

describe.each(testDevices())('vectorised map on %s', (device) => {
  it('add, mul, exp, gelu on contiguous operands of odd sizes and offset views match float64', async () => {
    for (const n of SIZES) {
      for (const off of [0, 1, 2, 3, 4, 5]) {
        const ha = f32(randomData(n + off, n * 7 + off));
        const hb = f32(randomData(n + off + 1, n * 11 + off));
        const a = xpu.tensor(Float32Array.from(ha), { device }).narrow(0, off, n);
        const b = xpu.tensor(Float32Array.from(hb), { device }).narrow(0, off + 1, n);
        const ra = Array.from({ length: n }, (_, i) => ha[off + i]);
        const rb = Array.from({ length: n }, (_, i) => hb[off + 1 + i]);
        expectClose(
          await a.add(b).data(),
          ra.map((x, i) => x + rb[i]),
          1e-6,
          `add n=${n} off=${off}`,
        );
        expectClose(
          await a.mul(b).data(),
          ra.map((x, i) => x * rb[i]),
          1e-6,
          `mul n=${n} off=${off}`,
        );
        expectClose(await a.exp().data(), ra.map(Math.exp), 2e-6, `exp n=${n} off=${off}`);
        expectClose(await xpu.gelu(a).data(), ra.map(gelu64), 2e-6, `gelu n=${n} off=${off}`);
      }
    }
  });

  it('a broadcast element, a scalar and a bool mask beside float32 (where), with NaN and infinities', async () => {
    for (const n of SIZES) {
      const h = f32(randomData(n, n + 3));
      h[0] = NaN;
      if (n > 2) h[2] = Infinity;
      if (n > 3) h[n - 1] = -Infinity;
      const x = xpu.tensor(Float32Array.from(h), { device });
      const c = xpu.tensor(Float32Array.of(0.25), { device, shape: [] });
      expectClose(
        await x.add(c).data(),
        Array.from(h, (v) => v + 0.25),
        1e-6,
        `x + 0-d n=${n}`,
      );
      expectClose(
        await x.mul(3).data(),
        Array.from(h, (v) => v * 3),
        1e-6,
        `x * 3 n=${n}`,
      );
      const other = f32(randomData(n, n + 4));
      const y = xpu.tensor(Float32Array.from(other), { device });
      const mask = x.gt(0);
      expect(mask.dtype).toBe('bool');
      expectEqual(
        await mask.data(),
        Array.from(h, (v) => (v > 0 ? 1 : 0)),
        `gt n=${n}`,
      );
      const w = xpu.where(mask, x, y);
      expectEqual(
        await w.data(),
        Array.from(h, (v, i) => (v > 0 ? v : other[i])),
        `where n=${n}`,
      );
      // The mask at an offset that is not a multiple of 4 bytes (bool: one byte per element).
      if (n > 3) {
        const m3 = mask.narrow(0, 3, n - 3);
        const w3 = xpu.where(m3, x.narrow(0, 1, n - 3), y.narrow(0, 0, n - 3));
        expectEqual(
          await w3.data(),
          Array.from({ length: n - 3 }, (_, i) => (h[i + 3] > 0 ? h[i + 1] : other[i])),
          `where offset n=${n}`,
        );
      }
    }
  });

  it('float16 and int8 operands at even and odd offsets, and a float16 output', async () => {
    for (const n of [9, 33, 64, 67]) {
      for (const off of [0, 1, 2, 3]) {
        const h = randomData(n + off, n + off * 5);
        const x16 = xpu.tensor(Float32Array.from(h), { device }).to('float16').narrow(0, off, n);
        const r16 = Array.from(await xpu.tensor(Float32Array.from(h), { device: 'cpu' }).to('float16').data()).slice(off, off + n);
        const sum16 = await x16.add(x16).to('float32').data();
        const ref16 = Float32Array.from(r16.map((v) => v + v));
        // float16 results round to 11 bits: compare through a float16 round trip of the reference.
        const refRound = await xpu.tensor(ref16, { device: 'cpu' }).to('float16').to('float32').data();
        expectEqual(sum16, refRound, `f16 add n=${n} off=${off}`);
        const hi = Int8Array.from({ length: n + off }, (_, i) => ((i * 37) % 255) - 127);
        const i8 = xpu.tensor(hi, { device }).narrow(0, off, n);
        expectEqual(
          await i8.add(i8).data(),
          Array.from(hi.slice(off, off + n), (v) => ((v + v + 128) & 255) - 128),
          `i8 add n=${n} off=${off}`,
        );
        expectEqual(await i8.to('float32').data(), Array.from(hi.slice(off, off + n)), `i8 -> f32 n=${n} off=${off}`);
      }
    }
  });

  it('creation kernels without inputs (arange, full) take the vectorised path', async () => {
    for (const n of SIZES) {
      expectEqual(
        await xpu.arange(n, undefined, 1, { device }).data(),
        Array.from({ length: n }, (_, i) => i),
        `arange ${n}`,
      );
      expectEqual(await xpu.full([n], 2.5, { device }).data(), Array(n).fill(2.5), `full ${n}`);
    }
  });
  it('two dims: a per-row and a per-column operand beside a contiguous one (strided views too), with NaN', async () => {
    for (const [rows, cols] of [
      [3, 8],
      [5, 16],
      [7, 64],
      [2, 12],
    ]) {
      const hx = f32(randomData(rows * cols, rows + cols));
      hx[1] = NaN;
      const hr = f32(randomData(2 * rows, rows * 3));
      const hc = f32(randomData(cols + 1, cols * 5));
      const x = xpu.tensor(Float32Array.from(hx), { device, shape: [rows, cols] });
      // A column of a [rows, 2] tensor (row stride 2, offset 1) and a [cols] vector at offset 1.
      const r = xpu.tensor(Float32Array.from(hr), { device, shape: [rows, 2] }).narrow(1, 1, 1);
      const c = xpu.tensor(Float32Array.from(hc), { device }).narrow(0, 1, cols);
      const at = (i: number) => [Math.floor(i / cols), i % cols];
      const rv = (i: number) => hr[2 * at(i)[0] + 1];
      const cv = (i: number) => hc[1 + at(i)[1]];
      expectClose(
        await x.mul(r).data(),
        Array.from(hx, (v, i) => v * rv(i)),
        1e-6,
        `x * row ${rows}x${cols}`,
      );
      expectClose(
        await r.sub(x).data(),
        Array.from(hx, (v, i) => rv(i) - v),
        1e-6,
        `row - x ${rows}x${cols}`,
      );
      expectClose(
        await x.mul(c).data(),
        Array.from(hx, (v, i) => v * cv(i)),
        1e-6,
        `x * col ${rows}x${cols}`,
      );
      expectClose(
        await xpu.lerp(x, c, r).data(),
        Array.from(hx, (v, i) => v + rv(i) * (cv(i) - v)),
        2e-6,
        `lerp(x, col, row) ${rows}x${cols}`,
      );
      expectClose(
        await r.add(c).data(),
        Array.from(hx, (_, i) => rv(i) + cv(i)),
        1e-6,
        `row + col ${rows}x${cols}`,
      );
    }
  });
});

describe.runIf(testDevices().includes('xpu'))('vectorised map: the path is taken', () => {
  it('a per-row float32 operand compiles the two-dim vec kernel', async () => {
    const backend = xpuEntries()[0].backend as unknown as { pipelines: { has(key: string): boolean } };
    const x = xpu.randn([6, 32], { device: 'xpu' });
    const r = xpu.randn([6, 1], { device: 'xpu' });
    await x.mul(r).data();
    expect(backend.pipelines.has('map|mul_tt|float32:f32,float32:f32|float32|f32|0|2|vvr')).toBe(true);
  });

  it('contiguous float32 add compiles the vec kernel (all vec4 loads), an offset-1 view the word-load one', async () => {
    const backend = xpuEntries()[0].backend as unknown as { pipelines: { has(key: string): boolean } };
    const a = xpu.randn([100], { device: 'xpu' });
    const b = xpu.randn([101], { device: 'xpu' }).narrow(0, 1, 100);
    await a.add(a).data();
    expect(backend.pipelines.has('map|add_tt|float32:f32,float32:f32|float32|f32|0|1|vvv')).toBe(true);
    await a.add(b).data();
    expect(backend.pipelines.has('map|add_tt|float32:f32,float32:f32|float32|f32|0|1|vvw')).toBe(true);
  });
});
