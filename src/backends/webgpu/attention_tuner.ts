import type { DType } from '../../tensor/dtype.js';
import type { AdapterInfo as GemmAdapterInfo } from './adapter.js';
import { autotuneMode, pow2, TuningTable, type TuningCacheFile } from './tuning_table.js';
import {
  attentionCandidates,
  attentionConfigKey,
  DECODE_MAX_L,
  MAX_CHUNK,
  PREFILL_LANES,
  type AttentionConfig,
  type AttentionShape,
} from './attention_heuristics.js';

/**
 * The attention autotuner's tables, the twin of gemm_tuner.ts (the measuring is
 * attention_autotune.ts). A config is tuned per adapter (the GEMM tuner's adapter key) and per
 * shape bucket: dtype, decode (L <= DECODE_MAX_L) or prefill, L and S up to powers of two, E and
 * Ev bucketed as the prefill pipelines are (E to 4 x a power of two >= 64, Ev to 32 x a power of
 * two), and causal. chooseAttentionConfig consults, in order: the override, tuneAttention results
 * of this process, the disk cache ($XDG_CACHE_HOME or ~/.cache, xpu/attention-<hash>.json; only
 * with XPU_AUTOTUNE=on|force), the heuristic. XPU_AUTOTUNE means what it means for GEMM.
 * A tuned config is used only where it is one of attentionCandidates for the problem at hand
 * (e.g. not a prefill tile straddling a block mask's blocks).
 */

export const ATTENTION_CACHE_VERSION = 1;

export interface TunedAttentionEntry {
  config: AttentionConfig;
  /** Median wall time of the measured problem, in milliseconds. */
  ms: number;
  measuredAt: string;
}

export type AttentionTuneCacheFile = TuningCacheFile<TunedAttentionEntry>;

export interface AttentionBucketInput {
  l: number;
  s: number;
  e: number;
  ev: number;
  causal?: boolean;
  dtype?: DType;
}

/** E's bucket: the prefill pipeline's q row of vec4Bucket(ceil(E / 4)) vec4s (>= 16). */
export const eBucket = (e: number): number => 4 * Math.max(16, pow2(Math.ceil(e / 4)));
/** Ev's bucket: the prefill pipeline's output column groups (PREFILL_LANES vec4s each). */
export const evBucket = (ev: number): number => 4 * PREFILL_LANES * pow2(Math.ceil(Math.ceil(ev / 4) / PREFILL_LANES));

/** The shape bucket of a problem: `float32:prefill:l64:s128:e64:ev32[:causal]`. */
export function attentionBucketKey(p: AttentionBucketInput): string {
  const kind = p.l <= DECODE_MAX_L ? 'decode' : 'prefill';
  return `${p.dtype ?? 'float32'}:${kind}:l${pow2(p.l)}:s${pow2(p.s)}:e${eBucket(p.e)}:ev${evBucket(p.ev)}${p.causal ? ':causal' : ''}`;
}

const BUCKET_RE = /^(float32|float16):(decode|prefill):l(\d+):s(\d+):e(\d+):ev(\d+)(:causal)?$/;

/** Whether `key` is a well-formed bucket key (guards cache files). */
export function validAttentionBucket(key: string): boolean {
  const r = BUCKET_RE.exec(key);
  if (!r) return false;
  const l = Number(r[3]);
  return (r[2] === 'decode') === l <= DECODE_MAX_L && [r[3], r[4], r[5], r[6]].every((x) => pow2(Number(x)) === Number(x));
}

