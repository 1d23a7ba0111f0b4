/**
 * A full garbage collection on demand, for the runner to call before each timed cpu run.
 *
 * The cpu implementations share this process's two cores with V8's collector. A peer that
 * allocates per run (onnxruntime-node's output tensors, 256 KiB each at 256^3) leaves marking and
 * sweeping in flight, and V8's helper threads and the main thread then did that work during the
 * next implementation's timed run: our 256^3 GEMM measured 68-110 GFLOP/s with the peers loaded
 * and 190-235 without them, the GEMM's two OpenMP threads each waiting at barriers for a core
 * (per-thread CPU time from /proc/self/task/* /schedstat). Collecting before every timed run,
 * whichever implementation it is, lets each one start with no other's collection debt.
 *
 * `gc` exists only under --expose-gc; the flag can be set at run time and the function read from
 * a fresh context (V8 installs it in contexts created after the flag is set).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | null | undefined;

export function collectGarbage(): void {
  if (gcFn === undefined) {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (existing) gcFn = existing;
    else {
      try {
        setFlagsFromString('--expose-gc');
        gcFn = runInNewContext('gc') as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  gcFn?.();
}
