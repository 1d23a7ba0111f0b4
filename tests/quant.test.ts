import { describe, expect, it } from 'vitest';
import { caught, expectClose, randomData, testDevices, xpu } from './helpers.js';

/**
 * Quantization (src/quant) on both devices: quantize() against a float64 re-derivation of the
 * documented formats (written here from docs/quantization.md, not from the library), the
 * per-element error bound, dequantize(), the quantized linear against the float64 product of the
 * dequantized weight (f32 and f16 activations, bias, odd N, M in {1, 3, 16, 129}, both GPU paths),
 * w8a8 with and without dot4I8Packed, and bad input.
 */

type Scheme = 'int8_weight_only' | 'int4_weight_only' | 'int8_dynamic';
const f16 = (x: number): number => {
  const t = xpu.tensor([x], { device: 'cpu', dtype: 'float16' });
  const v = (t.ref.storage as unknown as { data: Uint16Array }).data[0];
  t.dispose();
  return f16BitsToNumber(v);
};
function f16BitsToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
}
const roundEven = (x: number): number => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
/** Distance of x / s from the nearest .5 tie: GPU f32 and f64 may round differently only there. */
const nearTie = (x: number): boolean => Math.abs(Math.abs(x - Math.floor(x)) - 0.5) < 1e-4;

/** Reads a QuantizedTensor's parts and unpacks them per the documented layouts. */
async function unpack(qw: xpu.quant.QuantizedTensor): Promise<{ q: Int32Array; scales: Float64Array; zeros?: Float64Array }> {
  const [n, k] = qw.shape;
  const scales = Float64Array.from(await qw.scales.data());
  if (qw.scheme !== 'int4_weight_only') {
    const raw = await qw.qdata.data(); // int8 [N, rowStride]
    const stride = Math.ceil(k / 32) * 32; // rows padded to 32 (docs/quantization.md)
    expect(qw.qdata.shape).toEqual([n, stride]);
    const q = new Int32Array(n * k);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < k; i++) q[r * k + i] = raw[r * stride + i];
      for (let i = k; i < stride; i++) expect(raw[r * stride + i]).toBe(0); // padding is zero
    }
    return { q, scales };
  }
  const words = await qw.qdata.data(); // uint32 [N, K/8]
  expect(qw.qdata.shape).toEqual([n, k / 8]);
  const q = new Int32Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < k; i++) {
      const word = words[r * (k / 8) + Math.floor(i / 8)] >>> 0;
      const j = i % 8; // byte j % 4, low nibble for j < 4, high nibble for j >= 4
      q[r * k + i] = (word >>> (8 * (j % 4) + (j >= 4 ? 4 : 0))) & 0xf;
    }
  }
  return { q, scales, zeros: Float64Array.from(await (qw.zeros as xpu.Tensor).data()) };
}

/** The format's rule in float64 from the stored scale: reference q (and zero) per element. */
function reference(
  w: ArrayLike<number>,
  n: number,
  k: number,
  scheme: Scheme,
  gs: number,
  scaleDtype: 'float32' | 'float16',
  stored: { scales: Float64Array; zeros?: Float64Array },
) {
  const store = (x: number) => (scaleDtype === 'float16' ? f16(x) : Math.fround(x));
  const groups = scheme === 'int4_weight_only' ? k / gs : 1;
  const size = k / groups;
  const scales = new Float64Array(n * groups);
  const zeros = new Float64Array(n * groups);
  const q = new Float64Array(n * k);
  const quotient = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let g = 0; g < groups; g++) {
      let lo = 0;
      let hi = 0;
      let amax = 0;
      for (let i = g * size; i < (g + 1) * size; i++) {
        const x = w[r * k + i];
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
        amax = Math.max(amax, Math.abs(x));
      }
      const gi = r * groups + g;
      scales[gi] = store(scheme === 'int4_weight_only' ? (hi - lo) / 15 : amax / 127);
      const s = stored.scales[gi]; // q from the stored scale, as the format says
      if (scheme === 'int4_weight_only') zeros[gi] = s === 0 ? 0 : Math.min(15, Math.max(0, roundEven(-lo / s)));
      const z = scheme === 'int4_weight_only' ? (stored.zeros as Float64Array)[gi] : 0;
      for (let i = g * size; i < (g + 1) * size; i++) {
        const t = s === 0 ? 0 : w[r * k + i] / s;
        quotient[r * k + i] = t;
        q[r * k + i] =
          s === 0
            ? 0
            : scheme === 'int4_weight_only'
              ? Math.min(15, Math.max(0, roundEven(t) + z))
              : Math.min(127, Math.max(-127, roundEven(t)));
      }
    }
  }
  return { scales, zeros, q, quotient, groups };
}

