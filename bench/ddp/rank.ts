/**
 * One rank of the DDP benchmark (bench/ddp.ts starts N of them with `xpu run`): trains an MLP for
 * warm-up + timed steps and times each step. A step ends with a read of one parameter, so the
 * device work of the step is done when its clock stops; each step's time is the slowest rank's
 * (an all-reduce of max, outside the timed region). Rank 0 prints one `ROW {json}` line.
 *
 * usage: node dist/bench/ddp/rank.js '<DdpPlan json>'
 */
import * as xpu from '../../src/index.js';
import { Module } from '../../src/nn/module.js';
import type { DdpPlan, DdpRow } from './plan.js';

await xpu.ready();
const d = xpu.dist;
type Tensor = xpu.Tensor;
const plan = JSON.parse(process.argv[2]) as DdpPlan;

class Mlp extends Module {
  readonly #layers: xpu.nn.Linear[];
  constructor(width: number, depth: number, device: 'cpu' | 'xpu') {
    super();
    this.#layers = this.registerModuleList(
      'layers',
      Array.from({ length: depth }, () => new xpu.nn.Linear(width, width, { device })),
    );
  }

  forward(x: Tensor): Tensor {
    this.#layers.forEach((l, i) => (x = l.forward(x, i + 1 < this.#layers.length ? { activation: 'relu' } : {})));
    return x;
  }
}

await d.initProcessGroup();
const rank = d.getRank();
const n = d.getWorldSize();
const device = plan.device;
xpu.manualSeed(1234 + rank);
const model = new Mlp(plan.width, plan.depth, device);
const params = [...model.namedParameters()].map(([, p]) => p as Tensor);
for (const p of params) p.requiresGrad = true;
const ddp = plan.mode === 'ddp' ? await d.DistributedDataParallel(model, { bucketCapMb: plan.bucketCapMb }) : null;
const opt = new xpu.optim.SGD(params, { lr: 1e-3 });
const x = xpu.randn([plan.batch, plan.width], { device });
const t = xpu.randn([plan.batch, plan.width], { device });
const last = params[params.length - 1];

const phases = { backwardMs: [] as number[], waitMs: [] as number[], cpuMs: [] as number[] };

async function step(): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const y = ddp ? ddp.forward(x) : model.forward(x);
  const diff = xpu.sub(y, t);
  xpu.mean(xpu.mul(diff, diff)).backward();
  const t1 = performance.now();
  if (ddp) await ddp.gradientsReady();
  const t2 = performance.now();
  opt.step();
  opt.zeroGrad();
  await last.data();
  phases.backwardMs.push(t1 - t0);
  phases.waitMs.push(t2 - t1);
  const c = process.cpuUsage(c0);
  phases.cpuMs.push((c.user + c.system) / 1000);
  return performance.now() - t0;
}

const times: number[] = [];
for (let s = 0; s < plan.warmup + plan.steps; s++) {
  await d.barrier();
  const ms = await step();
  const slowest = xpu.tensor([ms], { device: 'cpu' });
  await d.allReduce(slowest, { op: 'max' });
  if (s >= plan.warmup) times.push((await slowest.data())[0]);
}
// For scale: one bare all-reduce (avg) of as many bytes as the gradients, as DDP's buckets issue it.
const bare: number[] = [];
if (ddp) {
  const flat = xpu.zeros([params.reduce((a, p) => a + p.numel, 0)], { device: 'cpu' });
  for (let i = 0; i < 7; i++) {
    await d.barrier();
    const t0 = performance.now();
    await d.allReduce(flat, { op: 'avg' });
    bare.push(performance.now() - t0);
  }
}
if (rank === 0) {
  const row: DdpRow = {
    device,
    ranks: n,
    mode: plan.mode,
    bucketCapMb: plan.bucketCapMb,
    buckets: ddp ? ddp.buckets.length : 0,
    params: params.reduce((a, p) => a + p.numel, 0),
    batch: plan.batch,
    stepMs: times,
    backwardMs: phases.backwardMs.slice(plan.warmup),
    waitMs: phases.waitMs.slice(plan.warmup),
    cpuMs: phases.cpuMs.slice(plan.warmup),
    bareAllReduceMs: bare,
  };
  console.log(`ROW ${JSON.stringify(row)}`);
}
await d.destroyProcessGroup();
