import { describe, expect, it } from 'vitest';
import { testDevices, xpu } from './helpers.js';
import { xpuEntries } from '../src/device/registry.js';

// Runs in its own process (vitest forks per file): the device is gone afterwards.
describe.runIf(testDevices().includes('xpu'))('a lost device', () => {
  it('gives XpuDeviceError for pending reads and new ops, never a hang, and cpu keeps working', async () => {
    const a = xpu.ones([1 << 16], { device: 'xpu' });
    const b = a.mul(3);
    const pending = b.data();
    xpuEntries()[0].backend.device.destroy();
    await expect(
      Promise.race([
        pending.then(
          () => 'resolved',
          (e) => e,
        ),
        new Promise((r) => setTimeout(() => r('hang'), 20_000)),
      ]),
    ).resolves.not.toBe('hang');
    // Let the lost promise settle.
    await new Promise((r) => setTimeout(r, 50));
    expect(() => a.add(1)).toThrow(xpu.XpuDeviceError);
    expect(() => xpu.ones([2], { device: 'xpu' })).toThrow(xpu.XpuDeviceError);
    await expect(a.data()).rejects.toBeInstanceOf(xpu.XpuDeviceError);
    await expect(xpu.accelerator.synchronize()).rejects.toBeInstanceOf(xpu.XpuDeviceError);
    expect(await xpu.ones([2], { device: 'cpu' }).add(1).toArray()).toEqual([2, 2]);
  });
});
