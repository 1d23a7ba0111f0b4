/**
 * DDP scaling suite (issue 19): rows per second of a training step of an MLP on 1, 2 and
 * 4 ranks with a fixed batch per rank (weak scaling), through xpu.dist.DistributedDataParallel.
 *
 * For each rank count it runs the same step twice: `local` (every rank trains alone: the compute
 * and the contention of N processes, no averaging) and `ddp`. Reported per rank count:
 *   - step time (median over steps of the slowest rank's time),
 *   - scaling efficiency = step time of 1 rank training alone / step time of N ranks with DDP
 *     (1.0 = N times the rows per second of one process),
 *   - averaging overhead = ddp step / local step at the same N (what the all-reduces add beyond the
 *     contention of N processes on the machine's cores).
 * On a machine with fewer cores than ranks the efficiency is bounded by cores / ranks whatever the
 * communication does; the overhead column is the part DDP is responsible for. With OpenMPI, set
 * OMPI_MCA_mpi_yield_when_idle=1 when the ranks' threads outnumber the cores (bench/results/README.md).
 *
 * Standalone (not one of `xpu bench`'s suites; it exports run(opts) in their StandaloneSuite shape):
 *   node dist/bench/ddp.js [--backend mpi|ccl] [--device cpu|xpu|all] [--quick] [--ranks 1,2,4] [--json FILE]
 */
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runJob } from '../src/cli/run.js';
import type { DdpMode, DdpPlan, DdpRow } from './ddp/plan.js';

const RANK_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'ddp', 'rank.js');
const log = (line: string) => process.stdout.write(line + '\n');

export interface DdpOptions {
  device: 'xpu' | 'cpu' | 'all';
  quick: boolean;
  json?: string;
  backend?: 'mpi' | 'ccl';
  ranks?: number[];
}

