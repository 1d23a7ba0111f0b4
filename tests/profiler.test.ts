import { describe, expect, it } from 'vitest';
import { testDevices, xpu } from './helpers.js';

describe.each(testDevices())('profiler on %s', (device) => {
  it('records every launch with name, shapes, CPU time and bytes; GPU time adds up to no more than wall time', async () => {
    const x = xpu.randn([256, 256], { device });
    const { result, profile } = await xpu.profiler.profile(async () => {
      const y = x.mul(2).add(1).exp();
      const z = xpu.matmul(y, y);
      return z.data();
    });
    expect(result.length).toBe(256 * 256);
    const names = profile.events.map((e) => e.name);
    expect(names).toEqual(['mul_ts', 'add_ts', 'exp_t', 'matmul']);
    for (const e of profile.events) {
      expect(e.device).toBe(device === 'xpu' ? 'xpu:0' : 'cpu');
      expect(e.cpuDurMs).toBeGreaterThanOrEqual(0);
      expect(e.bytes).toBe(256 * 256 * 4);
      expect(e.shapes).toMatch(/256/);
    }
    const hasTimestamps = device === 'xpu' && xpu.accelerator.getDeviceInfo().features.includes('timestamp-query');
    if (hasTimestamps) {
      for (const e of profile.events) expect(e.gpuDurNs).toBeGreaterThan(0);
      expect(profile.gpuMs).toBeGreaterThan(0);
      // The summary adds each kernel's launches up and sorts by GPU time. (Which kernel is the
      // biggest is not asserted: on lavapipe a small elementwise launch costs a fixed ~0.8 ms of
      // thread wake-up, as much as this 256^3 matmul.)
      const summary = profile.summary();
      expect(summary.map((g) => g.name).sort()).toEqual(['add_ts', 'exp_t', 'matmul', 'mul_ts']);
      for (const g of summary) expect(g.gpuMs).toBeCloseTo((profile.events.find((e) => e.name === g.name)?.gpuDurNs ?? NaN) / 1e6, 9);
      for (let i = 1; i < summary.length; i++) expect(summary[i - 1].gpuMs).toBeGreaterThanOrEqual(summary[i].gpuMs);
    }
    expect(profile.gpuMs).toBeLessThanOrEqual(profile.wallMs);
    const trace = JSON.parse(JSON.stringify(profile.chromeTrace()));
    const complete = trace.traceEvents.filter((e: { ph: string }) => e.ph === 'X');
    expect(complete.length).toBe(profile.events.length * (hasTimestamps ? 2 : 1));
    for (const e of complete) {
      expect(typeof e.ts).toBe('number');
      expect(e.dur).toBeGreaterThanOrEqual(0);
    }
    expect(profile.table()).toMatch(/matmul/);
  });

  it('records attention as one launch, with the GPU time of all its dispatches', async () => {
    const q = xpu.randn([1, 4, 1, 64], { device });
    const kv = xpu.randn([1, 2, 300, 64], { device });
    const { profile } = await xpu.profiler.profile(async () => xpu.scaledDotProductAttention(q, kv, kv, { enableGqa: true }).data());
    expect(profile.events.map((e) => e.name)).toEqual(['attention']);
    const [ev] = profile.events;
    expect(ev.shapes).toBe('B=1 H=4/2 L=1 S=300 E=64');
    expect(ev.params).toBe('float32 dense');
    if (device === 'xpu' && xpu.accelerator.getDeviceInfo().features.includes('timestamp-query')) {
      expect(ev.gpuDurNs).toBeGreaterThan(0);
      expect(ev.gpuDurNs! / 1e6).toBeLessThanOrEqual(profile.wallMs);
    }
  });

  it('is off outside a session and refuses a double start', async () => {
    expect(xpu.profiler.isProfiling()).toBe(false);
    xpu.profiler.start();
    expect(() => xpu.profiler.start()).toThrow(xpu.XpuValueError);
    const p = await xpu.profiler.stop();
    expect(p.events).toHaveLength(0);
    await expect(xpu.profiler.stop()).rejects.toBeInstanceOf(xpu.XpuValueError);
  });
});
