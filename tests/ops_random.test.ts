import { describe, expect, it } from 'vitest';
import { caught, testDevices, xpu } from './helpers.js';

/**
 * Issue 15's random ops on both devices: dropout, randint, randperm, multinomial. They draw from
 * rand's Philox generator (same seed, same numbers on both devices where the arithmetic is
 * exact), so each is checked for its distribution (loose bounds, ~5 sigma: no flaky failures),
 * its edge cases and dtypes as torch, and for equality across devices.
 */

/** |observed - expected| within k sigma of a binomial count. */
function expectCount(observed: number, n: number, p: number, what: string, k = 5): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(observed - n * p), `${what}: ${observed} of ${n}, expected ${n * p} +- ${k * sigma}`).toBeLessThanOrEqual(k * sigma + 1);
}

describe.each(testDevices())('random ops on %s', (device) => {
  it("dropout: zeros with probability p, the rest scaled by 1 / (1 - p); torch's edge cases", async () => {
    xpu.manualSeed(1);
    const n = 40000;
    const x = xpu.ones([n], { device });
    const out = await xpu.dropout(x, 0.3).data();
    const kept = Array.from(out).filter((v) => v !== 0);
    expectCount(kept.length, n, 0.7, 'kept');
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / Math.fround(0.7))]));
    // Not training, p = 0: the input itself (a view); p = 1: x * 0 (NaN stays NaN, as torch).
    expect(Array.from(await xpu.dropout(xpu.tensor([1, 2], { device }), 0.5, false).data())).toEqual([1, 2]);
    expect(Array.from(await xpu.dropout(xpu.tensor([1, 2], { device }), 0).data())).toEqual([1, 2]);
    expect(Array.from(await xpu.dropout(xpu.tensor([1, NaN, -3], { device }), 1).data())).toEqual([0, NaN, -0]);
    const h = xpu.dropout(xpu.ones([1000], { device, dtype: 'float16' }), 0.5);
    expect(h.dtype).toBe('float16');
    expect(new Set(await h.data())).toEqual(new Set([0, 2]));
    caught(() => xpu.dropout(x, 1.5), xpu.XpuValueError);
    caught(() => xpu.dropout(x, NaN), xpu.XpuValueError);
    caught(() => xpu.dropout(xpu.ones([2], { device, dtype: 'int32' })), xpu.XpuDTypeError);
  });

  it("randint: [low, high) uniformly, int32 by default, torch's short form and dtypes", async () => {
    xpu.manualSeed(2);
    const n = 30000;
    const r = xpu.randint(-3, 7, [n], { device });
    expect([r.dtype, r.shape]).toEqual(['int32', [n]]);
    const v = Array.from(await r.data());
    for (let k = -3; k < 7; k++) expectCount(v.filter((x) => x === k).length, n, 0.1, `value ${k}`);
    expect(v.every((x) => x >= -3 && x < 7)).toBe(true);
    const s = xpu.randint(5, [2, 3], { device, dtype: 'uint8' });
    expect([s.dtype, s.shape]).toEqual(['uint8', [2, 3]]);
    expect(Array.from(await s.data()).every((x) => x >= 0 && x < 5)).toBe(true);
    const f = await xpu.randint(0, 2 ** 31 - 1, [1000], { device, dtype: 'float32' }).data();
    expect(Array.from(f).every((x) => Number.isInteger(x) && x >= 0 && x <= 2 ** 31)).toBe(true);
    const big = await xpu.randint(-(2 ** 31), 2 ** 31 - 1, [2000], { device }).data();
    expectCount(Array.from(big).filter((x) => x < 0).length, 2000, 0.5, 'sign of full-range draws');
    caught(() => xpu.randint(3, 3, [2], { device }), xpu.XpuValueError);
    caught(() => xpu.randint(-1, 5, [2], { device, dtype: 'uint8' }), xpu.XpuValueError);
    caught(() => xpu.randint(0, 2 ** 31 + 1, [2], { device }), xpu.XpuValueError);
  });

  it('randperm: a permutation of 0..n-1, different for different draws', async () => {
    xpu.manualSeed(3);
    const p = xpu.randperm(1000, { device });
    expect(p.dtype).toBe('int32');
    const v = Array.from(await p.data());
    expect(v.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const w = Array.from(await xpu.randperm(1000, { device }).data());
    expect(w).not.toEqual(v);
    // Where 0 lands over many small permutations: uniform over the 5 places.
    const where = await xpu.stack(Array.from({ length: 20 }, () => xpu.randperm(5, { device }))).data();
    expect(new Set(Array.from(where)).size).toBe(5);
    expect(xpu.randperm(0, { device }).shape).toEqual([0]);
    const f = xpu.randperm(4, { device, dtype: 'float32' });
    expect([f.dtype, Array.from(await f.data()).sort()]).toEqual(['float32', [0, 1, 2, 3]]);
  });

  it('multinomial with replacement: frequencies follow the weights, zero weights never drawn', async () => {
    xpu.manualSeed(4);
    const w = [0, 1, 2, 0, 5];
    const n = 20000;
    const d = xpu.multinomial(xpu.tensor(w, { device }), n, true);
    expect([d.dtype, d.shape]).toEqual(['int32', [n]]);
    const v = Array.from(await d.data());
    w.forEach((wi, k) => {
      const c = v.filter((x) => x === k).length;
      if (wi === 0) expect(c, `class ${k}`).toBe(0);
      else expectCount(c, n, wi / 8, `class ${k}`);
    });
    // Rows of a 2-D tensor draw from their own weights (float16 weights accepted).
    const rows = xpu
      .tensor(
        [
          [1, 0, 0],
          [0, 0, 1],
        ],
        { device, dtype: 'float16' },
      )
      .multinomial(4, true);
    expect(await rows.toArray()).toEqual([
      [0, 0, 0, 0],
      [2, 2, 2, 2],
    ]);
    expect(xpu.multinomial(xpu.zeros([0, 3], { device }), 2, true).shape).toEqual([0, 2]);
  });

  it('multinomial without replacement: distinct classes, weighted first draws, zero weights last', async () => {
    xpu.manualSeed(5);
    // torch.multinomial([0., 1, 2], 3) = [2, 1, 0] or [1, 2, 0]: the zero-weight class comes last.
    const all = await xpu.multinomial(xpu.tensor([0, 1, 2], { device }), 3).data();
    expect(all[2]).toBe(0);
    expect(new Set(all).size).toBe(3);
    // The first draw of [1, 3] is class 1 with probability 3/4.
    const probs = xpu.tensor([1, 3], { device }).expand([4000, 2]);
    const first = await xpu.multinomial(probs, 2).data();
    let ones = 0;
    for (let r = 0; r < 4000; r++) {
      expect(first[2 * r] + first[2 * r + 1]).toBe(1);
      if (first[2 * r] === 1) ones++;
    }
    expectCount(ones, 4000, 0.75, 'first draw of class 1');
    caught(() => xpu.multinomial(xpu.tensor([1, 2], { device }), 3), xpu.XpuValueError);
    caught(() => xpu.multinomial(xpu.tensor([1, 2], { device }), 0), xpu.XpuValueError);
    caught(() => xpu.multinomial(xpu.tensor([1, 2], { device, dtype: 'int32' }), 1), xpu.XpuDTypeError);
    caught(() => xpu.multinomial(xpu.ones([2, 2, 2], { device }), 1), xpu.XpuShapeError);
    if (device === 'cpu') {
      // torch: invalid multinomial distribution (sum of probabilities <= 0); negative, NaN or inf weights.
      for (const bad of [
        [0, 0],
        [-1, 2],
        [NaN, 2],
        [Infinity, 2],
      ])
        caught(() => xpu.multinomial(xpu.tensor(bad), 1), xpu.XpuValueError);
    }
  });
});

describe.runIf(testDevices().includes('xpu'))('random ops draw the same numbers on both devices', () => {
  const twice = async (f: (device: string) => xpu.Tensor): Promise<[number[], number[]]> => {
    xpu.manualSeed(42);
    const a = Array.from(await f('cpu').data());
    xpu.manualSeed(42);
    const b = Array.from(await f('xpu').data());
    return [a, b];
  };

  it('dropout, randint, randperm and multinomial with replacement', async () => {
    for (const f of [
      (device: string) => xpu.dropout(xpu.ones([3000], { device }), 0.4),
      (device: string) => xpu.randint(-50, 1000, [3000], { device }),
      (device: string) => xpu.randint(0, 200, [1000], { device, dtype: 'uint8' }),
      (device: string) => xpu.randperm(777, { device }),
      // Weights whose cumulative sums are exact in float32, so both devices search the same cdf.
      (device: string) => xpu.multinomial(xpu.tensor([1, 0, 2, 4, 1], { device }), 2000, true),
    ]) {
      const [a, b] = await twice(f);
      expect(b).toEqual(a);
    }
  });
});
