import { describe, expect, it } from 'vitest';
import { caught, expectClose, randomData, testDevices, TOL, xpu } from './helpers.js';

/** float64 reference of x @ w^T + b for row-major x [m, k], w [n, k]. */
function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | undefined,
  m: number,
  k: number,
  n: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b[j] : 0;
      for (let p = 0; p < k; p++) s += x[i * k + p] * w[j * k + p];
      out.push(s);
    }
  }
  return out;
}

class Block extends xpu.nn.Module {
  declare proj: InstanceType<typeof xpu.nn.Linear>;
  declare norm: InstanceType<typeof xpu.nn.RMSNorm>;
  constructor(device: 'cpu' | 'xpu') {
    super();
    this.registerModule('proj', new xpu.nn.Linear(5, 3, { device }));
    this.registerModule('norm', new xpu.nn.RMSNorm(3, { device }));
  }
}

class Net extends xpu.nn.Module {
  declare layers: InstanceType<typeof xpu.nn.ModuleList<Block>>;
  constructor(device: 'cpu' | 'xpu') {
    super();
    this.registerModuleList('layers', [new Block(device), new Block(device)]);
  }
}

describe('nn.Module', () => {
  it('names nested parameters and modules with dotted paths', () => {
    const net = new Net('cpu');
    expect([...net.namedModules()].map(([n]) => n)).toEqual([
      '',
      'layers',
      'layers.0',
      'layers.0.proj',
      'layers.0.norm',
      'layers.1',
      'layers.1.proj',
      'layers.1.norm',
    ]);
    expect([...net.namedParameters()].map(([n]) => n)).toEqual([
      'layers.0.proj.weight',
      'layers.0.proj.bias',
      'layers.0.norm.weight',
      'layers.1.proj.weight',
      'layers.1.proj.bias',
      'layers.1.norm.weight',
    ]);
    expect(net.layers.items[1].proj.weight).toBe(net.getParameter('layers.1.proj.weight'));
    net.dispose();
  });

  it('lets a parameter be replaced by assignment and rejects non-tensors', () => {
    const lin = new xpu.nn.Linear(4, 2, { bias: false });
    expect([...lin.namedParameters()].map(([n]) => n)).toEqual(['weight']);
    const w = xpu.zeros([2, 4]);
    const old = lin.weight as InstanceType<typeof xpu.Tensor>;
    lin.weight = w;
    expect(lin.getParameter('weight')).toBe(w);
    old.dispose();
    caught(() => {
      (lin as unknown as { weight: unknown }).weight = 3;
    }, xpu.XpuValueError);
    caught(() => new xpu.nn.Linear(0, 2), xpu.XpuValueError);
    lin.dispose();
    expect(w.isDisposed).toBe(true);
  });

  it('accepts a structural quantized weight', () => {
    const lin = new xpu.nn.Linear(4, 2);
    const fake = {
      shape: [2, 4],
      device: lin.bias!.device,
      scheme: 'int8_weight_only',
      disposed: false,
      dispose() {
        this.disposed = true;
      },
    };
    (lin.weight as InstanceType<typeof xpu.Tensor>).dispose();
    lin.weight = fake;
    expect(xpu.nn.isQuantizedLike(lin.weight)).toBe(true);
    lin.dispose();
    expect(fake.disposed).toBe(true);
  });

  for (const device of testDevices()) {
    it(`Linear forward matches float64 on ${device}, with and without bias`, async () => {
      xpu.manualSeed(7);
      for (const bias of [true, false]) {
        const lin = new xpu.nn.Linear(17, 5, { device, bias });
        const xs = randomData(3 * 17, 11);
        const x = xpu.tensor(Float32Array.from(xs), { shape: [3, 17], device });
        const y = lin.forward(x);
        const w = await (lin.weight as InstanceType<typeof xpu.Tensor>).data();
        const b = lin.bias ? await lin.bias.data() : undefined;
        expect(Math.max(...Array.from(w).map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(17));
        expectClose(await y.data(), linearRef(xs, w, b, 3, 17, 5), TOL.float32, 'linear');
        x.dispose();
        y.dispose();
        lin.dispose();
      }
    });
  }

  it('moves parameters between devices with to()', async () => {
    if (!testDevices().includes('xpu')) return; // throws instead where CI requires the GPU
    const net = new Net('cpu');
    const before = await (net.getParameter('layers.0.proj.weight') as InstanceType<typeof xpu.Tensor>).data();
    await net.to('xpu');
    for (const [, p] of net.namedParameters()) expect(p.device.type).toBe('xpu');
    await net.to('cpu');
    const after = await (net.getParameter('layers.0.proj.weight') as InstanceType<typeof xpu.Tensor>).data();
    expect(Array.from(after)).toEqual(Array.from(before));
    net.dispose();
  });
});

describe('copyInto (in-place writes for the KV cache)', () => {
  for (const device of testDevices()) {
    it(`writes a narrowed slice in place on ${device}, visible through other views`, async () => {
      const shape = [2, 5, 3, 4];
      const dst = xpu.tensor(Float32Array.from(randomData(120, 1)), { shape, device });
      const before = Array.from(await dst.data());
      const src = xpu.tensor(Float32Array.from(randomData(2 * 2 * 12, 2)), { shape: [2, 2, 3, 4], device });
      const srcHost = Array.from(await src.data());
      const other = xpu.permute(dst, [0, 2, 1, 3]); // made before the write
      const slot = xpu.narrow(dst, 1, 2, 2);
      expect(xpu.copyInto(slot, src)).toBe(slot);
      const expected = before.slice();
      for (let b = 0; b < 2; b++)
        for (let p = 0; p < 2; p++) for (let j = 0; j < 12; j++) expected[b * 60 + (2 + p) * 12 + j] = srcHost[b * 24 + p * 12 + j];
      expect(Array.from(await dst.data())).toEqual(expected);
      const back = await xpu.contiguous(xpu.permute(other, [0, 2, 1, 3])).data();
      expect(Array.from(back)).toEqual(expected);
      // A non-contiguous source is copied to a contiguous one first.
      const srcT = xpu.transpose(xpu.tensor(Float32Array.from(randomData(24, 3)), { shape: [4, 3, 2], device }), 0, 2);
      const row = xpu.select(dst, 0, 1);
      xpu.copyInto(xpu.narrow(row, 0, 0, 2), srcT.reshape([2, 3, 4]));
      const got = await xpu.narrow(row, 0, 0, 2).contiguous().data();
      expect(Array.from(got)).toEqual(Array.from(await srcT.reshape([2, 3, 4]).contiguous().data()));
      for (const t of [dst, src, other, slot, srcT, row]) t.dispose();
    });
  }

  it('rejects mismatches with typed errors', () => {
    const dst = xpu.zeros([4, 4]);
    caught(() => xpu.copyInto(dst, xpu.zeros([4, 3])), xpu.XpuShapeError);
    caught(() => xpu.copyInto(dst, xpu.zeros([4, 4], { dtype: 'int32' })), xpu.XpuDTypeError);
    caught(() => xpu.copyInto(xpu.expand(xpu.zeros([1, 4]), [4, 4]), xpu.ones([4, 4])), xpu.XpuValueError);
    // int8 runs of 3 bytes cannot be moved as whole words.
    caught(
      () => xpu.copyInto(xpu.narrow(xpu.zeros([4, 4], { dtype: 'int8' }), 1, 0, 3), xpu.zeros([4, 3], { dtype: 'int8' })),
      xpu.XpuValueError,
    );
  });
});

describe('attentionFallback', () => {
  for (const device of testDevices()) {
    it(`matches a float64 reference with GQA, causal and bool masks on ${device}`, async () => {
      const [b, hq, hkv, l, s, e] = [2, 4, 2, 3, 5, 8];
      const qd = randomData(b * hq * l * e, 31);
      const kd = randomData(b * hkv * s * e, 32);
      const vd = randomData(b * hkv * s * e, 33);
      const q = xpu.tensor(Float32Array.from(qd), { shape: [b, hq, l, e], device });
      const k = xpu.tensor(Float32Array.from(kd), { shape: [b, hkv, s, e], device });
      const v = xpu.tensor(Float32Array.from(vd), { shape: [b, hkv, s, e], device });
      // keep(i, j): bool mask (key j visible to query i when j <= i + 2, a cache offset of 2).
      const maskHost = Array.from({ length: l * s }, (_, x) => x % s <= Math.floor(x / s) + 2);
      const mask = xpu.tensor(
        maskHost.map((m) => (m ? 1 : 0)),
        { shape: [l, s], dtype: 'bool', device },
      );
      for (const [opts, keep] of [
        [{ isCausal: true }, (i: number, j: number) => j <= i],
        [{ attnMask: mask }, (i: number, j: number) => maskHost[i * s + j]],
      ] as const) {
        const ref: number[] = [];
        for (let bb = 0; bb < b; bb++)
          for (let h = 0; h < hq; h++)
            for (let i = 0; i < l; i++) {
              const kh = Math.floor(h / (hq / hkv));
              const sc: number[] = [];
              for (let j = 0; j < s; j++) {
                let d = 0;
                for (let x = 0; x < e; x++) d += qd[((bb * hq + h) * l + i) * e + x] * kd[((bb * hkv + kh) * s + j) * e + x];
                sc.push(keep(i, j) ? d / Math.sqrt(e) : -Infinity);
              }
              const m = Math.max(...sc);
              const w = sc.map((z) => Math.exp(z - m));
              const z = w.reduce((u, y) => u + y, 0);
              for (let x = 0; x < e; x++) ref.push(w.reduce((acc, wj, j) => acc + (wj / z) * vd[((bb * hkv + kh) * s + j) * e + x], 0));
            }
        const out = xpu.nn.attentionFallback(q, k, v, opts);
        expectClose(await out.data(), ref, 1e-5, JSON.stringify(Object.keys(opts)));
        out.dispose();
      }
      for (const t of [q, k, v, mask]) t.dispose();
    });
  }
});
