import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { sep } from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { isLoopbackAddress } from '../distributed/env.js';
import { newSecret, SECRET_ENV } from '../distributed/store_secret.js';
import { paint, type Color } from '../color.js';
import { MpiTagParser } from './mpi_tags.js';

/**
 * `xpu run -n N [--backend mpi|ccl] script.js [args...]`: starts N ranks of a program, torchrun
 * style, prefixes each line they print with `[rank R]`, and exits non-zero when any rank fails.
 *
 * - mpi: the ranks are started by OpenMPI's mpirun (the engine needs its runtime), with
 *   --oversubscribe (more ranks than cores is the normal case on a small machine), the two
 *   allow-run-as-root variables when running as root, and --tag-output, whose tags are rewritten
 *   into the same `[rank R]` prefix. mpirun ends the job when a rank fails.
 * - ccl: the launcher spawns the ranks itself with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
 *   MASTER_ADDR and MASTER_PORT (a free port), and stops the others (SIGTERM, then SIGKILL) as
 *   soon as one fails.
 *
 * Both set MASTER_ADDR/MASTER_PORT and XPU_DIST_BACKEND, so initProcessGroup() needs no
 * arguments, and every rank checks in at rank 0's store (a rank that never arrives is named).
 * Both also set XPU_DIST_SECRET to a fresh random value, so that rank 0's store admits the job's
 * ranks and no other process (it is in the environment, which only this user can read, never on
 * a command line, which every user can).
 */

