import { describe, expect, it } from 'vitest';
import { caught, expectClose, randomData, randomInts, testDevices, xpu } from './helpers.js';

/**
 * Checkpoint layouts (ONNX Runtime MatMulNBits, GPTQ v1/v2) and quantizeModule. The importers are
 * checked against weights built here from each format's own description (not from the library),
 * then by round trip through the exporters; quantizeModule by the forward pass of nn layers.
 */

const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

describe.each(testDevices())('int4 checkpoint layouts on %s', (device) => {
  it('fromMatMulNBits reads ORT blocks (low nibble = even k) and packed zero points; toMatMulNBits writes them back', async () => {
    const [n, k, bs] = [5, 192, 64]; // 3 blocks: an odd count, so the last zero-point byte is half used
    const blocks = k / bs;
    const q = randomInts(n * k, 1, 0, 15);
    const zp = randomInts(n * blocks, 2, 0, 15);
    const scales = f32(randomData(n * blocks, 3, 0.1));
    const bytes = new Uint8Array((n * k) / 2);
    for (let r = 0; r < n; r++)
      for (let b = 0; b < blocks; b++)
        for (let i = 0; i < bs; i++) {
          const flat = (r * blocks + b) * bs + i; // [N, blocks, blockSize] elements
          bytes[flat >> 1] |= q[r * k + b * bs + i] << (i % 2 === 0 ? 0 : 4);
        }
    const zpRow = Math.ceil(blocks / 2);
    const zeroPoints = new Uint8Array(n * zpRow);
    for (let r = 0; r < n; r++)
      for (let b = 0; b < blocks; b++) zeroPoints[r * zpRow + (b >> 1)] |= zp[r * blocks + b] << (b % 2 === 0 ? 0 : 4);
    const expected = new Float64Array(n * k);
    for (let r = 0; r < n; r++)
      for (let i = 0; i < k; i++)
        expected[r * k + i] = (q[r * k + i] - zp[r * blocks + Math.floor(i / bs)]) * scales[r * blocks + Math.floor(i / bs)];

    const qw = xpu.quant.fromMatMulNBits(bytes, scales, zeroPoints, n, k, bs, { device });
    expect(qw.device.type).toBe(device);
    expectClose(await qw.dequantize().data(), expected, 1e-7, 'dequantized MatMulNBits');
    const x = xpu.tensor(randomData(3 * k, 4), { device, shape: [3, k] });
    const ref = new Float64Array(3 * n);
    const xd = await x.data();
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) ref[i * n + j] += xd[i * k + p] * expected[j * k + p];
    expectClose(await xpu.linear(x, qw).data(), ref, 1e-5, 'linear on imported weights');

    const back = await xpu.quant.toMatMulNBits(qw);
    expect(Array.from(back.bytes)).toEqual(Array.from(bytes));
    expect(Array.from(back.zeroPoints)).toEqual(Array.from(zeroPoints));
    expect(Array.from(back.scales)).toEqual(Array.from(scales));

    // Without zero points every zero is 8.
    const noZp = xpu.quant.fromMatMulNBits(bytes, scales, undefined, n, k, bs, { device, scaleDtype: 'float16' });
    const d = await noZp.dequantize().data();
    const sc = await noZp.scales.data();
    for (let i = 0; i < n * k; i += 7) expect(d[i]).toBeCloseTo((q[i] - 8) * sc[Math.floor(i / k) * blocks + Math.floor((i % k) / bs)], 5);
  });

  it('fromGptq reads qweight [K/8, N], qzeros [G, N/8] (v1: zero - 1), scales [G, N]; toGptq writes them back', async () => {
    const [n, k, gs] = [16, 64, 32];
    const groups = k / gs;
    const q = randomInts(n * k, 5, 0, 15); // q[n, k]
    const zeros = randomInts(n * groups, 6, 1, 15); // >= 1 so that v1 can store zero - 1
    const scales = f32(randomData(groups * n, 7, 0.05)); // [G, N]
    for (const format of ['v1', 'v2'] as const) {
      const off = format === 'v1' ? 1 : 0;
      const qweight = new Int32Array((k / 8) * n);
      for (let i = 0; i < k / 8; i++)
        for (let c = 0; c < n; c++) for (let j = 0; j < 8; j++) qweight[i * n + c] |= q[c * k + 8 * i + j] << (4 * j);
      const qzeros = new Int32Array(groups * (n / 8));
      for (let g = 0; g < groups; g++)
        for (let c = 0; c < n; c++) qzeros[g * (n / 8) + (c >> 3)] |= (zeros[c * groups + g] - off) << (4 * (c % 8));
      const expected = new Float64Array(n * k);
      for (let c = 0; c < n; c++)
        for (let i = 0; i < k; i++) {
          const g = Math.floor(i / gs);
          expected[c * k + i] = (q[c * k + i] - zeros[c * groups + g]) * scales[g * n + c];
        }
      const qw = xpu.quant.fromGptq({ qweight, qzeros, scales, inFeatures: k, outFeatures: n, groupSize: gs, format }, { device });
      expectClose(await qw.dequantize().data(), expected, 1e-7, `GPTQ ${format}`);
      const back = await xpu.quant.toGptq(qw, format);
      expect(Array.from(back.qweight)).toEqual(Array.from(qweight));
      expect(Array.from(back.qzeros)).toEqual(Array.from(qzeros));
      expect(Array.from(back.scales)).toEqual(Array.from(scales));
    }
    const base = {
      qweight: new Int32Array((k / 8) * n),
      qzeros: new Int32Array(groups * 2),
      scales: new Float32Array(groups * n),
      inFeatures: k,
      outFeatures: n,
      groupSize: gs,
    };
    const gIdx = Int32Array.from({ length: k }, (_, i) => (i * 7) % groups); // act-order
    expect(caught(() => xpu.quant.fromGptq({ ...base, gIdx }, { device }), xpu.XpuValueError).arg).toBe('gIdx');
    expect(caught(() => xpu.quant.fromGptq({ ...base, outFeatures: 12 }, { device }), xpu.XpuShapeError).arg).toBe('outFeatures');
    expect(caught(() => xpu.quant.fromGptq({ ...base, scales: new Float32Array(3) }, { device }), xpu.XpuShapeError).arg).toBe('scales');
    expect(caught(() => xpu.quant.fromMatMulNBits(new Uint8Array(10), [1], undefined, 2, 48, 32, { device }), xpu.XpuShapeError).arg).toBe(
      'groupSize',
    );
  });

  it('a quantized weight round-trips through both layouts unchanged', async () => {
    const w = xpu.randn([24, 128], { device });
    const qw = xpu.quant.quantize(w, { scheme: 'int4_weight_only', groupSize: 64 });
    const want = await qw.dequantize().data();
    const ort = await xpu.quant.toMatMulNBits(qw);
    const a = xpu.quant.fromMatMulNBits(ort.bytes, ort.scales, ort.zeroPoints, ort.n, ort.k, ort.blockSize, { device });
    expect(Array.from(await a.dequantize().data())).toEqual(Array.from(want));
    const g = await xpu.quant.toGptq(qw, 'v2');
    const b = xpu.quant.fromGptq(g, { device });
    expect(Array.from(await b.dequantize().data())).toEqual(Array.from(want));
    expect(Array.from(await a.qdata.data())).toEqual(Array.from(await qw.qdata.data()));
  });

  it('pack/unpack helpers are inverse and follow the documented nibble order', () => {
    const q = randomInts(32, 9, 0, 15);
    const words = xpu.quant.packInt4(q, 2, 16);
    expect(words[0] & 0xf).toBe(q[0]);
    expect((words[0] >>> 4) & 0xf).toBe(q[4]);
    expect((words[0] >>> 8) & 0xf).toBe(q[1]);
    expect(Array.from(xpu.quant.unpackInt4(words, 2, 16))).toEqual(Array.from(q));
    expect(() => xpu.quant.packInt4([16, ...new Array(7).fill(0)], 1, 8)).toThrow(xpu.XpuValueError);
    const q8 = randomInts(3 * 5, 10, -127, 127);
    expect(Array.from(xpu.quant.unpadInt8Rows(xpu.quant.padInt8Rows(q8, 3, 5), 3, 5))).toEqual(Array.from(q8));
  });
});

