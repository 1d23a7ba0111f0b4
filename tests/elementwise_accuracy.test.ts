import { describe, expect, it } from 'vitest';
import { erfc64, expectUlp, gelu64, geluTanh64, pow64, sigmoid64 } from './float64.js';
import { rng, testDevices, xpu } from './helpers.js';

/**
 * Elementwise math against float64, in ulp of the float32 result, on both devices, plus the
 * special values PyTorch gives (NaN, infinities, signed zeros, pow's C99 cases). References are
 * JavaScript float64 functions written here, or constants read off torch 1.13 (noted where used);
 * nothing below was computed by xpu itself.
 */

/** Exact equality that tells -0 from 0 and accepts NaN for NaN. */
function expectSame(out: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  expect(Array.from(out, show), what).toEqual(Array.from(ref, show));
}

/** n float32 values, log-uniform in magnitude over [lo, hi], random signs when `signed`. */
function logUniform(n: number, lo: number, hi: number, seed: number, signed = false): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const v = Math.fround(Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo))));
    return signed && r() < 0.5 ? -v : v;
  });
}

function uniform(n: number, lo: number, hi: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround(lo + r() * (hi - lo)));
}

type Op = (t: xpu.Tensor) => xpu.Tensor;

interface UnaryCase {
  op: Op;
  ref: (x: number) => number;
  /** ulp bound on the xpu kernel; the cpu twin computes in float64 and is held to 1. */
  maxUlp: number;
  inputs: number[][];
}

const N = 3000;
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 1e-8, -1e-8, 1, -1];

const UNARY: Record<string, UnaryCase> = {
  exp: {
    op: (t) => t.exp(),
    ref: Math.exp,
    maxUlp: 2,
    inputs: [uniform(N, -104, 89, 1), logUniform(N, 1e-12, 1, 2, true), [88.72, 88.73, -87.4, -103.9, ...SPECIAL]],
  },
  log: {
    op: (t) => t.log(),
    ref: Math.log,
    maxUlp: 2,
    inputs: [logUniform(N, 1e-45, 3e38, 3), uniform(N, 0.7, 1.42, 4), uniform(N, 0.999, 1.001, 5), SPECIAL],
  },
  sqrt: { op: (t) => t.sqrt(), ref: Math.sqrt, maxUlp: 1, inputs: [logUniform(N, 1e-45, 3e38, 6), SPECIAL] },
  rsqrt: { op: (t) => t.rsqrt(), ref: (x) => 1 / Math.sqrt(x), maxUlp: 1, inputs: [logUniform(N, 1e-45, 3e38, 7), SPECIAL] },
  sin: {
    op: (t) => t.sin(),
    ref: Math.sin,
    maxUlp: 2,
    inputs: [uniform(N, -10, 10, 8), logUniform(N, 10, 3e38, 9, true), logUniform(N, 1e-30, 1, 10, true), SPECIAL],
  },
  cos: { op: (t) => t.cos(), ref: Math.cos, maxUlp: 2, inputs: [uniform(N, -10, 10, 11), logUniform(N, 10, 3e38, 12, true), SPECIAL] },
  tanh: { op: (t) => t.tanh(), ref: Math.tanh, maxUlp: 2, inputs: [logUniform(N, 1e-40, 20, 13, true), uniform(N, -2, 2, 14), SPECIAL] },
  sigmoid: { op: (t) => t.sigmoid(), ref: sigmoid64, maxUlp: 3, inputs: [uniform(N, -110, 30, 15), uniform(N, -5, 5, 16), SPECIAL] },
  silu: {
    op: (t) => t.silu(),
    ref: (x) => x * sigmoid64(x),
    maxUlp: 3,
    inputs: [uniform(N, -100, 30, 17), uniform(N, -5, 5, 18), SPECIAL],
  },
  gelu: {
    op: (t) => t.gelu(),
    ref: gelu64,
    maxUlp: 5,
    inputs: [uniform(N, -14, 6, 19), uniform(N, -3, 3, 20), logUniform(N, 1e-30, 1, 21, true), SPECIAL],
  },
  gelu_tanh: {
    op: (t) => t.gelu({ approximate: 'tanh' }),
    ref: geluTanh64,
    maxUlp: 8,
    inputs: [uniform(N, -12, 6, 22), uniform(N, -3, 3, 23), SPECIAL],
  },
  relu: { op: (t) => t.relu(), ref: (x) => (x < 0 ? 0 : x), maxUlp: 0, inputs: [uniform(N, -5, 5, 24), SPECIAL] },
};