const isPow2 = (v: unknown, lo: number, hi: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi && (v & (v - 1)) === 0;

/**
 * Whether `c` obeys the candidate rules (prefill: 4 or 8 query rows, 8, 16 or 32 keys; decode:
 * a power-of-two workgroup the adapter allows, a power-of-two split of 32..MAX_CHUNK keys).
 */
export function validAttentionConfig(c: unknown, adapter?: Pick<GemmAdapterInfo, 'maxInvocationsPerWorkgroup'>): c is AttentionConfig {
  if (typeof c !== 'object' || c === null) return false;
  const o = c as Record<string, unknown>;
  if (o.path !== 'prefill' && o.path !== 'decode' && o.path !== 'texture') return false;
  if (o.path === 'texture') {
    if (!isPow2(o.bq, 16, 32) || !isPow2(o.bk, 16, 256)) return false;
  } else if (!isPow2(o.bq, 4, PREFILL_LANES) || !isPow2(o.bk, PREFILL_LANES, 4 * PREFILL_LANES)) return false;
  if (!isPow2(o.wg, 8, Math.min(256, adapter?.maxInvocationsPerWorkgroup ?? 256))) return false;
  return isPow2(o.chunk, 32, MAX_CHUNK);
}

// ---- tables -------------------------------------------------------------------------------

const pick = (c: AttentionConfig): AttentionConfig => ({ path: c.path, bq: c.bq, bk: c.bk, wg: c.wg, chunk: c.chunk });

/** A stored entry, checked: a valid bucket key, a config that follows the candidate rules, a time. */
function validateEntry(key: string, raw: unknown, adapter: GemmAdapterInfo): TunedAttentionEntry | null {
  const entry = raw as Partial<TunedAttentionEntry> | null;
  if (!validAttentionBucket(key) || !entry || !validAttentionConfig(entry.config, adapter) || typeof entry.ms !== 'number') return null;
  return { config: pick(entry.config), ms: entry.ms, measuredAt: String(entry.measuredAt ?? '') };
}

/** tuneAttention results of this process and the per-adapter disk cache (tuning_table.ts). */
const table = new TuningTable<TunedAttentionEntry>({
  label: 'attention',
  filePrefix: 'attention',
  version: ATTENTION_CACHE_VERSION,
  validate: validateEntry,
});

/** The cache file of an adapter: $XDG_CACHE_HOME (or ~/.cache)/xpu/attention-<hash>.json. */
export const attentionCacheFilePath = (adapter: GemmAdapterInfo): string => table.filePath(adapter);
/** Reads an adapter's cache file; a missing file is empty, a corrupt one is ignored with a warning. */
export const loadAttentionCacheFile = (
  adapter: GemmAdapterInfo,
  file = attentionCacheFilePath(adapter),
): Map<string, TunedAttentionEntry> => table.load(adapter, file);
/** Writes an adapter's cache file atomically (a temp file renamed over it). */
export const saveAttentionCacheFile = (
  adapter: GemmAdapterInfo,
  entries: ReadonlyMap<string, TunedAttentionEntry>,
  file = attentionCacheFilePath(adapter),
): void => table.save(adapter, entries, file);
/** The disk cache of an adapter, (re)read when the cache path changed. */
export const attentionDiskEntries = (adapter: GemmAdapterInfo): Map<string, TunedAttentionEntry> => table.disk(adapter);
/** Records a measured result: this process uses it at once; it is merged into the disk cache. */
export const recordTunedAttention = (adapter: GemmAdapterInfo, bucket: string, entry: TunedAttentionEntry, persist = true): void =>
  table.record(adapter, bucket, entry, persist);
/** A cached result for a bucket that tuneAttention may reuse (never in force mode). */
export const cachedTunedAttention = (adapter: GemmAdapterInfo, bucket: string): TunedAttentionEntry | undefined =>
  table.cached(adapter, bucket);
/** Forgets this process's tables (tests; a changed cache directory is noticed on its own). */
export const resetAttentionTunerState = (): void => table.reset();

/**
 * The tuned config for a problem, or undefined (the heuristic): this process's results, then the
 * disk cache with XPU_AUTOTUNE=on|force; only a config that is a candidate for `p` counts.
 */
export function tunedAttentionConfig(p: AttentionShape, adapter: GemmAdapterInfo | undefined): AttentionConfig | undefined {
  if (!adapter || (table.isEmpty && autotuneMode() === 'off')) return undefined;
  const key = attentionBucketKey(p);
  const hit = table.session(adapter).get(key) ?? (autotuneMode() !== 'off' ? table.disk(adapter).get(key) : undefined);
  if (!hit) return undefined;
  const want = attentionConfigKey(hit.config);
  return attentionCandidates(p, adapter).find((c) => attentionConfigKey(c) === want);
}
