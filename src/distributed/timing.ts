/**
 * Where the time of the last collective went, for benchmarks: copies between device memory and
 * the host buffers the engine uses (xpu tensors only; zero for contiguous cpu tensors, which the
 * engine reads and writes in place), and the engine call itself.
 */
export interface CollectiveTiming {
  op: string;
  /** Bytes of the tensor passed in. */
  bytes: number;
  /** Reading the input into host memory (xpu download, or a strided gather). */
  stageInMs: number;
  /** Time inside the engine, measured on its worker thread. */
  engineMs: number;
  /** Writing the result back (xpu upload queued into the tensor's buffer, or a strided scatter). */
  stageOutMs: number;
  totalMs: number;
}

let last: CollectiveTiming | null = null;

/** The timing of the most recent collective this process completed (null before the first). */
export function lastTiming(): CollectiveTiming | null {
  return last;
}

/** @internal */
export function recordTiming(t: CollectiveTiming): void {
  last = t;
}

/** @internal A stopwatch in milliseconds. */
export function now(): number {
  return performance.now();
}