function weight(device: string, n: number, k: number, seed: number, dtype: 'float32' | 'float16' = 'float32') {
  const values = randomData(n * k, seed);
  // Outliers in some rows: the scales must follow them.
  for (let i = 0; i < values.length; i += 97) values[i] *= 6;
  const t = xpu.tensor(values, { device, dtype, shape: [n, k] });
  return t;
}

/** float64 x [m, k] @ w^T (w [n, k]) + bias. */
function refLinear(x: ArrayLike<number>, w: ArrayLike<number>, m: number, n: number, k: number, bias?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = bias ? bias[j] : 0;
      for (let p = 0; p < k; p++) acc += x[i * k + p] * w[j * k + p];
      out[i * n + j] = acc;
    }
  }
  return out;
}

/** Per-row symmetric int8 quantization of activations in float64, dequantized (the w8a8 rule). */
function fakeQuantRows(x: ArrayLike<number>, m: number, k: number): Float64Array {
  const out = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    let amax = 0;
    for (let p = 0; p < k; p++) amax = Math.max(amax, Math.abs(x[i * k + p]));
    const s = Math.fround(amax / 127);
    for (let p = 0; p < k; p++) out[i * k + p] = s === 0 ? 0 : Math.min(127, Math.max(-127, roundEven(x[i * k + p] / s))) * s;
  }
  return out;
}

const CASES: { scheme: Scheme; gs?: number; scaleDtype: 'float32' | 'float16'; n: number; k: number }[] = [
  { scheme: 'int8_weight_only', scaleDtype: 'float32', n: 37, k: 70 },
  { scheme: 'int8_weight_only', scaleDtype: 'float16', n: 8, k: 64 },
  { scheme: 'int8_dynamic', scaleDtype: 'float32', n: 5, k: 33 },
  { scheme: 'int4_weight_only', gs: 32, scaleDtype: 'float32', n: 37, k: 96 },
  { scheme: 'int4_weight_only', gs: 64, scaleDtype: 'float16', n: 9, k: 128 },
  { scheme: 'int4_weight_only', gs: 128, scaleDtype: 'float32', n: 3, k: 256 },
  { scheme: 'int4_weight_only', gs: 256, scaleDtype: 'float32', n: 4, k: 512 },
];

