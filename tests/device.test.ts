import { describe, expect, it } from 'vitest';
import { testDevices, xpu } from './helpers.js';
import { xpuEntries } from '../src/device/registry.js';

const hasXpu = testDevices().includes('xpu');

describe('accelerator API', () => {
  it('reports availability, count and the current device', () => {
    expect(xpu.accelerator.isAvailable()).toBe(hasXpu);
    expect(xpu.accelerator.deviceCount()).toBe(hasXpu ? 1 : 0);
    // A software adapter (lavapipe here) is never the default device; a hardware one is.
    const hardware = hasXpu && !xpu.accelerator.getDeviceInfo().isSoftware;
    if (!process.env.XPU_DEVICE) expect(xpu.defaultDevice().type).toBe(hardware ? 'xpu' : 'cpu');
    if (hasXpu) {
      expect(xpu.accelerator.currentDevice()).toBe(0);
      xpu.accelerator.setDevice(0);
      expect(() => xpu.accelerator.setDevice(3)).toThrow(xpu.XpuDeviceError);
      expect(xpu.accelerator.unavailable()).toBeNull();
    } else {
      expect(xpu.accelerator.unavailable()).toMatch(/./);
    }
  });

  it.runIf(hasXpu)('getDeviceInfo describes the adapter, its features and limits', () => {
    const info = xpu.accelerator.getDeviceInfo();
    for (const key of ['vendor', 'architecture', 'description', 'backend', 'driver'] as const) expect(typeof info[key]).toBe('string');
    expect(typeof info.isSoftware).toBe('boolean');
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(info.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
    expect(Array.isArray(info.features)).toBe(true);
    if (/llvmpipe/.test(info.description)) {
      expect(info.isSoftware).toBe(true);
      expect(info.features).toContain('shader-f16');
    }
  });

  it.runIf(hasXpu)('a chain of small ops is recorded into few submits', async () => {
    await xpu.accelerator.synchronize();
    const queue = xpuEntries()[0].backend.queue;
    const before = queue.submits;
    let x = xpu.ones([64], { device: 'xpu' });
    for (let i = 0; i < 100; i++) x = x.add(1);
    await x.data();
    // 100 dispatches + a read-back: one submit for the batch (plus one if the batch limit split it).
    expect(queue.submits - before).toBeLessThanOrEqual(2);
    expect((await x.data())[63]).toBe(101);
  });

  it.runIf(hasXpu)('grids above maxComputeWorkgroupsPerDimension fold into 2-D', async () => {
    // Reductions launch one workgroup per output row: 70,001 rows is more than one dim allows.
    const rows = 70_001;
    const x = xpu.arange(rows * 2, undefined, 1, { device: 'xpu', dtype: 'float32' }).reshape([rows, 2]);
    const d = await x.sum(1).data();
    expect(d.length).toBe(rows);
    for (const i of [0, 1, 65_534, 65_535, 65_536, rows - 1]) expect(d[i]).toBe(4 * i + 1);
  });

  it.runIf(hasXpu)('a large map launch covers every element (grid-stride loop)', async () => {
    const n = 64 * 65535 + 4099;
    const y = xpu.arange(n, undefined, 1, { device: 'xpu', dtype: 'float32' }).mul(2).add(1);
    const d = await y.data();
    expect(d.length).toBe(n);
    for (const i of [0, 1, 64 * 65535 - 1, 64 * 65535, n - 1]) expect(d[i]).toBe(Math.fround(2 * i + 1));
  });

  it.runIf(hasXpu)('uploads between queued dispatches keep their order', async () => {
    // A buffer freed by a queued op is reused at once for an upload; the upload must not overtake
    // the op that still reads the old contents.
    const a = xpu.tensor([1, 2, 3, 4], { device: 'xpu' });
    const b = a.mul(10);
    a.dispose();
    const c = xpu.tensor([5, 6, 7, 8], { device: 'xpu' });
    expect(await b.toArray()).toEqual([10, 20, 30, 40]);
    expect(await c.toArray()).toEqual([5, 6, 7, 8]);
  });

  it('synchronize resolves for the current device, an index, a device name, and rejects an unknown one', async () => {
    await expect(xpu.accelerator.synchronize()).resolves.toBeUndefined();
    await expect(xpu.accelerator.synchronize(0)).resolves.toBeUndefined();
    await expect(xpu.accelerator.synchronize('cpu')).resolves.toBeUndefined();
    await expect(xpu.accelerator.synchronize('xpu:0')).resolves.toBeUndefined();
    await expect(xpu.accelerator.synchronize('xpu:7')).rejects.toBeInstanceOf(xpu.XpuDeviceError);
    await expect(xpu.accelerator.synchronize(7)).rejects.toBeInstanceOf(xpu.XpuDeviceError);
  });
});
