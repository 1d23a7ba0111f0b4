import { XpuDistError } from '../errors.js';

/**
 * Where a rank learns who it is when initProcessGroup() is not told: torchrun's variables (set by
 * `xpu run`), or mpirun's OMPI_COMM_WORLD_* (OpenMPI) and PMI_* (MPICH) ones.
 */

export interface RankEnv {
  rank?: number;
  worldSize?: number;
  localRank?: number;
  masterAddr?: string;
  masterPort?: number;
}

/** Default for every wait (rendezvous and each call) when neither the call nor XPU_DIST_TIMEOUT_MS says. */
export const DEFAULT_TIMEOUT_MS = 300_000;

function int(name: string, env: NodeJS.ProcessEnv): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new XpuDistError(`environment variable ${name} is not a non-negative integer`, { op: 'initProcessGroup', arg: name, kind: 'state', expected: 'an integer >= 0', got: JSON.stringify(v) });
  }
  return n;
}

export function readRankEnv(env: NodeJS.ProcessEnv = process.env): RankEnv {
  const first = (...names: string[]) => names.map((n) => int(n, env)).find((v) => v !== undefined);
  const port = int('MASTER_PORT', env);
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new XpuDistError('MASTER_PORT is not a TCP port', { op: 'initProcessGroup', arg: 'MASTER_PORT', kind: 'store', expected: '1..65535', got: String(port) });
  }
  return {
    rank: first('RANK', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'),
    worldSize: first('WORLD_SIZE', 'OMPI_COMM_WORLD_SIZE', 'PMI_SIZE'),
    localRank: first('LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK', 'MPI_LOCALRANKID'),
    masterAddr: env.MASTER_ADDR || undefined,
    masterPort: port,
  };
}

export function defaultTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.XPU_DIST_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_TIMEOUT_MS;
}