async function runRanks(n: number, plan: DdpPlan, backend: 'mpi' | 'ccl'): Promise<DdpRow> {
  let row: DdpRow | null = null;
  let text = '';
  const code = await runJob({
    nproc: n,
    backend,
    script: RANK_SCRIPT,
    args: [JSON.stringify(plan)],
    timeout: 0,
    masterAddr: '127.0.0.1',
    env: plan.device === 'xpu' ? {} : { XPU_DEVICE: 'cpu' },
    out: (line) => {
      const i = line.indexOf('ROW {');
      if (i >= 0) row = JSON.parse(line.slice(i + 4)) as DdpRow;
      else text += line + '\n';
    },
  });
  if (code !== 0 || !row) throw new Error(`the benchmark ranks failed (exit ${code})\n${text.slice(-3000)}`);
  return row;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function run(opts: DdpOptions): Promise<void> {
  const xpu = await import('../src/index.js');
  const backend = opts.backend ?? (process.env.XPU_BENCH_BACKEND === 'ccl' ? 'ccl' : 'mpi');
  const native = xpu.nativeInfo();
  if (!native.build?.[backend].built) {
    log(`ddp: skipped, the native addon has no ${backend} engine`);
    return;
  }
  const devices: ('cpu' | 'xpu')[] = [];
  if (opts.device !== 'xpu') devices.push('cpu');
  if (opts.device !== 'cpu') {
    await xpu.ready();
    if (xpu.accelerator.isAvailable()) devices.push('xpu');
    else log(`ddp: no xpu device (${xpu.accelerator.unavailable()}); cpu only`);
  }
  const rankCounts = opts.ranks ?? [1, 2, 4];
  const rows: DdpRow[] = [];
  const load0 = loadavg()[0];
  for (const device of devices) {
    // cpu: 4 x 512^2 weights (4 MiB of float32 gradients: a 1 MiB first bucket, then the rest);
    // lavapipe runs every kernel on the CPU too, so xpu gets a smaller model.
    const shape = device === 'cpu' ? { width: 512, depth: 4, batch: 64 } : { width: 256, depth: 3, batch: 32 };
    const steps = opts.quick ? { warmup: 2, steps: 5 } : { warmup: 3, steps: 15 };
    for (const n of rankCounts) {
      for (const [mode, cap] of [
        ['local', 25],
        ['ddp', 25],
        ['ddp', 0.25],
      ] as [DdpMode, number][]) {
        const row = await runRanks(n, { device, ...shape, ...steps, mode, bucketCapMb: cap }, backend);
        rows.push(row);
        log(
          `ddp: ${device} ${n} rank(s) ${mode}${mode === 'ddp' ? ` (bucketCapMb ${cap}, ${row.buckets} buckets)` : ''}: ${median(row.stepMs).toFixed(2)} ms/step`,
        );
      }
    }
  }
  const summary = devices.flatMap((device) => {
    const of = (n: number, mode: DdpMode, cap = 25) =>
      rows.find((r) => r.device === device && r.ranks === n && r.mode === mode && r.bucketCapMb === cap);
    const alone = of(1, 'local');
    return rankCounts.map((n) => {
      const ddp = of(n, 'ddp')!;
      const local = of(n, 'local')!;
      const small = of(n, 'ddp', 0.25)!;
      const t = median(ddp.stepMs);
      return {
        device,
        ranks: n,
        stepMs: t,
        localStepMs: median(local.stepMs),
        smallBucketStepMs: median(small.stepMs),
        backwardMs: median(ddp.backwardMs),
        waitMs: median(ddp.waitMs),
        bareAllReduceMs: median(ddp.bareAllReduceMs),
        cpuMs: median(ddp.cpuMs),
        localCpuMs: median(local.cpuMs),
        rowsPerS: (n * ddp.batch * 1000) / t,
        efficiency: alone ? median(alone.stepMs) / t : NaN,
        overhead: t / median(local.stepMs),
      };
    });
  });
  log('');
  log(
    `| device | ranks | step ms (ddp) | of which fwd+bwd / wait after bwd | bare all-reduce ms | step ms (local) | ddp / local | CPU ms/step ddp / local | rows/s | scaling efficiency | step ms, 0.25 MiB buckets |`,
  );
  log(`|---|---|---|---|---|---|---|---|---|---|---|`);
  for (const s of summary) {
    log(
      `| ${s.device} | ${s.ranks} | ${s.stepMs.toFixed(2)} | ${s.backwardMs.toFixed(1)} / ${s.waitMs.toFixed(1)} | ${s.bareAllReduceMs.toFixed(1)} | ${s.localStepMs.toFixed(2)} | ${s.overhead.toFixed(2)}x | ${s.cpuMs.toFixed(1)} / ${s.localCpuMs.toFixed(1)} | ${s.rowsPerS.toFixed(0)} | ${s.efficiency.toFixed(2)} | ${s.smallBucketStepMs.toFixed(2)} |`,
    );
  }
  log(`# ${cpus().length} CPU cores (${cpus()[0]?.model ?? '?'}), load ${load0.toFixed(1)} at start; backend ${backend}`);
  if (opts.json) {
    const report = {
      suite: 'ddp',
      backend,
      date: new Date().toISOString(),
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      loadStart: load0,
      loadEnd: loadavg()[0],
      method:
        "weak scaling: fixed rows per rank; per step the slowest rank's time (forward, backward, averaging, SGD step, read of one parameter), median over steps; efficiency = 1-rank local step / N-rank ddp step",
      summary,
      rows,
    };
    writeFileSync(opts.json, JSON.stringify(report, null, 1) + '\n');
    log(`wrote ${opts.json}`);
  }
}

/** Run directly: node dist/bench/ddp.js [--backend mpi|ccl] [--device D] [--quick] [--ranks 1,2,4] [--json FILE]. */
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const a = process.argv.slice(2);
  const val = (flag: string) => (a.includes(flag) ? a[a.indexOf(flag) + 1] : undefined);
  await run({
    quick: a.includes('--quick'),
    device: (val('--device') as DdpOptions['device']) ?? 'cpu',
    json: val('--json'),
    backend: val('--backend') === 'ccl' ? 'ccl' : val('--backend') === undefined ? undefined : 'mpi',
    ranks: val('--ranks')?.split(',').map(Number),
  });
}
