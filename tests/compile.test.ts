import { afterEach, describe, expect, it, vi } from 'vitest';
import { caught, randomData, rng, testDevices, xpu } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { nativeCompute } from '../src/backends/cpu/native_jobs.js';

/**
 * xpu.compile: compiled calls agree with eager ones on random programs built from the ops (a
 * seeded property test), with fresh input values on every replay; retracing, the cache bound, the
 * eager fallback and its single warning; fused chains run as one kernel (the profiler counts
 * launches), so their intermediates are never allocated.
 */

type Device = 'cpu' | 'xpu';

function input(shape: number[], seed: number, device: Device, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return xpu.tensor(Array.from(randomData(n, seed, scale)), { device }).reshape(shape);
}

async function values(t: Tensor): Promise<number[]> {
  return Array.from((await t.float().data()) as Float32Array);
}

/** Equal within float rounding; NaN where the other has NaN. */
async function expectSame(got: Tensor, want: Tensor, what: string): Promise<void> {
  expect(got.shape, what).toEqual(want.shape);
  expect(got.dtype, what).toBe(want.dtype);
  const g = await values(got);
  const w = await values(want);
  for (let i = 0; i < w.length; i++) {
    if (Number.isNaN(w[i])) expect(Number.isNaN(g[i]), `${what} [${i}]`).toBe(true);
    else expect(Math.abs(g[i] - w[i]), `${what} [${i}]: ${g[i]} vs ${w[i]}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(w[i])));
  }
}

/** One random program: a list of steps over a growing list of values, each of which broadcasts to [4, 6]. */
type Op = (vals: Tensor[], w: Tensor) => Tensor;

function randomProgram(seed: number, length: number): { ops: Op[]; extra: number } {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const unary: ((a: Tensor) => Tensor)[] = [
    (a) => a.relu(),
    (a) => a.tanh(),
    (a) => a.sigmoid(),
    (a) => a.neg(),
    (a) => a.abs(),
    (a) => a.tanh().exp(),
    (a) => a.sin(),
    (a) => a.square(),
    (a) => a.mul(1.5),
    (a) => a.add(-0.25),
    (a) => a.abs().sqrt(),
    (a) => a.silu(),
    (a) => a.half().float(),
    (a) => a.mul(3).to('int32').float(),
    (a) => xpu.where(a.gt(0), a, a.mul(0.1)),
  ];
  const binary: ((a: Tensor, b: Tensor) => Tensor)[] = [
    (a, b) => a.add(b),
    (a, b) => a.sub(b),
    (a, b) => a.mul(b),
    (a, b) => xpu.maximum(a, b),
    (a, b) => a.mul(0.5).add(b.mul(-2)),
  ];
  const ops: Op[] = [];
  for (let j = 0; j < length; j++) {
    const kind = r();
    // Each op is drawn now so that the program is the same on every call.
    if (kind < 0.45) {
      const f = pick(unary);
      const k = r();
      ops.push((vals) => f(vals[Math.floor(k * vals.length)]));
    } else if (kind < 0.8) {
      const f = pick(binary);
      const k1 = r(),
        k2 = r();
      ops.push((vals) => f(vals[Math.floor(k1 * vals.length)], vals[Math.floor(k2 * vals.length)]));
    } else {
      const which = Math.floor(r() * 10);
      const k = r();
      ops.push((vals, w) => {
        const a = vals[Math.floor(k * vals.length)].add(xpu.zeros([4, 6], { device: w.device })); // [4, 6]
        switch (which) {
          case 0:
            return a.softmax(-1);
          case 1:
            return a.sum(-1, true);
          case 2:
            return a.matmul(w).matmul(w.t()).mul(0.1);
          case 3:
            return a.t().contiguous().t(); // a permuted view read by later ops
          case 4:
            return xpu.cat([a, a.neg()], 1).narrow(1, 3, 6); // a copy, read through an offset view
          case 5:
            return a.cumsum(-1).mul(0.1);
          case 6:
            return a.layerNorm([6]);
          case 7:
            return a.max(0);
          case 8:
            return a.tanh().reshape([6, 4]).mul(0.5).add(1).reshape([4, 6]); // maps across reshapes
          default:
            return a.mean(0);
        }
      });
    }
  }
  return { ops, extra: Math.floor(r() * 1000) };
}

function runProgram(p: { ops: Op[]; extra: number }, x: Tensor, y: Tensor, z: Tensor, w: Tensor): Tensor[] {
  const vals = [x, y, z];
  for (const op of p.ops) vals.push(op(vals, w));
  // The last value and, from some programs, an intermediate as well (a value both fused and returned).
  const last = vals[vals.length - 1];
  return p.extra % 3 === 0 ? [last, vals[3 + (p.extra % (vals.length - 3))]] : [last];
}

let warn: ReturnType<typeof vi.spyOn> | null = null;
afterEach(() => {
  warn?.mockRestore();
  warn = null;
});

describe.each(testDevices())('compile on %s', (device) => {
  const inputs = (seed: number) =>
    [
      input([4, 6], seed, device),
      input([6], seed + 1, device),
      input([4, 1], seed + 2, device),
      input([6, 3], seed + 3, device, 0.5),
    ] as const;

  it('agrees with eager on random programs, replayed on new values', async () => {
    let fused = 0;
    for (let seed = 1; seed <= 14; seed++) {
      const program = randomProgram(seed * 7919, 4 + (seed % 9));
      const f = (x: Tensor, y: Tensor, z: Tensor, w: Tensor) => runProgram(program, x, y, z, w);
      const compiled = xpu.compile(f);
      for (let call = 0; call < 3; call++) {
        const args = inputs(seed * 100 + call * 10);
        const want = f(...args);
        const got = compiled(...args);
        expect(got.length).toBe(want.length);
        for (let j = 0; j < want.length; j++) await expectSame(got[j], want[j], `program ${seed}, call ${call}, output ${j}`);
      }
      const s = compiled.stats();
      expect(s.captures).toBe(1);
      expect(s.replays).toBe(2);
      expect(s.fallbackReason).toBeNull();
      fused += s.fusedKernels;
    }
    expect(fused).toBeGreaterThan(5); // the programs do exercise fusion
  });

  it('agrees with eager on float16 and integer programs (rounding and wrapping kept between fused ops)', async () => {
    const f16 = (x: Tensor, y: Tensor) => x.mul(3.3).add(y).tanh().mul(x).sub(y.mul(0.7)).sigmoid().mul(1000).add(x);
    const ints = (x: Tensor, y: Tensor) => xpu.where(x.mul(7).add(y).gt(3), x.mul(x).sub(y), y.neg()).to('int8').to('int32').mul(5).add(x);
    const cases: [(x: Tensor, y: Tensor) => Tensor, (seed: number) => [Tensor, Tensor]][] = [
      [f16, (s) => [input([5, 8], s, device).half(), input([8], s + 1, device).half()]],
      [ints, (s) => [input([5, 8], s, device, 20).to('int32'), input([5, 8], s + 1, device, 20).to('int32')]],
    ];
    for (const [f, make] of cases) {
      const compiled = xpu.compile(f);
      for (let call = 0; call < 3; call++) {
        const args = make(10 * call + 1);
        await expectSame(compiled(...args), f(...args), `${f === f16 ? 'float16' : 'int'} call ${call}`);
      }
      expect(compiled.stats().fusedKernels).toBe(1);
    }
  });

  it('a fused chain is one launch, matches float64, and allocates only its output', async () => {
    const f = (x: Tensor, y: Tensor) => x.mul(2).add(y).tanh().mul(x).sub(0.5).sigmoid().mul(3).add(1);
    const compiled = xpu.compile(f);
    const x = input([8, 32], 5, device);
    const y = input([32], 6, device);
    await expectSame(compiled(x, y), f(x, y), 'capture');
    const x2 = input([8, 32], 7, device);
    xpu.profiler.start();
    const out = compiled(x2, y);
    const prof = await xpu.profiler.stop();
    expect(prof.events.map((e) => e.name)).toHaveLength(1);
    expect(compiled.stats()).toMatchObject({ capturedOps: 8, replaySteps: 1, fusedKernels: 1 });
    // Across reshapes too, when every operand walks both shapes in the same order.
    const r = (a: Tensor, b: Tensor) =>
      a
        .exp()
        .reshape([32, 8])
        .mul(b.reshape([32, 8]))
        .add(2)
        .reshape([8, 32])
        .sigmoid();
    const cr = xpu.compile(r);
    cr(x, x2);
    await expectSame(cr(x2, x), r(x2, x), 'across reshapes');
    expect(cr.stats()).toMatchObject({ replaySteps: 1, fusedKernels: 1 });
    // float64 reference of the chain (the twins round to float32 between ops; 1e-6 covers that).
    const xs = await values(x2),
      ys = await values(y);
    const ref = xs.map((v, i) => 3 / (1 + Math.exp(-(Math.tanh(v * 2 + ys[i % 32]) * v - 0.5))) + 1);
    const got = await values(out);
    got.forEach((g, i) => expect(Math.abs(g - ref[i])).toBeLessThan(1e-5));
  });

  it.runIf(device === 'xpu')('replays give back every block they take (no leak, intermediates released)', async () => {
    const f = (x: Tensor, w: Tensor) => x.matmul(w).relu().sum(0).add(1).softmax(-1);
    const compiled = xpu.compile(f);
    const x = input([6, 8], 1, device),
      w = input([8, 5], 2, device);
    compiled(x, w).dispose();
    await xpu.accelerator.synchronize();
    const before = xpu.accelerator.memoryAllocated();
    for (let j = 0; j < 5; j++) compiled(x, w).dispose();
    await xpu.accelerator.synchronize();
    expect(xpu.accelerator.memoryAllocated()).toBe(before);
  });

  it('retraces when the signature changes, within a bounded cache', async () => {
    const f = (x: Tensor, k: number) => x.mul(k).exp();
    const compiled = xpu.compile(f, { maxCacheSize: 2 });
    await expectSame(compiled(input([3], 1, device), 2), f(input([3], 1, device), 2), 'first');
    await expectSame(compiled(input([5], 2, device), 2), f(input([5], 2, device), 2), 'new shape');
    await expectSame(compiled(input([5], 3, device), 3), f(input([5], 3, device), 3), 'new static argument');
    expect(compiled.stats()).toMatchObject({ captures: 3, replays: 0, cacheSize: 2 });
    await expectSame(compiled(input([5], 4, device), 3), f(input([5], 4, device), 3), 'replayed');
    expect(compiled.stats().replays).toBe(1);
    compiled(input([3], 5, device), 2); // evicted: captured again
    expect(compiled.stats()).toMatchObject({ captures: 4, cacheSize: 2 });
    // A transposed input and an aliased pair are other signatures.
    const a = input([4, 4], 6, device);
    const g = xpu.compile((p: Tensor, q: Tensor) => p.add(q).mul(q));
    await expectSame(g(a, a), a.add(a).mul(a), 'aliased');
    await expectSame(g(a, a.t()), a.add(a.t()).mul(a.t()), 'transposed');
    const b = input([4, 4], 7, device);
    await expectSame(g(b, a), b.add(a).mul(a), 'distinct');
    expect(g.stats().captures).toBe(3);
  });

  it('returns nested outputs, inputs and views with their layouts', async () => {
    const f = (x: Tensor) => ({ same: x, sum: x.sum(0), pair: [x.exp().t(), 7] as const });
    const compiled = xpu.compile(f);
    compiled(input([3, 4], 1, device));
    const x = input([3, 4], 2, device);
    const got = compiled(x);
    const want = f(x);
    expect(got.same.ref).toBe(x.ref); // the input itself, as eager returns it
    await expectSame(got.same, x, 'input');
    await expectSame(got.sum, want.sum, 'sum');
    await expectSame(got.pair[0], want.pair[0], 'transposed view');
    expect(got.pair[0].strides).toEqual(want.pair[0].strides);
    expect(got.pair[1]).toBe(7);
  });

  it('replays in-place writes into the new arguments', async () => {
    const f = (cache: Tensor, x: Tensor) => {
      xpu.copyInto(cache.narrow(0, 1, 1), x.mul(2).unsqueeze(0));
      return cache.sum(0);
    };
    const compiled = xpu.compile(f);
    compiled(xpu.zeros([3, 4], { device }), input([4], 1, device));
    const cache = xpu.zeros([3, 4], { device });
    const x = input([4], 2, device);
    const got = compiled(cache, x);
    const xs = await values(x);
    expect(await values(got)).toEqual(xs.map((v) => Math.fround(v * 2)));
    expect((await values(cache)).slice(4, 8)).toEqual(xs.map((v) => Math.fround(v * 2)));
  });

  it('falls back to eager, warning once, on a host read or random numbers', async () => {
    warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const reads = xpu.compile((x: Tensor) => {
      void x.add(1).data();
      return x.mul(2);
    });
    for (let j = 0; j < 3; j++) await expectSame(reads(input([4], j, device)), input([4], j, device).mul(2), 'eager result');
    expect(reads.stats()).toMatchObject({ captures: 1, eagerCalls: 2, replays: 0 });
    expect(reads.stats().fallbackReason).toMatch(/host/);
    const random = xpu.compile((x: Tensor) => x.add(xpu.randn([4], { device })));
    random(input([4], 1, device));
    const a = await values(random(xpu.zeros([4], { device })));
    const b = await values(random(xpu.zeros([4], { device })));
    expect(a).not.toEqual(b); // fresh numbers each call, as eager
    expect(random.stats().fallbackReason).toMatch(/random/);
    expect(warn.mock.calls.filter((c) => String(c[0]).includes('xpu.compile'))).toHaveLength(2);
    const w = input([4], 9, device);
    w.requiresGrad = true; // a parameter read from the closure
    const grads = xpu.compile((x: Tensor) => x.mul(w));
    grads(input([4], 1, device));
    expect(grads(input([4], 2, device)).requiresGrad).toBe(true); // eager again, with its graph
    expect(grads.stats()).toMatchObject({ captures: 1, eagerCalls: 1, fallbackReason: null });
    expect(warn.mock.calls.filter((c) => String(c[0]).includes('xpu.compile'))).toHaveLength(3);
    // Recorded under noGrad, it still builds the graph when grad mode is on (grad mode is in the signature).
    const infer = xpu.compile((x: Tensor) => x.mul(w));
    xpu.noGrad(() => infer(input([4], 1, device)));
    const replayed = xpu.noGrad(() => infer(input([4], 2, device)));
    expect(replayed.requiresGrad).toBe(false);
    expect(infer(input([4], 3, device)).requiresGrad).toBe(true);
    expect(xpu.noGrad(() => infer(input([4], 4, device))).requiresGrad).toBe(false); // still replayed
    expect(infer.stats()).toMatchObject({ captures: 2, replays: 2, eagerCalls: 0 });
    class Result {
      constructor(readonly value: Tensor) {}
    }
    const boxed = xpu.compile((x: Tensor) => new Result(x.add(1)));
    boxed(input([4], 1, device));
    await expectSame(boxed(input([4], 2, device)).value, input([4], 2, device).add(1), 'eager, not a stale capture');
    expect(boxed.stats().fallbackReason).toMatch(/class instance/);
    warn.mockClear();
    // A backend method compile does not record (an optimizer's in-place step...) refuses the recording.
    const backend = xpu.device(device).backend as unknown as Record<string, unknown>;
    backend.inPlaceThing = () => undefined;
    try {
      const other = xpu.compile((x: Tensor) => {
        (backend.inPlaceThing as () => void)();
        return x.add(1);
      });
      other(input([4], 1, device));
      expect(other.stats().fallbackReason).toMatch(/inPlaceThing/);
    } finally {
      delete backend.inPlaceThing;
    }
    const strict = xpu.compile((x: Tensor) => x.add(xpu.rand([4], { device })), { fullgraph: true });
    caught(() => strict(input([4], 1, device)), xpu.XpuValueError);
  });

  it('a compiled function inside another, and under the profiler', async () => {
    const inner = xpu.compile((a: Tensor) => a.mul(2).exp());
    const outer = xpu.compile((a: Tensor, b: Tensor) => inner(a).add(inner(b)).sigmoid());
    const eager = (a: Tensor, b: Tensor) => a.mul(2).exp().add(b.mul(2).exp()).sigmoid();
    xpu.profiler.start();
    await expectSame(
      outer(input([6], 1, device), input([6], 2, device)),
      eager(input([6], 1, device), input([6], 2, device)),
      'capture under the profiler',
    );
    await xpu.profiler.stop();
    for (let j = 3; j < 7; j += 2)
      await expectSame(
        outer(input([6], j, device), input([6], j + 1, device)),
        eager(input([6], j, device), input([6], j + 1, device)),
        `replay ${j}`,
      );
    expect(outer.stats()).toMatchObject({ captures: 1, replays: 2, replaySteps: 1 });
  });

  it('folds a GEMM activation and residual into its epilogue', async () => {
    const f = (x: Tensor, w: Tensor, r: Tensor) => x.matmul(w).gelu().add(r).mul(0.5);
    const compiled = xpu.compile(f);
    const args = () => [input([5, 8], 1, device), input([8, 6], 2, device), input([5, 6], 3, device)] as const;
    compiled(...args());
    const a = args();
    await expectSame(compiled(...a), f(...a), 'folded');
    expect(compiled.stats().epilogueFolds).toBe(2);
    // A scale, then an activation and a broadcast bias as the residual: one GEMM.
    const g = (x: Tensor, w: Tensor, b: Tensor) => x.matmul(w).mul(0.25).silu().add(b);
    const cg = xpu.compile(g);
    const b = input([6], 4, device);
    cg(a[0], a[1], b);
    const a2 = args();
    await expectSame(cg(a2[0], a2[1], b), g(a2[0], a2[1], b), 'scaled');
    expect(cg.stats()).toMatchObject({ epilogueFolds: 3, replaySteps: 1 });
  });
});

describe('compile on cpu: native chains', () => {
  // Without the addon the composed TypeScript loop runs (tested above).
  const c = nativeCompute() as unknown as Record<string, (...a: unknown[]) => unknown> | null;
  it.runIf(typeof c?.ewChainNow === 'function')(
    'a fused chain of table ops on >= 4096 float32 elements runs as one native pass, equal to eager',
    async () => {
      if (!c) return;
      const calls = { n: 0 };
      const wrap = (name: string) => {
        const orig = c[name];
        c[name] = (...a: unknown[]) => (calls.n++, orig.apply(c, a));
        return () => (c[name] = orig);
      };
      const undo = [wrap('ewChainNow'), wrap('ewChain')];
      try {
        const f = (x: Tensor, y: Tensor) =>
          xpu.maximum(x.mul(1.5).add(y).sub(0.25).silu().mul(y).sigmoid(), x.abs().sqrt().neg()).div(y.exp()).relu();
        const compiled = xpu.compile(f);
        const n = 3 * 4096 + 5;
        compiled(input([n], 1, 'cpu'), input([n], 2, 'cpu'));
        const x = input([n], 3, 'cpu'),
          y = input([n], 4, 'cpu');
        const got = compiled(x, y);
        expect(calls.n).toBe(1);
        expect(compiled.stats()).toMatchObject({ replaySteps: 1, fusedKernels: 1 });
        expect(await values(got)).toEqual(await values(f(x, y))); // bit for bit: each step rounds as its op does
      } finally {
        undo.forEach((u) => u());
      }
    },
  );
});

describe('compile arguments', () => {
  it('typed errors for bad arguments', () => {
    caught(() => xpu.compile(null as never), xpu.XpuTypeError);
    caught(() => xpu.compile((x: Tensor) => x, { maxCacheSize: 0 }), xpu.XpuValueError);
    caught(() => xpu.compile((x: Tensor) => x, { fullgraph: 'yes' as never }), xpu.XpuTypeError);
    caught(() => xpu.compile((x: Tensor) => x, 3 as never), xpu.XpuTypeError);
    const x = xpu.ones([2]);
    x.dispose();
    caught(() => xpu.compile((t: Tensor) => t.add(1))(x), xpu.XpuDisposedError);
  });
});
