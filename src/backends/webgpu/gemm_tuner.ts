import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XpuValueError } from '../../errors.js';
import type { DType } from '../../tensor/dtype.js';
import { adapterKey, autotuneMode, pow2, TuningTable, warnOnce, type AutotuneMode, type TuningCacheFile } from './tuning_table.js';
import {
  GEMV_MAX_M,
  defaultTileConfig,
  fixedSubgroup,
  splitKFor,
  gemmConfigKey,
  heuristicGemmConfig,
  splitKConfig,
  type GemmAdapterInfo,
  type GemmConfig,
  type GemmShapeHints,
  type TileConfig,
} from './gemm_heuristics.js';

/**
 * The GEMM autotuner's tables (the measuring itself is gemm_autotune.ts, which needs tensors).
 * A config is tuned per adapter (vendor, architecture, description, driver) and per shape bucket
 * (M, N, K rounded up to powers of two, as CubeCL does, plus the dtype and whether B is read
 * along k). chooseGemmConfig consults, in order: results of tuneGemm in this process, the disk
 * cache ($XDG_CACHE_HOME or ~/.cache, under xpu/; only with XPU_AUTOTUNE=on|force), the shipped
 * table kernels/tuned/gemm.json, and finally the heuristic.
 *
 * XPU_AUTOTUNE: off (default) = shipped table then heuristic, deterministic; on = the disk cache
 * too, and tuneGemm measures only buckets not cached yet; force = tuneGemm re-measures every
 * bucket even when cached. Nothing is measured in the background: tuning runs only through the
 * explicit async `accelerator.tuneGemm(shapes)` (GPU timing needs awaits, and a matmul call is
 * synchronous); until then the heuristic is used.
 */

export const CACHE_SCHEMA_VERSION = 1;

export { autotuneMode, type AutotuneMode };

export interface TunedEntry {
  config: GemmConfig;
  gflops: number;
  measuredAt: string;
}

export type TuneCacheFile = TuningCacheFile<TunedEntry>;

export { adapterKey, pow2 };

/** The shape bucket of a problem: `float32:m64:n128:k256` (`:bT` when B is read along k). */
export function bucketKey(m: number, n: number, k: number, dtype: DType, hints: GemmShapeHints = { bAlongK: false }): string {
  return `${dtype}:m${pow2(m)}:n${pow2(n)}:k${pow2(k)}${hints.bAlongK ? ':bT' : ''}`;
}

export interface Bucket {
  key: string;
  m: number;
  n: number;
  k: number;
  dtype: DType;
  bAlongK: boolean;
}

/** The representative problem of a bucket key (its power-of-two dims). */
export function parseBucket(key: string): Bucket {
  const r = /^(\w+):m(\d+):n(\d+):k(\d+)(:bT)?$/.exec(key);
  if (!r) throw new XpuValueError('not a GEMM bucket key', { op: 'tuneGemm', arg: 'bucket', expected: 'dtype:mM:nN:kK[:bT]', got: key });
  return { key, dtype: r[1] as DType, m: Number(r[2]), n: Number(r[3]), k: Number(r[4]), bAlongK: r[5] !== undefined };
}

/** Whether `c` is a config the kernels can run on `adapter` (guards cache and shipped files). */
export function validConfig(c: unknown, adapter: GemmAdapterInfo): c is GemmConfig {
  if (typeof c !== 'object' || c === null) return false;
  const o = c as Record<string, unknown>;
  const int = (v: unknown, lo = 1, hi = 1024): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  if (o.path === 'naive') return true;
  if (o.path === 'gemv') {
    if (!int(o.wg) || !int(o.cols) || o.cols % 4 !== 0 || typeof o.subgroups !== 'boolean') return false;
    if (o.wg > adapter.maxInvocationsPerWorkgroup) return false;
    return !o.subgroups || adapter.features.has('subgroups');
  }
  if (o.path === 'tile') {
    if (o.variant !== 'register' && o.variant !== 'shared' && o.variant !== 'texture') return false;
    if (!int(o.wgX) || !int(o.wgY) || !int(o.tn, 4, 16) || o.tn % 4 !== 0 || !int(o.tk, 1, 64)) return false;
    if (o.wgX * o.wgY > adapter.maxInvocationsPerWorkgroup) return false;
    if (o.splitK !== undefined && (!int(o.splitK, 1, 64) || (o.splitK > 1 && o.variant !== 'texture'))) return false;
    if (o.sg !== undefined && o.sg !== 0) {
      // Subgroup-shared rows: texture variant, fixed-size subgroups of exactly sg lanes.
      if (o.variant !== 'texture' || !int(o.sg, 1, 128) || o.wgX !== o.sg || !int(o.tm, 1, 128) || o.tm % o.sg !== 0) return false;
      return adapter.features.has('subgroups') && adapter.subgroupMinSize === o.sg && adapter.subgroupMaxSize === o.sg;
    }
    if (!int(o.tm, 1, 16)) return false;
    if (o.variant === 'shared' && (o.tk % 4 !== 0 || 4 * o.tk * (o.wgY * o.tm + o.wgX * o.tn) > adapter.maxWorkgroupStorageBytes))
      return false;
    return true;
  }
  return false;
}

