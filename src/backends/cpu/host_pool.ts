import { allocHost, type DType, type HostArray } from '../../tensor/dtype.js';

/**
 * Reuse of large host arrays. A fresh 64 MiB TypedArray costs a zero-fill and first-touch page
 * faults each time; out-of-place ops in a loop (a collective's output, a CPU kernel's result)
 * would pay that on every call, and V8 counts each new backing store as external memory that
 * brings the next full GC closer. From 64 KiB on the pool pays: a 256 KiB output (a 256^3
 * GEMM's) cost 23-120 us to allocate where the GEMM itself takes ~170 us. Arrays of at least
 * MIN_BYTES that a tensor gives back are kept (up to CAP_BYTES in all, oldest dropped first) and
 * handed out again, NOT zeroed: every CPU kernel and collective writes all of its output.
 *
 * An array given back while a queued native job still reads or writes it (a tensor disposed right
 * after the op that uses it was queued: every intermediate of an eager loop that is not waited on)
 * carries that job as its fence. Anything may take it once the fence is done; before that, only an
 * op whose first write to it is a native job (takeHost's `nativeWriter`): the addon's compute queue
 * runs jobs one at a time in submission order, so a job queued now runs after the fence, and a
 * native op runs inline on the JS thread only when that queue is idle, i.e. every fence is done.
 * This is the idea of PyTorch's CUDA caching allocator (memory freed by queued work is reusable by
 * later work on the same stream). Without it a burst of queued ops allocated every intermediate
 * fresh: 8 calls of a 10-op chain on 1M elements took 7.0 ms a call against 4.4 ms waited one by one.
 */
const MIN_BYTES = 64 << 10;
const CAP_BYTES = 256 << 20;
/**
 * Smaller arrays (eager ops on a few hundred elements) are kept too, up to SMALL_PER_KEY of each
 * dtype and length: a fresh 1 KiB Float32Array is an ArrayBuffer with a zeroed backing store and
 * V8 external-memory bookkeeping, ~8% of a 256-element add's time, and most of its garbage.
 */
const SMALL_PER_KEY = 16;
/** By dtype, then length (no key string per call: this runs twice per small op). */
const small = new Map<DType, Map<number, HostArray[]>>();

function smallList(dtype: DType, n: number): HostArray[] {
  let byLength = small.get(dtype);
  if (!byLength) small.set(dtype, (byLength = new Map()));
  let list = byLength.get(n);
  if (!list) byLength.set(n, (list = []));
  return list;
}

/** Free arrays by dtype and length. */
const free = new Map<string, HostArray[]>();
/**
 * Arrays that a queued native job may still use, and whether that job is done yet: free ones, and
 * ones handed to a native writer before their fence was done, so that such an array given back
 * unused (its op refused by the addon, computed by TypeScript instead) keeps its fence.
 */
let fenceOf = new WeakMap<HostArray, () => boolean>();
/** Every free array and its key, oldest first (a Map keeps insertion order): what to drop first. */
const age = new Map<HostArray, string>();
let cached = 0;

const keyOf = (dtype: DType, n: number): string => `${dtype}:${n}`;

/**
 * XPU_POISON=1 (a test mode): every array takeHost hands out, fresh (zeroed by JS) or pooled
 * (holding its last owner's values), is first filled with NaN, or a garbage value for integer
 * dtypes, so a kernel that leaves part of its output unwritten (or reads it before writing, as
 * `+=` into a fresh output does) shows it in the results instead of passing by luck. Off, it
 * costs one check per call. Exported as a setter for tests of the mode itself.
 */
let poison = process.env.XPU_POISON === '1';

export function setHostPoison(on: boolean): void {
  poison = on;
}

/** The poison value per dtype: float NaN (float16 as raw bits), integers a value no kernel computes by chance. */
function poisonFill(dtype: DType, arr: HostArray): void {
  switch (dtype) {
    case 'float32':
      arr.fill(NaN);
      break;
    case 'float16':
      arr.fill(0xffff);
      break; // a float16 NaN
    case 'int32':
      arr.fill(0x7fc00000);
      break; // the bits of the float32 NaN, as on xpu
    case 'uint32':
      arr.fill(0x7fc00000);
      break;
    case 'int8':
      arr.fill(-91);
      break; // 0xa5, as on xpu
    case 'uint8':
    case 'bool':
      arr.fill(0xa5);
      break;
  }
}

/**
 * A pooled array of this key: the newest one free for anyone (no fence, or its fence done), else,
 * for a native writer, the oldest fenced one (its job is the first of them to finish).
 */
function takePooled(key: string, nativeWriter: boolean): HostArray | undefined {
  const list = free.get(key);
  if (!list?.length) return undefined;
  for (let i = list.length - 1; i >= 0; i--) {
    const fence = fenceOf.get(list[i]);
    if (fence && !fence()) continue;
    if (fence) fenceOf.delete(list[i]);
    return list.splice(i, 1)[0];
  }
  return nativeWriter ? list.shift() : undefined;
}

/**
 * An array of n elements of dtype, from the pool when it holds one. `nativeWriter`: the caller's
 * first write to it is a native job launched through launchNativeJob (native_jobs.ts), so it may
 * get an array a queued job still uses (see above). Poison mode never hands one out: filling it
 * would write under that job.
 */
export function takeHost(dtype: DType, n: number, nativeWriter = false): HostArray {
  const smallArr = small.get(dtype)?.get(n)?.pop();
  const arr = smallArr ?? takePooled(keyOf(dtype, n), nativeWriter && !poison) ?? allocHost(dtype, n);
  if (!smallArr && age.delete(arr)) cached -= arr.byteLength;
  if (poison) poisonFill(dtype, arr);
  return arr;
}

/**
 * Gives back an array that the queued native job `fence` may still use (see above). `whenDone`
 * resolves when it is done: a small array goes back to the pool only then.
 */
export function giveBackHostFenced(dtype: DType, arr: HostArray, fenceDone: () => boolean, whenDone: () => Promise<void>): void {
  if (arr.byteLength < MIN_BYTES) {
    void whenDone().then(() => giveBackHost(dtype, arr));
    return;
  }
  if (age.has(arr)) return;
  fenceOf.set(arr, fenceDone);
  giveBackHost(dtype, arr);
}

export function giveBackHost(dtype: DType, arr: HostArray): void {
  if (arr.byteLength > CAP_BYTES || arr.byteOffset !== 0 || arr.buffer.byteLength !== arr.byteLength || arr.byteLength === 0) return;
  if (arr.byteLength < MIN_BYTES) {
    const list = smallList(dtype, arr.length);
    if (list.length < SMALL_PER_KEY && !list.includes(arr)) list.push(arr);
    return;
  }
  if (age.has(arr)) return; // already given back
  const key = keyOf(dtype, arr.length);
  let list = free.get(key);
  if (!list) free.set(key, (list = []));
  list.push(arr);
  age.set(arr, key);
  cached += arr.byteLength;
  while (cached > CAP_BYTES) {
    const [old, oldKey] = age.entries().next().value as [HostArray, string];
    age.delete(old);
    const l = free.get(oldKey)!;
    l.splice(l.indexOf(old), 1);
    fenceOf.delete(old);
    cached -= old.byteLength;
  }
}

/** Drops every cached array (for tests and emptyCache-like calls). */
export function clearHostPool(): void {
  small.clear();
  free.clear();
  fenceOf = new WeakMap();
  age.clear();
  cached = 0;
}
