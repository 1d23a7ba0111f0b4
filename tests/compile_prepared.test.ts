import { describe, expect, it } from 'vitest';
import { randomData, rng, testDevices, xpu } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { preparedLaunches } from '../src/compile/prepared_launch.js';

/**
 * Prepared launches (src/compile/prepared_launch.ts): from its second replay, an xpu step whose
 * launcher made one plain dispatch is recorded straight from its prepared pipeline, uniforms and
 * rebound buffers. Replays must still agree with eager when the inputs are new buffers, the same
 * buffer again, or one buffer passed twice; with closure weights; with steps that cannot be
 * prepared (reductions in levels, copies) between prepared ones; and under the profiler, which
 * must see every replayed launch. On cpu nothing is prepared and the same programs must agree too.
 */

type Device = 'cpu' | 'xpu';

function input(shape: number[], seed: number, device: Device): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return xpu.tensor(Array.from(randomData(n, seed)), { device }).reshape(shape);
}

async function expectSame(got: Tensor, want: Tensor, what: string): Promise<void> {
  expect(got.shape, what).toEqual(want.shape);
  const g = (await got.data()) as Float32Array;
  const w = (await want.data()) as Float32Array;
  for (let i = 0; i < w.length; i++)
    expect(Math.abs(g[i] - w[i]), `${what} [${i}]: ${g[i]} vs ${w[i]}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(w[i])));
}

/** A random mix of maps (prepared), a row op, a reduction and a matmul with a closure weight. */
function program(seed: number, w: Tensor): (x: Tensor, y: Tensor) => Tensor {
  const r = rng(seed);
  const picks = Array.from({ length: 8 }, () => Math.floor(r() * 9));
  return (x, y) => {
    let v = x;
    for (const p of picks) {
      switch (p) {
        case 0:
          v = v.mul(y);
          break;
        case 1:
          v = v.add(0.5).tanh();
          break;
        case 2:
          v = v.softmax(-1);
          break;
        case 3:
          v = v.sub(v.sum(-1, true).mul(0.1));
          break;
        case 4:
          v = v.matmul(w).mul(0.3);
          break; // w is [8, 8], from the closure
        case 5:
          v = xpu.maximum(v, y.neg());
          break;
        case 6:
          v = v.t().contiguous().t().add(y);
          break;
        case 7:
          v = v.sigmoid().mul(2);
          break;
        default:
          v = v.layerNorm([8]);
          break;
      }
    }
    return v;
  };
}

describe.each(testDevices())('prepared replays on %s', (device) => {
  it('agree with eager on random programs, fused or not, with new, repeated and shared inputs', async () => {
    const before = preparedLaunches.launched;
    const w = input([8, 8], 99, device);
    for (let seed = 1; seed <= 6; seed++) {
      const f = program(seed * 31, w);
      for (const fuse of [false, true]) {
        const compiled = xpu.compile(f, { fuse });
        const x0 = input([4, 8], seed, device);
        for (let call = 0; call < 6; call++) {
          // calls 0..3: new buffers; 4: x0 again; 5: one buffer as both arguments.
          const x = call === 4 ? x0 : input([4, 8], seed * 10 + call, device);
          const y = call === 5 ? x : input([4, 8], seed * 10 + call + 5, device);
          await expectSame(compiled(x, y), f(x, y), `program ${seed}, fuse ${fuse}, call ${call}`);
        }
        // Call 5 shares one buffer between the arguments: a new signature, captured once.
        expect(compiled.stats().captures).toBe(2);
      }
    }
    if (device === 'xpu') expect(preparedLaunches.launched).toBeGreaterThan(before);
    else expect(preparedLaunches.launched).toBe(before);
  });

  it('read a closure weight as it is now, and hold no memory past their outputs', async () => {
    const w = input([5, 5], 3, device);
    const f = (x: Tensor) => x.matmul(w).tanh().mul(x).sum(-1, true).add(x);
    const compiled = xpu.compile(f, { fuse: false });
    const x = input([2, 5], 4, device);
    for (let call = 0; call < 3; call++) compiled(x).dispose();
    xpu.copyInto(w, input([5, 5], 5, device));
    await expectSame(compiled(x), f(x), 'after the weight changed');
    const before = xpu.accelerator.memoryAllocated();
    for (let call = 0; call < 4; call++) compiled(x).dispose();
    expect(xpu.accelerator.memoryAllocated()).toBe(before);
  });

  it('the profiler sees every replayed launch, and prepared replays resume after it', async () => {
    const f = (x: Tensor) => x.mul(2).sum(-1).add(1).exp().sub(x.max(-1));
    const compiled = xpu.compile(f, { fuse: false });
    const x = input([3, 5], 7, device);
    for (let call = 0; call < 3; call++) await expectSame(compiled(x), f(x), `call ${call}`);
    const steps = compiled.stats().replaySteps;
    xpu.profiler.start();
    const got = compiled(x);
    const prof = await xpu.profiler.stop();
    expect(prof.events).toHaveLength(steps);
    await expectSame(got, f(x), 'under the profiler');
    const before = preparedLaunches.launched;
    await expectSame(compiled(input([3, 5], 8, device)), f(input([3, 5], 8, device)), 'after the profiler');
    if (device === 'xpu') expect(preparedLaunches.launched).toBeGreaterThan(before);
  });
});
