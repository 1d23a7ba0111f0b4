/** The records a suite writes: one per measured row, all in one JSON file per run. */
import type { Check } from './check.js';
import type { Stats } from './timing.js';

/** Who ran the op: this runtime on a device, or a peer library. */
export type Impl = 'xpu' | 'cpu' | 'tfjs-webgpu';

export interface ThroughputRow {
  impl: Impl;
  op: string;
  elements: number;
  shape: number[];
  /** Bytes one op must move at least (reads + writes of f32 data). */
  bytes: number;
  /** Poll strategy active while measured (xpu and tfjs share Dawn's poller). */
  poll: string;
  stats?: Stats;
  gbps?: number;
  /** gbps / the device's measured copy bandwidth. */
  fractionOfCopy?: number;
  check?: Check;
  /** Why the row has no numbers (a limit, a missing op, a failure), or a caveat. */
  note?: string;
}

export interface OverheadRow {
  impl: Impl;
  /** What each of the chain's ops is. */
  chain: string;
  ops: number;
  elements: number;
  poll: string;
  stats?: Stats;
  /** Median microseconds per op, the one read-back at the end included. */
  usPerOp?: number;
  check?: Check;
  note?: string;
}

export interface PollRow {
  impl: Impl;
  workload: string;
  poll: string;
  stats?: Stats;
  /** Median of this strategy / median of 'spin' for the same workload (< 1: faster than spin). */
  ratioToSpin?: number;
  note?: string;
}