describe.each(testDevices())('elementwise accuracy on %s', (device) => {
  it.each(Object.keys(UNARY))('%s is within its ulp bound of float64, special values included', async (name) => {
    const c = UNARY[name];
    const xs = c.inputs.flat().map(Math.fround); // the float32 inputs the op sees
    const out = await c.op(xpu.tensor(Float32Array.from(xs), { device })).data();
    expectUlp(out, xs.map(c.ref), device === 'cpu' ? Math.min(c.maxUlp, 1) : c.maxUlp, `${name} on ${device}`, [xs]);
  });

  it('reproductions: tanh of tiny x, rsqrt(-0), log of a subnormal, sin of a huge x', async () => {
    const t = (v: number[]) => xpu.tensor(Float32Array.from(v), { device });
    // torch (float64): tanh(1e-8) = 1e-08, tanh(1e-5) = 9.999999999666668e-06.
    expectUlp(await t([1e-8, 1e-5]).tanh().data(), [1e-8, 9.999999999666668e-6], 1, 'tanh', [[1e-8, 1e-5]]);
    // torch: rsqrt(-0.) = -inf, rsqrt(0.) = inf.
    expectSame(await t([-0, 0]).rsqrt().data(), [-Infinity, Infinity], 'rsqrt');
    // torch: log(tensor([1e-40])) = -92.10340881347656 (xpu gave -88.02: the subnormal's exponent read as -127).
    expect((await t([1e-40]).log().data())[0]).toBe(-92.10340881347656);
    // torch float32: sin of [1e10, 3e38, -1e30, 123456789] = [-0.48750603199005127, 0.8749048709869385, 0.791163444519043, -0.9604127407073975].
    expectUlp(
      await t([1e10, 3e38, -1e30, 123456789]).sin().data(),
      [-0.48750603199005127, 0.8749048709869385, 0.791163444519043, -0.9604127407073975],
      2,
      'sin',
      [[1e10, 3e38, -1e30, 123456789]],
    );
  });

  it('comparisons with NaN: ne is true, the others false, as in torch', async () => {
    const a = xpu.tensor([NaN, NaN, 1, NaN, 0, -0], { device });
    const b = xpu.tensor([NaN, 1, NaN, 0, -0, 0], { device });
    const ref: Record<string, (x: number, y: number) => boolean> = {
      eq: (x, y) => x === y,
      ne: (x, y) => x !== y,
      lt: (x, y) => x < y,
      le: (x, y) => x <= y,
      gt: (x, y) => x > y,
      ge: (x, y) => x >= y,
    };
    const av = [NaN, NaN, 1, NaN, 0, -0];
    const bv = [NaN, 1, NaN, 0, -0, 0];
    for (const [name, f] of Object.entries(ref)) {
      const fn = (xpu as unknown as Record<string, (x: xpu.TensorOrScalar, y: xpu.TensorOrScalar) => xpu.Tensor>)[name];
      expect(Array.from(await fn(a, b).data()), `${name} tensor-tensor`).toEqual(av.map((x, i) => (f(x, bv[i]) ? 1 : 0)));
      expect(Array.from(await fn(a, NaN).data()), `${name} tensor-NaN scalar`).toEqual(av.map((x) => (f(x, NaN) ? 1 : 0)));
      expect(Array.from(await fn(a, 0).data()), `${name} tensor-0 scalar`).toEqual(av.map((x) => (f(x, 0) ? 1 : 0)));
    }
    // torch: ne(nan, nan) = True, eq(nan, nan) = False.
    expect(Array.from(await xpu.ne(a, a).data())).toEqual([1, 1, 0, 1, 0, 0]);
  });

  it('NaN and signed zeros through relu, maximum, minimum and where, as in torch', async () => {
    const x = xpu.tensor([NaN, -0, 0, -1, 2], { device });
    // torch.relu([nan, -0., 0., -1., 2.]) = [nan, -0., 0., 0., 2.]
    expectSame(await x.relu().data(), [NaN, -0, 0, 0, 2], 'relu');
    const a = xpu.tensor([NaN, 1, -0, 0, 3], { device });
    const b = xpu.tensor([1, NaN, 0, -0, NaN], { device });
    // torch.maximum(tensor([-0., 0.]), tensor([0., -0.])) = [-0., 0.] (and minimum the same); NaN wins.
    expectSame(await xpu.maximum(a, b).data(), [NaN, NaN, -0, 0, NaN], 'maximum');
    expectSame(await xpu.minimum(a, b).data(), [NaN, NaN, -0, 0, NaN], 'minimum');
    expectSame(await xpu.maximum(a, 2).data(), [NaN, 2, 2, 2, 3], 'maximum with a scalar');
    const cond = xpu.tensor([true, false, true, false, true], { device });
    expectSame(await xpu.where(cond, a, b).data(), [NaN, NaN, -0, -0, 3], 'where');
    // Integers: maximum/minimum/relu have no NaN, only the plain order.
    const i = xpu.tensor(Int32Array.from([-5, 7, 0]), { device });
    expect(Array.from(await xpu.maximum(i, 1).data())).toEqual([1, 7, 1]);
    expect(Array.from(await i.relu().data())).toEqual([0, 7, 0]);
  });

  it('pow: every special case of C99 / torch, and the rest within 2 ulp', async () => {
    const xs = [0, -0, 1, -1, 2, -2, 0.5, -0.5, Infinity, -Infinity, NaN, -8, 5, 3];
    const ys = [0, -0, 1, -1, 2, -2, 3, -3, 0.5, -0.5, 1.5, -1.5, Infinity, -Infinity, NaN, 1 / 3];
    // torch.pow(X, Y) on float32 tensors, row x = xs[i], column y = ys[j] (torch 1.13).
    const TORCH = [
      [1, 1, 0, Infinity, 0, Infinity, 0, Infinity, 0, Infinity, 0, Infinity, 0, Infinity, NaN, 0],
      [1, 1, -0, -Infinity, 0, Infinity, -0, -Infinity, 0, Infinity, 0, Infinity, 0, Infinity, NaN, 0],
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, -1, -1, 1, 1, -1, -1, NaN, NaN, NaN, NaN, 1, 1, NaN, NaN],
      [
        1,
        1,
        2,
        0.5,
        4,
        0.25,
        8,
        0.125,
        1.4142135381698608,
        0.7071067690849304,
        2.8284270763397217,
        0.3535533845424652,
        Infinity,
        0,
        NaN,
        1.2599210739135742,
      ],
      [1, 1, -2, -0.5, 4, 0.25, -8, -0.125, NaN, NaN, NaN, NaN, Infinity, 0, NaN, NaN],
      [
        1,
        1,
        0.5,
        2,
        0.25,
        4,
        0.125,
        8,
        0.7071067690849304,
        1.4142135381698608,
        0.3535533845424652,
        2.8284270763397217,
        0,
        Infinity,
        NaN,
        0.7937005162239075,
      ],
      [1, 1, -0.5, -2, 0.25, 4, -0.125, -8, NaN, NaN, NaN, NaN, 0, Infinity, NaN, NaN],
      [1, 1, Infinity, 0, Infinity, 0, Infinity, 0, Infinity, 0, Infinity, 0, Infinity, 0, NaN, Infinity],
      [1, 1, -Infinity, -0, Infinity, 0, -Infinity, -0, Infinity, 0, Infinity, 0, Infinity, 0, NaN, Infinity],
      [1, 1, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN],
      [1, 1, -8, -0.125, 64, 0.015625, -512, -0.001953125, NaN, NaN, NaN, NaN, Infinity, 0, NaN, NaN],
      [
        1,
        1,
        5,
        0.20000000298023224,
        25,
        0.03999999910593033,
        125,
        0.00800000037997961,
        2.2360680103302,
        0.4472135901451111,
        11.180339813232422,
        0.08944271504878998,
        Infinity,
        0,
        NaN,
        1.7099759578704834,
      ],
      [
        1,
        1,
        3,
        0.3333333432674408,
        9,
        0.1111111119389534,
        27,
        0.03703703731298447,
        1.7320507764816284,
        0.5773502588272095,
        5.196152210235596,
        0.19245009124279022,
        Infinity,
        0,
        NaN,
        1.4422495365142822,
      ],
    ];
    const X: number[] = [];
    const Y: number[] = [];
    const ref: number[] = [];
    xs.forEach((x, i) =>
      ys.forEach((y, j) => {
        X.push(x);
        Y.push(Math.fround(y));
        ref.push(TORCH[i][j]);
      }),
    );
    const out = await xpu.pow(xpu.tensor(X, { device }), xpu.tensor(Y, { device })).data();
    // Exact where torch's value is exact (integers, powers of two, the special cases) ...
    const exact = ref.map((r) => !Number.isFinite(r) || r === 0 || Number.isInteger(Math.log2(Math.abs(r))) || Number.isInteger(r));
    expectSame(
      Array.from(out).filter((_, i) => exact[i]),
      ref.filter((_, i) => exact[i]),
      'pow special cases',
    );
    // ... and the rest (roots) within 2 ulp of float64.
    const rest = ref.map((_, i) => i).filter((i) => !exact[i]);
    expectUlp(
      rest.map((i) => out[i]),
      rest.map((i) => pow64(X[i], Y[i])),
      2,
      'pow roots',
      [rest.map((i) => X[i]), rest.map((i) => Y[i])],
    );
    // Scalar exponents take the same path: pow(-0, -1) = -inf, pow(-inf, -1.5) = 0, pow(-8, 1/3) = NaN, pow(NaN, 0) = 1.
    expectSame(await xpu.tensor([-0, -Infinity, -8, NaN, 1], { device }).pow(-1).data(), [-Infinity, -0, -0.125, NaN, 1], 'pow(x, -1)');
    expectSame(await xpu.tensor([-Infinity], { device }).pow(-1.5).data(), [0], 'pow(-inf, -1.5)');
    expectSame(
      await xpu
        .tensor([-8], { device })
        .pow(1 / 3)
        .data(),
      [NaN],
      'pow(-8, 1/3)',
    );
    expectSame(await xpu.tensor([NaN, -Infinity], { device }).pow(0).data(), [1, 1], 'pow(x, 0)');
    expectSame(
      await xpu
        .tensor([1, -1, 1], { device })
        .pow(xpu.tensor([NaN, Infinity, -Infinity], { device }))
        .data(),
      [1, 1, 1],
      'pow(+-1, y)',
    );
  });

  it('pow: integer exponents are exact (5^3 = 125, x^2 = fround(x*x)), fractional ones within 3 ulp', async () => {
    expect(Array.from(await xpu.tensor([5, -3, 10, 2], { device }).pow(3).data())).toEqual([125, -27, 1000, 8]);
    // Every integer power of an integer base that float32 holds exactly is exact.
    const X: number[] = [];
    const Y: number[] = [];
    for (let b = -20; b <= 20; b++)
      for (let e = -3; e <= 24; e++) {
        X.push(b);
        Y.push(e);
      }
    const out = await xpu.pow(xpu.tensor(X, { device }), xpu.tensor(Y, { device })).data();
    const ref = X.map((b, i) => pow64(b, Y[i]));
    const representable = ref.map((r) => Math.fround(r) === r);
    expectSame(
      Array.from(out).filter((_, i) => representable[i]),
      ref.filter((_, i) => representable[i]),
      'integer powers',
    );
    expectUlp(out, ref, 1, 'integer powers', [X, Y]);
    // Squares are correctly rounded (down to the smallest normal result; a subnormal one may be
    // rounded twice), other integer exponents within 1 ulp.
    const xs = logUniform(N, 2 ** -63, 1.8e19, 30, true);
    expectSame(
      await xpu.tensor(xs, { device }).pow(2).data(),
      xs.map((x) => Math.fround(x * x)),
      'x^2',
    );
    const near1 = uniform(N, 0.99, 1.01, 31);
    const bigN = uniform(N, -4000, 4000, 32).map(Math.round);
    expectUlp(
      await xpu.pow(xpu.tensor(near1, { device }), xpu.tensor(bigN, { device })).data(),
      near1.map((x, i) => pow64(x, bigN[i])),
      1,
      'x^n near 1',
      [near1, bigN],
    );
    const sets: [number[], number[]][] = [
      [logUniform(N, 1e-3, 1e3, 33), uniform(N, -10, 10, 34)],
      [uniform(N, 0.99, 1.01, 35), uniform(N, -4000, 4000, 36)],
      [logUniform(N, 1e-45, 3e38, 37), uniform(N, -3, 3, 38)],
    ];
    for (const [bx, by] of sets) {
      expectUlp(
        await xpu.pow(xpu.tensor(bx, { device }), xpu.tensor(by, { device })).data(),
        bx.map((x, i) => pow64(x, by[i])),
        3,
        'x^y',
        [bx, by],
      );
    }
  });

  it('pow on integer dtypes wraps like torch, and negative exponents follow torch', async () => {
    // torch: pow(int32 [0, 2, -2, 1, -1, 3], [-1, -1, -1, -5, -5, -1]) = [0, 0, 0, 1, -1, 0].
    const i = xpu.tensor(Int32Array.from([0, 2, -2, 1, -1, 3]), { device });
    expect(Array.from(await i.pow(xpu.tensor(Int32Array.from([-1, -1, -1, -5, -5, -1]), { device })).data())).toEqual([0, 0, 0, 1, -1, 0]);
    // torch: uint8 3 ** 7 = 139, int8 3 ** 5 = -13 (wrapped).
    expect(
      Array.from(
        await xpu
          .tensor(Uint8Array.from([3]), { device })
          .pow(xpu.tensor(Uint8Array.from([7]), { device }))
          .data(),
      ),
    ).toEqual([139]);
    expect(
      Array.from(
        await xpu
          .tensor(Int8Array.from([3]), { device })
          .pow(xpu.tensor(Int8Array.from([5]), { device }))
          .data(),
      ),
    ).toEqual([-13]);
    // int32 powers wrap modulo 2^32, as torch's int32 multiplication does.
    const bases = [-7, -3, 3, 5, 7, 12];
    const exps = [0, 1, 9, 15, 21, 30];
    const B: number[] = [];
    const E: number[] = [];
    for (const b of bases)
      for (const e of exps) {
        B.push(b);
        E.push(e);
      }
    const out = await xpu
      .tensor(Int32Array.from(B), { device })
      .pow(xpu.tensor(Int32Array.from(E), { device }))
      .data();
    expect(Array.from(out)).toEqual(B.map((b, k) => Number(BigInt.asIntN(32, BigInt(b) ** BigInt(E[k])))));
  });

  it('the float64 erfc reference agrees with torch', () => {
    // torch.special.erfc on float64 [0.1, 1, 3, 7, 10].
    const torch = [0.887537083981715, 0.15729920705028513, 2.209049699858544e-5, 4.183825607779414e-23, 2.088487583762545e-45];
    [0.1, 1, 3, 7, 10].forEach((x, i) => expect(Math.abs(erfc64(x) / torch[i] - 1)).toBeLessThan(1e-13));
  });
});
