import { describe, expect, it } from 'vitest';
import { expectClose, randomData, randomInts, testDevices, xpu } from './helpers.js';
import { sigmoid64 } from './float64.js';
import type { Tensor } from '../src/index.js';

/**
 * The losses of xpu.nn.functional against float64 references: values for every reduction, and the
 * gradients (through xpu.autograd.grad with a random upstream gradient for 'none').
 */
const F = xpu.nn.functional;
type Reduction = 'none' | 'mean' | 'sum';
const REDUCTIONS: Reduction[] = ['none', 'mean', 'sum'];

const read = async (t: Tensor): Promise<number[]> => Array.from((await t.data()) as Float32Array);
const f32 = (a: ArrayLike<number>): number[] => Array.from(Float32Array.from(a));

/** Reduces per-element losses and their per-element gradients as the reduction says. */
function reduceRef(l: number[], dl: number[], count: number, reduction: Reduction, up: number[]): { loss: number[]; grad: number[] } {
  if (reduction === 'none') return { loss: l, grad: dl.map((d, i) => d * up[i]) };
  const s = l.reduce((a, b) => a + b, 0);
  return reduction === 'sum' ? { loss: [s], grad: dl } : { loss: [s / count], grad: dl.map((d) => d / count) };
}

/** Cross entropy over rows [m, c] (row-major), per-row loss and d loss / d logits. */
function crossEntropyRef(x: number[], t: number[], m: number, c: number, smoothing: number, ignore: number) {
  const l: number[] = [];
  const g: number[][] = [];
  let count = 0;
  for (let r = 0; r < m; r++) {
    const row = x.slice(r * c, r * c + c);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
    if (t[r] === ignore) {
      l.push(0);
      g.push(row.map(() => 0));
      continue;
    }
    count++;
    const q = row.map((_, k) => (1 - smoothing) * (k === t[r] ? 1 : 0) + smoothing / c);
    l.push(q.reduce((a, qk, k) => a - qk * (row[k] - lse), 0));
    g.push(row.map((v, k) => Math.exp(v - lse) - q[k]));
  }
  return { l, g, count };
}

async function gradOf(loss: Tensor, x: Tensor, up?: Tensor): Promise<number[]> {
  const [g] = xpu.autograd.grad([loss], [x], up ? [up] : undefined);
  return read(g);
}

