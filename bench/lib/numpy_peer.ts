/**
 * The numpy peer: a python child process (bench/lib/numpy_peer.py) that runs np.matmul on the
 * same shapes and times each call itself (perf_counter around np.matmul), so the pipe to it adds
 * nothing to its figure. Its OpenBLAS picks its kernels for this CPU: the variables that would
 * force others (OPENBLAS_CORETYPE=Haswell on this box halves it) are removed from the child's
 * environment and recorded; the kernels it really runs (OpenBLAS's core name) are in the record.
 *
 * OpenBLAS's worker threads spin for 2^28 cycles (~0.1 s) after each call before they sleep. The
 * runner interleaves implementations, so that spinning took both cores from whichever ran next
 * (ours, onnxruntime): at 512^3 ours measured 0.48x numpy with it and 0.93x without, numpy's own
 * figure unchanged (176 GFLOP/s both ways). OPENBLAS_THREAD_TIMEOUT=4 (2^4 cycles) makes them
 * sleep at once, as ORT's pool is told not to spin (ort_peer.ts); the runner also leaves a short
 * pause before each timed cpu run for any pool's spinning to end (ours spins ~150 us, native.ts).
 * A value the user set is kept. What was set is recorded beside what was removed.
 *
 * The python is XPU_BENCH_PYTHON, else `python3` on PATH. A numpy pip installed into the project's
 * ignored .cache/py (scripts/setup.sh does it where python3 has no numpy or only Debian's, whose
 * OpenBLAS is older: the peer should be the numpy people install today) goes first on its path.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { failedCheck, type Check } from './check.js';
import type { Workload } from '../suite.js';
import { ompSpinDefaulted } from '../../src/backends/cpu/native.js';

/** Variables that override OpenBLAS's own detection of the CPU: never passed to the peer. */
export const OPENBLAS_OVERRIDES = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'GOTOBLAS_CORETYPE'];

/** Set for the peer unless the user set them: its threads must not spin into the next run. */
export const OPENBLAS_QUIET: Record<string, string> = { OPENBLAS_THREAD_TIMEOUT: '4' };

/** The script sits beside this file in the source tree (dist/bench/lib -> bench/lib). */
function scriptPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromDist = join(here, '..', '..', '..', 'bench', 'lib', 'numpy_peer.py');
  return here.includes(`${join('dist', 'bench')}`) ? fromDist : join(here, 'numpy_peer.py');
}

/** The project's own pip numpy (.cache/py, ignored by git), when there is one. */
export function projectNumpyPath(): string | null {
  const dir = join(dirname(scriptPath()), '..', '..', '.cache', 'py');
  return existsSync(join(dir, 'numpy', '__init__.py')) ? dir : null;
}

type Reply = Record<string, unknown> & { error?: string };

