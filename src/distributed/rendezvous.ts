import { XpuDistError } from '../errors.js';
import { setCclEnvDefaults } from './ccl_env.js';
import { withDeadline } from './deadline.js';
import { engineErrorKind, type EngineApi, type InitResult } from './native.js';
import { FAILURE_KINDS, type FailureKind } from './store_protocol.js';
import type { StoreLimits } from './store_limits.js';
import { newSecret, SECRET_ENV } from './store_secret.js';
import { StoreServer } from './store_server.js';
import { TcpStore } from './store.js';

/**
 * How the ranks of a job find each other before the engine starts.
 *
 * With MASTER_ADDR and MASTER_PORT (always for oneCCL; for MPI when `xpu run` set them), rank 0
 * serves the store and every rank checks in: so a rank that never arrives is named after
 * timeoutMs instead of leaving the others blocked inside the engine's own start-up. The store
 * connection stays open as the job's health channel (store_server.ts).
 *
 * Then the engine starts: MPI_Init (mpirun already told each process who it is), or for oneCCL
 * what PyTorch's XCCL backend does with its TCPStore: rank 0 creates the main KVS and publishes
 * its address, the others read it, and all create the communicator from it.
 *
 * The store admits only processes that know the job's secret (store_protocol.ts). Without one:
 * a single-process group makes its own (no other process ever needs to join, so none can), and a
 * larger job runs its store unauthenticated, as before secrets existed, for launchers that do not
 * give one yet; rank 0 then warns that any process that can reach MASTER_ADDR:MASTER_PORT can
 * join or disturb the job.
 */

export interface Rendezvous {
  store: TcpStore | null;
  server: StoreServer | null;
  init: InitResult;
}

export interface RendezvousOptions {
  backend: 'mpi' | 'ccl';
  engine: EngineApi;
  rank?: number;
  worldSize?: number;
  masterAddr?: string;
  masterPort?: number;
  timeoutMs: number;
  /** The job's store secret (checked by the caller). */
  secret?: string;
  storeLimits?: Partial<StoreLimits>;
}

const OP = 'initProcessGroup';

/** Milliseconds left before `deadline`, at least 1. */
const left = (deadline: number) => Math.max(1, deadline - Date.now());

async function checkIn(store: TcpStore, rank: number, size: number, deadline: number): Promise<void> {
  await store.hello(rank);
  await store.set(`arrived/${rank}`, '1');
  const keys = Array.from({ length: size }, (_, r) => `arrived/${r}`);
  try {
    await store.wait(keys, left(deadline));
  } catch (e) {
    // Another rank's clock ran out first and it told us why (store.failure): that is the answer.
    if (e === store.failure || (e as XpuDistError).kind !== 'timeout') throw e;
    const missing: number[] = [];
    for (let r = 0; r < size; r++) if (!(await store.check([`arrived/${r}`]))) missing.push(r);
    // Each rank started its clock when it started, so one of them gives up first; rendezvous()
    // tells the others this verdict before the rank exits (see announce below).
    throw new XpuDistError(
      `rank${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${size} did not arrive within the timeout (did ${missing.length > 1 ? 'they' : 'it'} start, and call initProcessGroup()?)`,
      { op: OP, kind: 'timeout', expected: `${size} ranks`, got: `${size - missing.length} arrived` },
    );
  }
}

/**
 * Tells the other ranks why this one gives up, through the store: had rank 0 simply exited, the
 * others would see only its store close ('peer-lost', without the cause, e.g. the missing ranks);
 * had another rank, rank 0 would not know. Not for a failure another rank reported (store.failure).
 */
function announce(store: TcpStore, server: StoreServer | null, rank: number | undefined, e: unknown): void {
  if (!(e instanceof XpuDistError) || e === store.failure || rank === undefined) return;
  const kind = (FAILURE_KINDS as readonly string[]).includes(e.kind) ? (e.kind as FailureKind) : 'engine';
  if (server) server.announceFailure(rank, kind, e.op, e.message);
  else store.reportFailure(kind, e.op, e.message);
}

/** An engine call of the rendezvous: its error typed (the engine rejects with a coded Error), under the deadline. */
function engineStep<T>(what: string, p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  const typed = p.catch((e: unknown) => {
    throw e instanceof XpuDistError
      ? e
      : new XpuDistError(`${what} failed: ${(e as Error)?.message ?? String(e)}`, { op: OP, kind: engineErrorKind(e) });
  });
  return withDeadline(typed, ms, onTimeout);
}