describe.each(testDevices())('losses on %s', (device) => {
  it.each(REDUCTIONS)('crossEntropy [N, C], ignoreIndex and labelSmoothing, reduction %s', async (reduction) => {
    const m = 6;
    const c = 5;
    const xs = f32(randomData(m * c, 1, 2));
    const ts = Array.from(randomInts(m, 2, 0, c - 1));
    ts[2] = -100;
    for (const smoothing of [0, 0.1]) {
      const x = xpu.tensor(xs, { shape: [m, c], device, requiresGrad: true });
      const t = xpu.tensor(Int32Array.from(ts), { shape: [m], device });
      const loss = F.crossEntropy(x, t, { reduction, labelSmoothing: smoothing });
      const up = f32(randomData(m, 3));
      const ref = crossEntropyRef(xs, ts, m, c, smoothing, -100);
      const dl = ref.g.map((row) => row);
      const out = reduceRef(ref.l, [], ref.count, reduction, up);
      expectClose(await read(loss), out.loss, 1e-5, `loss s=${smoothing}`);
      // Per-row scale of the gradient rows.
      const scale = (r: number) => (reduction === 'none' ? up[r] : reduction === 'sum' ? 1 : 1 / ref.count);
      const grad = dl.flatMap((row, r) => row.map((v) => v * scale(r)));
      expectClose(
        await gradOf(loss, x, reduction === 'none' ? xpu.tensor(up, { shape: [m], device }) : undefined),
        grad,
        1e-5,
        `grad s=${smoothing}`,
      );
    }
  });

  it('crossEntropy with the classes in dim 1 of [N, C, L] and unbatched [C]', async () => {
    const [n, c, l] = [2, 4, 3];
    const xs = f32(randomData(n * c * l, 4, 2));
    const ts = Array.from(randomInts(n * l, 5, 0, c - 1));
    const x = xpu.tensor(xs, { shape: [n, c, l], device, requiresGrad: true });
    const t = xpu.tensor(Int32Array.from(ts), { shape: [n, l], device });
    // Rows in (n, l) order: row (i, j) is x[i, :, j].
    const rows = Array.from({ length: n * l }, (_, r) =>
      Array.from({ length: c }, (_, k) => xs[Math.floor(r / l) * c * l + k * l + (r % l)]),
    );
    const ref = crossEntropyRef(rows.flat(), ts, n * l, c, 0, -100);
    const loss = F.crossEntropy(x, t);
    expectClose(await read(loss), [ref.l.reduce((a, b) => a + b, 0) / ref.count], 1e-5, 'loss');
    const gref = new Array<number>(xs.length);
    ref.g.forEach((row, r) => row.forEach((v, k) => (gref[Math.floor(r / l) * c * l + k * l + (r % l)] = v / ref.count)));
    expectClose(await gradOf(loss, x), gref, 1e-5, 'grad');
    const u = xpu.tensor(xs.slice(0, c), { shape: [c], device });
    const one = crossEntropyRef(xs.slice(0, c), [1], 1, c, 0, -100);
    expectClose(await read(F.crossEntropy(u, xpu.tensor(Int32Array.from([1]), { shape: [], device }))), one.l, 1e-5, 'unbatched');
  });

  it.each(REDUCTIONS)('mseLoss, l1Loss and binaryCrossEntropyWithLogits, reduction %s', async (reduction) => {
    const shape = [3, 4];
    const n = 12;
    const xs = f32(randomData(n, 6, 2));
    xs[5] = 0; // the BCE gradient at exactly 0 is sigmoid(0) - t
    const ts = f32(randomData(n, 7, 1));
    const probs = ts.map((v) => Math.abs(v) % 1);
    const pws = f32([0.5, 2, 1, 3]);
    const ws = f32(randomData(n, 8, 1));
    const up = f32(randomData(n, 9));
    const upT = reduction === 'none' ? xpu.tensor(up, { shape, device }) : undefined;
    const mk = () => xpu.tensor(xs, { shape, device, requiresGrad: true });
    const cases: [string, (x: Tensor) => Tensor, (i: number) => number, (i: number) => number][] = [
      [
        'mse',
        (x) => F.mseLoss(x, xpu.tensor(ts, { shape, device }), { reduction }),
        (i) => (xs[i] - ts[i]) ** 2,
        (i) => 2 * (xs[i] - ts[i]),
      ],
      [
        'l1',
        (x) => F.l1Loss(x, xpu.tensor(ts, { shape, device }), { reduction }),
        (i) => Math.abs(xs[i] - ts[i]),
        (i) => Math.sign(xs[i] - ts[i]),
      ],
      [
        'bce',
        (x) =>
          F.binaryCrossEntropyWithLogits(x, xpu.tensor(probs, { shape, device }), {
            reduction,
            weight: xpu.tensor(ws, { shape, device }),
            posWeight: xpu.tensor(pws, { shape: [4], device }),
          }),
        (i) => {
          const lw = 1 + (pws[i % 4] - 1) * probs[i];
          return ws[i] * ((1 - probs[i]) * xs[i] + lw * Math.log1p(Math.exp(-xs[i])));
        },
        (i) => ws[i] * (1 - probs[i] - (1 + (pws[i % 4] - 1) * probs[i]) * sigmoid64(-xs[i])),
      ],
    ];
    for (const [name, fn, lref, gref] of cases) {
      const x = mk();
      const loss = fn(x);
      const out = reduceRef(
        xs.map((_, i) => lref(i)),
        xs.map((_, i) => gref(i)),
        n,
        reduction,
        up,
      );
      expectClose(await read(loss), out.loss, 1e-5, `${name} loss`);
      expectClose(await gradOf(loss, x, upT), out.grad, 1e-5, `${name} grad`);
    }
  });

  it('xpu.autograd.gradcheck agrees with the closed-form backward nodes', async () => {
    const x = xpu.tensor(f32(randomData(12, 10, 1)), { shape: [3, 4], device, requiresGrad: true });
    const t = xpu.tensor(Int32Array.from([1, -100, 3]), { shape: [3], device });
    const p = xpu.tensor(
      f32(randomData(12, 11, 1)).map((v) => Math.abs(v) % 1),
      { shape: [3, 4], device },
    );
    expect(await xpu.autograd.gradcheck((a) => F.crossEntropy(a, t, { labelSmoothing: 0.2, reduction: 'sum' }), [x])).toBe(true);
    expect(
      await xpu.autograd.gradcheck((a) => F.binaryCrossEntropyWithLogits(a, p, { posWeight: xpu.full([4], 2, { device }) }), [x]),
    ).toBe(true);
    expect(await xpu.autograd.gradcheck((a) => F.mseLoss(a, p, { reduction: 'none' }), [x])).toBe(true);
  });
});

describe('loss errors', () => {
  it('typed errors name the argument', () => {
    const x = xpu.zeros([2, 3]);
    const t = xpu.tensor(Int32Array.from([0, 1]), { shape: [2] });
    expect(() => F.crossEntropy(x, xpu.zeros([2]))).toThrow(xpu.XpuDTypeError);
    expect(() => F.crossEntropy(x, xpu.tensor(Int32Array.from([0, 1, 2]), { shape: [3] }))).toThrow(xpu.XpuShapeError);
    expect(() => F.crossEntropy(x, t, { labelSmoothing: 2 })).toThrow(xpu.XpuValueError);
    expect(() => F.crossEntropy(x, t, { reduction: 'avg' as never })).toThrow(xpu.XpuValueError);
    expect(() => F.binaryCrossEntropyWithLogits(x, xpu.zeros([3]))).toThrow(xpu.XpuShapeError);
    expect(() => F.mseLoss(t, t)).toThrow(xpu.XpuDTypeError);
  });
});
