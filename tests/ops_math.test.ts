import { describe, expect, it } from 'vitest';
import { erfc64, erfSeries64, expectUlp } from './float64.js';
import { caught, randomData, rng, testDevices, xpu } from './helpers.js';

/**
 * Issue 15's math ops on both devices against float64 references written here (independent of
 * src/), plus torch 1.13's special values (quoted where used) and dtypes: rounding, sign, erf,
 * log1p, expm1, reciprocal, square, activations, logical ops, isnan/isinf/isfinite, floor
 * division and remainders, clamp, lerp, maskedFill, isclose/allclose, any/all, logsumexp, norm.
 * Inputs are 1-D float32 vectors of special values and random data where possible, so each op
 * compiles one pipeline per device.
 */

/** Exact equality that tells -0 from 0 and accepts NaN for NaN. */
function expectSame(out: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  expect(Array.from(out, show), what).toEqual(Array.from(ref, show));
}

function uniform(n: number, lo: number, hi: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround(lo + r() * (hi - lo)));
}

function logUniform(n: number, lo: number, hi: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const v = Math.fround(Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo))));
    return r() < 0.5 ? -v : v;
  });
}

const N = 2000;
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 1e-8, -1e-8, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 1, -1, 3, -3];

/** Round half to even in float64 (the reference for torch.round / std::nearbyint). */
const rne = (x: number): number => (Number.isFinite(x) && Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
const erf64 = (x: number): number => (Number.isNaN(x) ? NaN : x < 0 ? -erf64(-x) : x < 3 ? erfSeries64(x) : 1 - erfc64(x));
const softplus64 = (x: number, b = 1, t = 20): number => (x * b > t ? x : Math.log1p(Math.exp(x * b)) / b);

interface UnaryCase {
  op: (t: xpu.Tensor) => xpu.Tensor;
  ref: (x: number) => number;
  /** ulp bound on xpu; the cpu twin computes in float64 and is held to 1 (0 where exact). */
  maxUlp: number;
  inputs: number[];
}

const UNARY: Record<string, UnaryCase> = {
  floor: {
    op: (t) => t.floor(),
    ref: Math.floor,
    maxUlp: 0,
    inputs: [...SPECIAL, ...uniform(N, -1e3, 1e3, 1), ...logUniform(N, 1e-3, 3e38, 2)],
  },
  ceil: { op: (t) => t.ceil(), ref: Math.ceil, maxUlp: 0, inputs: [...SPECIAL, ...uniform(N, -1e3, 1e3, 3)] },
  trunc: { op: (t) => t.trunc(), ref: Math.trunc, maxUlp: 0, inputs: [...SPECIAL, ...uniform(N, -1e3, 1e3, 4)] },
  round: {
    op: (t) => t.round(),
    ref: rne,
    maxUlp: 0,
    inputs: [
      ...SPECIAL,
      0.49999997,
      8388609,
      -8388609,
      4.5,
      5.5,
      ...uniform(N, -100, 100, 5).map((x) => Math.round(x * 2) / 2),
      ...uniform(N, -1e3, 1e3, 6),
    ],
  },
  sign: { op: (t) => t.sign(), ref: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), maxUlp: 0, inputs: [...SPECIAL, ...uniform(200, -5, 5, 7)] },
  erf: { op: (t) => t.erf(), ref: erf64, maxUlp: 2, inputs: [...SPECIAL, ...uniform(N, -6, 6, 8), ...logUniform(N, 1e-30, 1, 9)] },
  log1p: {
    op: (t) => t.log1p(),
    ref: Math.log1p,
    maxUlp: 2,
    inputs: [
      ...SPECIAL,
      -0.9999999,
      -0.75,
      0.999,
      1.001,
      ...uniform(N, -1, 3, 10),
      ...logUniform(N, 1e-30, 0.5, 11),
      ...logUniform(N, 1, 3e38, 12).map(Math.abs),
    ],
  },
  expm1: {
    op: (t) => t.expm1(),
    ref: Math.expm1,
    maxUlp: 2,
    inputs: [...SPECIAL, 88.7, 89, -17.3, -104, ...uniform(N, -3, 3, 13), ...logUniform(N, 1e-30, 1, 14), ...uniform(N, -110, 89, 15)],
  },
  reciprocal: { op: (t) => t.reciprocal(), ref: (x) => 1 / x, maxUlp: 1, inputs: [...SPECIAL, ...logUniform(N, 1e-37, 1e37, 16)] },
  square: { op: (t) => t.square(), ref: (x) => x * x, maxUlp: 0.5, inputs: [...SPECIAL, ...logUniform(N, 1e-18, 1e18, 17)] },
  hardswish: {
    op: (t) => xpu.hardswish(t),
    ref: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
    maxUlp: 2,
    inputs: [...SPECIAL, -3, 3, ...uniform(N, -5, 5, 18)],
  },
  mish: {
    op: (t) => xpu.mish(t),
    ref: (x) => x * Math.tanh(Math.log1p(Math.exp(x))),
    maxUlp: 4,
    inputs: [...SPECIAL, -100, -88, -20.5, 19.9, 21, ...uniform(N, -30, 30, 19), ...uniform(N, -3, 3, 20)],
  },
  leakyRelu: {
    op: (t) => xpu.leakyRelu(t, 0.2),
    ref: (x) => (x > 0 ? x : x * 0.2),
    maxUlp: 1,
    inputs: [...SPECIAL, ...uniform(N, -5, 5, 21)],
  },
  elu: {
    op: (t) => xpu.elu(t, 1.5),
    ref: (x) => (x > 0 || Number.isNaN(x) ? x : x === 0 ? 0 : 1.5 * Math.expm1(x)),
    maxUlp: 2,
    inputs: [...SPECIAL, ...uniform(N, -20, 5, 22), ...logUniform(N, 1e-30, 1, 23)],
  },
  softplus: {
    op: (t) => xpu.softplus(t),
    ref: (x) => softplus64(x),
    maxUlp: 3,
    inputs: [...SPECIAL, 20, 20.001, 19.999, -100, ...uniform(N, -30, 30, 24)],
  },
  'softplus(beta 2, threshold 5)': {
    op: (t) => xpu.softplus(t, 2, 5),
    ref: (x) => softplus64(x, 2, 5),
    maxUlp: 3,
    inputs: [...SPECIAL, 2.5, 2.4999, ...uniform(N, -10, 10, 25)],
  },
};

