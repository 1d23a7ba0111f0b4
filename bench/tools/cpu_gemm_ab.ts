/**
 * The cpu GEMM against numpy outside the runner, for a box too loaded for wall times to mean much:
 * blocks of `reps` ops of ours, then of numpy (a python child, cpu_gemm_ab.py, with the GEMM
 * suite's numpy: .cache/py first on its path, OPENBLAS_THREAD_TIMEOUT=4), each op synchronised on
 * its own, repeated `blocks` times. Beside the fastest and the median op's wall time it reports
 * GFLOP per CPU-second (process CPU time of all threads), which time spent waiting for a core does
 * not count. bench/results/README.md ("The roofline from probes") has what it measured.
 *
 *   node dist/bench/tools/cpu_gemm_ab.js M N K [--linear] [--reps 3] [--sets 2] [--blocks 3]
 */
import { execFileSync } from 'node:child_process';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as xpu from '../../src/index.js';
import { OPENBLAS_QUIET, projectNumpyPath } from '../lib/numpy_peer.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'tools', 'cpu_gemm_ab.py');

async function main(argv: string[]): Promise<void> {
  const [m, n, k] = argv.slice(0, 3).map(Number);
  if (![m, n, k].every((v) => v > 0))
    throw new Error('usage: node dist/bench/tools/cpu_gemm_ab.js M N K [--linear] [--reps 3] [--sets 2] [--blocks 3]');
  const opt = (name: string, d: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : d);
  const linear = argv.includes('--linear');
  const [reps, sets, blocks] = [opt('--reps', 3), opt('--sets', 2), opt('--blocks', 3)];
  const backend = xpu.accelerator.device('cpu').backend;
  const inputs = Array.from({ length: sets }, () => [
    xpu.randn([m, k], { device: 'cpu' }),
    xpu.randn(linear ? [n, k] : [k, n], { device: 'cpu' }),
  ]);
  for (const [a, b] of inputs) await Promise.all([a.data(), b.data()]);
  const local = projectNumpyPath();
  const env = {
    ...process.env,
    ...OPENBLAS_QUIET,
    ...(local ? { PYTHONPATH: [local, process.env.PYTHONPATH].filter(Boolean).join(delimiter) } : {}),
  };
  const ours: number[][] = [];
  const numpy: number[][] = [];
  for (let blk = 0; blk < blocks; blk++) {
    for (let r = 0; r <= reps; r++) {
      const [a, b] = inputs[r % sets];
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const y = linear ? xpu.linear(a, b) : xpu.matmul(a, b);
      await backend.synchronize();
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      y.dispose();
      if (r) ours.push([wall, (cpu.user + cpu.system) / 1e3]); // the first op of a block warms up
    }
    const args = [SCRIPT, m, n, k, linear ? 1 : 0, reps, sets].map(String);
    numpy.push(...(JSON.parse(execFileSync(process.env.XPU_BENCH_PYTHON || 'python3', args, { env, encoding: 'utf8' })) as number[][]));
  }
  const flops = 2 * m * n * k;
  const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
  const summary = (x: number[][]) => ({
    min: Math.min(...x.map((v) => v[0])),
    wall: median(x.map((v) => v[0])),
    cpu: median(x.map((v) => v[1])),
  });
  const o = summary(ours);
  const p = summary(numpy);
  const rate = (ms: number) => (flops / (ms * 1e6)).toFixed(1);
  process.stdout.write(
    `${m}x${n}x${k}${linear ? ' linear' : ''}: ours ${rate(o.min)} GFLOP/s fastest, ${rate(o.wall)} median, ${rate(o.cpu)} per CPU-second; ` +
      `numpy ${rate(p.min)}, ${rate(p.wall)}, ${rate(p.cpu)}; numpy time / ours: fastest ${(p.min / o.min).toFixed(2)}x, median ${(p.wall / o.wall).toFixed(2)}x, CPU ${(p.cpu / o.cpu).toFixed(2)}x\n`,
  );
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
