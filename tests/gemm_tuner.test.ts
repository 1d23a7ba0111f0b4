import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  chooseGemmConfig,
  gemmAdapterInfo,
  gemmConfigKey,
  heuristicGemmConfig,
  setGemmConfigOverride,
  type GemmAdapterInfo,
  type GemmConfig,
} from '../src/backends/webgpu/gemm_config.js';
import {
  adapterKey,
  autotuneMode,
  bucketKey,
  cacheFilePath,
  candidates,
  loadCacheFile,
  parseBucket,
  pow2,
  recordTuned,
  resetTunerState,
  saveCacheFile,
  validConfig,
  type TunedEntry,
} from '../src/backends/webgpu/gemm_tuner.js';
import { xpuEntries } from '../src/device/registry.js';
import { expectClose, randomData, xpu } from './helpers.js';

/**
 * The GEMM autotuner: shape buckets, candidate lists, the on-disk cache (round trip, corrupt
 * files), XPU_AUTOTUNE modes, and that a tuned config is what matmul then runs (and is correct).
 */

const fakeAdapter: GemmAdapterInfo = {
  vendor: 'mesa',
  architecture: 'software',
  description: 'llvmpipe (LLVM 15)',
  driver: 'Mesa 23',
  features: new Set(['subgroups']),
  subgroupMinSize: 8,
  subgroupMaxSize: 8,
  maxWorkgroupStorageBytes: 32768,
  maxInvocationsPerWorkgroup: 256,
};

const savedEnv = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, XPU_AUTOTUNE: process.env.XPU_AUTOTUNE };
beforeAll(() => {
  process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'xpu-tune-'));
});
beforeEach(() => {
  delete process.env.XPU_AUTOTUNE;
  resetTunerState();
});
afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetTunerState();
});

describe('gemm tuner: buckets and candidates', () => {
  it('buckets M, N, K up to powers of two, with the dtype and the B layout', () => {
    expect([1, 2, 3, 5, 8, 9, 1000, 1024, 1025].map(pow2)).toEqual([1, 2, 4, 8, 8, 16, 1024, 1024, 2048]);
    expect(bucketKey(3, 100, 768, 'float32')).toBe('float32:m4:n128:k1024');
    expect(bucketKey(4, 128, 1024, 'float32')).toBe(bucketKey(3, 100, 768, 'float32'));
    expect(bucketKey(1, 4096, 4096, 'float16', { bAlongK: true })).toBe('float16:m1:n4096:k4096:bT');
    expect(bucketKey(5, 5, 5, 'float32')).not.toBe(bucketKey(5, 5, 5, 'float16'));
    expect(parseBucket('float16:m1:n4096:k4096:bT')).toEqual({
      key: 'float16:m1:n4096:k4096:bT',
      dtype: 'float16',
      m: 1,
      n: 4096,
      k: 4096,
      bAlongK: true,
    });
    expect(() => parseBucket('nonsense')).toThrow(xpu.XpuValueError);
  });

  it('lists a short set of valid candidates, the heuristic first', () => {
    for (const key of ['float32:m1:n4096:k4096:bT', 'float32:m8:n256:k256', 'float32:m512:n512:k512', 'float32:m32:n64:k64']) {
      const b = parseBucket(key);
      const list = candidates(fakeAdapter, b);
      expect(list.length).toBeGreaterThan(2);
      expect(list.length).toBeLessThanOrEqual(14);
      expect(gemmConfigKey(list[0])).toBe(gemmConfigKey(heuristicGemmConfig(fakeAdapter, b.m, b.n, b.k, { bAlongK: b.bAlongK })));
      expect(new Set(list.map(gemmConfigKey)).size).toBe(list.length);
      for (const c of list) expect(validConfig(c, fakeAdapter)).toBe(true);
    }
    expect(candidates(fakeAdapter, parseBucket('float32:m1:n4096:k4096:bT')).some((c) => c.path === 'gemv')).toBe(true);
    expect(candidates(fakeAdapter, parseBucket('float32:m512:n512:k512')).some((c) => c.path === 'tile' && c.variant === 'shared')).toBe(
      true,
    );
    expect(
      candidates(fakeAdapter, parseBucket('float32:m512:n512:k512')).filter((c) => c.path === 'tile' && c.variant === 'texture').length,
    ).toBeGreaterThan(2);
    expect(validConfig({ path: 'tile', variant: 'register', wgX: 64, wgY: 64, tm: 4, tn: 8, tk: 4 }, fakeAdapter)).toBe(false);
    expect(validConfig({ path: 'gemv', wg: 8, cols: 3, subgroups: false }, fakeAdapter)).toBe(false);
  });

  it('reads XPU_AUTOTUNE (off by default)', () => {
    expect(autotuneMode()).toBe('off');
    process.env.XPU_AUTOTUNE = 'force';
    expect(autotuneMode()).toBe('force');
    process.env.XPU_AUTOTUNE = 'sometimes';
    expect(() => autotuneMode()).toThrow(xpu.XpuValueError);
  });
});

