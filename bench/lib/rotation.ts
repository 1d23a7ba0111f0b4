/**
 * Input rotation: a benchmark cycles through several input sets so that the caches do not hold
 * the inputs between two ops and flatter the bandwidth. The sets together span twice the CPU's
 * last-level cache (read from the OS): the box these suites run on moved from a 32 MiB L3 to a
 * 260 MiB one, and the fixed 96 MiB this used to rotate among then sat in cache, so memory-bound
 * rows measured the L3 and came out above the DRAM roofline. lavapipe's buffers are host memory
 * behind the same cache; a discrete GPU's L2 is far smaller than this.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The smallest rotation, as before: a machine whose cache size is unknown gets this. */
const MIN_ROTATION_BYTES = 96 * 2 ** 20;
/** Rotation and the bandwidth probes stop here, whatever the cache: memory is shared with others. */
const MAX_ROTATION_BYTES = 1024 * 2 ** 20;
const MAX_SETS = 8;

/** "266240K" / "32M" (sysfs cache sizes) in bytes; NaN when unreadable. */
export function parseCacheSize(text: string): number {
  const m = /^\s*(\d+)\s*([KMG]?)/i.exec(text);
  if (!m) return NaN;
  const scale = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * scale;
}

let llc: number | undefined;

/** The largest cache cpu0 reports (Linux sysfs); 0 when there is none to read. */
export function lastLevelCacheBytes(): number {
  if (llc !== undefined) return llc;
  llc = 0;
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  try {
    for (const e of readdirSync(dir)) {
      if (!e.startsWith('index')) continue;
      const size = parseCacheSize(readFileSync(join(dir, e, 'size'), 'utf8'));
      if (size > llc) llc = size;
    }
  } catch {
    // not Linux, or no sysfs: the minimum rotation applies
  }
  return llc;
}

/** Bytes a rotation (or a bandwidth probe's working set) spans: twice the last-level cache. */
export function rotationBytes(cache = lastLevelCacheBytes()): number {
  return Math.min(MAX_ROTATION_BYTES, Math.max(MIN_ROTATION_BYTES, 2 * cache));
}

/** How many input sets to rotate among for an op that moves `bytesPerOp`. */
export function rotationSets(bytesPerOp: number): number {
  return Math.max(2, Math.min(MAX_SETS, Math.ceil(rotationBytes() / bytesPerOp)));
}

/** How many ops one timed run records, so that a run moves enough bytes to time reliably. */
export function opsPerRun(bytesPerOp: number, targetBytes: number, maxOps = 64): number {
  return Math.max(1, Math.min(maxOps, Math.ceil(targetBytes / bytesPerOp)));
}
