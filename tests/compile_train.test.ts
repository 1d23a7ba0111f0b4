import { describe, expect, it } from 'vitest';
import { expectClose, testDevices, xpu } from './helpers.js';

// A training step through xpu.compile: forward + backward recorded once (the gradients come back
// from autograd.grad as results) and replayed; the optimizer's step runs eagerly on them (one
// fused launch, and its step count / bias correction change every step, which a recording would
// freeze). The same steps eagerly must give the same losses and parameters.

type Device = 'cpu' | 'xpu';
const STEPS = 5;

function batch(device: Device, i: number): { x: xpu.Tensor; y: xpu.Tensor } {
  const x = xpu.tensor(
    Array.from({ length: 6 * 8 }, (_, j) => Math.sin(0.7 * j + i)),
    { device, shape: [6, 8] },
  );
  const y = xpu.tensor(
    Array.from({ length: 6 * 3 }, (_, j) => Math.cos(0.3 * j * (i + 1))),
    { device, shape: [6, 3] },
  );
  return { x, y };
}

/** Trains a seeded 2-layer MLP with Adam for STEPS steps; compiled: forward + backward through xpu.compile. */
async function train(device: Device, mode: 'eager' | 'compiled' | 'backward') {
  xpu.manualSeed(7);
  const l1 = new xpu.nn.Linear(8, 16, { device });
  const l2 = new xpu.nn.Linear(16, 3, { device });
  const params = [...l1.parameters(), ...l2.parameters()];
  const initial = (await Promise.all(params.map(async (p) => Array.from(await p.data())))).flat();
  const opt = new xpu.optim.Adam(params, { lr: 0.02 });
  const lossOf = (x: xpu.Tensor, y: xpu.Tensor) => l2.forward(l1.forward(x).gelu()).sub(y).square().mean();
  const withGrad = (x: xpu.Tensor, y: xpu.Tensor) => {
    const loss = lossOf(x, y);
    return { loss: loss.detach(), grads: xpu.autograd.grad(loss, params) };
  };
  // backward() inside compile sets .grad outside the recording: compile must refuse it.
  const withBackward = (x: xpu.Tensor, y: xpu.Tensor) => {
    const loss = lossOf(x, y);
    loss.backward();
    return loss.detach();
  };
  const fb = mode === 'compiled' ? xpu.compile(withGrad, { fullgraph: true }) : null;
  const fbw = mode === 'backward' ? xpu.compile(withBackward) : null;
  const losses: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const { x, y } = batch(device, i);
    opt.zeroGrad();
    let loss: xpu.Tensor;
    if (fbw) loss = fbw(x, y);
    else {
      const r = (fb ?? withGrad)(x, y);
      params.forEach((p, k) => (p.grad = r.grads[k]));
      loss = r.loss;
    }
    opt.step();
    losses.push((await loss.data())[0]);
  }
  const weights = (await Promise.all(params.map(async (p) => Array.from(await p.data())))).flat();
  const stats = fb?.stats() ?? fbw?.stats() ?? null;
  return { losses, initial, weights, stats };
}

describe('compiled training step', () => {
  for (const device of testDevices()) {
    it(`forward + autograd.grad compiled, Adam eager: eager's losses and parameters, on ${device}`, async () => {
      const eager = await train(device, 'eager');
      const comp = await train(device, 'compiled');
      expect(comp.stats!.captures).toBe(1);
      expect(comp.stats!.replays).toBe(STEPS - 1);
      expect(comp.stats!.fallbackReason).toBeNull();
      // The parameters move (Adam's first steps move each by about lr), so a replay that read stale
      // gradients or parameters would differ.
      expect(Math.max(...comp.weights.map((w, i) => Math.abs(w - comp.initial[i])))).toBeGreaterThan(0.01);
      expectClose(comp.losses, eager.losses, 1e-5, 'losses');
      expectClose(comp.weights, eager.weights, 1e-5, 'parameters');
    });

    it(`backward() inside compile runs eagerly and says why, on ${device}`, async () => {
      const eager = await train(device, 'eager');
      const bw = await train(device, 'backward');
      expect(bw.stats!.replays).toBe(0);
      expect(bw.stats!.fallbackReason).toMatch(/backward\(\)/);
      expectClose(bw.losses, eager.losses, 1e-5, 'losses');
      expectClose(bw.weights, eager.weights, 1e-5, 'parameters');
      const strict = xpu.compile(
        () => {
          const w = xpu.tensor([1, 2], { device, requiresGrad: true });
          w.mul(w).sum().backward();
          return w.grad!.detach();
        },
        { fullgraph: true },
      );
      expect(() => strict()).toThrow(xpu.XpuValueError);
    });
  }
});
