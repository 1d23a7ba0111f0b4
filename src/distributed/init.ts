import { XpuDistError, XpuValueError } from '../errors.js';
import { defaultTimeoutMs, readRankEnv } from './env.js';
import { Job } from './job.js';
import { installHooks, installInitHooks, removeHooks } from './lifecycle_hooks.js';
import { BACKENDS, engineFor, type Backend } from './native.js';
import { ProcessGroup } from './process_group.js';
import { rendezvous } from './rendezvous.js';
import { resolveStoreLimits, type StoreLimits } from './store_limits.js';
import { checkSecret, SECRET_ENV } from './store_secret.js';
import { currentWorld, groupFor, setWorld } from './state.js';

/** Process-group lifecycle: initProcessGroup, newGroup, destroyProcessGroup, getRank/getWorldSize. */

export interface InitOptions {
  /** 'mpi' (OpenMPI, started by mpirun or `xpu run`) or 'ccl' (oneCCL). Default: XPU_DIST_BACKEND, else 'mpi'. */
  backend?: Backend;
  /** Default: RANK, else OMPI_COMM_WORLD_RANK / PMI_RANK. */
  rank?: number;
  /** Default: WORLD_SIZE, else OMPI_COMM_WORLD_SIZE / PMI_SIZE. */
  worldSize?: number;
  /** Default: MASTER_ADDR. With masterPort, rank 0 serves the rendezvous store there. */
  masterAddr?: string;
  /** Default: MASTER_PORT. */
  masterPort?: number;
  /** Longest wait for the rendezvous and, by default, for each call. Default XPU_DIST_TIMEOUT_MS, else 300000. */
  timeoutMs?: number;
  /**
   * Exchange a small header (call, dtype, count, reduction, root) before each collective so that
   * ranks making different calls all fail with a clear error (default true). Off saves one tiny
   * all-reduce per call; a mismatch then corrupts data or hangs until the timeout.
   */
  checkArgs?: boolean;
  /**
   * The job's secret for rank 0's rendezvous store: a process must prove it knows it before the
   * store serves it, so no process outside the job can join it, spoof a rank or end it. The same
   * on every rank, at least 16 characters. Default: XPU_DIST_SECRET, which `xpu run` sets to a
   * fresh random value per job. Without one, a single-process group makes its own, and a larger
   * job's store runs unauthenticated (rank 0 prints a warning).
   */
  secret?: string;
  /** Limits of the rendezvous store (rank 0 applies them): see StoreLimits for each and its default. */
  storeLimits?: Partial<StoreLimits>;
}

const OP = 'initProcessGroup';
/** MPI can start once per process: after MPI_Finalize it cannot start again. */
let mpiFinalized = false;
let initializing = false;

export async function initProcessGroup(o: InitOptions = {}): Promise<ProcessGroup> {
  if (currentWorld() || initializing)
    throw new XpuDistError('the process group is already initialised', {
      op: OP,
      kind: 'state',
      expected: 'one initProcessGroup() per process (destroyProcessGroup() first)',
    });
  const backend = (o.backend ?? process.env.XPU_DIST_BACKEND ?? 'mpi') as Backend;
  if (!BACKENDS.includes(backend)) {
    throw new XpuDistError('unknown backend', {
      op: OP,
      arg: 'backend',
      kind: 'backend',
      expected: BACKENDS.map((b) => `'${b}'`).join(' | '),
      got: JSON.stringify(backend),
    });
  }
  const timeoutMs = o.timeoutMs ?? defaultTimeoutMs();
  if (!(timeoutMs > 0))
    throw new XpuValueError('timeout must be positive', { op: OP, arg: 'timeoutMs', expected: 'milliseconds > 0', got: String(timeoutMs) });
  const env = readRankEnv();
  // Checked on every rank, not only rank 0 (which serves the store): every rank fails alike.
  const storeLimits = resolveStoreLimits(OP, o.storeLimits);
  const secret =
    o.secret !== undefined
      ? checkSecret(OP, 'secret', o.secret)
      : env.secret !== undefined
        ? checkSecret(OP, SECRET_ENV, env.secret)
        : undefined;
  const engine = engineFor(backend, OP);
  if (backend === 'mpi' && mpiFinalized) {
    throw new XpuDistError('MPI was finalised by destroyProcessGroup() and cannot start again in this process', { op: OP, kind: 'state' });
  }
  initializing = true;
  let ok = false;
  installInitHooks(o.rank ?? env.rank);
  try {
    const r = await rendezvous({
      backend,
      engine,
      timeoutMs,
      rank: o.rank ?? env.rank,
      worldSize: o.worldSize ?? env.worldSize,
      masterAddr: o.masterAddr ?? env.masterAddr,
      masterPort: o.masterPort ?? env.masterPort,
      secret,
      storeLimits,
    });
    const job = new Job(backend, engine, r.init.rank, r.init.size, env.localRank ?? 0, timeoutMs, o.checkArgs ?? true, r.store, r.server);
    const world = new ProcessGroup(
      job,
      0,
      Array.from({ length: job.size }, (_, i) => i),
    );
    setWorld(world);
    installHooks(job, () => destroyProcessGroup());
    ok = true;
    return world;
  } finally {
    initializing = false;
    if (!ok) removeHooks();
  }
}

