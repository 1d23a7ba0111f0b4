/**
 * Timing: warm-up runs, then repeated timed runs, summarised by the median (the figure we report:
 * robust to the other processes sharing this machine) with min, max and spread beside it.
 */
export interface Stats {
  /** Milliseconds per unit of work (per op when a run records several ops). */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** (max - min) / median: how much to trust the median on a shared machine. */
  spread: number;
  samples: number;
}

export interface RepeatOptions {
  warmup: number;
  reps: number;
}

export function summarise(samplesMs: number[]): Stats {
  const s = [...samplesMs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return {
    medianMs: median,
    minMs: s[0],
    maxMs: s[s.length - 1],
    spread: median > 0 ? (s[s.length - 1] - s[0]) / median : 0,
    samples: s.length,
  };
}

/**
 * Times `run` (which does `unitsPerRun` units of work and returns once they are finished) and
 * reports milliseconds per unit.
 */
export async function repeat(run: () => Promise<void> | void, unitsPerRun: number, opts: RepeatOptions): Promise<Stats> {
  for (let i = 0; i < opts.warmup; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < opts.reps; i++) {
    const t0 = performance.now();
    await run();
    samples.push((performance.now() - t0) / unitsPerRun);
  }
  return summarise(samples);
}

/** GB/s (10^9 bytes per second) for `bytes` moved in `ms`. */
export const gbPerSecond = (bytes: number, ms: number): number => bytes / (ms * 1e6);
