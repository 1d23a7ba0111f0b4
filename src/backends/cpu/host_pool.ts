import { allocHost, type DType, type HostArray } from '../../tensor/dtype.js';

/**
 * Reuse of large host arrays. A fresh 64 MiB TypedArray costs a zero-fill and first-touch page
 * faults each time; out-of-place ops in a loop (a collective's output, a CPU kernel's result)
 * would pay that on every call. Arrays of at least MIN_BYTES that a tensor gives back are kept
 * (up to CAP_BYTES in all, oldest dropped first) and handed out again, NOT zeroed: every CPU
 * kernel and collective writes all of its output.
 */
const MIN_BYTES = 1 << 20;
const CAP_BYTES = 256 << 20;

const free = new Map<string, HostArray[]>();
const order: { key: string; arr: HostArray }[] = [];
let cached = 0;

const keyOf = (dtype: DType, n: number): string => `${dtype}:${n}`;

export function takeHost(dtype: DType, n: number): HostArray {
  const list = free.get(keyOf(dtype, n));
  const arr = list?.pop();
  if (!arr) return allocHost(dtype, n);
  cached -= arr.byteLength;
  order.splice(order.findIndex((o) => o.arr === arr), 1);
  return arr;
}

export function giveBackHost(dtype: DType, arr: HostArray): void {
  if (arr.byteLength < MIN_BYTES || arr.byteLength > CAP_BYTES || arr.byteOffset !== 0 || arr.buffer.byteLength !== arr.byteLength) return;
  const key = keyOf(dtype, arr.length);
  let list = free.get(key);
  if (!list) free.set(key, (list = []));
  list.push(arr);
  order.push({ key, arr });
  cached += arr.byteLength;
  while (cached > CAP_BYTES) {
    const old = order.shift()!;
    const l = free.get(old.key)!;
    l.splice(l.indexOf(old.arr), 1);
    cached -= old.arr.byteLength;
  }
}

/** Drops every cached array (for tests and emptyCache-like calls). */
export function clearHostPool(): void {
  free.clear();
  order.length = 0;
  cached = 0;
}
