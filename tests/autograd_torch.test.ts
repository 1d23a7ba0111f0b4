import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectClose, testDevices, xpu } from './helpers.js';
import type { Tensor } from '../src/index.js';

/**
 * Gradients of composite graphs (an MLP with a log-softmax loss, causal attention with RMSNorm and
 * rotary, embedding + cat/flip/permute/std) against torch 1.13 in float64
 * (tests/fixtures/autograd/make.py writes graphs.json).
 */

interface Graph {
  inputs: { shape: number[]; data: number[] }[];
  value: number;
  grads: number[][];
}
const GRAPHS = JSON.parse(readFileSync(new URL('./fixtures/autograd/graphs.json', import.meta.url), 'utf8')) as Record<string, Graph>;

function rotateHalf(x: Tensor): Tensor {
  const h = x.shape[x.ndim - 1] / 2;
  return xpu.cat([x.narrow(-1, h, h).neg(), x.narrow(-1, 0, h)], -1);
}

function build(device: string): Record<string, (...x: Tensor[]) => Tensor> {
  const ints = (data: number[], shape: number[]) => xpu.tensor(Int32Array.from(data), { shape, dtype: 'int32', device });
  const arange = (n: number) => xpu.arange(n, undefined, 1, { device, dtype: 'float32' });
  return {
    mlp: (x, w1, b1, w2, b2, lnW, lnB) => {
      let h = xpu.linear(x, w1, { bias: b1, activation: 'gelu' });
      h = xpu.layerNorm(h, [h.shape[1]], { weight: lnW, bias: lnB });
      const logp = xpu.logSoftmax(xpu.linear(h, w2, { bias: b2 }), -1);
      return xpu
        .gather(logp, 1, ints([1, 0, 2], [3, 1]))
        .mean()
        .neg();
    },
    attention: (x, wq, wk, wv, g, cos, sin) => {
      const h = xpu.rmsNorm(x, [x.shape[1]], { weight: g, eps: 1e-6 });
      const q = xpu.applyRotary(h.matmul(wq.t()), cos, sin);
      const k = xpu
        .linear(h, wk)
        .mul(cos)
        .add(rotateHalf(xpu.linear(h, wk)).mul(sin));
      const v = xpu.linear(h, wv);
      const causal = xpu.triu(xpu.ones([4, 4], { device, dtype: 'bool' }), 1);
      const s = xpu.maskedFill(q.matmul(k.t()).div(Math.sqrt(q.shape[1])), causal, -Infinity);
      return xpu.softmax(s, -1).matmul(v).mul(arange(v.shape[1])).sum();
    },
    embed: (w, e2) => {
      const x = xpu.embedding(ints([0, 3, 1, 3, 3, 2], [2, 3]), w);
      const y = xpu
        .cat([x, xpu.flip(x, 1)], -1)
        .permute([2, 0, 1])
        .reshape([-1, 3]);
      const weights = xpu.tensor([1, -2], { device });
      return xpu.tanh(y.matmul(e2)).pow(2).sum(0).mul(weights).sum().add(xpu.std(y, 0).sum());
    },
  };
}

describe.each(testDevices())('gradients of composite graphs against torch on %s', (device) => {
  const fns = build(device);
  for (const [name, g] of Object.entries(GRAPHS)) {
    it(name, async () => {
      const inputs = g.inputs.map((t) => xpu.tensor(Float32Array.from(t.data), { shape: t.shape, device, requiresGrad: true }));
      const y = fns[name](...inputs);
      expect(await y.item()).toBeCloseTo(g.value, 4);
      y.backward();
      for (const [i, t] of inputs.entries()) expectClose((await t.grad!.data()) as Float32Array, g.grads[i], 1e-4, `${name} input ${i}`);
    });
  }
});
