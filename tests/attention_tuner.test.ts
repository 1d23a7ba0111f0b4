import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  attentionCandidates,
  attentionConfigKey,
  chooseAttentionConfig,
  heuristicAttentionConfig,
  setAttentionConfigOverride,
  type AttentionConfig,
  type AttentionShape,
} from '../src/backends/webgpu/attention_config.js';
import {
  attentionBucketKey,
  attentionCacheFilePath,
  loadAttentionCacheFile,
  recordTunedAttention,
  resetAttentionTunerState,
  tunedAttentionConfig,
  validAttentionBucket,
  validAttentionConfig,
} from '../src/backends/webgpu/attention_tuner.js';
import { attentionShapeOf } from '../src/backends/webgpu/attention_autotune.js';
import { gemmAdapterInfo, type GemmAdapterInfo } from '../src/backends/webgpu/gemm_config.js';
import { adapterKey, cacheFilePath } from '../src/backends/webgpu/gemm_tuner.js';
import { xpuEntries } from '../src/device/registry.js';
import { expectClose, xpu } from './helpers.js';
import { disposeAll, makeQkv, refAttention, type Dims } from './attention_helpers.js';

/**
 * The attention autotuner: shape buckets, config validation, lookup order, the on-disk cache
 * (round trip, corrupt files, XPU_AUTOTUNE), and on xpu: tuneAttention records one of the
 * candidates, attention then runs it, and the result still matches float64.
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

const shape = (l: number, s: number, e: number, extra: Partial<AttentionShape> = {}): AttentionShape => ({
  l,
  s,
  e,
  ev: e,
  rows: 2 * l,
  subgroups: false,
  kvHeads: 1,
  groupRows: 2 * l,
  ...extra,
});

const savedEnv = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, XPU_AUTOTUNE: process.env.XPU_AUTOTUNE };
beforeAll(() => {
  process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'xpu-attn-tune-'));
});
beforeEach(() => {
  delete process.env.XPU_AUTOTUNE;
  resetAttentionTunerState();
});
afterEach(() => setAttentionConfigOverride(null));
afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetAttentionTunerState();
});

describe('attention tuner: buckets and validation', () => {
  it('buckets L and S to powers of two, decode apart from prefill, E/Ev as the pipelines, causal and dtype', () => {
    expect(attentionBucketKey(shape(100, 300, 64))).toBe('float32:prefill:l128:s512:e64:ev64');
    expect(attentionBucketKey(shape(65, 257, 40))).toBe(attentionBucketKey(shape(128, 512, 64)));
    expect(attentionBucketKey(shape(1, 1000, 128, { causal: true, dtype: 'float16' }))).toBe('float16:decode:l1:s1024:e128:ev128:causal');
    expect(attentionBucketKey(shape(3, 64, 64))).toContain(':decode:l4:');
    expect(attentionBucketKey(shape(5, 64, 64))).toContain(':prefill:l8:');
    expect(attentionBucketKey(shape(9, 9, 80))).not.toBe(attentionBucketKey(shape(9, 9, 64)));
    expect(attentionBucketKey(shape(9, 9, 16, { causal: true }))).not.toBe(attentionBucketKey(shape(9, 9, 16)));
    for (const k of ['float32:prefill:l128:s512:e64:ev32', 'float16:decode:l1:s1024:e128:ev128:causal'])
      expect(validAttentionBucket(k)).toBe(true);
    for (const k of ['float32:decode:l8:s8:e64:ev32', 'float32:prefill:l3:s8:e64:ev32', 'int8:prefill:l8:s8:e64:ev32', 'nonsense'])
      expect(validAttentionBucket(k)).toBe(false);
  });

  it('accepts every candidate and rejects configs outside the candidate rules', () => {
    for (const p of [shape(100, 300, 64), shape(1, 1000, 128), shape(20, 40, 16, { blockSize: 16 })]) {
      for (const c of attentionCandidates(p, fakeAdapter)) expect(validAttentionConfig(c, fakeAdapter)).toBe(true);
    }
    const ok: AttentionConfig = { path: 'prefill', bq: 8, bk: 16, wg: 32, chunk: 64 };
    expect(validAttentionConfig(ok, fakeAdapter)).toBe(true);
    for (const bad of [
      { ...ok, bq: 3 },
      { ...ok, bk: 64 },
      { ...ok, bk: 4 },
      { ...ok, wg: 512 },
      { ...ok, chunk: 1024 },
      { ...ok, chunk: 48 },
      { ...ok, path: 'magic' },
      { ...ok, wg: '32' },
      null,
      7,
    ]) {
      expect(validAttentionConfig(bad, fakeAdapter)).toBe(false);
    }
    expect(validAttentionConfig({ ...ok, wg: 256 }, { ...fakeAdapter, maxInvocationsPerWorkgroup: 128 })).toBe(false);
  });
});

describe('attention tuner: lookup and the disk cache', () => {
  const p = shape(100, 300, 64);
  const tuned: AttentionConfig = { path: 'prefill', bq: 8, bk: 8, wg: 32, chunk: 64 };
  const entry = { config: tuned, ms: 1.5, measuredAt: '2026-01-01T00:00:00.000Z' };

  it('uses this process results for the same bucket only; the override still wins', () => {
    expect(attentionConfigKey(heuristicAttentionConfig(p, fakeAdapter))).not.toBe('prefill:8x8');
    recordTunedAttention(fakeAdapter, attentionBucketKey(p), entry, false);
    expect(attentionConfigKey(chooseAttentionConfig(p, fakeAdapter))).toBe('prefill:8x8');
    expect(attentionConfigKey(chooseAttentionConfig(shape(70, 400, 50), fakeAdapter))).toBe('prefill:8x8'); // same bucket
    const other = shape(100, 300, 64, { causal: true });
    expect(attentionConfigKey(chooseAttentionConfig(other, fakeAdapter))).toBe(
      attentionConfigKey(heuristicAttentionConfig(other, fakeAdapter)),
    );
    expect(attentionConfigKey(chooseAttentionConfig(shape(1000, 300, 64), fakeAdapter))).not.toBe('prefill:8x8');
    expect(attentionConfigKey(chooseAttentionConfig(p))).not.toBe('prefill:8x8'); // no adapter, no table
    setAttentionConfigOverride((h) => ({ ...h, path: 'decode', wg: 8, chunk: 128 }));
    expect(attentionConfigKey(chooseAttentionConfig(p, fakeAdapter))).toBe('decode:8:128');
  });

  it('drops a tuned config that is not a candidate for the problem (block size)', () => {
    recordTunedAttention(fakeAdapter, attentionBucketKey(p), { ...entry, config: { ...tuned, bk: 32 } }, false);
    expect(attentionConfigKey(chooseAttentionConfig(p, fakeAdapter))).toBe('prefill:8x32');
    const blocked = { ...p, blockSize: 16 };
    expect(tunedAttentionConfig(blocked, fakeAdapter)).toBeUndefined();
    expect(chooseAttentionConfig(blocked, fakeAdapter).bk).toBeLessThanOrEqual(16);
  });

  it('round-trips through $XDG_CACHE_HOME/xpu/attention-*.json, read only with XPU_AUTOTUNE=on|force', () => {
    const file = attentionCacheFilePath(fakeAdapter);
    expect(file.startsWith(join(process.env.XDG_CACHE_HOME as string, 'xpu', 'attention-'))).toBe(true);
    expect(file).not.toBe(cacheFilePath(fakeAdapter));
    recordTunedAttention(fakeAdapter, attentionBucketKey(p), entry);
    const data = JSON.parse(readFileSync(file, 'utf8'));
    expect(data.adapter).toBe(adapterKey(fakeAdapter));
    expect(data.entries[attentionBucketKey(p)].config).toEqual(tuned);
    expect(loadAttentionCacheFile(fakeAdapter).get(attentionBucketKey(p))).toEqual(entry);
    expect(existsSync(cacheFilePath(fakeAdapter))).toBe(false); // the GEMM file is left alone

    resetAttentionTunerState(); // a new process
    expect(tunedAttentionConfig(p, fakeAdapter)).toBeUndefined(); // off: the disk is not read
    process.env.XPU_AUTOTUNE = 'on';
    expect(attentionConfigKey(chooseAttentionConfig(p, fakeAdapter))).toBe('prefill:8x8');
    process.env.XPU_AUTOTUNE = 'force';
    expect(tunedAttentionConfig(p, fakeAdapter)?.bk).toBe(8);
    // Another adapter has its own file.
    expect(tunedAttentionConfig(p, { ...fakeAdapter, driver: 'Mesa 24' })).toBeUndefined();
  });

  it('ignores a corrupt file or malformed entries with a warning, not a crash', () => {
    const file = attentionCacheFilePath(fakeAdapter);
    mkdirSync(dirname(file), { recursive: true });
    process.env.XPU_AUTOTUNE = 'on';
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      writeFileSync(file, '{ not json');
      expect(loadAttentionCacheFile(fakeAdapter).size).toBe(0);
      expect(attentionConfigKey(chooseAttentionConfig(p, fakeAdapter))).toBe(attentionConfigKey(heuristicAttentionConfig(p, fakeAdapter)));
      expect(warn).toHaveBeenCalled();

      resetAttentionTunerState();
      warn.mockClear();
      const key = attentionBucketKey(p);
      writeFileSync(
        file,
        JSON.stringify({
          version: 1,
          adapter: adapterKey(fakeAdapter),
          entries: {
            [key]: { config: { path: 'prefill', bq: 8, bk: 1000, wg: 32, chunk: 64 }, ms: 1, measuredAt: '' },
            'float32:prefill:l3:s8:e64:ev32': entry,
            'float32:decode:l1:s1024:e64:ev32': entry,
          },
        }),
      );
      const loaded = loadAttentionCacheFile(fakeAdapter);
      expect([...loaded.keys()]).toEqual(['float32:decode:l1:s1024:e64:ev32']);
      expect(warn).toHaveBeenCalledTimes(2);
      expect(tunedAttentionConfig(p, fakeAdapter)).toBeUndefined();
      expect(attentionConfigKey(chooseAttentionConfig(p, fakeAdapter))).toBe(attentionConfigKey(heuristicAttentionConfig(p, fakeAdapter)));

      resetAttentionTunerState();
      writeFileSync(file, JSON.stringify({ version: 99, adapter: adapterKey(fakeAdapter), entries: { [key]: entry } }));
      expect(loadAttentionCacheFile(fakeAdapter).size).toBe(0);
      // A new result replaces the unreadable file (written atomically).
      recordTunedAttention(fakeAdapter, key, entry);
      expect(loadAttentionCacheFile(fakeAdapter).get(key)).toEqual(entry);
    } finally {
      warn.mockRestore();
    }
  });
});

const gpu = xpu.accelerator.isAvailable();

describe.skipIf(!gpu)('attention tuner: measuring on xpu', () => {
  const backend = () => xpuEntries()[0].backend;

  async function checkRef(d: Dims, causal: boolean): Promise<void> {
    const t = makeQkv('xpu', 'float32', d, 21);
    const out = xpu.scaledDotProductAttention(t.q, t.k, t.v, { isCausal: causal, enableGqa: d.Hq !== d.Hkv });
    try {
      expectClose(await out.data(), refAttention(d, t.qv, t.kv, t.vv, { causal }), 2e-5, `tuned ${JSON.stringify(d)}`);
    } finally {
      disposeAll(out, t.q, t.k, t.v);
    }
  }

  it('records one of the candidates, uses it at once, persists it, and stays correct', async () => {
    const adapter = gemmAdapterInfo(backend().device);
    const sh = { batch: 1, heads: 2, kvHeads: 1, l: 20, s: 40, e: 16, causal: true };
    const [r] = await xpu.accelerator.tuneAttention([sh], { reps: 1 });
    const p = attentionShapeOf(sh, adapter);
    const keys = attentionCandidates(p, adapter).map(attentionConfigKey);
    expect(r.cached).toBe(false);
    expect(r.measured.map((m) => m.configKey)).toEqual(keys);
    expect(keys).toContain(r.configKey);
    expect(r.ms).toBe(Math.min(...r.measured.map((m) => m.ms)));
    expect(r.bucket).toBe(attentionBucketKey(p));
    // Used at once for the bucket (a different shape in it too), not for another bucket.
    expect(attentionConfigKey(chooseAttentionConfig(p, adapter))).toBe(r.configKey);
    expect(tunedAttentionConfig(attentionShapeOf({ ...sh, l: 30, s: 60 }, adapter), adapter)).toBeDefined();
    expect(tunedAttentionConfig(attentionShapeOf({ ...sh, causal: false }, adapter), adapter)).toBeUndefined();
    expect(tunedAttentionConfig(attentionShapeOf({ ...sh, l: 2 }, adapter), adapter)).toBeUndefined();
    // On disk, and reused without measuring.
    expect(loadAttentionCacheFile(adapter).get(r.bucket)?.config).toEqual(r.config);
    const again = await xpu.accelerator.tuneAttention([{ ...sh, l: 30 }], { reps: 1 });
    expect(again[0].cached).toBe(true);
    expect(again[0].configKey).toBe(r.configKey);
    // The attention that now runs the tuned config matches float64.
    await checkRef({ B: 1, Hq: 2, Hkv: 1, L: 20, S: 40, E: 16, Ev: 16 }, true);
    await checkRef({ B: 1, Hq: 2, Hkv: 1, L: 27, S: 50, E: 12, Ev: 12 }, true);
  });

  it('tunes a decode bucket (a filtered candidate list) and stays correct', async () => {
    const adapter = gemmAdapterInfo(backend().device);
    const sh = { batch: 1, heads: 4, kvHeads: 1, l: 1, s: 200, e: 16 };
    const [r] = await xpu.accelerator.tuneAttention([sh], { reps: 1, persist: false, filter: (c) => c.path === 'decode' && c.wg === 32 });
    expect(r.bucket).toContain(':decode:l1:s256:');
    expect(r.measured.length).toBeGreaterThan(1);
    expect(r.config.path).toBe('decode');
    expect(attentionConfigKey(chooseAttentionConfig(attentionShapeOf(sh, adapter), adapter))).toBe(r.configKey);
    await checkRef({ B: 1, Hq: 4, Hkv: 1, L: 1, S: 200, E: 16, Ev: 16 }, false);
  });

  it('rejects bad shapes', async () => {
    await expect(xpu.accelerator.tuneAttention([{ batch: 1, heads: 3, kvHeads: 2, l: 4, s: 4, e: 8 }])).rejects.toThrow(xpu.XpuValueError);
    await expect(xpu.accelerator.tuneAttention([{ batch: 1, heads: 1, kvHeads: 1, l: 0, s: 4, e: 8 }])).rejects.toThrow(xpu.XpuValueError);
  });
});
