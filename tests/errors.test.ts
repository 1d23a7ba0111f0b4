import { describe, expect, it } from 'vitest';
import { testDevices, xpu, caught } from './helpers.js';


describe.each(testDevices())('typed errors on %s', (device) => {
  it('shape mismatch names the op and both shapes, and harms no tensor', async () => {
    const a = xpu.tensor([[1, 2, 3], [4, 5, 6]], { device });
    const e = caught(() => a.add(xpu.ones([4], { device })), xpu.XpuShapeError);
    expect(e.op).toBe('add');
    expect(e.message).toMatch(/add\(\).*\[2, 3\] and \[4\]/);
    expect(await a.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(await a.add(1).toArray()).toEqual([[2, 3, 4], [5, 6, 7]]);
  });

  it('unsupported or unknown dtypes', () => {
    const e = caught(() => xpu.zeros([2], { device, dtype: 'int64' as never }), xpu.XpuDTypeError);
    expect(e.got).toBe('int64');
    caught(() => xpu.matmul(xpu.ones([2, 2], { device, dtype: 'int32' }), xpu.ones([2, 2], { device, dtype: 'int32' })), xpu.XpuDTypeError);
    caught(() => xpu.ones([2], { device, dtype: 'bool' }).sub(xpu.ones([2], { device, dtype: 'bool' })), xpu.XpuDTypeError);
    caught(() => xpu.where(xpu.ones([2], { device }), 1, 2), xpu.XpuDTypeError);
  });

  it('dim out of range', () => {
    const a = xpu.ones([2, 3], { device });
    const e = caught(() => a.transpose(0, 5), xpu.XpuIndexError);
    expect(e.arg).toBe('dim1');
    expect(e.expected).toContain('[-2, 1]');
    caught(() => a.narrow(1, 2, 5), xpu.XpuIndexError);
    caught(() => a.select(0, 2), xpu.XpuIndexError);
  });

  it('use after dispose', () => {
    const a = xpu.ones([2], { device });
    a.dispose();
    const e = caught(() => a.add(1), xpu.XpuDisposedError);
    expect(e.op).toBe('add');
    caught(() => a.reshape([2, 1]), xpu.XpuDisposedError);
    return expect(a.data()).rejects.toBeInstanceOf(xpu.XpuDisposedError);
  });

  it('invalid shapes and reshapes', () => {
    caught(() => xpu.zeros([2, -1], { device }), xpu.XpuShapeError);
    caught(() => xpu.ones([2, 3], { device }).reshape([4, 2]), xpu.XpuShapeError);
    caught(() => xpu.ones([2, 3], { device }).T.view([6]), xpu.XpuShapeError);
    caught(() => xpu.tensor([[1, 2], [3]], { device }), xpu.XpuShapeError);
  });

  it('an allocation above the device limits', async () => {
    const huge = device === 'xpu' ? [1 << 20, 1 << 10] : [1 << 30, 1 << 12];
    const e = caught(() => xpu.zeros(huge, { device }), xpu.XpuOutOfMemoryError);
    expect(e.message).toMatch(/bytes|elements/);
    expect(await xpu.ones([2], { device }).add(1).toArray()).toEqual([2, 2]);
  });
});

describe('devices', () => {
  it.runIf(testDevices().includes('xpu'))('mixing devices without .to() is an XpuDeviceError', async () => {
    const a = xpu.ones([2], { device: 'cpu' });
    const b = xpu.ones([2], { device: 'xpu' });
    const e = caught(() => a.add(b), xpu.XpuDeviceError);
    expect(e.message).toMatch(/cpu.*xpu:0|xpu:0.*cpu/);
    expect(await a.to('xpu').add(b).toArray()).toEqual([2, 2]);
  });

  it('unknown device names', () => {
    caught(() => xpu.zeros([1], { device: 'cuda' }), xpu.XpuDeviceError);
    caught(() => xpu.zeros([1], { device: 'xpu:7' }), xpu.XpuDeviceError);
  });
});