describe.each(testDevices())('math ops on %s', (device) => {
  const t = (v: ArrayLike<number>, dtype: xpu.DType = 'float32') => xpu.tensor(Array.from(v), { device, dtype });

  it.each(Object.keys(UNARY))('%s is within its ulp bound of float64, special values included', async (name) => {
    const c = UNARY[name];
    const xs = c.inputs.map(Math.fround);
    const out = await c.op(t(xs)).data();
    expectUlp(out, xs.map(c.ref), device === 'cpu' ? Math.min(c.maxUlp, 1) : c.maxUlp, `${name} on ${device}`, [xs]);
    // Signed zeros exactly where the reference has one.
    xs.forEach((x, i) => {
      const r = Math.fround(c.ref(x));
      if (r === 0) expect(Object.is(out[i], -0), `${name}(${x}) sign of zero`).toBe(Object.is(r, -0));
    });
  });

  it('special values as torch 1.13 gives them', async () => {
    // torch.sign([-0., 0., nan, -inf, 2]) = [0., 0., 0., -1., 1.]
    expectSame(await t([-0, 0, NaN, -Infinity, 2]).sign().data(), [0, 0, 0, -1, 1], 'sign');
    // torch.log1p([-1., -2., 1e-10, inf, -0.]) = [-inf, nan, 1e-10, inf, -0.]
    expectSame(await t([-1, -2, 1e-10, Infinity, -0]).log1p().data(), [-Infinity, NaN, Math.fround(1e-10), Infinity, -0], 'log1p');
    // torch.expm1([-inf, 1e-10, 89., -0.]) = [-1., 1e-10, inf, -0.]
    expectSame(await t([-Infinity, 1e-10, 89, -0]).expm1().data(), [-1, Math.fround(1e-10), Infinity, -0], 'expm1');
    // torch.round([0.5, 1.5, 2.5, -0.5, -2.5]) = [0., 2., 2., -0., -2.]; ceil(-0.5) = -0.
    expectSame(await t([0.5, 1.5, 2.5, -0.5, -2.5]).round().data(), [0, 2, 2, -0, -2], 'round');
    expectSame(await t([-0.5, -0, 0.5]).ceil().data(), [-0, -0, 1], 'ceil');
    // F.hardswish([-3., 3., -0., nan, inf, -inf]) = [-0., 3., -0., nan, inf, nan]
    expectSame(await xpu.hardswish(t([-3, 3, -0, NaN, Infinity, -Infinity])).data(), [-0, 3, -0, NaN, Infinity, NaN], 'hardswish');
    // F.mish([-0., nan, inf, -inf]) = [-0., nan, inf, nan]. (torch's mish(-100.) = -3.7835e-42 has
    // e^-100 rounded to a 5-bit subnormal first; -100 e^-100 = -3.7201e-42 is rounded once here.)
    expectSame(await xpu.mish(t([-0, NaN, Infinity, -Infinity])).data(), [-0, NaN, Infinity, NaN], 'mish');
    expectUlp(await xpu.mish(t([-100])).data(), [-100 * Math.exp(-100)], 1, 'mish(-100)', [[-100]]);
    // F.elu([-0., nan, -inf]) = [0., nan, -1.]; F.leaky_relu([-0., nan]) = [-0., nan]
    expectSame(await xpu.elu(t([-0, NaN, -Infinity])).data(), [0, NaN, -1], 'elu');
    expectSame(await xpu.leakyRelu(t([-0, NaN, -2])).data(), [-0, NaN, Math.fround(-0.02)], 'leakyRelu');
    // F.softplus([nan, inf, -inf, 20., 20.0001]) = [nan, inf, 0., 20., 20.0001] (the linear tail past the threshold)
    expectSame(
      await xpu.softplus(t([NaN, Infinity, -Infinity, 30, 20.0001])).data(),
      [NaN, Infinity, 0, 30, Math.fround(20.0001)],
      'softplus',
    );
    expectSame(await t([1, 0]).reciprocal().data(), [1, Infinity], 'reciprocal');
  });

  it('round with decimals in float32 steps, as torch', async () => {
    // torch.round([1.2345, 2.5e-3, 1234.5, -0.15], decimals=2) = [1.23, 0., 1234.5, -0.15]
    expectSame(
      await xpu.round(t([1.2345, 2.5e-3, 1234.5, -0.15]), { decimals: 2 }).data(),
      [1.23, 0, 1234.5, -0.15].map(Math.fround),
      'decimals 2',
    );
    // torch.round([1234.5, 1250., 1350., -0.15], decimals=-2) = [1200., 1200., 1400., -0.]
    expectSame(await xpu.round(t([1234.5, 1250, 1350, -0.15]), { decimals: -2 }).data(), [1200, 1200, 1400, -0], 'decimals -2');
    // torch: [1e20, inf, nan, -0.3] decimals=3 -> [1e20, inf, nan, -0.3]; 3e38 decimals=3 -> inf.
    expectSame(
      await xpu.round(t([1e20, Infinity, NaN, -0.3, 3e38]), { decimals: 3 }).data(),
      [1e20, Infinity, NaN, -0.3, Infinity].map(Math.fround),
      'decimals 3',
    );
    const xs = uniform(N, -100, 100, 40);
    const ref = xs.map((x) => Math.fround(rne(Math.fround(x * 1000)) / 1000));
    expectSame(await xpu.round(t(xs), { decimals: 3 }).data(), ref, 'random, decimals 3');
    // Integers: round without decimals is the identity (torch); with decimals torch refuses them.
    expect(Array.from(await t([3, -4], 'int32').round().data())).toEqual([3, -4]);
    caught(() => xpu.round(t([3], 'int32'), { decimals: 1 }), xpu.XpuDTypeError);
  });

  it('dtypes as torch: integers keep theirs where torch does, float ops give float32, bool refused where torch refuses', async () => {
    const i = t([-3, 0, 4, -7], 'int32');
    // (Every integer case runs on cpu; on xpu a sample, to keep the GPU pipelines this file compiles few.)
    const cpu = device === 'cpu';
    for (const op of cpu ? (['floor', 'ceil', 'round', 'trunc'] as const) : (['floor'] as const)) {
      const r = i[op]();
      expect(r.dtype).toBe('int32');
      expect(Array.from(await r.data())).toEqual([-3, 0, 4, -7]);
      caught(() => t([1], 'bool')[op](), xpu.XpuDTypeError);
    }
    expect(Array.from(await i.sign().data())).toEqual([-1, 0, 1, -1]);
    // torch.sign(uint8 [253, 0, 4]) = [1, 0, 1]; sign of bool is bool.
    expect(Array.from(await t([253, 0, 4], 'uint8').sign().data())).toEqual([1, 0, 1]);
    if (cpu) {
      const sb = t([1, 0], 'bool').sign();
      expect([sb.dtype, Array.from(await sb.data())]).toEqual(['bool', [1, 0]]);
    }
    // torch.square(int8 [3, -2]) = [9, 4] int8; uint8 100^2 wraps to 16; square(bool) is an integer.
    expect(Array.from(await t([3, -2, 12], 'int8').square().data())).toEqual([9, 4, -112]);
    if (cpu) expect(Array.from(await t([100], 'uint8').square().data())).toEqual([16]);
    const sq = t([1, 0], 'bool').square();
    expect([sq.dtype, Array.from(await sq.data())]).toEqual(['int32', [1, 0]]);
    // erf/log1p/expm1/reciprocal of integers are float32 (torch.reciprocal([1, 0]) = [1., inf]).
    if (cpu) for (const op of ['erf', 'log1p', 'expm1', 'reciprocal'] as const) expect(i[op]().dtype).toBe('float32');
    expectSame(await t([1, 0], 'int32').reciprocal().data(), [1, Infinity], 'reciprocal of int');
    // Activations refuse integers, as torch ("leaky_relu_cpu" not implemented for 'Long').
    for (const f of [xpu.leakyRelu, xpu.elu, xpu.softplus, xpu.hardswish, xpu.mish]) caught(() => f(i), xpu.XpuDTypeError);
    // float16 in, float16 out, computed in float32 and rounded once.
    const h = t([0.1, -2.5, 3.3], 'float16');
    const hx = Array.from(await h.data());
    expect(h.log1p().dtype).toBe('float16');
    expectSame(await h.log1p().data(), await xpu.tensor(hx.map(Math.log1p)).to('float16').data(), 'log1p float16');
    expectSame(
      await xpu.leakyRelu(h, 0.01).data(),
      await xpu
        .tensor(hx.map((x) => (x > 0 ? x : x * 0.01)))
        .to('float16')
        .data(),
      'leakyRelu float16',
    );
  });

  it('isnan, isinf, isfinite and logicalNot give bool for every dtype', async () => {
    const x = t([NaN, Infinity, -Infinity, 0, -0, 1]);
    expect(Array.from(await x.isnan().data())).toEqual([1, 0, 0, 0, 0, 0]);
    expect(Array.from(await x.isinf().data())).toEqual([0, 1, 1, 0, 0, 0]);
    expect(Array.from(await x.isfinite().data())).toEqual([0, 0, 0, 1, 1, 1]);
    // torch.logical_not([1., nan, 0., -0.]) = [False, False, True, True]
    expect(Array.from(await x.logicalNot().data())).toEqual([0, 0, 0, 1, 1, 0]);
    for (const dtype of device === 'cpu' ? (['int32', 'uint8', 'bool'] as const) : (['int32'] as const)) {
      const i = t([0, 1], dtype);
      for (const [op, ref] of [
        ['isnan', [0, 0]],
        ['isinf', [0, 0]],
        ['isfinite', [1, 1]],
        ['logicalNot', [1, 0]],
      ] as const) {
        const r = i[op]();
        expect([r.dtype, Array.from(await r.data())], `${op} ${dtype}`).toEqual(['bool', ref]);
      }
    }
    expect(t([], 'float32').isnan().shape).toEqual([0]);
  });

  it('logicalAnd / Or / Xor: nonzero is true (NaN too), any dtypes, broadcast, bool result', async () => {
    // torch.logical_and([1., nan, 0.], [2, 3, 4]) = [True, True, False]
    const a = t([1, NaN, 0]);
    const b = t([2, 3, 4], 'int32');
    expect(Array.from(await a.logicalAnd(b).data())).toEqual([1, 1, 0]);
    expect(Array.from(await a.logicalOr(t([0, 0, 0], 'uint8')).data())).toEqual([1, 1, 0]);
    const col = xpu.tensor([[0], [5]], { device, dtype: 'int8' });
    const row = t([0, 1, 1], 'bool');
    const x = col.logicalXor(row);
    expect([x.dtype, x.shape, await x.toArray()]).toEqual([
      'bool',
      [2, 3],
      [
        [false, true, true],
        [true, false, false],
      ],
    ]);
    caught(() => xpu.logicalAnd(a, 1 as never), xpu.XpuTypeError);
  });

  it('floorDivide, remainder and fmod on floats: Python // and %, C fmod, exact, with torch special values', async () => {
    const av = [7, -7, 7, -7, 0, -0, 1, Infinity, NaN, 5, -5, 5, -5, 1e30, -1e-30, 6, -6];
    const bv = [2, 2, -2, -2, -2, 3, 0, 2, 1, Infinity, Infinity, -Infinity, -Infinity, 3, 3, -3, 3];
    // torch 1.13 (float32):
    const FLOOR = [3, -4, -4, 3, -0, -0, Infinity, NaN, NaN, 0, -1, -1, 0, 3.333333383491554e29, -1, -2, -2];
    const REM = [1, 1, -1, -1, 0, -0, NaN, NaN, NaN, 5, Infinity, -Infinity, -5, 0, 3, 0, -0];
    const FMOD = [1, -1, 1, -1, 0, -0, NaN, NaN, NaN, 5, -5, 5, -5, 0, -1e-30, 0, -0];
    const A = t(av);
    const B = t(bv);
    expectSame(await A.floorDivide(B).data(), FLOOR.map(Math.fround), 'floorDivide');
    expectSame(await A.remainder(B).data(), REM.map(Math.fround), 'remainder');
    expectSame(await A.fmod(B).data(), FMOD.map(Math.fround), 'fmod');
    // Random operands: fmod is exact (JS % is C's fmod on the float32 values), remainder moves it
    // by b once, floor division is floor(a / b) exactly (a / b in float64 is never wrong about the
    // floor for float32 operands), rounded once to float32.
    const xs = [...uniform(N, -100, 100, 41), ...logUniform(N, 1e-20, 1e30, 42)];
    const ys = [...uniform(N, -7, 7, 43), ...logUniform(N, 1e-10, 1e10, 44)].map((y) => y || 1);
    const X = t(xs);
    const Y = t(ys);
    expectSame(
      await X.fmod(Y).data(),
      xs.map((x, i) => Math.fround(x % ys[i])),
      'fmod random',
    );
    expectSame(
      await X.remainder(Y).data(),
      xs.map((x, i) => {
        const m = x % ys[i];
        return Math.fround(m !== 0 && m < 0 !== ys[i] < 0 ? m + ys[i] : m);
      }),
      'remainder random',
    );
    const fl = await X.floorDivide(Y).data();
    const flRef = xs.map((x, i) => Math.floor(x / ys[i]));
    // Exact below 2^22. Above it xpu computes (a - fmod) / b in float32 as torch does, and can be
    // one off, as torch is: torch.floor_divide(41.38174819946289, -5.8361474657431245e-06) gives
    // -7090595 where the quotient is -7090593.31 (cpu computes in float64: -7090594).
    const small = flRef.map((r) => Math.abs(r) < 2 ** 22);
    expectSame(
      Array.from(fl).filter((_, i) => small[i]),
      flRef.filter((_, i) => small[i]).map(Math.fround),
      'floorDivide random, small quotients',
    );
    expectUlp(fl, flRef, device === 'cpu' ? 1 : 2, 'floorDivide random', [xs, ys]);
    // With a scalar, and broadcast [3, 1] by [4].
    expectSame(
      await X.narrow(0, 0, 4).remainder(2.5).data(),
      xs.slice(0, 4).map((x) => Math.fround(((x % 2.5) + 2.5) % 2.5)),
      'remainder scalar',
    );
    const col = xpu.tensor([[7], [-7], [0.5]], { device });
    expect(await col.floorDivide(t([2, -2, 3, 0.5])).toArray()).toEqual([
      [3, -4, 2, 14],
      [-4, 3, -3, -14],
      [0, -1, 0, 1],
    ]);
  });

  it("floorDivide, remainder and fmod on integers: torch's rules, and division by zero", async () => {
    const a = t([7, -7, 7, -7, 0, -2147483648, 5], 'int32');
    const b = t([2, 2, -2, -2, 3, -1, 7], 'int32');
    // torch: floor_divide [3, -4, -4, 3], remainder [1, 1, -1, -1], fmod [1, -1, 1, -1]; INT_MIN / -1 wraps.
    expect(Array.from(await a.floorDivide(b).data())).toEqual([3, -4, -4, 3, 0, -2147483648, 0]);
    expect(Array.from(await a.remainder(b).data())).toEqual([1, 1, -1, -1, 0, 0, 5]);
    expect(Array.from(await a.fmod(b).data())).toEqual([1, -1, 1, -1, 0, 0, 5]);
    // torch: floor_divide(uint8 [7, 249], 2) = [3, 124]; int8 stays int8.
    expect(Array.from(await t([7, 249], 'uint8').floorDivide(2).data())).toEqual([3, 124]);
    const i8 = t([-7, 7], 'int8').remainder(t([3, -3], 'int8'));
    expect([i8.dtype, Array.from(await i8.data())]).toEqual(['int8', [2, -2]]);
    // A float scalar makes the result float: torch.remainder([7, -7], 2.5) = [2., 0.5].
    const f = t([7, -7], 'int32').remainder(2.5);
    expect([f.dtype, Array.from(await f.data())]).toEqual(['float32', [2, 0.5]]);
    // Division by zero: a scalar 0 throws on every device (torch: ZeroDivisionError).
    for (const op of ['floorDivide', 'remainder', 'fmod'] as const) caught(() => a[op](0), xpu.XpuValueError);
    const zero = t([1, 0, 2, 3, 4, 5, 6], 'int32');
    if (device === 'cpu') {
      for (const op of ['floorDivide', 'remainder', 'fmod'] as const)
        expect(caught(() => a[op](zero), xpu.XpuValueError).got).toContain('position 1');
    } else {
      // An xpu divisor cannot be read without an await: a zero gives 0 there (documented).
      expect(Array.from(await a.floorDivide(zero).data())).toEqual([7, 0, 3, -3, 0, -429496730, 0]);
    }
    caught(() => t([1], 'bool').floorDivide(t([1], 'bool')), xpu.XpuDTypeError);
  });

  it('clamp / clip: number and tensor bounds, NaN and -0 as torch, dtypes by result_type', async () => {
    const x = t([1, NaN, 3, -0, 0, 5]);
    // torch.clamp(x, min=2., max=4.): NaN stays, -0 and 0 go to 2.
    expectSame(await x.clamp(2, 4).data(), [2, NaN, 3, 2, 2, 4], 'number bounds');
    // torch: clamp(x, min=2., max=1.) = max everywhere (NaN stays).
    expectSame(await xpu.clip(x, 2, 1).data(), [1, NaN, 1, 1, 1, 1], 'min > max');
    // One NaN number bound is ignored; two bounds with a NaN give NaN; a NaN tensor bound gives NaN.
    expectSame(await x.clamp(NaN).data(), [1, NaN, 3, -0, 0, 5], 'min = NaN alone');
    expectSame(await x.clamp(null, NaN).data(), [1, NaN, 3, -0, 0, 5], 'max = NaN alone');
    expectSame(await x.clamp(0, NaN).data(), [NaN, NaN, NaN, NaN, NaN, NaN], 'min 0, max NaN');
    expectSame(await x.clamp(t([NaN, 0, 0, 0, 0, 0])).data(), [NaN, NaN, 3, -0, 0, 5], 'NaN tensor bound');
    // std::max / std::min keep x on ties: clamp(-0, min=0) = -0, clamp(0, max=-0) = 0.
    expectSame(await t([-0, 0]).clamp(0).data(), [-0, 0], 'min 0 keeps -0');
    expectSame(await t([-0, 0]).clamp(undefined, -0).data(), [-0, 0], 'max -0 keeps 0');
    // Tensor bounds broadcast: clamp([1., 5, 9], min=[[2.], [3.]]) is [2, 3].
    const lo = xpu.tensor([[2], [6]], { device });
    const hi = t([8]);
    const r = t([1, 5, 9]).clamp(lo, hi);
    expect([r.shape, await r.toArray()]).toEqual([
      [2, 3],
      [
        [2, 5, 8],
        [6, 6, 8],
      ],
    ]);
    // Dtypes: int8 clamped by 2.5 is float32; uint8 bounds beyond the dtype saturate (no wrap).
    const i8 = t([1, 2, 3], 'int8').clamp(2.5);
    expect([i8.dtype, Array.from(await i8.data())]).toEqual(['float32', [2.5, 2.5, 3]]);
    const u8 = t([1, 5, 9], 'uint8').clamp(-1, 300);
    expect([u8.dtype, Array.from(await u8.data())]).toEqual(['uint8', [1, 5, 9]]);
    expect(Array.from(await t([1, 5, 9], 'uint8').clamp(3, 7).data())).toEqual([3, 5, 7]);
    expect(
      Array.from(
        await t([1, 0], 'bool')
          .clamp(t([1], 'bool'))
          .data(),
      ),
    ).toEqual([1, 1]);
    caught(() => x.clamp(), xpu.XpuValueError);
    // torch.clamp(bool [True, False], min=0) is an integer tensor [1, 0].
    const bi = t([1, 0], 'bool').clamp(0);
    expect([bi.dtype, Array.from(await bi.data())]).toEqual(['int32', [1, 0]]);
    // Random data against min(max(x, lo), hi) in float64.
    const xs = uniform(N, -10, 10, 45);
    const los = uniform(N, -5, 0, 46);
    expectSame(
      await t(xs).clamp(t(los), 3).data(),
      xs.map((v, i) => Math.min(Math.max(v, los[i]), 3)),
      'random tensor min, number max',
    );
  });

  it("lerp: torch's two-sided formula, number or tensor weights, float dtypes", async () => {
    const s = t([1, Infinity, -Infinity, 0, 1, 2]);
    const e = t([3, 4, 5, Infinity, 3, 4]);
    // torch.lerp([1., inf, -inf, 0.], [3., 4, 5, inf], 0.75) = [2.5, inf, -inf, nan]
    expectSame(await xpu.lerp(s, e, 0.75).data(), [2.5, Infinity, -Infinity, NaN, 2.5, 3.5], 'lerp 0.75');
    expectSame(await xpu.lerp(t([1, 2]), t([3, 4]), 2).data(), [5, 6], 'lerp 2');
    const a = uniform(N, -10, 10, 47);
    const b = uniform(N, -10, 10, 48);
    const w = uniform(N, -0.5, 1.5, 49);
    const ref = a.map((x, i) => (Math.abs(w[i]) < 0.5 ? x + w[i] * (b[i] - x) : b[i] - (b[i] - x) * (1 - w[i])));
    // torch's formula cancels where the result is small beside the operands (in float32 too, on
    // torch's side): the error is bounded by the operands' scale, a few ulp of max(|a|, |b|).
    const out = await t(a).lerp(t(b), t(w)).data();
    const worst = Math.max(...ref.map((r, i) => Math.abs(out[i] - r) / (Math.max(Math.abs(a[i]), Math.abs(b[i])) * 2 ** -23)));
    expect(worst, 'lerp error in ulp of the operands').toBeLessThanOrEqual(device === 'cpu' ? 1 : 4);
    const m = xpu.lerp(t([1, 2]), xpu.tensor([[3], [4]], { device }), t([0.5, 0.75]));
    expect(await m.toArray()).toEqual([
      [2, 2.75],
      [2.5, 3.5],
    ]);
    caught(() => xpu.lerp(t([1]), t([1], 'float16'), 0.5), xpu.XpuDTypeError);
    caught(() => xpu.lerp(t([1], 'int32'), t([1], 'int32'), 0.5), xpu.XpuDTypeError);
  });

  it("maskedFill: bool mask broadcast, the value cast to x's dtype, 0-d tensor values", async () => {
    const m = t([1, 0, 1], 'bool');
    expectSame(await t([1, 2, 3]).maskedFill(m, 0.5).data(), [0.5, 2, 0.5], 'float');
    // torch: int tensor masked_fill 0.5 -> 0, tensor(7.5) -> 7; uint8 with -1 -> 255.
    expect(Array.from(await t([1, 2, 3], 'int32').maskedFill(m, 0.5).data())).toEqual([0, 2, 0]);
    expect(Array.from(await t([1, 2, 3], 'int32').maskedFill(m, xpu.tensor(7.5, { device })).data())).toEqual([7, 2, 7]);
    expect(Array.from(await t([1, 2, 3], 'uint8').maskedFill(m, -1).data())).toEqual([255, 2, 255]);
    expectSame(await t([1, 2, 3]).maskedFill(m, NaN).data(), [NaN, 2, NaN], 'NaN fill');
    const b = t([1, 2, 3]).maskedFill(xpu.tensor([[true], [false]], { device }), -Infinity);
    expect(await b.toArray()).toEqual([
      [-Infinity, -Infinity, -Infinity],
      [1, 2, 3],
    ]);
    caught(() => t([1, 2, 3]).maskedFill(t([1, 0, 1], 'int32'), 9), xpu.XpuDTypeError);
    caught(() => t([1, 2, 3]).maskedFill(m, t([9])), xpu.XpuShapeError);
  });

  it("isclose and allclose: torch's formula, infinities, NaN, integers exactly", async () => {
    // torch.isclose([1., inf, -inf, nan, 1e-9, inf], [1.00001, inf, inf, nan, 0., 1e38]) = [F, T, F, F, T, F]
    const a = t([1, Infinity, -Infinity, NaN, 1e-9, Infinity]);
    const b = t([1.00001, Infinity, Infinity, NaN, 0, 1e38]);
    expect(Array.from(await a.isclose(b).data())).toEqual([0, 1, 0, 0, 1, 0]);
    expect(Array.from(await a.isclose(b, { equalNan: true }).data())).toEqual([0, 1, 0, 1, 1, 0]);
    expect(
      Array.from(
        await t([1.5])
          .isclose(t([1]), { atol: 0.5, rtol: 0 })
          .data(),
      ),
    ).toEqual([1]);
    // Integers: |a - b| exactly, no wrap (torch.isclose(uint8 5, uint8 10, atol=4, rtol=0.1) is True).
    expect(
      Array.from(
        await t([5, 10, 0], 'uint8')
          .isclose(t([10, 5, 255], 'uint8'), { atol: 4, rtol: 0.1 })
          .data(),
      ),
    ).toEqual([1, 0, 0]);
    expect(
      Array.from(
        await t([-2147483648, 7], 'int32')
          .isclose(t([2147483647, 7], 'int32'), { atol: 1 })
          .data(),
      ),
    ).toEqual([0, 1]);
    expect(await xpu.allclose(t([1, 2]), xpu.tensor([[1, 2.000001]], { device }))).toBe(true);
    expect(await xpu.allclose(t([1, 2]), t([1, 2.1]))).toBe(false);
    expect(await xpu.allclose(t([NaN]), t([NaN]), { equalNan: true })).toBe(true);
    caught(() => t([1]).isclose(t([1], 'float16')), xpu.XpuDTypeError);
    caught(() => t([1]).isclose(t([1]), { rtol: -1 }), xpu.XpuValueError);
  });

  it('any / all: nonzero (NaN included), dims, keepdim, empty reductions, uint8 stays uint8', async () => {
    const x = xpu.tensor(
      [
        [0, 1, NaN],
        [0, 0, 0],
      ],
      { device },
    );
    expect(await xpu.any(x).item()).toBe(true);
    expect(await xpu.all(x).item()).toBe(false);
    expect(await x.any(1).toArray()).toEqual([true, false]);
    expect(await x.all(0, true).toArray()).toEqual([[false, false, false]]);
    expect(await t([1, NaN]).all().item()).toBe(true);
    // torch: all(zeros(0)) = True, any(zeros(0)) = False, any(zeros(2, 0), 1) = [False, False].
    expect(await t([]).all().item()).toBe(true);
    expect(await t([]).any().item()).toBe(false);
    const e = xpu.zeros([2, 0], { device });
    expect(await e.all(1).toArray()).toEqual([true, true]);
    expect(await e.any(-1, true).toArray()).toEqual([[false], [false]]);
    // torch.any(uint8 [0, 2]) = tensor(1, dtype=uint8); int8 gives bool.
    const u = t([0, 2], 'uint8').any();
    expect([u.dtype, await u.item()]).toEqual(['uint8', 1]);
    if (device === 'cpu') {
      expect(t([0, 2], 'int8').any().dtype).toBe('bool');
      expect(await t([1, 1], 'bool').all().item()).toBe(true);
    }
  });

  it('logsumexp: stable, infinities as torch, integer inputs, dims', async () => {
    const x = xpu.tensor(randomData(60, 50, 30), { device, shape: [3, 4, 5] });
    const xs = Array.from(await x.data());
    const ref = (rows: number[][]) =>
      rows.map((r) => {
        const m = Math.max(...r);
        return m + Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0));
      });
    // Over dims [0, 2] (keepdim), rows gathered from the [3, 4, 5] layout.
    const rows = Array.from({ length: 4 }, (_, j) => {
      const r: number[] = [];
      for (let i = 0; i < 3; i++) for (let k = 0; k < 5; k++) r.push(xs[i * 20 + j * 5 + k]);
      return r;
    });
    const out = x.logsumexp([0, -1], true);
    expect(out.shape).toEqual([1, 4, 1]);
    expectUlp(await out.data(), ref(rows), 4, 'logsumexp', [ref(rows)]);
    // torch: [-inf, -inf] -> -inf, [inf, 1] -> inf, [inf, -inf] -> inf, [nan, 1] -> nan, empty -> -inf.
    expectSame(
      await xpu
        .tensor(
          [
            [-Infinity, -Infinity],
            [Infinity, 1],
            [Infinity, -Infinity],
            [NaN, 1],
          ],
          { device },
        )
        .logsumexp(1)
        .data(),
      [-Infinity, Infinity, Infinity, NaN],
      'special rows',
    );
    expectSame(await xpu.zeros([0, 3], { device }).logsumexp(0).data(), [-Infinity, -Infinity, -Infinity], 'empty');
    // torch.logsumexp(tensor([1, 2]), 0) = 2.3133 (float32). (Casts around the same maps: cpu only,
    // to keep xpu's pipelines few.)
    if (device === 'cpu') {
      const i = t([1, 2], 'int32').logsumexp(0);
      expect(i.dtype).toBe('float32');
      expect(await i.item()).toBeCloseTo(2 + Math.log1p(Math.exp(-1)), 6);
      expect(await xpu.tensor(3, { device }).logsumexp(0).item()).toBe(3);
      expect(t([1, 2], 'float16').logsumexp(0).dtype).toBe('float16');
    }
  });

  it('cumsum and cumprod: along every dim of a strided tensor, long rows, float64 references', async () => {
    const shape = [3, 50, 7];
    const v = Array.from(randomData(1050, 52, 2)).map(Math.fround);
    const x = xpu.tensor(v, { device, shape }).transpose(0, 2); // [7, 50, 3], strided
    const at = (i: number, j: number, k: number) => v[k * 350 + j * 7 + i]; // x[i, j, k]
    for (const dim of [0, 1, -1]) {
      for (const op of ['cumsum', 'cumprod'] as const) {
        const out = await x[op](dim).data();
        const ref: number[] = [];
        for (let i = 0; i < 7; i++)
          for (let j = 0; j < 50; j++)
            for (let k = 0; k < 3; k++) {
              const c = [i, j, k];
              const d = dim < 0 ? dim + 3 : dim;
              let acc = op === 'cumsum' ? 0 : 1;
              for (let q = 0; q <= c[d]; q++) {
                const cc = c.slice();
                cc[d] = q;
                acc = op === 'cumsum' ? acc + at(cc[0], cc[1], cc[2]) : acc * at(cc[0], cc[1], cc[2]);
              }
              ref.push(acc);
            }
        // Relative to the running magnitudes (a float32 scan rounds at every step).
        const scale = op === 'cumsum' ? 50 * 2 : 1;
        const worst = Math.max(...ref.map((r, i) => Math.abs(out[i] - r) / (Math.abs(r) * 2 ** -23 + scale * 2 ** -23)));
        expect(worst, `${op} dim ${dim}`).toBeLessThan(device === 'cpu' ? 1 : 64);
      }
    }
    // One long row: 64 chunks of 157 elements, each running from its prefix.
    const long = Array.from(randomData(10000, 53, 1)).map(Math.fround);
    const cs = await xpu.tensor(long, { device }).cumsum(0).data();
    let acc = 0;
    const worst = Math.max(
      ...long.map((q, i) => {
        acc += q;
        return Math.abs(cs[i] - acc);
      }),
    );
    expect(worst).toBeLessThan(device === 'cpu' ? 1e-5 : 2e-4);
  });

  it('cumsum and cumprod: dtypes (int32 for integers, wrapping), NaN, 0-d, empty, dtype option', async () => {
    // torch.cumsum(int8 [1, 2]) = int64 [1, 3]: int32 here; bool too. uint32 stays uint32.
    const c8 = t([100, 100, 100], 'int8').cumsum(0);
    expect([c8.dtype, Array.from(await c8.data())]).toEqual(['int32', [100, 200, 300]]);
    if (device === 'cpu') expect(Array.from(await t([1, 1, 0, 1], 'bool').cumsum(0).data())).toEqual([1, 2, 2, 3]);
    expect(t([1], 'uint32').cumsum(0).dtype).toBe('uint32');
    // int32 products wrap as torch's int32 arithmetic would (65536^2 = 2^32 -> 0).
    expect(Array.from(await t([65536, 65536, 3], 'int32').cumprod(0).data())).toEqual([65536, 0, 0]);
    // torch.cumprod([1., nan, 2, inf, 0]) = [1, nan, nan, nan, nan]
    expectSame(await t([1, NaN, 2, Infinity, 0]).cumprod(0).data(), [1, NaN, NaN, NaN, NaN], 'cumprod NaN');
    expectSame(await t([1, Infinity, -Infinity, 2]).cumsum(0).data(), [1, Infinity, NaN, NaN], 'cumsum inf');
    // float16 accumulates in float32, rounded once per element.
    const h = t([1000, 0.5, 0.5, 0.5], 'float16').cumsum(0);
    expect([h.dtype, Array.from(await h.data())]).toEqual(['float16', [1000, 1000.5, 1001, 1001.5]]);
    expect(await xpu.tensor(5, { device }).cumsum(0).item()).toBe(5);
    expect(xpu.zeros([0, 3], { device }).cumsum(0).shape).toEqual([0, 3]);
    if (device === 'cpu') {
      const d = t([1, 2, 3], 'int32').cumsum(0, { dtype: 'float32' });
      expect([d.dtype, Array.from(await d.data())]).toEqual(['float32', [1, 3, 6]]);
    }
    caught(() => t([1]).cumsum(1), xpu.XpuIndexError);
  });

  /**
   * einsum's reference: every assignment of every label, products of the operands' elements,
   * summed into the output's element (labels of '...' dims written as digits here).
   */
  function einsumRef(terms: string[], out: string, shapes: number[][], data: number[][]): { shape: number[]; data: number[] } {
    const sizes = new Map<string, number>();
    terms.forEach((t, i) => t.split('').forEach((l, d) => sizes.set(l, Math.max(sizes.get(l) ?? 1, shapes[i][d]))));
    const labels = [...sizes.keys()];
    const oshape = out.split('').map((l) => sizes.get(l)!);
    const res = new Array<number>(oshape.reduce((a, b) => a * b, 1)).fill(0);
    const total = labels.reduce((a, l) => a * sizes.get(l)!, 1);
    for (let i = 0; i < total; i++) {
      const v = new Map<string, number>();
      let r = i;
      for (const l of labels) {
        v.set(l, r % sizes.get(l)!);
        r = Math.floor(r / sizes.get(l)!);
      }
      let prod = 1;
      terms.forEach((t, k) => {
        let e = 0;
        t.split('').forEach((l, d) => {
          e = e * shapes[k][d] + (shapes[k][d] === 1 ? 0 : v.get(l)!);
        });
        prod *= data[k][e];
      });
      let o = 0;
      out.split('').forEach((l, d) => {
        o = o * oshape[d] + v.get(l)!;
      });
      res[o] += prod;
    }
    return { shape: oshape, data: res };
  }

  it('einsum: contractions, batches, diagonals, implicit outputs, broadcasting, integer dtypes', async () => {
    // [equation, reference terms (digits for '...' dims), reference output, shapes]
    const cases: [string, string[], string, number[][]][] = [
      [
        'ij,jk->ik',
        ['ij', 'jk'],
        'ik',
        [
          [3, 4],
          [4, 5],
        ],
      ],
      [
        'ij,jk',
        ['ij', 'jk'],
        'ik',
        [
          [3, 4],
          [4, 5],
        ],
      ],
      [
        'bij,bjk->bik',
        ['bij', 'bjk'],
        'bik',
        [
          [2, 3, 4],
          [2, 4, 5],
        ],
      ],
      [
        'bij,jk->bik',
        ['bij', 'jk'],
        'bik',
        [
          [1, 3, 4],
          [4, 5],
        ],
      ],
      ['ii->i', ['ii'], 'i', [[4, 4]]],
      ['ii', ['ii'], '', [[4, 4]]],
      ['iij->ij', ['iij'], 'ij', [[3, 3, 2]]],
      ['ij->', ['ij'], '', [[3, 4]]],
      ['ji', ['ji'], 'ij', [[3, 4]]],
      ['i,j->ij', ['i', 'j'], 'ij', [[3], [4]]],
      ['i,i->', ['i', 'i'], '', [[5], [5]]],
      [
        '...ij,...jk->...ik',
        ['0ij', 'jk'],
        '0ik',
        [
          [5, 2, 3],
          [3, 4],
        ],
      ],
      [
        'b...,b...->b',
        ['b01', 'b01'],
        'b',
        [
          [5, 2, 3],
          [5, 1, 3],
        ],
      ],
      ['i,j,k->ijk', ['i', 'j', 'k'], 'ijk', [[2], [3], [4]]],
      [
        'ij,jk,kl->li',
        ['ij', 'jk', 'kl'],
        'li',
        [
          [2, 3],
          [3, 4],
          [4, 2],
        ],
      ],
      [
        ' i j , j k -> k i ',
        ['ij', 'jk'],
        'ki',
        [
          [2, 3],
          [3, 4],
        ],
      ],
      ['...i->i', ['01i'], 'i', [[2, 3, 4]]],
      [
        'ij,ij->ij',
        ['ij', 'ij'],
        'ij',
        [
          [2, 1],
          [2, 3],
        ],
      ],
    ];
    // einsum composes views, sum, mul and matmul, each tested on xpu in its own file: on xpu the
    // diagonal view and the broadcast product with '...' sums (the GEMM path's matmul runs in
    // dot below), which keeps the GPU pipelines this file compiles few; cpu runs every case.
    const XPU_CASES = new Set(['ii->i', 'b...,b...->b']);
    let seed = 70;
    for (const [eq, terms, out, shapes] of cases.filter(([eq]) => device === 'cpu' || XPU_CASES.has(eq))) {
      const data = shapes.map((s) =>
        Array.from(
          randomData(
            s.reduce((a, b) => a * b, 1),
            seed++,
            1,
          ),
        ).map(Math.fround),
      );
      const ops = shapes.map((s, i) => xpu.tensor(data[i], { device, shape: s }));
      const ref = einsumRef(terms, out, shapes, data);
      const r = xpu.einsum(eq, ...ops);
      expect(r.shape, eq).toEqual(ref.shape);
      const got = Array.from(await r.data());
      const worst = Math.max(0, ...ref.data.map((v, i) => Math.abs(got[i] - v)));
      expect(worst, eq).toBeLessThan(1e-4);
    }
    // torch: einsum('i,i', arange(3), arange(3)) = 5 (an integer); operands in an array.
    const ai = xpu.arange(0, 3, 1, { device, dtype: 'int32' });
    const ii = xpu.einsum('i,i', [ai, ai]);
    expect([ii.dtype, await ii.item()]).toEqual(['int32', 5]);
    if (device === 'cpu') {
      expect(await xpu.einsum('i,j->ij', ai, ai).toArray()).toEqual([
        [0, 0, 0],
        [0, 1, 2],
        [0, 2, 4],
      ]);
      // An empty contraction gives zeros (torch: einsum('ij,jk->ik', ones(2, 0), ones(0, 3)) = zeros).
      expect(await xpu.einsum('ij,jk->ik', xpu.ones([2, 0], { device }), xpu.ones([0, 3], { device })).toArray()).toEqual([
        [0, 0, 0],
        [0, 0, 0],
      ]);
      const h = xpu.einsum('ij,jk->ik', xpu.ones([2, 3], { device, dtype: 'float16' }), xpu.ones([3, 2], { device, dtype: 'float16' }));
      expect([h.dtype, await h.toArray()]).toEqual([
        'float16',
        [
          [3, 3],
          [3, 3],
        ],
      ]);
    }
    const m = xpu.ones([2, 3], { device });
    caught(() => xpu.einsum('ij,jk->ik', m, xpu.ones([4, 4], { device })), xpu.XpuShapeError);
    caught(() => xpu.einsum('ij,jk->ik', m, xpu.ones([3, 4], { device, dtype: 'float16' })), xpu.XpuDTypeError);
    caught(() => xpu.einsum('ii->i', m), xpu.XpuShapeError);
    caught(() => xpu.einsum('i->j', xpu.ones([2], { device })), xpu.XpuValueError);
    caught(() => xpu.einsum('i->ii', xpu.ones([2], { device })), xpu.XpuValueError);
    caught(() => xpu.einsum('ij', xpu.ones([2], { device })), xpu.XpuShapeError);
    caught(() => xpu.einsum('i,j', m), xpu.XpuValueError);
    caught(() => xpu.einsum('i1', m), xpu.XpuValueError);
  });

  it('outer and dot: dtypes and shapes as torch', async () => {
    const a = xpu.arange(0, 3, 1, { device, dtype: 'int32' });
    const b = xpu.arange(0, 2, 1, { device, dtype: 'float32' });
    // torch.outer(arange(3), arange(2.)) = [[0, 0], [0, 1], [0, 2]] (float)
    const o = a.outer(b);
    expect([o.dtype, await o.toArray()]).toEqual([
      'float32',
      [
        [0, 0],
        [0, 1],
        [0, 2],
      ],
    ]);
    // torch.dot(arange(3), arange(3)) = 5; floats through the GEMV; dot of empties = 0.
    expect(await xpu.dot(a, a).item()).toBe(5);
    const v = Array.from(randomData(300, 54, 1)).map(Math.fround);
    const w = Array.from(randomData(300, 55, 1)).map(Math.fround);
    const d = (await xpu.tensor(v, { device }).dot(xpu.tensor(w, { device })).item()) as number;
    expect(Math.abs(d - v.reduce((s, x, i) => s + x * w[i], 0))).toBeLessThan(1e-4);
    expect(await xpu.dot(xpu.zeros([0], { device }), xpu.zeros([0], { device })).item()).toBe(0);
    caught(() => xpu.dot(a, xpu.arange(0, 3, 1, { device, dtype: 'float32' })), xpu.XpuDTypeError);
    caught(() => xpu.dot(b, xpu.zeros([3], { device })), xpu.XpuShapeError);
    caught(() => xpu.outer(xpu.ones([2, 2], { device }), b), xpu.XpuShapeError);
  });

  it('norm: p = fro, 1, 2, inf, -inf, 0 and others, dims, keepdim, dtype', async () => {
    const v = randomData(24, 51, 3);
    const x = xpu.tensor(v, { device, shape: [2, 3, 4] });
    const xs = Array.from(await x.data());
    const pnorm = (a: number[], p: number) =>
      p === Infinity
        ? Math.max(...a.map(Math.abs))
        : p === -Infinity
          ? Math.min(...a.map(Math.abs))
          : p === 0
            ? a.filter((q) => q !== 0).length
            : a.reduce((s, q) => s + Math.abs(q) ** p, 0) ** (1 / p);
    // (Each p composes different maps: all on cpu, a sample on xpu.)
    for (const p of device === 'cpu' ? [2, 1, Infinity, -Infinity, 0, 3, 0.5, -1] : [2, Infinity, 3]) {
      expectUlp([(await x.norm(p).item()) as number], [pnorm(xs, p)], 4, `norm p=${p}`, [[p]]);
    }
    expectUlp([(await x.norm().item()) as number], [pnorm(xs, 2)], 4, 'fro', [[0]]);
    // Over the last dim, keepdim: rows of 4.
    const rows = Array.from({ length: 6 }, (_, r) => xs.slice(r * 4, r * 4 + 4));
    const n1 = x.norm(1, -1, true);
    expect(n1.shape).toEqual([2, 3, 1]);
    expectUlp(
      await n1.data(),
      rows.map((r) => pnorm(r, 1)),
      2,
      'norm over dim',
      [rows.map((r) => r[0])],
    );
    expect(x.norm('fro', [0, 2]).shape).toEqual([3]);
    // torch: norm of empty = 0 for any p; [inf, nan] -> nan; 1e30 squared overflows float32 -> inf.
    for (const p of [2, Infinity, -Infinity]) expect(await t([]).norm(p).item()).toBe(0);
    expect(await t([Infinity, NaN]).norm().item()).toBeNaN();
    expect(await t([1e30, 1e30]).norm().item()).toBe(Infinity);
    if (device === 'cpu') {
      expect(t([3, 4], 'float16').norm().dtype).toBe('float16');
      expect(await t([3, 4], 'float16').norm().item()).toBe(5);
    }
    caught(() => t([3, 4], 'int32').norm(), xpu.XpuDTypeError);
    caught(() => x.norm('nuc' as never), xpu.XpuValueError);
  });
});
