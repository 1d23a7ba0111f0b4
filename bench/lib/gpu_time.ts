/**
 * One timed run: wall time (run + sync, what a user waits for) and, where asked and where the
 * adapter has timestamp queries, the GPU time of the kernels it launched, from the profiler
 * (src/profiler) started before the run and stopped after it.
 */
import * as xpu from '../../src/index.js';
import type { Workload } from '../suite.js';

export interface RunTimes {
  wallMs: number;
  /** Sum of the launched kernels' GPU times; undefined when none was timed. */
  gpuMs?: number;
}

let timestamps: boolean | undefined;

/** Whether the xpu adapter can time kernels (checked once). */
export function hasGpuTimestamps(): boolean {
  timestamps ??= xpu.accelerator.isAvailable() && xpu.accelerator.getDeviceInfo().features.includes('timestamp-query');
  return timestamps;
}

export async function timedRun(w: Workload, sync: (() => Promise<void>) | undefined, gpuTime: boolean): Promise<RunTimes> {
  const profiled = gpuTime && hasGpuTimestamps();
  if (profiled) xpu.profiler.start();
  let wallMs: number;
  try {
    const t0 = performance.now();
    await w.run();
    await (w.sync ?? sync)?.();
    wallMs = performance.now() - t0;
    // A peer in another process reports the time of its own calls (see Workload.selfTimedMs).
    wallMs = w.selfTimedMs?.() ?? wallMs;
  } catch (e) {
    if (profiled) await xpu.profiler.stop().catch(() => {});
    throw e;
  }
  if (!profiled) return { wallMs };
  const profile = await xpu.profiler.stop();
  // Launches without a timestamp (buffer copies, cpu ops) add nothing; none timed means no GPU time.
  const timed = profile.events.filter((e) => e.gpuDurNs !== undefined);
  return timed.length ? { wallMs, gpuMs: profile.gpuMs } : { wallMs };
}