describe.each(testDevices())('quantization on %s', (device) => {
  it.each(CASES)(
    'quantize matches the float64 rule, within the error bound: $scheme g=$gs $scaleDtype [$n, $k]',
    async ({ scheme, gs, scaleDtype, n, k }) => {
      const w = weight(device, n, k, n * 31 + k);
      const qw = xpu.quant.quantize(w, { scheme, groupSize: gs, scaleDtype });
      expect(qw.shape).toEqual([n, k]);
      expect(qw.device.type).toBe(device);
      const wd = await w.data();
      const got = await unpack(qw);
      const ref = reference(wd, n, k, scheme, gs ?? k, scaleDtype, got);
      // Scales: the stored dtype's rounding of the float64 rule (the GPU divides in f32: 1 ulp).
      expectClose(got.scales, ref.scales, scaleDtype === 'float16' ? 1e-3 : 1e-6, 'scales');
      if (got.zeros) expect(Array.from(got.zeros)).toEqual(Array.from(ref.zeros));
      // Values: exact, except within float32 rounding of a .5 tie (then one step either way).
      let ties = 0;
      for (let i = 0; i < n * k; i++) {
        if (got.q[i] !== ref.q[i]) {
          expect(Math.abs(got.q[i] - ref.q[i]), `q[${i}]`).toBe(1);
          expect(nearTie(ref.quotient[i]), `q[${i}] differs away from a tie: ${ref.quotient[i]}`).toBe(true);
          ties++;
        }
      }
      expect(ties).toBeLessThan(3);
      // The format's bound: |w - dequant| <= scale / 2 per element (plus the scale's own rounding
      // times the largest |q - zero| where it is float16).
      const dq = await qw.dequantize().data();
      const slack = scaleDtype === 'float16' ? 2 ** -11 * (scheme === 'int4_weight_only' ? 15 : 127) : 1e-6;
      for (let r = 0; r < n; r++) {
        for (let i = 0; i < k; i++) {
          const gi = r * ref.groups + Math.floor(i / (k / ref.groups));
          const s = got.scales[gi];
          const z = got.zeros ? got.zeros[gi] : 0;
          expect(dq[r * k + i], 'dequantize() is (q - zero) * scale').toBeCloseTo(Math.fround((got.q[r * k + i] - z) * s), 6);
          expect(Math.abs(wd[r * k + i] - dq[r * k + i]), `element [${r}, ${i}]`).toBeLessThanOrEqual(s * (0.5 + slack) + 1e-7);
        }
      }
      const meta = qw.metadata;
      expect(meta.scheme).toBe(scheme);
      expect(meta.byteSize).toBe(qw.byteSize);
      const qBytes = scheme === 'int4_weight_only' ? (n * k) / 2 : n * Math.ceil(k / 32) * 32;
      const sBytes = (scaleDtype === 'float16' ? 2 : 4) * n * (scheme === 'int4_weight_only' ? k / (gs as number) : 1);
      expect(qw.byteSize).toBe(qBytes + sBytes + (scheme === 'int4_weight_only' ? (n * k) / (gs as number) : 0));
      qw.dispose();
      expect(qw.isDisposed).toBe(true);
      w.dispose();
    },
  );

  it('an all-zero weight quantizes to zeros (no division by a zero scale)', async () => {
    for (const scheme of ['int8_weight_only', 'int4_weight_only'] as const) {
      const qw = xpu.quant.quantize(xpu.zeros([3, 64], { device }), { scheme, groupSize: scheme === 'int4_weight_only' ? 32 : undefined });
      expect(Array.from(await qw.dequantize().data())).toEqual(new Array(3 * 64).fill(0));
      const y = await xpu.linear(xpu.ones([2, 64], { device }), qw).data();
      expect(Array.from(y)).toEqual(new Array(6).fill(0));
    }
  });

  const LINEAR: { scheme: Scheme; gs?: number; k: number; n: number }[] = [
    { scheme: 'int8_weight_only', k: 70, n: 37 },
    { scheme: 'int4_weight_only', gs: 32, k: 96, n: 37 },
    { scheme: 'int4_weight_only', gs: 128, k: 256, n: 20 },
  ];
  for (const { scheme, gs, k, n } of LINEAR) {
    for (const m of [1, 3, 16, 129]) {
      it(`linear ${scheme}${gs ? ` g=${gs}` : ''} M=${m} N=${n} K=${k} (f32, bias) matches float64 of the dequantized weight`, async () => {
        const w = weight(device, n, k, m + n);
        const qw = xpu.quant.quantize(w, { scheme, groupSize: gs });
        const x = xpu.tensor(randomData(m * k, m * 7 + 1), { device, shape: [m, k] });
        const bias = xpu.tensor(randomData(n, 5), { device });
        xpu.full([m, n], NaN, { device }).dispose(); // the output may reuse this block: it must be overwritten
        const y = xpu.linear(x, qw, { bias });
        expect(y.shape).toEqual([m, n]);
        const ref = refLinear(await x.data(), await qw.dequantize().data(), m, n, k, await bias.data());
        expectClose(await y.data(), ref, 1e-5, `${scheme} M=${m}`);
        for (const t of [w, x, bias, y]) t.dispose();
        qw.dispose();
      });
    }
  }

  it('linear with float16 activations, a 3-D input and odd/even N (f16 bounds)', async () => {
    for (const [n, scheme] of [
      [37, 'int4_weight_only'],
      [24, 'int8_weight_only'],
      [24, 'int4_weight_only'],
    ] as const) {
      const k = 64;
      const qw = xpu.quant.quantize(weight(device, n, k, n, 'float16'), {
        scheme,
        groupSize: scheme === 'int4_weight_only' ? 32 : undefined,
        scaleDtype: 'float16',
      });
      for (const m of [1, 5, 17]) {
        const x = xpu.tensor(randomData(2 * m * k, m), { device, dtype: 'float16', shape: [2, m, k] });
        const y = xpu.linear(x, qw);
        expect(y.dtype).toBe('float16');
        expect(y.shape).toEqual([2, m, n]);
        const ref = refLinear(await x.data(), await qw.dequantize().data(), 2 * m, n, k);
        expectClose(await y.data(), ref, 2e-3, `f16 ${scheme} M=${m} N=${n}`);
      }
    }
  });

  it('linear on a non-contiguous input (transposed view) and 1-D input', async () => {
    const [n, k, m] = [11, 64, 6];
    const qw = xpu.quant.quantize(weight(device, n, k, 3), { scheme: 'int4_weight_only', groupSize: 64 });
    const xt = xpu.tensor(randomData(k * m, 9), { device, shape: [k, m] });
    const x = xt.transpose(0, 1);
    const ref = refLinear(await x.contiguous().data(), await qw.dequantize().data(), m, n, k);
    expectClose(await xpu.linear(x, qw).data(), ref, 1e-5, 'transposed input');
    const row = xpu.tensor(randomData(k, 4), { device });
    const y1 = xpu.linear(row, qw);
    expect(y1.shape).toEqual([n]);
    expectClose(await y1.data(), refLinear(await row.data(), await qw.dequantize().data(), 1, n, k), 1e-5, '1-D input');
  });

  it('linear with activation and residual (run after the quantized kernel)', async () => {
    const [n, k, m] = [12, 32, 3];
    const qw = xpu.quant.quantize(weight(device, n, k, 4), { scheme: 'int8_weight_only' });
    const x = xpu.tensor(randomData(m * k, 2), { device, shape: [m, k] });
    const res = xpu.tensor(randomData(m * n, 3), { device, shape: [m, n] });
    const base = refLinear(await x.data(), await qw.dequantize().data(), m, n, k);
    const r = await res.data();
    const ref = base.map((v, i) => Math.max(v, 0) + r[i]);
    expectClose(await xpu.linear(x, qw, { activation: 'relu', residual: res }).data(), ref, 1e-5, 'relu + residual');
  });

  const dot4Modes = device === 'xpu' ? ['on', 'off'] : ['on'];
  for (const dot4 of dot4Modes) {
    it(`int8_dynamic (w8a8) matches float64 of per-row quantized activations x dequantized weights${device === 'xpu' ? ` (dot4I8Packed ${dot4})` : ''}`, async () => {
      const prev = process.env.XPU_QUANT_DOT4;
      if (dot4 === 'off') process.env.XPU_QUANT_DOT4 = 'off';
      try {
        for (const [m, n, k] of [
          [1, 37, 70],
          [3, 8, 64],
          [16, 9, 40],
          [129, 21, 64],
        ]) {
          const qw = xpu.quant.quantize(weight(device, n, k, m), { scheme: 'int8_dynamic' });
          const x = xpu.tensor(randomData(m * k, m + 11), { device, shape: [m, k] });
          const bias = xpu.tensor(randomData(n, 6), { device });
          const y = xpu.linear(x, qw, { bias });
          const ref = refLinear(fakeQuantRows(await x.data(), m, k), await qw.dequantize().data(), m, n, k, await bias.data());
          expectClose(await y.data(), ref, 1e-5, `w8a8 M=${m}`);
        }
      } finally {
        if (prev === undefined) delete process.env.XPU_QUANT_DOT4;
        else process.env.XPU_QUANT_DOT4 = prev;
      }
    });
  }

  it('bad input gives typed errors naming the argument', () => {
    const w = xpu.randn([4, 64], { device });
    expect(caught(() => xpu.quant.quantize(xpu.randn([2, 4, 64], { device }), { scheme: 'int8_weight_only' }), xpu.XpuShapeError).arg).toBe(
      'weight',
    );
    expect(
      caught(() => xpu.quant.quantize(xpu.ones([4, 64], { device, dtype: 'int32' }), { scheme: 'int8_weight_only' }), xpu.XpuDTypeError)
        .message,
    ).toMatch(/float/);
    expect(caught(() => xpu.quant.quantize(w, { scheme: 'int3' as never }), xpu.XpuValueError).arg).toBe('scheme');
    expect(caught(() => xpu.quant.quantize(w, { scheme: 'int4_weight_only', groupSize: 48 }), xpu.XpuValueError).arg).toBe('groupSize');
    const e = caught(
      () => xpu.quant.quantize(xpu.randn([4, 96], { device }), { scheme: 'int4_weight_only', groupSize: 64 }),
      xpu.XpuShapeError,
    );
    expect(e.message).toMatch(/multiple of the group size/);
    expect(caught(() => xpu.quant.quantize(w, { scheme: 'int8_weight_only', groupSize: 32 }), xpu.XpuValueError).arg).toBe('groupSize');
    expect(caught(() => xpu.quant.quantize(w, { scheme: 'int8_weight_only', scaleDtype: 'int8' as never }), xpu.XpuValueError).arg).toBe(
      'scaleDtype',
    );
    const qw = xpu.quant.quantize(w, { scheme: 'int4_weight_only', groupSize: 32 });
    expect(caught(() => xpu.linear(xpu.randn([2, 63], { device }), qw), xpu.XpuShapeError).arg).toBe('input');
    expect(caught(() => xpu.linear(xpu.randn([2, 64], { device }), qw, { bias: xpu.randn([5], { device }) }), xpu.XpuShapeError).arg).toBe(
      'bias',
    );
    expect(caught(() => xpu.linear(xpu.ones([2, 64], { device, dtype: 'int32' }), qw), xpu.XpuDTypeError).arg).toBe('input');
    qw.dispose();
    expect(caught(() => xpu.linear(xpu.randn([2, 64], { device }), qw), xpu.XpuDisposedError).arg).toBe('weight');
    expect(caught(() => qw.dequantize(), xpu.XpuDisposedError).op).toBe('dequantize');
  });
});
