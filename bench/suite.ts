/**
 * The contract every benchmark suite under bench/ follows. A suite module bench/<name>.ts exports
 * `suite: Suite`: it only declares what to measure (cases); the runner (bench/lib/runner.ts) does
 * the warm-up, the timed repeats, GPU time, the correctness check, the roofline fraction, the
 * progress bar, and the reports. The CLI (`xpu bench <suite>`) imports dist/bench/<name>.js.
 *
 * A suite whose work cannot run inside this process (collectives: its ranks are separate
 * processes) exports `run(opts)` instead (StandaloneSuite) and measures and reports on its own.
 */
import type { Check } from './lib/check.js';
import type { RepeatOptions } from './lib/timing.js';

export type DeviceName = 'xpu' | 'cpu';

/** What a suite is asked to plan for (the CLI's options, already checked). */
export interface SuiteContext {
  /** The selected devices that exist on this machine. */
  devices: DeviceName[];
  /** --dtype (canonical names, e.g. 'float32'); undefined: the suite's own default. */
  dtypes?: string[];
  /** --sizes (numbers, 'K'/'M' already expanded); undefined: the suite's own sizes. */
  sizes?: number[];
  quick: boolean;
  /** --peers: also run the peer libraries (tfjs, ...) side by side. */
  peers: boolean;
}

/**
 * Inputs made and ready: one implementation of one case, run again and again. Separating
 * preparation from running lets the runner time several implementations or settings in
 * alternation, so that load from other processes drifts over all of them alike.
 */
export interface Workload {
  /** Ops one run() performs; times are reported per op. */
  units: number;
  /** Records (on cpu: performs) `units` ops. Inputs should rotate between calls. */
  run(): void | Promise<void>;
  /**
   * Waits until the recorded work is done. Defaults to accelerator.synchronize() for this runtime
   * on xpu and to nothing on cpu; a peer library must give its own.
   */
  sync?(): Promise<void>;
  /**
   * A peer that times itself (a child process timing its own calls, so the pipe to it is not
   * counted): the time of the last run in ms, used instead of the wall time around run().
   */
  selfTimedMs?(): number | undefined;
  /** The output against a float64 reference. Runs once, before the timed runs. */
  check(): Promise<Check>;
  dispose(): void | Promise<void>;
}

/** Another library's implementation of the same case, timed beside ours. */
export interface PeerImpl {
  /** e.g. 'tfjs-webgpu'. */
  impl: string;
  setup(): Workload;
  /** Recorded but not run, and why (a limit of the peer). */
  skip?: string;
}

/** A setting timed round-robin on the same inputs (e.g. a poll strategy). */
export interface Variant {
  name: string;
  /** Applies the setting; returns what undoes it (called after every run). */
  apply(): () => void;
}

export interface BenchCase {
  kernel: string;
  device: DeviceName;
  dtype: string;
  /** Numeric size for charts and sorting (elements; N for a square GEMM). */
  size: number;
  /** How the size is shown and keyed (default: 1M, 4K, ...). */
  sizeLabel?: string;
  /** The operands' shapes, for the reader. */
  shape?: string;
  /** Floating-point operations of one op (one unit). */
  flops: number;
  /** Bytes one op must read and write at least. */
  bytes: number;
  /**
   * Of `bytes`, what one op reads and what it writes (give either; the other is the rest), so the
   * roofline holds it to the bandwidth that fits: a GEMV reads (read bandwidth), a copy reads and
   * writes (copy bandwidth). Neither: all of `bytes` at the copy bandwidth.
   */
  readBytes?: number;
  writeBytes?: number;
  /**
   * The FMA peak its flops are held to: by default f16 rows to the higher of the f16 and f32 peaks
   * and every other row to the f32 peak; null where the arithmetic is not FMAs on floats
   * (int8 dot products), so only the memory bound applies.
   */
  peak?: 'float32' | 'float16' | null;
  /** 'throughput' rows are charted against size; 'latency' rows (µs per op) are compared as bars. */
  metric?: 'throughput' | 'latency';
  /** This runtime's implementation (impl = the device name). */
  setup(): Workload;
  peers?: PeerImpl[];
  variants?: Variant[];
  /** Overrides the run's warm-up and repeat counts. */
  repeat?: RepeatOptions;
  /**
   * GPU time from timestamp queries around each timed run (default true). Off where the
   * profiler's own per-launch cost would distort what the row measures (per-op overhead).
   */
  gpuTime?: boolean;
  /** Recorded but not run, and why (e.g. above a size cap). */
  skip?: string;
  /** A caveat shown with the row. */
  note?: string;
}

export interface SuitePlan {
  cases: BenchCase[];
  /** Lines for the reader: what was skipped and why, how a number should be read. */
  notes: string[];
  /** Suite-specific settings recorded in the JSON. */
  settings?: Record<string, unknown>;
  /** The peer libraries that were loaded (version, adapter, flags). */
  peers?: Record<string, unknown>[];
  /** Frees what plan() made (e.g. a peer library's device). */
  dispose?(): Promise<void>;
}

export interface Suite {
  name: string;
  description: string;
  plan(ctx: SuiteContext): Promise<SuitePlan>;
}

/**
 * A suite that measures and reports on its own, outside the runner. `xpu bench` calls run() after
 * the runner's suites; its rows are not in the run's JSON or HTML (it writes its own to `json`).
 */
export interface StandaloneSuite {
  run(opts: { device: 'xpu' | 'cpu' | 'all'; quick: boolean; json?: string }): Promise<void>;
}
