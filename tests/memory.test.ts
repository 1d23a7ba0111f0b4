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
    const base = xpu.tensor(
      Float32Array.from({ length: 12 }, (_, i) => i),
      { device: 'xpu', shape: [3, 4] },
    );
    const transposed = base.T;
    const v = transposed.slice(0, 1, 3);
    transposed.dispose();
    const before = stats().allocatedBytes;
    base.dispose();
    expect(stats().allocatedBytes).toBe(before);
    expect(await v.toArray()).toEqual([
      [1, 5, 9],
      [2, 6, 10],
    ]);
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
    (() => {
      xpu.ones([4096], { device: 'xpu' });
    })();
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
    expect(() =>
      xpu.scope(() => {
        t = xpu.ones([1], { device });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(t!.isDisposed).toBe(true);
    expect(() => xpu.scope(async () => xpu.ones([1], { device }))).toThrow(/synchronous/);
  });
});

describe('cpu host pool', () => {
  it('hands a freed array out again for the next tensor of that size, small ones a bounded number of times', async () => {
    const { takeHost, giveBackHost, clearHostPool } = await import('../src/backends/cpu/host_pool.js');
    clearHostPool();
    const big = xpu.ones([1 << 20], { device: 'cpu' }); // 4 MiB
    const arr = (big.ref.storage as unknown as { data: Float32Array }).data;
    big.dispose();
    const again = xpu.full([1 << 20], 7, { device: 'cpu' });
    expect((again.ref.storage as unknown as { data: Float32Array }).data).toBe(arr);
    expect((await again.data())[12345]).toBe(7); // the reused array was fully overwritten
    // Small arrays (eager ops on a few elements) are kept too, at most 16 per dtype and length.
    const small = Array.from({ length: 20 }, () => new Float32Array(16));
    for (const a of small) giveBackHost('float32', a);
    const taken = Array.from({ length: 20 }, () => takeHost('float32', 16));
    expect(taken.filter((a) => small.includes(a as Float32Array)).length).toBe(16);
    expect(takeHost('uint8', 16)).not.toBe(small[0]); // by dtype and length
    clearHostPool();
  });

  it('an array given back while a queued job uses it goes to a native writer at once, to anyone else once the job is done', async () => {
    const { takeHost, giveBackHost, giveBackHostFenced, clearHostPool, setHostPoison } = await import('../src/backends/cpu/host_pool.js');
    const poison = process.env.XPU_POISON === '1';
    setHostPoison(false);
    clearHostPool();
    try {
      const n = 1 << 16; // 256 KiB: pooled
      let done = false;
      let finish = (): void => {};
      const whenDone = () => new Promise<void>((r) => (finish = r));
      const arr = new Float32Array(n);
      giveBackHostFenced('float32', arr, () => done, whenDone);
      // A TypeScript kernel writes its output at once: never under the job.
      const forTs = takeHost('float32', n);
      expect(forTs).not.toBe(arr);
      // A native writer's job runs after the fence (one queue, in order): it gets it.
      const forNative = takeHost('float32', n, true);
      expect(forNative).toBe(arr);
      // Given back unused (the addon refused the op): still fenced.
      giveBackHost('float32', forNative);
      expect(takeHost('float32', n)).not.toBe(arr);
      done = true;
      expect(takeHost('float32', n)).toBe(arr);
      // Poison mode fills what it hands out, so it never hands out a fenced array before its job is done.
      done = false;
      giveBackHostFenced('float32', arr, () => done, whenDone);
      setHostPoison(true);
      expect(takeHost('float32', n, true)).not.toBe(arr);
      setHostPoison(false);
      // A small array waits for the job before it is pooled at all.
      const small = new Float32Array(16);
      giveBackHostFenced('float32', small, () => done, whenDone);
      expect(takeHost('float32', 16, true)).not.toBe(small);
      finish();
      await new Promise((r) => setTimeout(r, 0));
      expect(takeHost('float32', 16)).toBe(small);
    } finally {
      setHostPoison(poison);
      clearHostPool();
    }
  });
});

// XPU_POISON=1 (a test mode: the suite must pass under it) fills every allocation with NaN
// patterns before use. Switched on here for one allocator / the host pool, so this runs in any
// suite run.
describe('XPU_POISON: new and reused memory holds NaN patterns before use', () => {
  it.runIf(testDevices().includes('xpu'))('xpu: fresh and cached blocks, the size-class slack included, per dtype', async () => {
    const { xpuEntries } = await import('../src/device/registry.js');
    const backend = xpuEntries()[0].backend;
    const allocator = backend.allocator;
    const was = allocator.poison;
    allocator.poison = true;
    try {
      const words = async (st: { buffer: GPUBuffer; size: number }) => new Uint32Array(await backend.queue.read(st.buffer, st.size));
      // 1000 bytes round up to a 1024-byte block: the last 24 bytes are slack.
      const fresh = backend.alloc('float32', 250, 'test');
      expect(fresh.size).toBeGreaterThan(1000);
      expect(new Set(await words(fresh))).toEqual(new Set([0x7fc00000]));
      // Written, freed, handed out again from the cache (as float16): poisoned again, whole block.
      backend.queue.upload(fresh.buffer, new Uint8Array(fresh.size).fill(1));
      const hits = allocator.stats().numCacheHits;
      backend.release(fresh);
      const reused = backend.alloc('float16', 500, 'test');
      expect(allocator.stats().numCacheHits).toBe(hits + 1);
      expect(reused.buffer).toBe(fresh.buffer);
      expect(new Set(await words(reused))).toEqual(new Set([0xffffffff])); // float16 NaN halves
      const bytes = backend.alloc('int8', 7, 'test');
      expect(new Set(await words(bytes))).toEqual(new Set([0xa5a5a5a5]));
      // An op's output overwrites the poison where it must: every element it owns.
      backend.release(reused);
      expect(Array.from(await xpu.full([250], 2, { device: 'xpu' }).data())).toEqual(new Array<number>(250).fill(2));
      backend.release(bytes);
    } finally {
      allocator.poison = was;
    }
  });

  it('cpu: fresh and pooled host arrays, per dtype', async () => {
    const { takeHost, giveBackHost, clearHostPool, setHostPoison } = await import('../src/backends/cpu/host_pool.js');
    setHostPoison(true);
    try {
      expect(Array.from(takeHost('float32', 5) as Float32Array).every(Number.isNaN)).toBe(true);
      expect(Array.from(takeHost('float16', 3))).toEqual([0xffff, 0xffff, 0xffff]);
      expect(Array.from(takeHost('int32', 2))).toEqual([0x7fc00000, 0x7fc00000]);
      expect(Array.from(takeHost('uint8', 2))).toEqual([0xa5, 0xa5]);
      clearHostPool();
      const big = new Float32Array(1 << 16).fill(3); // 256 KiB: pooled
      giveBackHost('float32', big);
      const again = takeHost('float32', 1 << 16);
      expect(again).toBe(big);
      expect(Number.isNaN(again[0]) && Number.isNaN(again[(1 << 16) - 1])).toBe(true);
      expect(Array.from(await xpu.full([4], 2, { device: 'cpu' }).data())).toEqual([2, 2, 2, 2]);
    } finally {
      setHostPoison(process.env.XPU_POISON === '1');
      clearHostPool();
    }
  });
});
