import { XpuDeviceError } from '../../errors.js';
import type { HostArray } from '../../tensor/dtype.js';
import { loadNative, type NativeCompute } from './native.js';

/**
 * The JS side of the native compute queue (native/compute/queue.cc): one worker thread runs the
 * native CPU kernels (the oneDNN GEMM) in the order they were submitted, so job ids complete in
 * order and "job i is done" is `completed >= i`.
 *
 * A CPU storage written or read by a queued job records it (CpuStorage.writer / lastUse). Two
 * ways to wait for it:
 *   - synchronously (settleSync): any synchronous consumer of the data (the next TypeScript
 *     kernel, a collective, a host read) blocks in the addon on a condition variable until the
 *     job is done. Safe: a job never needs the JS thread.
 *   - asynchronously (jobDone, whenSettled): `await t.toArray()`, backend.read and
 *     backend.synchronize await a Promise that the worker resolves through a thread-safe
 *     function, so the event loop stays free while the GEMM runs.
 * Native kernels queued behind a pending job read its output without waiting: the queue's order
 * already puts them after it.
 */

interface Tracker {
  /** Highest job id whose completion reached the JS thread. */
  completed: number;
  /** Errors of failed jobs, by id (kept: failures are rare and each is small). */
  errors: Map<number, string>;
  /** Promises waiting for a job id. */
  waiters: Map<number, (() => void)[]>;
  /** Typed arrays a pending job uses, kept reachable until it is done. */
  keep: Map<number, HostArray[]>;
}

const TRACKER = Symbol.for('xpu.compute.tracker');

/**
 * The tracker lives on the addon's compute object, not in this module: the addon is loaded once
 * per process, while a test runner may load this module more than once; every copy must see the
 * same completions.
 */
function tracker(c: NativeCompute): Tracker {
  const holder = c as unknown as Record<symbol, Tracker | undefined>;
  let t = holder[TRACKER];
  if (t) return t;
  const tr: Tracker = { completed: 0, errors: new Map(), waiters: new Map(), keep: new Map() };
  t = holder[TRACKER] = tr;
  c.setOnDone((id: number, error?: string) => {
    tr.completed = Math.max(tr.completed, id);
    if (error !== undefined) tr.errors.set(id, error);
    // One notice may stand for several jobs (the worker folds the notices of a run of queued jobs
    // into the last one): every job <= id is done.
    for (const k of tr.keep.keys()) {
      if (k > id) break;
      tr.keep.delete(k);
    }
    for (const [w, fns] of tr.waiters) {
      if (w > id) continue;
      tr.waiters.delete(w);
      for (const f of fns) f();
    }
  });
  return t;
}

/** The addon's compute object, or null when the addon is absent. */
export function nativeCompute(): NativeCompute | null {
  const c = loadNative().addon?.compute;
  if (!c) return null;
  tracker(c);
  return c;
}

/** Registers job `id` and the arrays it uses (kept reachable until it is done). */
export function trackJob(id: number, arrays: HostArray[]): void {
  const c = nativeCompute();
  if (c) tracker(c).keep.set(id, arrays);
}

/** True when job `id` has finished (the worker is done with its buffers). */
export function isJobDone(id: number): boolean {
  if (id === 0) return true;
  const c = nativeCompute();
  if (!c) return true;
  return id <= tracker(c).completed || id <= c.completed();
}

/** Blocks until job `id` is done; its error message, or undefined. */
export function waitJob(id: number): string | undefined {
  const c = nativeCompute();
  if (!c || id === 0) return undefined;
  const t = tracker(c);
  if (id <= t.completed) return t.errors.get(id);
  return c.wait(id) ?? t.errors.get(id);
}

/** Resolves when job `id` is done (never rejects: errors surface where the data is used). */
export function jobDone(id: number): Promise<void> {
  const c = nativeCompute();
  if (!c || id === 0) return Promise.resolve();
  const t = tracker(c);
  if (id <= t.completed) return Promise.resolve();
  return new Promise((resolve) => {
    const list = t.waiters.get(id);
    if (list) list.push(resolve);
    else t.waiters.set(id, [resolve]);
  });
}

/** Resolves when every job submitted so far is done. */
export function queueDrained(): Promise<void> {
  const c = nativeCompute();
  return c ? jobDone(c.submitted()) : Promise.resolve();
}

/** What a storage records about native jobs (see CpuStorage). */
export interface PendingState {
  writer: number;
  lastUse: number;
  failed: string | null;
}

/** Blocks until the jobs writing and reading `st` are done; throws if the writer failed. */
export function settleSync(st: PendingState): void {
  if (st.writer) {
    const err = waitJob(st.writer);
    if (err !== undefined) st.failed = err;
    st.writer = 0;
  }
  if (st.lastUse) {
    waitJob(st.lastUse);
    st.lastUse = 0;
  }
  if (st.failed !== null) throw failure(st.failed);
}

/** Awaits the jobs writing and reading `st` without blocking the event loop, then settles it. */
export async function whenSettled(st: PendingState): Promise<void> {
  const id = Math.max(st.writer, st.lastUse);
  if (id && !isJobDone(id)) await jobDone(id);
  settleSync(st);
}

function failure(message: string): XpuDeviceError {
  return new XpuDeviceError(`the native CPU GEMM that produced this tensor failed: ${message}`, {
    op: 'matmul',
    arg: 'output',
    expected: 'a native GEMM that completes',
    got: message,
  });
}

/** A CPU storage as a native job sees it: its pending state and the array the addon reads. */
export interface JobStorage extends PendingState {
  readonly rawData: HostArray;
}

/**
 * Runs one native kernel that writes `out` from `inputs`: inline on the JS thread (`inline`: the
 * queue is idle; any input still marked pending is settled first, so a failed one throws here)
 * or queued, in which case out records the job as its writer, every input as its latest use
 * (a dispose or an in-place write waits for it), and the arrays stay reachable until it is done.
 * Returns null, or the addon's message when it refused the call (the caller falls back).
 */
export function launchNativeJob(
  out: JobStorage,
  inputs: readonly JobStorage[],
  inline: boolean,
  runNow: () => void,
  enqueue: () => number,
): string | null {
  let id = 0;
  try {
    if (inline) {
      for (const s of inputs) if (s.lastUse !== 0 || s.writer !== 0 || s.failed !== null) settleSync(s);
      runNow();
      return null;
    }
    id = enqueue();
  } catch (e) {
    return (e as Error).message;
  }
  out.writer = id;
  out.lastUse = id;
  for (const s of inputs) s.lastUse = Math.max(s.lastUse, id);
  trackJob(id, [out.rawData, ...inputs.map((s) => s.rawData)]);
  return null;
}