describe('gemm tuner: the disk cache', () => {
  const cfg: GemmConfig = { path: 'tile', variant: 'register', wgX: 8, wgY: 8, tm: 4, tn: 8, tk: 4 };
  const entry: TunedEntry = { config: cfg, gflops: 12.5, measuredAt: '2026-01-01T00:00:00.000Z' };

  it('round-trips through $XDG_CACHE_HOME/xpu/, keyed by the adapter', () => {
    const file = cacheFilePath(fakeAdapter);
    expect(file.startsWith(join(process.env.XDG_CACHE_HOME as string, 'xpu'))).toBe(true);
    expect(cacheFilePath({ ...fakeAdapter, driver: 'Mesa 24' })).not.toBe(file);
    saveCacheFile(fakeAdapter, new Map([['float32:m64:n64:k64', entry]]));
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json).toEqual({ version: 1, adapter: adapterKey(fakeAdapter), entries: { 'float32:m64:n64:k64': entry } });
    expect(loadCacheFile(fakeAdapter).get('float32:m64:n64:k64')).toEqual(entry);
    // Off (the default) ignores the cache; on uses it.
    expect(chooseGemmConfig(fakeAdapter, 60, 50, 64, 'float32')).toEqual(heuristicGemmConfig(fakeAdapter, 60, 50, 64));
    process.env.XPU_AUTOTUNE = 'on';
    expect(chooseGemmConfig(fakeAdapter, 60, 50, 64, 'float32')).toEqual(cfg);
    expect(chooseGemmConfig(fakeAdapter, 60, 50, 64, 'float16')).toEqual(heuristicGemmConfig(fakeAdapter, 60, 50, 64));
    // recordTuned merges into the file and is used at once, whatever the mode.
    delete process.env.XPU_AUTOTUNE;
    recordTuned(fakeAdapter, 'float32:m128:n128:k128', entry);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).entries).sort()).toEqual(['float32:m128:n128:k128', 'float32:m64:n64:k64']);
    expect(chooseGemmConfig(fakeAdapter, 100, 128, 128, 'float32')).toEqual(cfg);
  });

  it('ignores a corrupt cache file with a warning, not a crash', () => {
    const file = cacheFilePath(fakeAdapter);
    mkdirSync(dirname(file), { recursive: true });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      writeFileSync(file, '{"version": 1, "adapter": ');
      process.env.XPU_AUTOTUNE = 'on';
      expect(chooseGemmConfig(fakeAdapter, 64, 64, 64, 'float32')).toEqual(heuristicGemmConfig(fakeAdapter, 64, 64, 64));
      expect(warn.mock.calls.some((c) => /corrupt GEMM tuning cache/.test(String(c[0])))).toBe(true);
      // A well-formed file with a bad entry keeps the good ones.
      resetTunerState();
      writeFileSync(
        file,
        JSON.stringify({
          version: 1,
          adapter: adapterKey(fakeAdapter),
          entries: {
            'float32:m64:n64:k64': entry,
            'float32:m8:n8:k8': { config: { path: 'tile', variant: 'register', wgX: 999, wgY: 999, tm: 1, tn: 4, tk: 4 }, gflops: 1 },
          },
        }),
      );
      expect(chooseGemmConfig(fakeAdapter, 64, 64, 64, 'float32')).toEqual(cfg);
      expect(chooseGemmConfig(fakeAdapter, 8, 8, 8, 'float32')).toEqual(heuristicGemmConfig(fakeAdapter, 8, 8, 8));
      expect(warn.mock.calls.some((c) => /malformed GEMM tuning entry/.test(String(c[0])))).toBe(true);
      // Recording over a corrupt file replaces it with a valid one.
      writeFileSync(file, 'garbage');
      recordTuned(fakeAdapter, 'float32:m64:n64:k64', entry);
      expect(loadCacheFile(fakeAdapter).get('float32:m64:n64:k64')).toEqual(entry);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('gemm tuner: the shipped table', () => {
  it('kernels/tuned/gemm.json is valid and consulted before the heuristic, even with tuning off', () => {
    const shipped = JSON.parse(readFileSync(new URL('../kernels/tuned/gemm.json', import.meta.url), 'utf8'));
    expect(shipped.version).toBe(1);
    for (const [key, entries] of Object.entries(shipped.adapters as Record<string, Record<string, TunedEntry>>)) {
      const [vendor, architecture, description, driver] = key.split('|');
      const adapter: GemmAdapterInfo = { ...fakeAdapter, vendor, architecture, description, driver };
      expect(adapterKey(adapter)).toBe(key);
      for (const [bucket, e] of Object.entries(entries)) {
        expect(validConfig(e.config, adapter)).toBe(true);
        const b = parseBucket(bucket);
        expect(chooseGemmConfig(adapter, b.m, b.n, b.k, b.dtype, { bAlongK: b.bAlongK })).toEqual(e.config);
      }
    }
  });
});

const gpu = xpu.accelerator.isAvailable();

describe.skipIf(!gpu)('gemm tuner: measuring on xpu', () => {
  const backend = () => xpuEntries()[0].backend;

  it('tunes buckets, reuses the cache, and retunes with force', async () => {
    const shapes: [number, number, number][] = [[48, 40, 64]];
    const first = await xpu.accelerator.tuneGemm(shapes, { reps: 1 });
    expect(first).toHaveLength(1);
    expect(first[0].bucket).toBe('float32:m64:n64:k64');
    expect(first[0].cached).toBe(false);
    expect(first[0].measured.length).toBeGreaterThan(2);
    expect(first[0].gflops).toBeGreaterThan(0);
    expect(first[0].gflops).toBe(Math.max(...first[0].measured.map((x) => x.gflops)));
    const file = cacheFilePath(gemmAdapterInfo(backend().device));
    expect(existsSync(file)).toBe(true);
    const stamp = JSON.parse(readFileSync(file, 'utf8')).entries['float32:m64:n64:k64'].measuredAt;

    const again = await xpu.accelerator.tuneGemm(shapes, { reps: 1 });
    expect(again[0].cached).toBe(true);
    expect(again[0].configKey).toBe(first[0].configKey);

    // A fresh process (no session table) finds it on disk.
    resetTunerState();
    expect((await xpu.accelerator.tuneGemm(shapes, { reps: 1 }))[0].cached).toBe(true);

    process.env.XPU_AUTOTUNE = 'force';
    const forced = await xpu.accelerator.tuneGemm(shapes, { reps: 1 });
    expect(forced[0].cached).toBe(false);
    expect(forced[0].measured.length).toBe(first[0].measured.length);
    delete process.env.XPU_AUTOTUNE;
    expect(JSON.parse(readFileSync(file, 'utf8')).entries['float32:m64:n64:k64'].measuredAt).not.toBe(stamp);
    const viaOption = await xpu.accelerator.tuneGemm(shapes, { reps: 1, force: true });
    expect(viaOption[0].cached).toBe(false);
  });

  it('every candidate the tuner may pick computes the right product (not only the winner)', async () => {
    // One odd problem inside each bucket (every candidate compiles once: a few seconds on lavapipe).
    const adapter = gemmAdapterInfo(backend().device);
    // The 512 bucket adds the tall subgroup tiles (64 and 128 rows a lane); only those are run there.
    const cases: [string, number, number, number, boolean][] = [
      ['float32:m128:n128:k128', 100, 70, 90, false],
      ['float32:m8:n64:k256:bT', 7, 50, 200, true],
      ['float32:m512:n512:k512', 300, 70, 90, false],
    ];
    const tested = new Set<string>();
    for (const [key, m, n, k, bT] of cases) {
      const list = candidates(adapter, parseBucket(key)).filter((c) => !tested.has(gemmConfigKey(c)));
      for (const c of list) tested.add(gemmConfigKey(c));
      expect(list.length).toBeGreaterThan(key.includes('m512') ? 0 : 2);
      const av = randomData(m * k, m);
      const bv = randomData(k * n, n);
      const ref = new Float64Array(m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += av[i * k + p] * bv[p * n + j];
          ref[i * n + j] = s;
        }
      const a = xpu.tensor(av, { device: 'xpu', shape: [m, k] });
      // Along k: the weight stored [n, k] and read transposed, as linear does.
      const bt = bT
        ? xpu.tensor(
            Float32Array.from({ length: n * k }, (_, i) => bv[(i % k) * n + Math.floor(i / k)]),
            { device: 'xpu', shape: [n, k] },
          )
        : xpu.tensor(bv, { device: 'xpu', shape: [k, n] });
      for (const c of list) {
        setGemmConfigOverride(() => c);
        try {
          const out = xpu.matmul(a, bT ? bt.transpose(0, 1) : bt);
          expectClose(await out.data(), ref, 1e-5, `${key} ${gemmConfigKey(c)}`);
          out.dispose();
        } finally {
          setGemmConfigOverride(null);
        }
      }
      a.dispose();
      bt.dispose();
    }
  });

  it('tunes the small-M split-K bucket', async () => {
    const r = await xpu.accelerator.tuneGemm([[1, 64, 256]], { reps: 1, bAlongK: true, persist: false });
    expect(r[0].bucket).toBe('float32:m1:n64:k256:bT');
    expect(r[0].measured.some((x) => x.configKey.startsWith('gemv:'))).toBe(true);
  });

  it('matmul runs the tuned config, and its results stay correct', async () => {
    const adapter = gemmAdapterInfo(backend().device);
    const [m, n, k] = [37, 29, 45];
    const av = randomData(m * k, 11);
    const bv = randomData(k * n, 12);
    const ref = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += av[i * k + p] * bv[p * n + j];
        ref[i * n + j] = s;
      }
    const a = xpu.tensor(av, { device: 'xpu', shape: [m, k] });
    const b = xpu.tensor(bv, { device: 'xpu', shape: [k, n] });
    const run = async () => {
      const out = xpu.matmul(a, b);
      try {
        return Array.from(await out.data());
      } finally {
        out.dispose();
      }
    };
    expectClose(await run(), ref, 1e-5, 'heuristic');
    const before = backend().pipelines.compiles;
    expect(await run()).toHaveLength(m * n);
    expect(backend().pipelines.compiles).toBe(before);
    // A config the heuristic never picks here: matmul must compile and run it.
    const tuned: GemmConfig = { path: 'tile', variant: 'shared', wgX: 8, wgY: 8, tm: 4, tn: 4, tk: 8 };
    expect(gemmConfigKey(heuristicGemmConfig(adapter, m, n, k))).not.toBe(gemmConfigKey(tuned));
    recordTuned(adapter, bucketKey(m, n, k, 'float32'), { config: tuned, gflops: 1, measuredAt: new Date().toISOString() }, false);
    expect(chooseGemmConfig(adapter, m, n, k, 'float32')).toEqual(tuned);
    expectClose(await run(), ref, 1e-5, 'tuned');
    expect(backend().pipelines.compiles).toBe(before + 1);
    expectClose(await run(), ref, 1e-5, 'tuned again');
    expect(backend().pipelines.compiles).toBe(before + 1);
    a.dispose();
    b.dispose();
  });
});
