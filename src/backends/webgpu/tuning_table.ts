import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { settings, type AutotuneMode } from '../../settings.js';
import type { AdapterInfo as GemmAdapterInfo } from './adapter.js';

/**
 * The tables an autotuner keeps per adapter, shared by the GEMM and attention tuners: this
 * process's results (always consulted) and a disk cache, one JSON file per adapter and kind under
 * $XDG_CACHE_HOME (or ~/.cache)/xpu/<prefix>-<hash>.json, written atomically and read back only
 * through the kind's own validation, so a corrupt or foreign file never yields a config.
 */

/**
 * XPU_AUTOTUNE, for every tuner (settings.ts): off (default) = shipped tables then heuristics,
 * deterministic; on = the disk caches too, and a tuner measures only buckets not cached yet;
 * force = a tuner re-measures every bucket even when cached.
 */
export type { AutotuneMode };

export function autotuneMode(): AutotuneMode {
  return settings.XPU_AUTOTUNE;
}

/** The smallest power of two >= x (1 for x <= 1): the tuners' shape buckets. */
export const pow2 = (x: number): number => (x <= 1 ? 1 : 2 ** Math.ceil(Math.log2(x)));

/** The adapter half of a cache key. */
export function adapterKey(a: Pick<GemmAdapterInfo, 'vendor' | 'architecture' | 'description' | 'driver'>): string {
  return [a.vendor, a.architecture, a.description ?? '', a.driver ?? ''].join('|');
}

const warned = new Set<string>();

/** One warning per distinct message (a bad cache is reported once, not on every lookup). */
export function warnOnce(msg: string): void {
  if (warned.has(msg)) return;
  warned.add(msg);
  process.emitWarning(msg, { code: 'XPU_AUTOTUNE' });
}

/** What a kind of tuning result is: its file name, schema version, and entry validation. */
export interface TuningKind<E> {
  /** For messages: 'GEMM', 'attention'. */
  label: string;
  /** The cache file's name prefix: 'gemm' -> gemm-<hash>.json. */
  filePrefix: string;
  version: number;
  /** A checked copy of one stored entry, or null when the key or the entry is malformed. */
  validate(key: string, raw: unknown, adapter: GemmAdapterInfo): E | null;
}

export interface TuningCacheFile<E> {
  version: number;
  adapter: string;
  entries: Record<string, E>;
}

interface AdapterTables<E> {
  /** Results measured by this process. */
  session: Map<string, E>;
  /** The disk cache, read at first use, by path (tests move XDG_CACHE_HOME). */
  disk?: { file: string; entries: Map<string, E> };
}

export class TuningTable<E> {
  readonly #tables = new Map<string, AdapterTables<E>>();

  constructor(readonly kind: TuningKind<E>) {}

  /** The cache file of an adapter. */
  filePath(adapter: GemmAdapterInfo): string {
    const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
    const hash = createHash('sha256').update(adapterKey(adapter)).digest('hex').slice(0, 16);
    return join(base, 'xpu', `${this.kind.filePrefix}-${hash}.json`);
  }

  /** The valid entries of a parsed record; anything malformed is dropped with a warning. */
  validEntries(raw: unknown, adapter: GemmAdapterInfo, where: string): Map<string, E> {
    const out = new Map<string, E>();
    if (typeof raw !== 'object' || raw === null) return out;
    for (const [key, e] of Object.entries(raw as Record<string, unknown>)) {
      const entry = this.kind.validate(key, e, adapter);
      if (entry === null) {
        warnOnce(`xpu: ignoring a malformed ${this.kind.label} tuning entry '${key}' in ${where}`);
        continue;
      }
      out.set(key, entry);
    }
    return out;
  }

  /** Reads an adapter's cache file; a missing file is empty, a corrupt one is ignored with a warning. */
  load(adapter: GemmAdapterInfo, file = this.filePath(adapter)): Map<string, E> {
    if (!existsSync(file)) return new Map();
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<TuningCacheFile<unknown>> | null;
      if (typeof data !== 'object' || data === null || data.version !== this.kind.version || data.adapter !== adapterKey(adapter)) {
        warnOnce(`xpu: ignoring ${this.kind.label} tuning cache ${file}: schema version or adapter does not match`);
        return new Map();
      }
      return this.validEntries(data.entries, adapter, file);
    } catch (e) {
      warnOnce(`xpu: ignoring corrupt ${this.kind.label} tuning cache ${file}: ${(e as Error).message}`);
      return new Map();
    }
  }

  /** Writes an adapter's cache file atomically (a temp file renamed over it). */
  save(adapter: GemmAdapterInfo, entries: ReadonlyMap<string, E>, file = this.filePath(adapter)): void {
    const data: TuningCacheFile<E> = {
      version: this.kind.version,
      adapter: adapterKey(adapter),
      entries: Object.fromEntries([...entries].sort(([a], [b]) => a.localeCompare(b))),
    };
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n');
    renameSync(tmp, file);
  }

  #of(adapter: GemmAdapterInfo): AdapterTables<E> {
    const key = adapterKey(adapter);
    let t = this.#tables.get(key);
    if (!t) this.#tables.set(key, (t = { session: new Map() }));
    return t;
  }

  /** Whether any adapter has tables in this process (a cheap test before a lookup). */
  get isEmpty(): boolean {
    return this.#tables.size === 0;
  }

  /** This process's results for an adapter. */
  session(adapter: GemmAdapterInfo): Map<string, E> {
    return this.#of(adapter).session;
  }

  /** The disk cache of an adapter, (re)read when the cache path changed. */
  disk(adapter: GemmAdapterInfo): Map<string, E> {
    const t = this.#of(adapter);
    const file = this.filePath(adapter);
    if (t.disk?.file !== file) t.disk = { file, entries: this.load(adapter, file) };
    return t.disk.entries;
  }

  /** Records a measured result: this process uses it at once; it is merged into the disk cache. */
  record(adapter: GemmAdapterInfo, bucket: string, entry: E, persist = true): void {
    const t = this.#of(adapter);
    t.session.set(bucket, entry);
    if (!persist) return;
    const file = this.filePath(adapter);
    const merged = new Map(this.load(adapter, file));
    merged.set(bucket, entry);
    this.save(adapter, merged, file);
    t.disk = { file, entries: merged };
  }

  /** A result a tuner may reuse instead of measuring again: this process's, then the disk's. */
  cached(adapter: GemmAdapterInfo, bucket: string): E | undefined {
    return this.#of(adapter).session.get(bucket) ?? this.disk(adapter).get(bucket);
  }

  /** Forgets this process's tables and warnings (tests). */
  reset(): void {
    this.#tables.clear();
    warned.clear();
  }
}
