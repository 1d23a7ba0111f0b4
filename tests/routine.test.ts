import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { XpuDeviceError } from '../src/errors.js';
import { add, mul } from '../src/ops/math.js';
import { decline, defineRoutine } from '../src/ops/routine.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { caughtAsync, expectClose, randomData, testDevices, xpu } from './helpers.js';

/**
 * Routines (src/ops/routine.ts): an op outside the primitives runs its device's implementation,
 * or its cpu implementation on host copies when the device declines or has none, with one warning
 * that names the routine, the device and the reason.
 */
const ran: string[] = [];
const scaledSum = (a: Tensor, b: Tensor, scale: number): Tensor => add(mul(a, scale), b);

const axpy = defineRoutine<[Tensor, Tensor], { scale: number }, Tensor>({
  name: 'axpy',
  cpu: ([a, b], { scale }) => {
    ran.push(`cpu:${a.device.type}`);
    return scaledSum(a, b, scale);
  },
  devices: {
    xpu: ([a, b], { scale }) => {
      if (a.dtype === 'float16') return decline('float16 is not handled');
      ran.push(`xpu:${a.device.type}`);
      return scaledSum(a, b, scale);
    },
  },
});
const cpuOnly = defineRoutine<[Tensor], undefined, Tensor[]>({ name: 'halves', cpu: ([a]) => [mul(a, 0.5), mul(a, -0.5)] });

const n = 37;
const [av, bv] = [randomData(n, 1), randomData(n, 2)];
const ref = Array.from(av, (a, i) => 2.5 * a + bv[i]);

describe('routines', () => {
  let warn: MockInstance;
  beforeEach(() => {
    ran.length = 0;
    warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  for (const device of testDevices()) {
    it(`runs its own implementation on ${device}, with the result on the inputs' device`, async () => {
      const [a, b] = [xpu.tensor(av, { device }), xpu.tensor(bv, { device })];
      const out = await axpy([a, b], { scale: 2.5 });
      expect(out.device.type).toBe(device);
      expectClose(await out.toArray(), ref, 1e-6);
      expect(ran).toEqual([`${device}:${device}`]);
      expect(warn).not.toHaveBeenCalled();
    });
  }

  it.skipIf(!testDevices().includes('xpu'))('falls back to cpu, once warned, when the device declines', async () => {
    const [a, b] = [xpu.tensor(av, { device: 'xpu', dtype: 'float16' }), xpu.tensor(bv, { device: 'xpu', dtype: 'float16' })];
    for (let i = 0; i < 2; i++) {
      const out = await axpy([a, b], { scale: 2.5 });
      expect(out.device.type).toBe('xpu');
      expect(out.dtype).toBe('float16');
      expectClose(await out.toArray(), ref, 2e-3);
    }
    expect(ran).toEqual(['cpu:cpu', 'cpu:cpu']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/axpy ran on cpu instead of xpu \(float16 is not handled\)/);
  });

  it.skipIf(!testDevices().includes('xpu'))('falls back to cpu when the device has no implementation (several results)', async () => {
    const out = await cpuOnly([xpu.tensor(av, { device: 'xpu' })], undefined);
    expect(out.map((t) => t.device.type)).toEqual(['xpu', 'xpu']);
    expectClose(
      await out[1].toArray(),
      Array.from(av, (a) => -0.5 * a),
      1e-7,
    );
    expect(String(warn.mock.calls[0][0])).toMatch(/halves ran on cpu instead of xpu \(no xpu implementation\)/);
  });

  it.skipIf(!testDevices().includes('xpu'))('refuses inputs on different devices', async () => {
    const e = await caughtAsync(axpy([xpu.tensor(av), xpu.tensor(bv, { device: 'xpu' })], { scale: 1 }), XpuDeviceError);
    expect(e.message).toMatch(/different devices/);
  });
});
