import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testDevices, xpu } from './helpers.js';

/** console.log(tensor): torch's repr with shape, dtype and device (src/tensor/inspect.ts). */
describe('util.inspect of a tensor', () => {
  const show = (t: unknown) => inspect(t, { colors: false });

  it("prints a cpu tensor's values like torch, then shape, dtype and device", () => {
    expect(
      show(
        xpu.tensor(
          [
            [0.1, -1.25],
            [3, 4.5],
          ],
          { device: 'cpu' },
        ),
      ),
    ).toBe('tensor([[ 0.1000, -1.2500],\n        [ 3.0000,  4.5000]], shape=[2, 2], dtype=float32, device=cpu)');
    expect(show(xpu.tensor([1, 2, -3], { device: 'cpu' }))).toBe('tensor([ 1.,  2., -3.], shape=[3], dtype=float32, device=cpu)');
    expect(show(xpu.tensor([7, -12], { device: 'cpu', dtype: 'int32' }))).toBe('tensor([  7, -12], shape=[2], dtype=int32, device=cpu)');
    expect(show(xpu.tensor([1, 0], { device: 'cpu', dtype: 'bool' }))).toBe('tensor([ true, false], shape=[2], dtype=bool, device=cpu)');
    expect(show(xpu.tensor([1e-6, 1, Number.NaN, -Infinity], { device: 'cpu', dtype: 'float16' }))).toBe(
      'tensor([1.0133e-06, 1.0000e+00,        nan,       -inf], shape=[4], dtype=float16, device=cpu)',
    );
    expect(show(xpu.full([], 2.5, { device: 'cpu' }))).toBe('tensor(2.5000, shape=[], dtype=float32, device=cpu)');
  });

  it('follows strides and offsets (views), and blank-lines 3-D blocks', () => {
    const t = xpu.arange(6, undefined, 1, { device: 'cpu', dtype: 'int32' }).reshape([2, 3]);
    expect(show(t.transpose(0, 1))).toBe('tensor([[0, 3],\n        [1, 4],\n        [2, 5]], shape=[3, 2], dtype=int32, device=cpu)');
    const b = xpu.arange(8, undefined, 1, { device: 'cpu', dtype: 'int32' }).reshape([2, 2, 2]);
    expect(show(b)).toBe(
      'tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]], shape=[2, 2, 2], dtype=int32, device=cpu)',
    );
  });

  it('elides the middle of long dims past 1000 elements', () => {
    const s = show(xpu.arange(100 * 100, undefined, 1, { device: 'cpu', dtype: 'int32' }).reshape([100, 100]));
    const lines = s.split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('tensor([[   0,    1,    2,  ...,   97,   98,   99],');
    expect(lines[3]).toBe('        ...,');
    expect(lines[6]).toBe('        [9900, 9901, 9902,  ..., 9997, 9998, 9999]], shape=[100, 100], dtype=int32, device=cpu)');
  });

  it('says how to read an xpu tensor, and marks a disposed one', () => {
    const d = xpu.ones([2], { device: 'cpu' });
    d.dispose();
    expect(show(d)).toBe('tensor(<disposed>, shape=[2], dtype=float32, device=cpu)');
    if (!testDevices().includes('xpu')) return;
    expect(show(xpu.ones([2, 3], { device: 'xpu' }))).toBe(
      'tensor(<on xpu:0: await t.cpu() or t.data() to read the values>, shape=[2, 3], dtype=float32, device=xpu:0)',
    );
  });
});