export async function rendezvous(o: RendezvousOptions): Promise<Rendezvous> {
  const deadline = Date.now() + o.timeoutMs;
  const useStore = o.masterAddr !== undefined && o.masterPort !== undefined;
  if (o.backend === 'ccl' && !useStore) {
    throw new XpuDistError('oneCCL needs MASTER_ADDR and MASTER_PORT to find rank 0 (start the ranks with `xpu run --backend ccl`)', {
      op: OP,
      arg: 'masterAddr',
      kind: 'store',
    });
  }
  if (useStore && (o.rank === undefined || o.worldSize === undefined)) {
    throw new XpuDistError('rank and worldSize are needed with MASTER_ADDR/MASTER_PORT', {
      op: OP,
      arg: 'rank',
      kind: 'state',
      expected: 'RANK and WORLD_SIZE (or the options)',
    });
  }
  if (o.rank !== undefined && o.worldSize !== undefined && o.rank >= o.worldSize) {
    throw new XpuDistError('rank is not below worldSize', {
      op: OP,
      arg: 'rank',
      kind: 'state',
      expected: `< ${o.worldSize}`,
      got: String(o.rank),
    });
  }
  let store: TcpStore | null = null;
  let server: StoreServer | null = null;
  try {
    if (useStore) {
      const secret = o.secret ?? (o.worldSize === 1 ? newSecret() : undefined);
      if (o.rank === 0) {
        server = await StoreServer.listen(o.masterAddr!, o.masterPort!, { secret, limits: o.storeLimits, worldSize: o.worldSize });
        if (secret === undefined) {
          process.stderr.write(
            `[xpu.dist] warning: the rendezvous store on ${o.masterAddr}:${o.masterPort} runs without authentication, so any process that can connect there can join or disturb this job; set ${SECRET_ENV} to the same random value on every rank (xpu run does), or pass initProcessGroup({ secret })\n`,
          );
        }
      }
      store = await TcpStore.connect({ host: o.masterAddr!, port: o.masterPort!, timeoutMs: o.timeoutMs, deadline, op: OP, secret });
      await checkIn(store, o.rank!, o.worldSize!, deadline);
    }
    const timedOut = (what: string) => () => {
      o.engine.abandon();
      return new XpuDistError(
        `${what} did not complete within ${o.timeoutMs} ms (a rank did not start, or did not call initProcessGroup())`,
        { op: OP, kind: 'timeout' },
      );
    };
    let init: InitResult;
    if (o.backend === 'mpi') {
      init = await engineStep('MPI_Init', o.engine.init(), left(deadline), timedOut('MPI_Init'));
    } else {
      const localSize = Number(process.env.LOCAL_WORLD_SIZE ?? o.worldSize);
      setCclEnvDefaults(Number(process.env.LOCAL_RANK ?? o.rank), localSize, o.masterAddr);
      let address: Uint8Array;
      if (o.rank === 0) {
        address = (
          await engineStep('oneCCL create_main_kvs', o.engine.createMainKvs!(), left(deadline), timedOut('oneCCL create_main_kvs'))
        ).address;
        await store!.set('ccl/kvs', address);
      } else {
        address = await store!.get('ccl/kvs', left(deadline));
      }
      init = await engineStep(
        'oneCCL create_communicator',
        o.engine.init({ rank: o.rank, size: o.worldSize, address }),
        left(deadline),
        timedOut('oneCCL create_communicator'),
      );
    }
    if ((o.rank !== undefined && init.rank !== o.rank) || (o.worldSize !== undefined && init.size !== o.worldSize)) {
      throw new XpuDistError(
        'the engine and the environment disagree on who this process is (were the ranks started by both mpirun and RANK/WORLD_SIZE?)',
        {
          op: OP,
          arg: 'rank',
          kind: 'state',
          expected: `rank ${o.rank} of ${o.worldSize}`,
          got: `rank ${init.rank} of ${init.size} from ${o.backend}`,
        },
      );
    }
    return { store, server, init };
  } catch (e) {
    if (store) announce(store, server, o.rank, e);
    store?.close();
    server?.close();
    throw e;
  }
}
