import { describe, expect, it } from 'vitest';
import { testDevices, xpu } from './helpers.js';

const gc = (globalThis as { gc?: () => void }).gc;

async function collectGarbage(): Promise<void> {
  if (!gc) throw new Error('run with --expose-gc (vitest.config.ts sets it)');
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10)); // FinalizationRegistry callbacks run after GC
  }
}

describe('xpu memory: caching allocator, dispose, scope', () => {
  const hasXpu = testDevices().includes('xpu');
  const stats = () => xpu.accelerator.memoryStats();

  it.runIf(hasXpu)('dispose returns blocks to the cache and reuse hits it', async () => {
    const before = stats();
    const t = xpu.ones([1000], { device: 'xpu' });
    const mid = stats();
    expect(mid.allocatedBytes).toBeGreaterThanOrEqual(before.allocatedBytes + 4000);
    t.dispose();
    expect(stats().allocatedBytes).toBe(before.allocatedBytes);
    const hits = stats().numCacheHits;
    const allocs = stats().numAllocs;
    const u = xpu.ones([1000], { device: 'xpu' });
    expect(stats().numCacheHits).toBe(hits + 1);
    expect(stats().numAllocs).toBe(allocs);
    expect((await u.data()).reduce((a, b) => a + b, 0)).toBe(1000);
    u.dispose();
  });

  it.runIf(hasXpu)('a view keeps storage alive after its base is disposed', async () => {
    const base = xpu.tensor(Float32Array.from({ length: 12 }, (_, i) => i), { device: 'xpu', shape: [3, 4] });
    const transposed = base.T;
    const v = transposed.slice(0, 1, 3);
    transposed.dispose();
    const before = stats().allocatedBytes;
    base.dispose();
    expect(stats().allocatedBytes).toBe(before);
    expect(await v.toArray()).toEqual([[1, 5, 9], [2, 6, 10]]);
    v.dispose();
    expect(stats().allocatedBytes).toBeLessThan(before);
  });

  it.runIf(hasXpu)('after 10,000 ops inside scope() allocated memory is back to baseline', async () => {
    await xpu.accelerator.synchronize();
    const baseline = stats().allocatedBytes;
    const kept = xpu.scope(() => {
      let x = xpu.zeros([257], { device: 'xpu' });
      for (let i = 0; i < 10_000; i++) x = x.add(1);
      return x;
    });
    const value = await kept.data();
    expect(value[0]).toBe(10_000);
    expect(value[256]).toBe(10_000);
    expect(stats().allocatedBytes).toBeGreaterThan(baseline); // the returned tensor survives
    kept.dispose();
    expect(stats().allocatedBytes).toBe(baseline);
  });

  it.runIf(hasXpu)('emptyCache releases cached blocks; peak tracks the high-water mark', () => {
    xpu.accelerator.resetPeakMemoryStats();
    const a = xpu.ones([1 << 16], { device: 'xpu' });
    const peak = stats().peakAllocatedBytes;
    expect(peak).toBeGreaterThanOrEqual(stats().allocatedBytes);
    a.dispose();
    expect(stats().reservedBytes).toBeGreaterThan(stats().allocatedBytes);
    xpu.accelerator.emptyCache();
    expect(stats().reservedBytes).toBe(stats().allocatedBytes);
    expect(stats().peakAllocatedBytes).toBe(peak);
  });

  it.runIf(hasXpu)('a tensor that is never disposed is freed by the garbage collector', async () => {
    await collectGarbage(); // earlier tests' unreferenced tensors go first
    await xpu.accelerator.synchronize();
    const baseline = stats().allocatedBytes;
    (() => { xpu.ones([4096], { device: 'xpu' }); })();
    expect(stats().allocatedBytes).toBeGreaterThan(baseline);
    await collectGarbage();
    expect(stats().allocatedBytes).toBe(baseline);
    // Dawn's instance is pinned: the device still works after collections.
    expect(await xpu.ones([3], { device: 'xpu' }).add(1).toArray()).toEqual([2, 2, 2]);
  });
});

describe.each(testDevices())('scope semantics on %s', (device) => {
  it('disposes what fn made, keeps what it returns (nested in objects), and keep() exempts', () => {
    let inner: xpu.Tensor | undefined;
    let kept: xpu.Tensor | undefined;
    const out = xpu.scope(() => {
      inner = xpu.ones([2], { device });
      kept = xpu.keep(xpu.ones([2], { device }));
      return { result: inner.add(1), list: [inner.mul(3)] };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept!.isDisposed).toBe(false);
    expect(out.result.isDisposed).toBe(false);
    expect(out.list[0].isDisposed).toBe(false);
  });

  it('nested scopes hand returned tensors to the outer scope', () => {
    let fromInner: xpu.Tensor | undefined;
    xpu.scope(() => {
      fromInner = xpu.scope(() => xpu.ones([1], { device }));
      expect(fromInner.isDisposed).toBe(false);
    });
    expect(fromInner!.isDisposed).toBe(true);
  });

  it('disposes on throw, and rejects async functions', () => {
    let t: xpu.Tensor | undefined;
    expect(() => xpu.scope(() => { t = xpu.ones([1], { device }); throw new Error('boom'); })).toThrow('boom');
    expect(t!.isDisposed).toBe(true);
    expect(() => xpu.scope(async () => xpu.ones([1], { device }))).toThrow(/synchronous/);
  });
});

describe('cpu host pool', () => {
  it('hands a large freed array out again for the next tensor of that size, and not small ones', async () => {
    const { takeHost, giveBackHost, clearHostPool } = await import('../src/backends/cpu/host_pool.js');
    clearHostPool();
    const big = xpu.ones([1 << 20], { device: 'cpu' }); // 4 MiB
    const arr = (big.ref.storage as unknown as { data: Float32Array }).data;
    big.dispose();
    const again = xpu.full([1 << 20], 7, { device: 'cpu' });
    expect((again.ref.storage as unknown as { data: Float32Array }).data).toBe(arr);
    expect((await again.data())[12345]).toBe(7); // the reused array was fully overwritten
    const small = new Float32Array(16);
    giveBackHost('float32', small);
    expect(takeHost('float32', 16)).not.toBe(small);
    clearHostPool();
  });
});
