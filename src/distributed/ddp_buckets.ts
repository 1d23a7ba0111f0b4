import { dtypeInfo } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Which gradients DistributedDataParallel all-reduces together (torch's
 * compute_bucket_assignment_by_size, the idea re-written here): parameters are taken in REVERSE
 * registration order, because backward produces the last layers' gradients first, so the first
 * bucket fills (and its all-reduce starts) while backward is still working on the early layers.
 * Parameters of different device or dtype never share a bucket (one flat buffer per bucket). A
 * bucket is closed once it holds at least its cap in bytes; the first bucket of each (device,
 * dtype) gets a small cap (torch: 1 MiB) so that communication starts as early as possible.
 */

export interface BucketPlan {
  /** Indices into the parameter list, in the order they sit in the bucket's flat buffer. */
  readonly params: readonly number[];
  /** Element offset of each of those parameters in the flat buffer. */
  readonly offsets: readonly number[];
  /** Elements in the flat buffer. */
  readonly numel: number;
  readonly dtype: Tensor['dtype'];
  readonly deviceKey: string;
}

/** torch's dist._DEFAULT_FIRST_BUCKET_BYTES. */
export const FIRST_BUCKET_BYTES = 1 << 20;

interface Open {
  params: number[];
  offsets: number[];
  numel: number;
  bytes: number;
  dtype: Tensor['dtype'];
  deviceKey: string;
  /** Position of its first parameter in the reversed order (buckets are listed in that order). */
  first: number;
}

/**
 * Buckets for `params` (the ones that need gradients, in registration order), each closed at
 * `capBytes` (the first one of each device and dtype at min(firstCapBytes, capBytes)).
 */
export function assignBuckets(params: readonly Tensor[], capBytes: number, firstCapBytes = FIRST_BUCKET_BYTES): BucketPlan[] {
  const open = new Map<string, Open>();
  const closedPerKey = new Map<string, number>();
  const done: Open[] = [];
  for (let pos = 0; pos < params.length; pos++) {
    const i = params.length - 1 - pos;
    const p = params[i];
    const deviceKey = String(p.device);
    const key = `${deviceKey}/${p.dtype}`;
    let b = open.get(key);
    if (!b) {
      b = { params: [], offsets: [], numel: 0, bytes: 0, dtype: p.dtype, deviceKey, first: pos };
      open.set(key, b);
    }
    b.params.push(i);
    b.offsets.push(b.numel);
    b.numel += p.numel;
    b.bytes += p.numel * dtypeInfo(p.dtype).itemsize;
    const cap = (closedPerKey.get(key) ?? 0) === 0 ? Math.min(firstCapBytes, capBytes) : capBytes;
    if (b.bytes >= cap) {
      done.push(b);
      open.delete(key);
      closedPerKey.set(key, (closedPerKey.get(key) ?? 0) + 1);
    }
  }
  done.push(...open.values());
  done.sort((a, b) => a.first - b.first);
  return done.map(({ params: ps, offsets, numel, dtype, deviceKey }) => ({ params: ps, offsets, numel, dtype, deviceKey }));
}
