/**
 * A prepared benchmark workload: inputs made, ready to be run again and again. Separating
 * preparation from running lets one workload be timed under several settings in alternation
 * (the poll strategies), so that load from other processes drifts over all settings alike.
 */
import type { Check } from './check.js';
import { summarise, type RepeatOptions, type Stats } from './timing.js';

export interface Workload {
  /** Ops one runOnce() performs; stats are per op. */
  units: number;
  /** Runs the workload and returns when the device has finished it. */
  runOnce(): Promise<void>;
  /** The result against a float64 reference. */
  check(): Promise<Check>;
  dispose(): Promise<void>;
}

export async function timeWorkload(w: Workload, opts: RepeatOptions): Promise<Stats> {
  for (let i = 0; i < opts.warmup; i++) await w.runOnce();
  const samples: number[] = [];
  for (let i = 0; i < opts.reps; i++) samples.push(await timeOnce(w));
  return summarise(samples);
}

/** Milliseconds per unit for one run. */
export async function timeOnce(w: Workload): Promise<number> {
  const t0 = performance.now();
  await w.runOnce();
  return (performance.now() - t0) / w.units;
}

/** A workload in a round-robin, with what to set before each of its runs. */
export interface Contender {
  workload: Workload;
  before?(): void;
}

/**
 * Times several contenders interleaved: warm-up for each, then rounds of one run per contender.
 * Load from other processes on this shared machine then drifts over all of them alike, so their
 * ratios hold even when the absolute times do not. Returns the stats in the order given.
 */
export async function timeRoundRobin(contenders: readonly Contender[], opts: RepeatOptions): Promise<Stats[]> {
  const samples = contenders.map(() => [] as number[]);
  for (const c of contenders) {
    c.before?.();
    for (let i = 0; i < opts.warmup; i++) await c.workload.runOnce();
  }
  for (let r = 0; r < opts.reps; r++) {
    for (let k = 0; k < contenders.length; k++) {
      contenders[k].before?.();
      samples[k].push(await timeOnce(contenders[k].workload));
    }
  }
  return samples.map(summarise);
}