describe.each(testDevices())('quantizeModule on %s', (device) => {
  it('swaps every nn.Linear weight; forward runs the quantized kernel', async () => {
    xpu.manualSeed(3);
    const layers = [
      new xpu.nn.Linear(64, 16, { device }),
      new xpu.nn.Linear(16, 8, { device }),
      new xpu.nn.Linear(96, 8, { device, bias: false }),
    ];
    const model = new xpu.nn.ModuleList(layers);
    const dense = await Promise.all(layers.map(async (l) => Float64Array.from(await (l.weight as xpu.Tensor).data())));
    const names = xpu.quant.quantizeModule(model, { scheme: 'int4_weight_only', groupSize: 32, skipIncompatible: true });
    expect(names).toEqual(['0', '2']); // in_features 16 is not a multiple of 32: skipped
    expect(layers[0].weight).toBeInstanceOf(xpu.quant.QuantizedTensor);
    expect(xpu.isTensor(layers[1].weight)).toBe(true);
    const x = xpu.tensor(randomData(2 * 64, 1), { device, shape: [2, 64] });
    const qw = layers[0].weight as xpu.quant.QuantizedTensor;
    const wq = await qw.dequantize().data();
    const b = await (layers[0].bias as xpu.Tensor).data();
    const xd = await x.data();
    const ref = new Float64Array(2 * 16);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 16; j++) {
        ref[i * 16 + j] = b[j];
        for (let p = 0; p < 64; p++) ref[i * 16 + j] += xd[i * 64 + p] * wq[j * 64 + p];
      }
    expectClose(await layers[0].forward(x).data(), ref, 1e-5, 'quantized forward');
    // The quantized weight is close to the float one (the int4 bound), not equal.
    let maxErr = 0;
    for (let i = 0; i < wq.length; i++) maxErr = Math.max(maxErr, Math.abs(wq[i] - dense[0][i]));
    expect(maxErr).toBeGreaterThan(0);
    expect(maxErr).toBeLessThan(0.02);
    // int8 on the rest, with a filter; already-quantized layers are left alone.
    expect(xpu.quant.quantizeModule(model, { scheme: 'int8_dynamic', filter: (name) => name !== '1' })).toEqual([]);
    expect(xpu.quant.quantizeModule(model, { scheme: 'int8_dynamic' })).toEqual(['1']);
    expect((layers[1].weight as xpu.quant.QuantizedTensor).scheme).toBe('int8_dynamic');
    expect(() =>
      xpu.quant.quantizeModule(new xpu.nn.ModuleList([new xpu.nn.Linear(48, 4, { device })]), {
        scheme: 'int4_weight_only',
        groupSize: 32,
      }),
    ).toThrow(xpu.XpuShapeError);
    model.dispose();
  });
});
