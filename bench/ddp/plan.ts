/** What the DDP benchmark's driver (bench/ddp.ts) asks each rank (bench/ddp/rank.ts) to run. */

export type DdpMode = 'local' | 'ddp';

export interface DdpPlan {
  device: 'cpu' | 'xpu';
  /** MLP: `depth` Linear(width, width) layers, ReLU between them, mean squared error. */
  width: number;
  depth: number;
  /** Rows per rank (weak scaling: the global batch is ranks x batch). */
  batch: number;
  warmup: number;
  steps: number;
  /** local: each rank trains alone (compute only, same contention); ddp: DistributedDataParallel. */
  mode: DdpMode;
  bucketCapMb: number;
}

export interface DdpRow {
  device: 'cpu' | 'xpu';
  ranks: number;
  mode: DdpMode;
  bucketCapMb: number;
  buckets: number;
  params: number;
  batch: number;
  /** Per step (forward, backward, averaging, SGD step, read of one parameter), slowest rank, ms. */
  stepMs: number[];
  /** Rank 0's forward + backward (JS thread; cpu bucket all-reduces are issued inside it), ms. */
  backwardMs: number[];
  /** Rank 0's wait in gradientsReady() after backward returned, ms. */
  waitMs: number[];
  /** Rank 0's process CPU time per step (all its threads: JS, compute, engine), ms. */
  cpuMs: number[];
  /** ddp only: a bare allReduce(avg) of all the gradients' bytes as one cpu tensor, ms per call. */
  bareAllReduceMs: number[];
}
