import { describe, expect, it } from 'vitest';
import { randomData, rng, xpu } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { nativeCompute } from '../src/backends/cpu/native_jobs.js';

/**
 * xpu.compile on cpu, the native fused chain (elementwise.cc RunEwChain): random chains of the
 * addon's table ops over two float32 inputs salted with NaN, infinities and signed zeros, at sizes
 * that are not multiples of the 1024-element block or the SIMD width, including one large enough
 * for the two-thread pass. Compiled must equal eager bit for bit (each step rounds as its op does)
 * and agree with a float64 evaluation rounded to float32 after every step (the twins' arithmetic).
 * A broadcast operand keeps the chain off the native pass (the composed TypeScript loop runs), and
 * that path must agree too.
 */

type Step = { f: (v: Tensor[]) => Tensor; r: (v: number[]) => number };

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 88.8, -104, 1e-40];
const nanMax = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? b : a);
const nanMin = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : b < a ? b : a);

/** A random chain: each step reads the previous value and maybe an input; values[0], [1] are x, y. */
function randomChain(seed: number, length: number): Step[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const unary: [(a: Tensor) => Tensor, (a: number) => number][] = [
    [(a) => a.neg(), (a) => -a],
    [(a) => a.abs(), Math.abs],
    [(a) => a.relu(), (a) => (a < 0 ? 0 : a)],
    [(a) => a.abs().sqrt(), (a) => Math.sqrt(Math.abs(a))],
    // The addon takes a scalar operand as float32 (as torch does for a float32 tensor), so 0.1 is fround(0.1) here.
    [(a) => a.mul(0.1).exp(), (a) => Math.exp(Math.fround(a * Math.fround(0.1)))],
    [(a) => a.sigmoid(), (a) => 1 / (1 + Math.exp(-a))],
    [(a) => a.silu(), (a) => a / (1 + Math.exp(-a))],
    [(a) => a.mul(1.5), (a) => a * 1.5],
    [(a) => a.add(-0.25), (a) => a - 0.25],
  ];
  const binary: [(a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
    [(a, b) => a.add(b), (a, b) => a + b],
    [(a, b) => a.sub(b), (a, b) => a - b],
    [(a, b) => a.mul(b), (a, b) => a * b],
    [(a, b) => a.div(b.abs().add(1)), (a, b) => a / Math.fround(Math.abs(b) + 1)],
    [(a, b) => xpu.maximum(a, b), nanMax],
    [(a, b) => xpu.minimum(a, b), nanMin],
  ];
  const steps: Step[] = [];
  for (let s = 0; s < length; s++) {
    const k = s + 1; // the value this step reads: the previous step's (values[k]; values[1] is y at s = 0)
    if (r() < 0.5) {
      const [f, g] = pick(unary);
      steps.push({ f: (v) => f(v[k]), r: (v) => g(v[k]) });
    } else {
      const [f, g] = pick(binary);
      const other = Math.floor(r() * 2); // x or y
      const swap = r() < 0.5;
      steps.push({
        f: (v) => (swap ? f(v[other], v[k]) : f(v[k], v[other])),
        r: (v) => (swap ? g(v[other], v[k]) : g(v[k], v[other])),
      });
    }
  }
  return steps;
}

function run(steps: Step[], x: Tensor, y: Tensor): Tensor {
  const v = [x, y];
  for (const s of steps) v.push(s.f(v));
  return v[v.length - 1];
}

function reference(steps: Step[], x: Float32Array, y: Float32Array): number[] {
  return Array.from(x, (_, i) => {
    const v = [x[i], y[i]];
    for (const s of steps) v.push(Math.fround(s.r(v)));
    return v[v.length - 1];
  });
}

function salted(n: number, seed: number): Float32Array {
  const a = Float32Array.from(randomData(n, seed, 3));
  const r = rng(seed + 99);
  for (let k = 0; k < Math.max(8, n >> 9); k++) a[Math.floor(r() * n)] = SPECIALS[k % SPECIALS.length];
  return a;
}

function expectNear(got: Float32Array, want: number[], what: string): void {
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= 2.4e-7 * Math.abs(w) + 1e-37;
    if (!ok) throw new Error(`${what} [${i}]: ${g}, expected ${w}`);
  }
}

const c = nativeCompute() as unknown as Record<string, (...a: unknown[]) => unknown> | null;

describe.runIf(typeof c?.ewChainNow === 'function')('compile on cpu: the native fused chain', () => {
  function countChains(): { n: number; undo: () => void } {
    const calls = { n: 0, undo: () => {} };
    const names = ['ewChainNow', 'ewChain'];
    const orig = names.map((m) => c![m]);
    names.forEach((m, j) => (c![m] = (...a: unknown[]) => (calls.n++, orig[j].apply(c, a))));
    calls.undo = () => names.forEach((m, j) => (c![m] = orig[j]));
    return calls;
  }

  it.each([4096 + 1, 5 * 1024 + 3, 7 * 1024 + 15, (1 << 19) + 17])(
    'random chains on %i elements with NaN/inf/-0 inputs: native pass, equal to eager, near float64',
    async (n) => {
      const programs = n > 1 << 18 ? 2 : 6;
      for (let p = 0; p < programs; p++) {
        const steps = randomChain(n * 31 + p, 4 + (p % 6));
        const xs = salted(n, 2 * p + 1);
        const ys = salted(n, 2 * p + 2);
        const x = xpu.tensor(xs, { device: 'cpu' });
        const y = xpu.tensor(ys, { device: 'cpu' });
        const compiled = xpu.compile((a: Tensor, b: Tensor) => run(steps, a, b));
        compiled(x, y); // the first call traces (eager); replays run the fused kernel
        const calls = countChains();
        let got: Float32Array;
        try {
          got = (await compiled(x, y).data()) as Float32Array;
        } finally {
          calls.undo();
        }
        const what = `n ${n} program ${p}`;
        expect(calls.n, `${what}: one native chain pass`).toBe(1);
        expect(Array.from(got), what).toEqual(Array.from((await run(steps, x, y).data()) as Float32Array));
        expectNear(got, reference(steps, xs, ys), what);
      }
    },
  );

  it('a broadcast operand runs the composed TypeScript loop instead, with the same results', async () => {
    const [rows, cols] = [65, 67];
    const steps = randomChain(7, 8);
    const xs = salted(rows * cols, 11);
    const ys = salted(cols, 12);
    const x = xpu.tensor(xs, { device: 'cpu' }).reshape([rows, cols]);
    const y = xpu.tensor(ys, { device: 'cpu' }).reshape([1, cols]);
    const compiled = xpu.compile((a: Tensor, b: Tensor) => run(steps, a, b));
    compiled(x, y); // the first call traces (eager); replays run the fused kernel
    const calls = countChains();
    let got: Float32Array;
    try {
      got = (await compiled(x, y).data()) as Float32Array;
    } finally {
      calls.undo();
    }
    expect(calls.n).toBe(0);
    expect(Array.from(got)).toEqual(Array.from((await run(steps, x, y).data()) as Float32Array));
    const yFull = Float32Array.from({ length: rows * cols }, (_, i) => ys[i % cols]);
    expectNear(got, reference(steps, xs, yFull), 'broadcast');
  });
});