/**
 * A short list of configs worth measuring for a bucket: the heuristic's choice first, then
 * register, shared and texture tiles of other sizes, and split-K GEMV variants for small M.
 */
export function candidates(adapter: GemmAdapterInfo, bucket: Bucket): GemmConfig[] {
  const { m, n, k } = bucket;
  const hints = { bAlongK: bucket.bAlongK };
  const list: GemmConfig[] = [heuristicGemmConfig(adapter, m, n, k, hints)];
  const reg = (wgX: number, wgY: number, tm: number, tn: number): TileConfig => ({
    path: 'tile',
    variant: 'register',
    wgX,
    wgY,
    tm,
    tn,
    tk: 4,
  });
  if (m <= GEMV_MAX_M) {
    const rows = m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8;
    list.push(reg(32, 1, rows, 8), reg(64, 1, rows, 4), reg(16, 1, rows, 16));
    if (k >= 128 && bucket.bAlongK) {
      const sk = splitKConfig(adapter);
      list.push(
        sk,
        { ...sk, cols: 8 },
        { path: 'gemv', wg: 64, cols: 4, subgroups: false },
        { path: 'gemv', wg: 32, cols: 4, subgroups: false },
      );
    }
  } else {
    list.push(
      defaultTileConfig(adapter, m, 'register'),
      reg(16, 16, 4, 8),
      reg(8, 8, 4, 8),
      reg(16, 8, 8, 8),
      reg(16, 4, m <= 16 ? 4 : 8, 8),
    );
    const shared = defaultTileConfig(adapter, m, 'shared');
    list.push(shared, { ...shared, tm: 4, tn: 4 });
    // Texture-packed operands (register tiles reading texels): larger tiles pay off there, since
    // the loads, not the FMAs, bound a software adapter.
    const tex = (wgX: number, wgY: number, tm: number, tn: number): TileConfig => ({
      path: 'tile',
      variant: 'texture',
      wgX,
      wgY,
      tm,
      tn,
      tk: 4,
    });
    list.push(defaultTileConfig(adapter, m, 'texture'));
    const sg = fixedSubgroup(adapter);
    if (m > 32 && sg) {
      const sgt = (wgY: number, tm: number, tn: number): TileConfig => ({ ...tex(sg, wgY, tm, tn), sg });
      list.push(sgt(2, 32, 8), sgt(4, 32, 16), sgt(4, 64, 8), sgt(2, 64, 8));
      // Taller tiles for large outputs: more FMAs per texel fetch. At 2048^3 on lavapipe 64x16 and
      // 128x16 beat 32x16 (bench/tools/gemm_probe.ts; the figures are in bench/results/README.md).
      // 128 rows of 16 accumulators a lane only make sense where "registers" are a CPU's cache (a
      // software adapter); a GPU would spill them.
      if (m >= 512) list.push(sgt(4, 64, 16));
      if (m >= 512 && adapter.architecture === 'software') list.push(sgt(4, 128, 16));
    }
    if (m > 32) list.push(tex(8, 8, 16, 8), tex(8, 8, 8, 16));
    // Split-K for small outputs with a long K: the default texture tile with 2x and 4x the slices
    // the heuristic would pick (at least 2).
    const base = defaultTileConfig(adapter, m, 'texture');
    const s = Math.max(1, splitKFor(base, m, bucket.n, k));
    if (m > 32 && m * bucket.n <= 256 * 256 && k >= 4096)
      for (const f of [2, 4]) if (k % (4 * s * f) === 0) list.push({ ...base, splitK: s * f });
  }
  const seen = new Set<string>();
  return list.filter((c) => {
    const key = gemmConfigKey(c);
    if (seen.has(key) || !validConfig(c, adapter)) return false;
    seen.add(key);
    return true;
  });
}

// ---- tables -------------------------------------------------------------------------------

