/**
 * The results file of one `xpu bench` run: every row of every suite, the roofline, and what the
 * run was measured on. bench/schema/results.schema.json is the same shape as a JSON Schema (the
 * tests validate written files against it): change both together, and bump SCHEMA_VERSION when
 * a reader of an older file would misread a newer one.
 */
import type { DeviceName } from '../suite.js';
import type { Check } from './check.js';
import type { PairedRatio } from './paired.js';
import type { RunEnvironment } from './env.js';
import type { Roofline, RooflineFraction } from './roofline.js';

export type { RooflineFraction };
import type { Stats } from './timing.js';

/** 2: the roofline from probes (FMA peak, read and copy bandwidth), rows' traffic and flag. */
export const SCHEMA_VERSION = 2;

/**
 * ok: measured, check passed; wrong: measured, check failed; skipped: not run (a limit, a cap);
 * failed: threw while it was prepared or run.
 */
export type RowStatus = 'ok' | 'wrong' | 'skipped' | 'failed';

export interface Row {
  /** suite/kernel[variant]/impl/device/dtype/size: what `bench compare` matches rows by. */
  key: string;
  suite: string;
  kernel: string;
  variant?: string;
  /** Who ran it: this runtime ('xpu' or 'cpu', the device name) or a peer library. */
  impl: string;
  device: DeviceName;
  dtype: string;
  size: number;
  sizeLabel: string;
  shape?: string;
  metric: 'throughput' | 'latency';
  flops: number;
  bytes: number;
  /** Ops per timed run. */
  units?: number;
  status: RowStatus;
  /** Wall time per op (ms): run + sync, as a user waits for it. */
  wall?: Stats;
  /** Sum of the kernels' GPU times per op (ms), from timestamp queries. */
  gpu?: Stats;
  /** From the wall-time median. */
  gflops?: number;
  gbps?: number;
  roofline?: RooflineFraction;
  /**
   * Median time / the median of the row this case is compared with (ours, the first variant);
   * `paired`: the same from round-by-round ratios, with its confidence interval (paired.ts).
   */
  relative?: { to: string; ratio: number; paired?: PairedRatio };
  check?: Check;
  note?: string;
}

export interface SuiteRecord {
  name: string;
  /**
   * ran: its rows are in this file; not-available: planned, not written yet; failed: see error;
   * standalone: a StandaloneSuite (bench/suite.ts), which measured and reported on its own.
   */
  status: 'ran' | 'not-available' | 'failed' | 'standalone';
  description?: string;
  notes: string[];
  settings?: Record<string, unknown>;
  peers?: Record<string, unknown>[];
  error?: string;
}

export interface RunSettings {
  suites: string[];
  device: 'xpu' | 'cpu' | 'all';
  devices: DeviceName[];
  dtypes: string[] | null;
  sizes: number[] | null;
  quick: boolean;
  peers: boolean;
  timing: string;
}

export interface BenchResults {
  schemaVersion: number;
  createdBy: string;
  environment: RunEnvironment;
  settings: RunSettings;
  roofline: Roofline;
  suites: SuiteRecord[];
  rows: Row[];
}

export function rowKey(r: Pick<Row, 'suite' | 'kernel' | 'variant' | 'impl' | 'device' | 'dtype' | 'sizeLabel'>): string {
  const kernel = r.variant ? `${r.kernel}[${r.variant}]` : r.kernel;
  return [r.suite, kernel, r.impl, r.device, r.dtype, r.sizeLabel].join('/');
}

/** The series a row belongs to in a chart: 'xpu', 'cpu', 'tfjs-webgpu (xpu)'. */
export function seriesName(r: Pick<Row, 'impl' | 'device'>): string {
  return r.impl === r.device ? r.impl : `${r.impl} (${r.device})`;
}

/** True for rows of this runtime (not a peer library). */
export const isOurs = (r: Pick<Row, 'impl' | 'device'>): boolean => r.impl === r.device;