export class NumpyPeer {
  private pending: ((r: Reply) => void)[] = [];
  private nextId = 1;
  private dead: string | null = null;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly removedEnv: Record<string, string>,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const resolve = this.pending.shift();
      if (!resolve) return;
      if (!this.pending.length) this.hold(false);
      try {
        resolve(JSON.parse(line) as Reply);
      } catch {
        resolve({ error: `bad reply from numpy peer: ${line.slice(0, 200)}` });
      }
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('exit', (code) => {
      this.dead = `numpy peer exited (code ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
      for (const p of this.pending.splice(0)) p({ error: this.dead });
    });
    child.on('error', (e) => {
      this.dead = `numpy peer failed to start: ${e.message}`;
      for (const p of this.pending.splice(0)) p({ error: this.dead });
    });
    // A child that exits before reading its request (a python that is not python, a crash)
    // closes the pipe under our write: EPIPE on stdin is that exit, reported above, never an
    // uncaught error that ends the benchmark.
    child.stdin.on('error', (e) => {
      this.dead ??= `numpy peer closed its input: ${e.message}`;
      for (const p of this.pending.splice(0)) p({ error: this.dead });
    });
  }

  /** Starts the child and reads its description; a string says why it cannot run. */
  static async start(): Promise<{ peer: NumpyPeer; info: Record<string, unknown> } | string> {
    const python = process.env.XPU_BENCH_PYTHON || 'python3';
    const env: NodeJS.ProcessEnv = { ...process.env };
    const removed: Record<string, string> = {};
    // The runtime's own OpenMP default (src/backends/cpu/native.ts) is not the peer's business.
    if (ompSpinDefaulted) delete env.GOMP_SPINCOUNT;
    for (const k of OPENBLAS_OVERRIDES) {
      if (env[k] !== undefined) {
        removed[k] = env[k]!;
        delete env[k];
      }
    }
    const set: Record<string, string> = {};
    const local = projectNumpyPath();
    if (local) env.PYTHONPATH = set.PYTHONPATH = env.PYTHONPATH ? `${local}${delimiter}${env.PYTHONPATH}` : local;
    for (const [k, v] of Object.entries(OPENBLAS_QUIET)) {
      if (env[k] === undefined && env[k.replace('OPENBLAS_', 'GOTO_')] === undefined) env[k] = set[k] = v;
    }
    const started = await NumpyPeer.spawnScript(python, scriptPath(), env, removed);
    if (typeof started === 'string')
      return /No module named 'numpy'/.test(started)
        ? `numpy is not installed for ${python} (npm run setup puts pip's numpy into .cache/py)`
        : started;
    return { peer: started.peer, info: { ...started.info, removedEnv: removed, setEnv: set } };
  }

  /**
   * Starts another python peer that speaks the same line protocol (one JSON request per line, one
   * reply per line, {"op": "info"} first): the torch peer of bench/train.ts. A string says why not.
   */
  static async spawnScript(
    python: string,
    script: string,
    env: NodeJS.ProcessEnv,
    removed: Record<string, string> = {},
  ): Promise<{ peer: NumpyPeer; info: Record<string, unknown> } | string> {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(python, [script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      return `cannot start ${python}: ${(e as Error).message}`;
    }
    const peer = new NumpyPeer(child, removed);
    peer.hold(false);
    const info = await peer.request({ op: 'info' });
    if (info.error) {
      peer.close();
      return info.error;
    }
    return { peer, info };
  }

  request(req: Record<string, unknown>): Promise<Reply> {
    if (this.dead) return Promise.resolve({ error: this.dead });
    return new Promise((resolve) => {
      if (!this.pending.length) this.hold(true);
      this.pending.push(resolve);
      this.child.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }

  /** The child keeps the event loop alive only while a request waits for its reply. */
  hold(on: boolean): void {
    const streams = [this.child, this.child.stdout, this.child.stderr, this.child.stdin] as unknown as {
      ref?: () => void;
      unref?: () => void;
    }[];
    for (const s of streams) (on ? s.ref : s.unref)?.call(s);
  }

  newId(): number {
    return this.nextId++;
  }

  close(): void {
    if (!this.dead) this.child.stdin.end();
  }
}

export interface NumpyGemmShape {
  m: number;
  n: number;
  k: number;
  /** B stored [n, k] and used transposed (a Linear weight). */
  transB: boolean;
}

function must(r: Reply): Reply {
  if (r.error) throw new Error(r.error);
  return r;
}

/** np.matmul on float32 inputs of the case's shapes, rotating among `sets` input pairs; `units` calls a run. */
export function numpyGemmWorkload(peer: NumpyPeer, s: NumpyGemmShape, sets: number, bound: number, units = 1): Workload {
  const id = peer.newId();
  const ready = peer.request({ op: 'setup', id, m: s.m, n: s.n, k: s.k, trans_b: s.transB, dtype: 'float32', sets }).then(must);
  let lastMs: number | undefined;
  return {
    units,
    run: async () => {
      await ready;
      lastMs = must(await peer.request({ op: 'run', id, units })).ms as number;
    },
    selfTimedMs: () => lastMs,
    check: async (): Promise<Check> => {
      try {
        await ready;
        const r = must(await peer.request({ op: 'check', id, rows: 2 }));
        const relErr = r.relErr as number;
        return { elements: r.elements as number, relErr, bound, ok: relErr <= bound };
      } catch (e) {
        return failedCheck(e, bound);
      }
    },
    dispose: async () => {
      await peer.request({ op: 'free', id });
    },
  };
}