export interface RunOptions {
  nproc: number;
  backend: 'mpi' | 'ccl';
  script: string;
  args: string[];
  /** Seconds after which the whole job is stopped (0: never). */
  timeout: number;
  masterAddr: string;
  /** For tests: where lines go (default: this process's stdout and stderr). */
  out?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Extra environment for the ranks (the launcher's own environment is passed on too). */
  env?: Record<string, string>;
}

/** A port nothing listens on right now (the kernel picks it; the ranks bind it moments later). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host, port: 0 }, () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** node for scripts, the file itself for anything else (an executable). */
function command(script: string, args: string[]): [string, string[]] {
  return /\.(m|c)?js$/.test(script) ? [process.execPath, [script, ...args]] : [script, args];
}

function pipeLines(
  child: ChildProcess,
  emit: (line: string, stream: 'stdout' | 'stderr') => void,
  map: (line: string, stream: 'stdout' | 'stderr') => [string, 'stdout' | 'stderr'],
): Promise<void> {
  const done: Promise<void>[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const src = child[stream];
    if (!src) continue;
    const rl = createInterface({ input: src, crlfDelay: Infinity });
    rl.on('line', (line) => emit(...map(line, stream)));
    done.push(new Promise((r) => rl.once('close', () => r())));
  }
  return Promise.all(done).then(() => {});
}

const defaultOut = (line: string, stream: 'stdout' | 'stderr') =>
  (stream === 'stdout' ? process.stdout : process.stderr).write(line + '\n');

/** Rank colours for the prefixes, cycled; only on a terminal (src/color.ts decides). */
const RANK_COLORS: readonly Color[] = ['cyan', 'magenta', 'yellow', 'green', 'blue'];

/** `[rank R] line`, the prefix coloured when the stream it goes to is a terminal. */
function rankLine(rank: number, line: string, stream: 'stdout' | 'stderr'): string {
  return `${paint(`[rank ${rank}]`, RANK_COLORS[rank % RANK_COLORS.length], stream === 'stdout' ? process.stdout : process.stderr)} ${line}`;
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  return (
    code ?? (signal ? 128 + ({ SIGTERM: 15, SIGKILL: 9, SIGINT: 2, SIGSEGV: 11, SIGABRT: 6 } as Record<string, number>)[signal] || 1 : 1)
  );
}

async function runMpi(o: RunOptions, env: NodeJS.ProcessEnv, out: NonNullable<RunOptions['out']>): Promise<number> {
  const [cmd, args] = command(o.script, o.args);
  const forwarded = [
    'MASTER_ADDR',
    'MASTER_PORT',
    'XPU_DIST_BACKEND',
    SECRET_ENV,
    'OMPI_ALLOW_RUN_AS_ROOT',
    'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM',
    ...Object.keys(o.env ?? {}),
  ];
  const mpiArgs = [
    '-n',
    String(o.nproc),
    '--oversubscribe',
    '--tag-output',
    ...forwarded.flatMap((v) => (env[v] ? ['-x', v] : [])),
    cmd,
    ...args,
  ];
  const child = spawn('mpirun', mpiArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = Promise.all(
    (['stdout', 'stderr'] as const).map((stream) => {
      const parser = new MpiTagParser(stream, (rank, s, line) => out(rank === null ? line : rankLine(rank, line, s), s));
      child[stream].setEncoding('utf8');
      child[stream].on('data', (chunk: string) => parser.push(chunk));
      return new Promise<void>((r) => child[stream].once('end', () => (parser.end(), r())));
    }),
  );
  const stop =
    o.timeout > 0
      ? setTimeout(() => {
          out(`[xpu run] the job ran longer than --timeout ${o.timeout} s: stopping it`, 'stderr');
          child.kill('SIGTERM');
        }, o.timeout * 1000)
      : null;
  const code = await new Promise<number>((resolve) => {
    child.once('error', (e) => {
      out(`[xpu run] could not start mpirun (${e.message}); install openmpi-bin, or use --backend ccl`, 'stderr');
      resolve(127);
    });
    child.once('exit', (c, s) => resolve(exitCodeOf(c, s)));
  });
  if (stop) clearTimeout(stop);
  await lines;
  if (code !== 0) out(`[xpu run] mpirun exited with code ${code}: at least one rank failed, and mpirun stopped the others`, 'stderr');
  return code;
}

async function runOwn(o: RunOptions, env: NodeJS.ProcessEnv, out: NonNullable<RunOptions['out']>): Promise<number> {
  const [cmd, args] = command(o.script, o.args);
  const children: ChildProcess[] = [];
  let firstFailure: { rank: number; code: number } | null = null;
  const stopOthers = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    // Ranks stuck somewhere that ignores SIGTERM still go.
    setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, 5_000).unref();
  };
  const exits = Array.from({ length: o.nproc }, (_, rank) => {
    const child = spawn(cmd, args, {
      env: { ...env, RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(o.nproc), LOCAL_WORLD_SIZE: String(o.nproc) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const lines = pipeLines(child, out, (line, stream) => [rankLine(rank, line, stream), stream]);
    return new Promise<number>((resolve) => {
      child.once('error', (e) => {
        out(`[xpu run] rank ${rank} could not start: ${e.message}`, 'stderr');
        resolve(127);
      });
      child.once('exit', (c, s) => resolve(exitCodeOf(c, s)));
    }).then(async (code) => {
      await lines;
      if (code !== 0 && !firstFailure) {
        firstFailure = { rank, code };
        out(`[xpu run] rank ${rank} exited with code ${code}: stopping the other ranks`, 'stderr');
        stopOthers();
      }
      return code;
    });
  });
  const stop =
    o.timeout > 0
      ? setTimeout(() => {
          out(`[xpu run] the job ran longer than --timeout ${o.timeout} s: stopping it`, 'stderr');
          firstFailure ??= { rank: -1, code: 124 };
          stopOthers();
        }, o.timeout * 1000)
      : null;
  await Promise.all(exits);
  if (stop) clearTimeout(stop);
  const failure = firstFailure as { rank: number; code: number } | null;
  return failure ? failure.code || 1 : 0;
}

const unsetVar = (env: NodeJS.ProcessEnv, name: string): boolean => env[name] === undefined || env[name] === '';

/**
 * OpenMPI settings for a job whose ranks all run on this machine, each applied only when the user
 * set neither it nor its opposite.
 *
 * OpenMPI's TCP transport (btl tcp) opens a listening socket on every interface, 0.0.0.0 and [::],
 * in every rank, whatever btl_tcp_if_include says (that only picks the addresses it advertises and
 * connects to). Ranks on one machine talk through shared memory (vader), which OpenMPI prefers
 * over TCP for them anyway: so the TCP transport is left out (btl self,vader) and no rank listens
 * on the network at all. Should a user bring it back (OMPI_MCA_btl), btl_tcp_if_include=lo keeps
 * its traffic on the loopback interface, as oob_tcp_if_include=lo does for the runtime's own
 * messages between mpirun and the ranks. PMIx, which the ranks use to reach mpirun, already
 * listens on 127.0.0.1 only. mpirun's out-of-band listener still binds every interface (OpenMPI
 * 4.1 has no setting for its address); it is one process, the launcher's child, not every rank.
 */
export function localMpiEnv(env: NodeJS.ProcessEnv, nproc = 1, cores = availableParallelism()): Record<string, string> {
  const out: Record<string, string> = {};
  // OpenMPI's waits spin. With as many ranks as cores (each rank also runs its compute threads), a
  // spinning wait takes the core its own rank's backward or its peer's all-reduce needs: DDP on 2
  // ranks over 2 cores scaled far better yielding than spinning (bench/results/README.md, DDP).
  // So an oversubscribed local job yields while it waits.
  if (nproc >= cores && unsetVar(env, 'OMPI_MCA_mpi_yield_when_idle')) out.OMPI_MCA_mpi_yield_when_idle = '1';
  const unset = (...names: string[]) => names.every((n) => unsetVar(env, n));
  if (unset('OMPI_MCA_btl')) out.OMPI_MCA_btl = 'self,vader';
  if (unset('OMPI_MCA_btl_tcp_if_include', 'OMPI_MCA_btl_tcp_if_exclude')) out.OMPI_MCA_btl_tcp_if_include = 'lo';
  if (unset('OMPI_MCA_oob_tcp_if_include', 'OMPI_MCA_oob_tcp_if_exclude')) out.OMPI_MCA_oob_tcp_if_include = 'lo';
  return out;
}

export async function runJob(o: RunOptions): Promise<number> {
  const out = o.out ?? defaultOut;
  if (!Number.isInteger(o.nproc) || o.nproc < 1) {
    out(`[xpu run] -n must be a positive integer, got ${o.nproc}`, 'stderr');
    return 2;
  }
  // A missing script would fail in every rank, N stack traces deep: say it once, before any starts.
  // (A bare name without a path is a command looked up on PATH; spawn reports it if absent.)
  const isPath = /\.(m|c)?js$/.test(o.script) || o.script.includes('/') || o.script.includes(sep);
  if (isPath && !existsSync(o.script)) {
    out(`[xpu run] no such script: ${o.script} (from ${process.cwd()})`, 'stderr');
    return 2;
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...o.env,
    MASTER_ADDR: o.masterAddr,
    MASTER_PORT: String(await freePort(o.masterAddr)),
    XPU_DIST_BACKEND: o.backend,
    // A fresh secret per job (a stale one inherited from a parent job must not let its ranks in).
    [SECRET_ENV]: o.env?.[SECRET_ENV] ?? newSecret(),
  };
  // With rank 0's store on a loopback address, no rank can run anywhere else: keep MPI off the network.
  if (o.backend === 'mpi' && isLoopbackAddress(o.masterAddr)) Object.assign(env, localMpiEnv(env, o.nproc));
  // OpenMPI refuses to start as root unless told twice (it is a container here, usually).
  if (o.backend === 'mpi' && process.getuid?.() === 0)
    Object.assign(env, { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' });
  return o.backend === 'mpi' ? runMpi(o, env, out) : runOwn(o, env, out);
}
