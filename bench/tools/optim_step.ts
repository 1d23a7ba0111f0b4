/**
 * Time of one AdamW step over one parameter group, on each device (and on cpu with the native
 * kernel and with the TypeScript twin: run twice, XPU_CPU_ELEMENTWISE=auto and =ts), against
 * torch 1.13 CPU's AdamW (single-tensor and foreach) on the same shapes when python3-torch is
 * installed. Median of `runs` steps after two warm-up steps; each step is synchronised (xpu: a
 * read of one parameter). A quick check, not a suite: wall time on a shared machine.
 *
 *   node dist/bench/tools/optim_step.js [--params 16] [--numel 65536] [--runs 20]
 */
import { execFileSync } from 'node:child_process';
import * as xpu from '../../src/index.js';

function flag(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeDevice(device: 'cpu' | 'xpu', count: number, numel: number, runs: number): Promise<number> {
  const params = Array.from({ length: count }, () => xpu.randn([numel], { device }));
  for (const p of params) p.grad = xpu.randn([numel], { device });
  const opt = new xpu.optim.AdamW(params, { lr: 1e-3 });
  const times: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    opt.step();
    await params[count - 1].data();
    if (i >= 2) times.push(performance.now() - t0);
  }
  opt.dispose();
  for (const p of params) p.dispose();
  return median(times);
}

function timeTorch(count: number, numel: number, runs: number): string {
  const script = `
import time, torch
torch.manual_seed(0)
out = []
for foreach in (False, True):
    ps = [torch.randn(${numel}, requires_grad=True) for _ in range(${count})]
    for p in ps: p.grad = torch.randn(${numel})
    opt = torch.optim.AdamW(ps, lr=1e-3, foreach=foreach)
    ts = []
    for i in range(${runs} + 2):
        t0 = time.perf_counter(); opt.step(); t = time.perf_counter() - t0
        if i >= 2: ts.append(t * 1e3)
    ts.sort(); out.append('%s %.3f ms' % ('foreach' if foreach else 'single', ts[len(ts) // 2]))
print(', '.join(out), '(threads %d)' % torch.get_num_threads())
`;
  try {
    return execFileSync('python3', ['-c', script], { encoding: 'utf8' }).trim();
  } catch {
    return 'torch unavailable';
  }
}

async function main(argv: string[]): Promise<void> {
  const count = flag(argv, '--params', 16);
  const numel = flag(argv, '--numel', 65536);
  const runs = flag(argv, '--runs', 20);
  await xpu.ready();
  const path = process.env.XPU_CPU_ELEMENTWISE ?? 'auto';
  console.log(`AdamW step, ${count} params x ${numel} float32 (${((count * numel * 4) / 2 ** 20).toFixed(1)} MiB of parameters)`);
  console.log(`cpu (XPU_CPU_ELEMENTWISE=${path}): ${(await timeDevice('cpu', count, numel, runs)).toFixed(3)} ms`);
  if (xpu.accelerator.isAvailable())
    console.log(
      `xpu (${xpu.accelerator.getDeviceInfo().description ?? 'GPU'}): ${(await timeDevice('xpu', count, numel, runs)).toFixed(3)} ms`,
    );
  console.log(`torch 1.13 cpu: ${timeTorch(count, numel, runs)}`);
}

await main(process.argv.slice(2));