export function isInitialized(): boolean {
  return currentWorld() !== null;
}

/** This process's rank in `group` (default: the world). */
export function getRank(group?: ProcessGroup): number {
  return (group ?? groupOrThrow('getRank')).rank;
}

/** The number of ranks in `group` (default: the world). */
export function getWorldSize(group?: ProcessGroup): number {
  return (group ?? groupOrThrow('getWorldSize')).size;
}

function groupOrThrow(op: string): ProcessGroup {
  const w = currentWorld();
  if (!w) throw new XpuDistError('no process group: call initProcessGroup() first', { op, kind: 'not-initialized' });
  return w;
}

/**
 * A group of some of the world's ranks (global ranks; group ranks follow their sorted order, as in
 * torch). Every rank of the world must call it, members or not; a non-member gets a group it
 * cannot run collectives on (rank -1).
 */
export async function newGroup(ranks: number[], o: { timeoutMs?: number } = {}): Promise<ProcessGroup> {
  const op = 'newGroup';
  const world = groupFor(op, undefined);
  const sorted = [...new Set(ranks)].sort((a, b) => a - b);
  if (!ranks.length || sorted.length !== ranks.length || !sorted.every((r) => Number.isInteger(r) && r >= 0 && r < world.size)) {
    throw new XpuValueError('ranks must be distinct ranks of the world', {
      op,
      arg: 'ranks',
      expected: `distinct integers in [0, ${world.size})`,
      got: JSON.stringify(ranks),
    });
  }
  const me = world.job.rank;
  const member = sorted.includes(me);
  const r = await world.job.call(op, o.timeoutMs ?? world.job.timeoutMs, () =>
    world.job.engine.split(world.comm, member ? 0 : -1, member ? sorted.indexOf(me) : 0),
  );
  return new ProcessGroup(world.job, r.comm, sorted);
}

/**
 * Without a group: ends the job for this process (the engine is finalised, the store closed).
 * Every rank must call it; with MPI it waits for all of them. With a group: frees that subgroup.
 */
export async function destroyProcessGroup(group?: ProcessGroup): Promise<void> {
  const op = 'destroyProcessGroup';
  const world = currentWorld();
  if (!world) throw new XpuDistError('no process group to destroy', { op, kind: 'not-initialized' });
  const job = world.job;
  if (group && group !== world) {
    if (group.isDestroyed) return;
    group.markDestroyed();
    if (group.comm > 0) await job.call(op, job.timeoutMs, () => job.engine.freeComm(group.comm));
    return;
  }
  job.usable(op);
  try {
    // oneCCL has no finalise of its own that waits for the others (MPI_Finalize does): a checked
    // barrier first, so no rank tears its transport down while a peer still needs it.
    if (job.backend === 'ccl') await job.call(op, job.timeoutMs, () => job.engine.barrier(0, job.check));
    await job.call(op, job.timeoutMs, () => job.engine.finalize());
    if (job.backend === 'mpi') mpiFinalized = true;
    if (job.store) {
      // Leave the roster first (closing is no longer a lost rank), then post the key rank 0 waits
      // for: it hosts the store, so it stays up until every rank has said goodbye.
      await job.store.bye();
      if (job.server) {
        await job.store.set(`bye/${job.rank}`, '1');
        await job.store.wait(Array.from({ length: job.size }, (_, r) => `bye/${r}`));
      } else {
        // Rank 0 may close the store as soon as this key lands, before the reply comes back.
        await job.store.set(`bye/${job.rank}`, '1').catch((e: XpuDistError) => {
          if (e.kind !== 'peer-lost') throw e;
        });
      }
    }
  } finally {
    job.destroyed = true;
    world.markDestroyed();
    job.store?.close();
    job.server?.close();
    removeHooks();
    setWorld(null);
  }
}
