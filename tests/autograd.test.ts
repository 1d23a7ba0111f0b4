import { describe, expect, it } from 'vitest';
import { caught, expectClose, testDevices, xpu } from './helpers.js';
import { onBackwardEnd, onGradAccumulated } from '../src/autograd/engine.js';
import { record } from '../src/autograd/record.js';
import type { Tensor } from '../src/index.js';

/** The engine's semantics (torch's): accumulation, graph lifetime, grad mode, grad(), hooks, errors. */

const host = async (t: Tensor | null): Promise<number[]> => Array.from((await t!.data()) as Float32Array);

describe.each(testDevices())('autograd engine on %s', (device) => {
  const leaf = (values: number[], shape?: number[]) => xpu.tensor(values, { device, shape: shape ?? [values.length], requiresGrad: true });

  it('computes and accumulates leaf gradients across backward calls, in place', async () => {
    const x = leaf([1, 2, 3]);
    x.mul(x).sum().backward();
    expect(await host(x.grad)).toEqual([2, 4, 6]);
    const first = x.grad;
    x.mul(3).sum().backward();
    expect(x.grad).toBe(first); // accumulated into the same tensor, as torch's AccumulateGrad
    expect(await host(x.grad)).toEqual([5, 7, 9]);
    expect(x.isLeaf).toBe(true);
    expect(x.mul(2).isLeaf).toBe(false);
  });

  it('gives each leaf a .grad of its own storage (gradients handed on unchanged share one)', async () => {
    const a = leaf([1, 2]);
    const b = leaf([3, 4]);
    const c = leaf([5, 6]);
    for (let i = 0; i < 2; i++) a.add(b).mul(c).sum().backward();
    expect(await host(a.grad)).toEqual([10, 12]);
    expect(await host(b.grad)).toEqual([10, 12]);
    expect(await host(c.grad)).toEqual([8, 12]);
    const s = leaf([1, 2, 3]);
    s.sum().backward();
    expect(s.grad!.strides).toEqual([1]);
  });

  it('sums a gradient over broadcast dims to the input shape and casts it to its dtype', async () => {
    const a = leaf([1, 2, 3]);
    const b = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    const c = xpu.tensor([[2]], { device, requiresGrad: true });
    a.add(b).mul(c).sum().backward();
    expect(a.grad!.shape).toEqual([3]);
    expect(await host(a.grad)).toEqual([4, 4, 4]);
    expect(await host(b.grad)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(await host(c.grad)).toEqual([33]); // sum(a + b) over the broadcast [2, 3]
    const h = xpu.tensor([1, 2], { device, dtype: 'float16', requiresGrad: true });
    h.to('float32').mul(3).sum().backward();
    expect(h.grad!.dtype).toBe('float16');
    expect(await host(h.grad)).toEqual([3, 3]);
  });

  it('frees the graph after backward unless retainGraph, and says so on a second pass', async () => {
    const x = leaf([1, 2]);
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expectClose(await host(x.grad), [2 * Math.E, 2 * Math.exp(2)], 1e-6);
    const e = caught(() => y.backward(), xpu.XpuValueError);
    expect(e.message).toContain('backward through the graph a second time');
  });

  it('records nothing in noGrad and for detached tensors; enableGrad nests', () => {
    const x = leaf([1, 2]);
    const y = xpu.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(xpu.isGradEnabled()).toBe(true);
    xpu.noGrad(() => {
      expect(xpu.isGradEnabled()).toBe(false);
      expect(xpu.autograd.enableGrad(() => x.mul(2)).requiresGrad).toBe(true);
      expect(xpu.isGradEnabled()).toBe(false);
    });
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.mul(2).requiresGrad).toBe(false);
    const plain = xpu.tensor([1, 2], { device });
    expect(plain.add(1).gradFn).toBeNull();
  });

  it('grad() returns gradients without touching .grad, for leaves and intermediate tensors', async () => {
    const x = leaf([1, 2, 3]);
    const h = x.mul(x);
    const y = h.mul(2).sum();
    const [gx, gh] = xpu.autograd.grad(y, [x, h], undefined, { retainGraph: true });
    expect(await host(gx)).toEqual([4, 8, 12]);
    expect(await host(gh)).toEqual([2, 2, 2]);
    expect(x.grad).toBeNull();
    const z = leaf([1]);
    expect(caught(() => xpu.autograd.grad(y, [z], undefined, { retainGraph: true }), xpu.XpuValueError).message).toContain(
      'not have been used',
    );
    expect(await host(xpu.autograd.grad(y, [z], undefined, { allowUnused: true })[0])).toEqual([0]);
  });

  it('retainGrad keeps a non-leaf gradient; a leaf root gets its gradient directly', async () => {
    const x = leaf([1, 2]);
    const h = x.mul(3).retainGrad();
    h.mul(h).sum().backward();
    expect(await host(h.grad)).toEqual([6, 12]);
    expect(await host(x.grad)).toEqual([18, 36]);
    const l = leaf([1, 2]);
    l.backward(xpu.tensor([5, 6], { device }));
    expect(await host(l.grad)).toEqual([5, 6]);
  });

  it('createGraph gives higher-order gradients', async () => {
    const x = leaf([1, 2]);
    const y = x.pow(3).sum();
    const [g] = xpu.autograd.grad(y, [x], undefined, { createGraph: true });
    expect(await host(g)).toEqual([3, 12]);
    const [g2] = xpu.autograd.grad(g.sum(), [x]);
    expect(await host(g2)).toEqual([6, 12]);
  });

  it('second derivatives through linear (fused activation), softmax and layerNorm pass gradcheck', async () => {
    const gradOf =
      (f: (...t: Tensor[]) => Tensor) =>
      (...t: Tensor[]) =>
        xpu.autograd.enableGrad(
          () =>
            xpu.autograd.grad(
              f(...t)
                .mul(f(...t))
                .sum(),
              [t[0]],
              undefined,
              { createGraph: true },
            )[0],
        );
    const x = leaf([0.3, -0.7, 0.5, 0.9, -0.2, 0.4], [2, 3]);
    const w = leaf([0.2, -0.5, 0.8, 0.6, 0.1, -0.9], [2, 3]);
    const b = leaf([0.1, -0.3]);
    expect(
      await xpu.autograd.gradcheck(
        gradOf((a, m, c) => xpu.linear(a, m, { bias: c, activation: 'gelu' })),
        [x, w, b],
      ),
    ).toBe(true);
    expect(
      await xpu.autograd.gradcheck(
        gradOf((a) => xpu.softmax(a, 1).mul(xpu.tensor([1, 2, 3], { device }))),
        [x],
      ),
    ).toBe(true);
    expect(
      await xpu.autograd.gradcheck(
        gradOf((a) => xpu.layerNorm(a, [3]).mul(xpu.tensor([1, 2, 3], { device }))),
        [x],
        { atol: 3e-3 },
      ),
    ).toBe(true);
  });

  it('runs onGradAccumulated after each leaf update and onBackwardEnd once per backward()', async () => {
    const w = leaf([1, 2]);
    const seen: number[][] = [];
    const order: string[] = [];
    const removeLeaf = onGradAccumulated(w, (p) => {
      order.push('leaf');
      seen.push([...(p.grad!.shape as number[])]);
    });
    const removeEnd = onBackwardEnd(() => void order.push('end'));
    w.mul(w).sum().add(w.sum()).backward(); // two paths into w: one accumulation, one hook call
    expect(order).toEqual(['leaf', 'end']);
    expect(seen).toEqual([[2]]);
    xpu.autograd.grad(w.mul(2).sum(), [w]); // grad() touches no .grad and runs no hook
    expect(order).toEqual(['leaf', 'end']);
    removeLeaf();
    removeEnd();
    w.sum().backward();
    expect(order).toEqual(['leaf', 'end']);
  });

  it('keeps .grad of a leaf alive past the scope backward ran in', async () => {
    const x = leaf([1, 2]);
    xpu.scope(() => x.mul(x).sum().backward());
    expect(x.grad!.isDisposed).toBe(false);
    expect(await host(x.grad)).toEqual([2, 4]);
  });

  it('a gradient through dropout is the noise it applied', async () => {
    const x = leaf(Array.from({ length: 64 }, (_, i) => i + 1));
    const y = xpu.dropout(x, 0.5);
    y.sum().backward();
    const out = await host(y);
    const g = await host(x.grad);
    out.forEach((v, i) => expect(g[i]).toBeCloseTo(v / (i + 1), 5));
  });

  it("throws torch's errors", () => {
    const x = leaf([1, 2]);
    expect(caught(() => x.mul(2).backward(), xpu.XpuValueError).message).toContain(
      'grad can be implicitly created only for scalar outputs',
    );
    expect(caught(() => xpu.tensor([1, 2], { device }).sum().backward(), xpu.XpuValueError).message).toContain('does not require grad');
    expect(caught(() => xpu.tensor([1, 2], { device, dtype: 'int32', requiresGrad: true }), xpu.XpuDTypeError).message).toContain(
      'floating point',
    );
    expect(caught(() => xpu.tensor([1], { device, dtype: 'int32' }).requiresGrad_(), xpu.XpuDTypeError).arg).toBe('requiresGrad');
    expect(caught(() => x.mul(2).backward(xpu.tensor([1, 2, 3], { device })), xpu.XpuShapeError).arg).toBe('grad');
    expect(caught(() => x.mul(2).requiresGrad_(false), xpu.XpuValueError).message).toContain('leaf');
    expect(caught(() => xpu.tensor([1], { device }).retainGrad(), xpu.XpuValueError).op).toBe('retainGrad');
    // In-place writes into a tensor that requires grad: refused, allowed under noGrad (optimizers).
    expect(caught(() => xpu.copyInto(x, xpu.tensor([3, 4], { device })), xpu.XpuValueError).message).toContain('in-place');
    xpu.noGrad(() => xpu.copyInto(x, xpu.tensor([3, 4], { device })));
  });

  it('gradcheck fails on a wrong gradient (the check can fail)', async () => {
    const wrongDouble = (t: Tensor): Tensor => {
      const out = xpu.noGrad(() => t.mul(2));
      record('wrongDouble', [t], out, ([g]) => [g!.mul(3)]);
      return out;
    };
    const x = leaf([0.5, -0.25]);
    expect(await xpu.autograd.gradcheck(wrongDouble, [x], { raiseException: false })).toBe(false);
    await expect(xpu.autograd.gradcheck(wrongDouble, [x])).rejects.toThrow(/Jacobian mismatch/);
    expect(await xpu.autograd.gradcheck((t: Tensor) => t.mul(2), [x])).toBe(true);
  });
});

// GPU memory is counted by the allocator: a training step in a scope gives back all it took.
describe.each(testDevices().filter((d) => d === 'xpu'))('autograd memory on %s', (device) => {
  it('a forward + backward in a scope frees every intermediate and gradient temporary', async () => {
    const x = xpu.randn([8, 16], { device });
    const ps = [
      xpu.randn([32, 16], { device, requiresGrad: true }),
      xpu.zeros([32], { device, requiresGrad: true }),
      xpu.randn([16, 32], { device, requiresGrad: true }),
      xpu.ones([16], { device, requiresGrad: true }),
    ];
    const step = () =>
      xpu.scope(() => {
        const h = xpu.linear(x, ps[0], { bias: ps[1], activation: 'gelu' });
        const y = xpu.layerNorm(xpu.linear(h, ps[2]), [16], { weight: ps[3] });
        xpu.logSoftmax(y, -1).mean().neg().backward();
      });
    const after: number[] = [];
    for (let k = 0; k < 4; k++) {
      step();
      await ps[0].grad!.data();
      after.push(xpu.accelerator.memoryAllocated());
    }
    expect(after.slice(1)).toEqual([after[0], after[0], after[0]]);
  });
});
