import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Row, SizeSpec } from './plan.js';

/**
 * The plain C++ baseline (native/bench/allreduce_baseline.cc): built by binding.gyp as
 * build/Release/allreduce_baseline when MPI was found, else compiled here with mpicxx into
 * build/bench/. Run with mpirun exactly like the TypeScript ranks.
 */

export function baselineBinary(root: string): string {
  const source = join(root, 'native', 'bench', 'allreduce_baseline.cc');
  const gyp = join(root, 'build', 'Release', 'allreduce_baseline');
  if (existsSync(gyp) && statSync(gyp).mtimeMs >= statSync(source).mtimeMs) return gyp;
  const own = join(root, 'build', 'bench', 'allreduce_baseline');
  if (existsSync(own) && statSync(own).mtimeMs >= statSync(source).mtimeMs) return own;
  mkdirSync(join(root, 'build', 'bench'), { recursive: true });
  execFileSync('mpicxx', ['-O3', '-std=c++17', '-DOMPI_SKIP_MPICXX=1', source, '-o', own], { stdio: 'inherit' });
  return own;
}

/** Environment for mpirun: as root, OpenMPI must be told twice that this is intended. */
export function mpiEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (process.getuid?.() === 0) Object.assign(env, { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' });
  return env;
}

/** Rows from `ROW {json}` lines. */
export function parseRows(text: string): Row[] {
  return text.split('\n').flatMap((l) => {
    const i = l.indexOf('ROW {');
    return i < 0 ? [] : [JSON.parse(l.slice(i + 4)) as Row];
  });
}

export function runBaseline(binary: string, n: number, sizes: SizeSpec[]): Promise<Row[]> {
  const args = ['-n', String(n), '--oversubscribe', binary, ...sizes.map((s) => `${s.bytes}:${s.warmup}:${s.iters}`)];
  return new Promise((resolve, reject) => {
    const child = spawn('mpirun', args, { env: mpiEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(parseRows(out)) : reject(new Error(`allreduce_baseline exited with code ${code}`))));
  });
}
