import { isIP } from 'node:net';
import { XpuDistError } from '../errors.js';
import { SECRET_ENV } from './store_secret.js';

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
  /** The rendezvous store's secret (store_secret.ts), from XPU_DIST_SECRET. */
  secret?: string;
}

/** Default for every wait (rendezvous and each call) when neither the call nor XPU_DIST_TIMEOUT_MS says. */
export const DEFAULT_TIMEOUT_MS = 300_000;

function int(name: string, env: NodeJS.ProcessEnv): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new XpuDistError(`environment variable ${name} is not a non-negative integer`, {
      op: 'initProcessGroup',
      arg: name,
      kind: 'state',
      expected: 'an integer >= 0',
      got: JSON.stringify(v),
    });
  }
  return n;
}

export function readRankEnv(env: NodeJS.ProcessEnv = process.env): RankEnv {
  const first = (...names: string[]) => names.map((n) => int(n, env)).find((v) => v !== undefined);
  const port = int('MASTER_PORT', env);
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new XpuDistError('MASTER_PORT is not a TCP port', {
      op: 'initProcessGroup',
      arg: 'MASTER_PORT',
      kind: 'store',
      expected: '1..65535',
      got: String(port),
    });
  }
  return {
    rank: first('RANK', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'),
    worldSize: first('WORLD_SIZE', 'OMPI_COMM_WORLD_SIZE', 'PMI_SIZE'),
    localRank: first('LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK', 'MPI_LOCALRANKID'),
    masterAddr: env.MASTER_ADDR || undefined,
    masterPort: port,
    secret: env[SECRET_ENV] || undefined,
  };
}

export function defaultTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.XPU_DIST_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_TIMEOUT_MS;
}

/**
 * Whether `addr` can only mean this machine (localhost, 127.0.0.0/8, ::1). A job whose rank 0
 * serves its store on such an address runs all its ranks here: no other host could reach it.
 */
export function isLoopbackAddress(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (a === 'localhost') return true;
  if (isIP(a) === 4) return a.startsWith('127.');
  if (isIP(a) === 6) return a === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(a) || /^::ffff:127\./.test(a);
  return false;
}
