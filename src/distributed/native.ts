import { loadNative } from '../backends/cpu/native.js';
import { XpuDistError } from '../errors.js';
import type { DType, HostArray } from '../tensor/dtype.js';

/**
 * The collective engines of the native addon (native/collectives/binding.cc): `addon.mpi` and
 * `addon.ccl` share this shape. Every call runs on the engine's worker thread and returns a
 * Promise; `seconds` is the time spent inside the engine. Buffers are host typed arrays; the
 * engine reads and writes them in place, so they must stay untouched until the Promise settles.
 */

export type Backend = 'mpi' | 'ccl';
export const BACKENDS: readonly Backend[] = ['mpi', 'ccl'];

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'prod';
export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'avg', 'max', 'min', 'prod'];

/** The dtypes the engines move (native/collectives/types.h mirrors these codes). */
export type DistDType = 'float32' | 'float16' | 'int32' | 'int8' | 'uint8';
export const DTYPE_CODE: Record<DistDType, number> = { float32: 0, float16: 1, int32: 2, int8: 3, uint8: 4 };
export const OP_CODE: Record<ReduceOp, number> = { sum: 0, avg: 1, max: 2, min: 3, prod: 4 };

export function isDistDType(d: DType): d is DistDType {
  return d in DTYPE_CODE;
}

export interface EngineResult {
  seconds: number;
}

export interface InitResult extends EngineResult {
  rank: number;
  size: number;
  threadLevel?: string;
  library?: string;
}

type Buf = HostArray;
type P<T = EngineResult> = Promise<T>;

export interface EngineApi {
  init(options?: object): P<InitResult>;
  /** send null: in place in recv. */
  allReduce(comm: number, send: Buf | null, recv: Buf, dtype: number, op: number, check: boolean): P;
  broadcast(comm: number, buf: Buf, dtype: number, root: number, check: boolean): P;
  allGather(comm: number, send: Buf, recv: Buf, dtype: number, check: boolean): P;
  /** mode 0: all-gather one count per rank; 1: all-to-all of one count per peer. */
  exchangeCounts(comm: number, mode: 0 | 1, counts: Int32Array, out: Int32Array, check: boolean, rowSize: number): P;
  // rowSize: elements per row along dim 0; ranks must agree on it (the check compares it).
  allGatherV(comm: number, send: Buf, recv: Buf, recvCounts: Int32Array, dtype: number, check: boolean, rowSize: number): P;
  reduceScatter(comm: number, send: Buf, recv: Buf, recvCounts: Int32Array, dtype: number, op: number, check: boolean, rowSize: number): P;
  allToAllV(
    comm: number,
    send: Buf,
    sendCounts: Int32Array,
    recv: Buf,
    recvCounts: Int32Array,
    dtype: number,
    check: boolean,
    rowSize: number,
  ): P;
  barrier(comm: number, check: boolean): P;
  send(comm: number, buf: Buf, dtype: number, peer: number, tag: number): P;
  recv(comm: number, buf: Buf, dtype: number, peer: number, tag: number): P<EngineResult & { source: number; count: number }>;
  /** Ranks with the same color >= 0 form a communicator ordered by key; -1 for color < 0. */
  split(comm: number, color: number, key: number): P<EngineResult & { comm: number }>;
  freeComm(comm: number): P;
  finalize(): P;
  /** For process exit: finalize and wait up to ms; false if the worker is stuck or gone. */
  finalizeSync(ms: number): boolean;
  /** Stop keeping the event loop alive for calls that will never return (after a timeout). */
  abandon(): void;
  pending(): number;
  /** oneCCL only: rank 0 creates the main KVS and returns its address (shared through the store). */
  createMainKvs?(): P<EngineResult & { address: Uint8Array }>;
}

/** The engine for `backend`, or an XpuDistError (kind 'backend') saying why it is not there. */
export function engineFor(backend: Backend, op: string): EngineApi {
  const { addon, error } = loadNative();
  const fail = (why: string): never => {
    throw new XpuDistError(`the '${backend}' backend is not available: ${why}`, { op, arg: 'backend', kind: 'backend' });
  };
  if (!addon) return fail(`the native addon is not loaded (${error})`);
  const engine = (addon as unknown as Record<string, EngineApi | undefined>)[backend];
  if (!engine) {
    return fail(
      backend === 'mpi'
        ? 'the native addon was built without MPI (install libopenmpi-dev and run `npm run build:native`)'
        : 'the native addon was built without oneCCL (set CCL_ROOT or XPU_CCL_ROOT to a oneCCL install and run `npm run build:native`)',
    );
  }
  return engine;
}

/** Engine errors carry a code (native/collectives/engine.h); this maps it to an XpuDistError kind. */
export function engineErrorKind(e: unknown): 'mismatch' | 'engine' | 'state' {
  const code = (e as { code?: string })?.code;
  return code === 'XPU_DIST_MISMATCH' ? 'mismatch' : code === 'XPU_DIST_STATE' ? 'state' : 'engine';
}