/** A stored GEMM entry, checked: a known bucket, a config valid on this adapter, a rate. */
function validateEntry(key: string, raw: unknown, adapter: GemmAdapterInfo): TunedEntry | null {
  const entry = raw as Partial<TunedEntry> | null;
  try {
    parseBucket(key);
  } catch {
    return null;
  }
  if (!entry || !validConfig(entry.config, adapter) || typeof entry.gflops !== 'number') return null;
  return { config: entry.config, gflops: entry.gflops, measuredAt: String(entry.measuredAt ?? '') };
}

/** tuneGemm results of this process and the per-adapter disk cache ($XDG_CACHE_HOME/xpu/gemm-<hash>.json). */
const table = new TuningTable<TunedEntry>({ label: 'GEMM', filePrefix: 'gemm', version: CACHE_SCHEMA_VERSION, validate: validateEntry });

/** The cache file of an adapter: $XDG_CACHE_HOME (or ~/.cache)/xpu/gemm-<hash>.json. */
export const cacheFilePath = (adapter: GemmAdapterInfo): string => table.filePath(adapter);
/** Reads an adapter's cache file; a missing file is empty, a corrupt one is ignored with a warning. */
export const loadCacheFile = (adapter: GemmAdapterInfo, file = cacheFilePath(adapter)): Map<string, TunedEntry> =>
  table.load(adapter, file);
/** Writes an adapter's cache file atomically (a temp file renamed over it). */
export const saveCacheFile = (adapter: GemmAdapterInfo, entries: ReadonlyMap<string, TunedEntry>, file = cacheFilePath(adapter)): void =>
  table.save(adapter, entries, file);

function findShippedTable(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = join(dir, 'kernels', 'tuned', 'gemm.json');
    if (existsSync(f)) return f;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The shipped table (kernels/tuned/gemm.json: {version, adapters: {adapterKey: entries}}). */
function shippedEntries(adapter: GemmAdapterInfo): Map<string, TunedEntry> {
  const file = findShippedTable();
  if (!file) return new Map();
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; adapters?: Record<string, unknown> };
    if (data.version !== CACHE_SCHEMA_VERSION) return new Map();
    return table.validEntries(data.adapters?.[adapterKey(adapter)], adapter, file);
  } catch (e) {
    warnOnce(`xpu: ignoring corrupt shipped GEMM table ${file}: ${(e as Error).message}`);
    return new Map();
  }
}

/** The shipped table per adapter key, read at first use. */
const shipped = new Map<string, Map<string, TunedEntry>>();

/** The disk cache of an adapter, (re)read when the cache path changed. */
export const diskEntries = (adapter: GemmAdapterInfo): Map<string, TunedEntry> => table.disk(adapter);

/** Records a measured result: this process uses it at once; it is merged into the disk cache. */
export const recordTuned = (adapter: GemmAdapterInfo, bucket: string, entry: TunedEntry, persist = true): void =>
  table.record(adapter, bucket, entry, persist);

/** A cached result for a bucket that tuneGemm may reuse (never in force mode). */
export const cachedTuned = (adapter: GemmAdapterInfo, bucket: string): TunedEntry | undefined => table.cached(adapter, bucket);

/** Forgets this process's tables (tests; a changed cache directory is noticed on its own). */
export function resetTunerState(): void {
  table.reset();
  shipped.clear();
}

/** The tuned config for a problem, or undefined for the heuristic (see the module comment). */
export function tunedGemmConfig(
  adapter: GemmAdapterInfo,
  m: number,
  n: number,
  k: number,
  dtype: DType,
  hints: GemmShapeHints,
): GemmConfig | undefined {
  const key = bucketKey(m, n, k, dtype, hints);
  const ak = adapterKey(adapter);
  let ship = shipped.get(ak);
  if (!ship) shipped.set(ak, (ship = shippedEntries(adapter)));
  const hit = table.session(adapter).get(key) ?? (autotuneMode() !== 'off' ? table.disk(adapter).get(key) : undefined) ?? ship.get(key);
  return hit?.config;
}

let measuring: GemmConfig | null = null;

/** The candidate being measured, which chooseGemmConfig returns while it is set. */
export function measuringGemmConfig(): GemmConfig | null {
  return measuring;
}

/** Runs `fn` (synchronous: it only enqueues) with every GEMM forced to `config`. */
export function withGemmConfig<R>(config: GemmConfig, fn: () => R): R {
  const prev = measuring;
  measuring = config;
  try {
    return fn();
  } finally {
    measuring = prev;
  }
}
