/**
 * The adapter's own cost of a small dispatch, with no xpu launcher in the way (issue 15: the
 * <= 15 us per 256-element eager op target). Records `--ops` dependent dispatches of a one-workgroup
 * 256-element add (a, c -> b, then b, c -> a, ...) straight on the GPUDevice xpu opened, in one
 * command encoder and one compute pass, submits once, and times:
 *
 *   record   the JavaScript calls (setPipeline / setBindGroup / dispatchWorkgroups), per dispatch
 *   run      submit to onSubmittedWorkDone, per dispatch: what the adapter (lavapipe: a CPU) takes
 *
 * and the same with one pass per dispatch (how a profiled launch records). Then the xpu eager chain
 * (`x = x.add(c)`) in the same rounds, so the three numbers are comparable: eager minus `record +
 * run` is what xpu's own host path adds. Speed evidence only, never a test.
 *
 *   node dist/bench/tools/dispatch_floor.js [--ops 1000] [--rounds 6] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as xpu from '../../src/index.js';
import { xpuEntries } from '../../src/device/registry.js';

const WGSL = `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> c: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&out)) { out[g.x] = a[g.x] + c[g.x]; }
}`;

interface Round {
  recordUs: number;
  runUs: number;
}

async function rawChain(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  groups: [GPUBindGroup, GPUBindGroup],
  ops: number,
  passPerDispatch: boolean,
): Promise<Round> {
  const t0 = performance.now();
  const encoder = device.createCommandEncoder();
  let pass = encoder.beginComputePass();
  for (let i = 0; i < ops; i++) {
    if (passPerDispatch && i > 0) {
      pass.end();
      pass = encoder.beginComputePass();
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, groups[i & 1]);
    pass.dispatchWorkgroups(4);
  }
  pass.end();
  const commands = encoder.finish();
  const t1 = performance.now();
  device.queue.submit([commands]);
  await device.queue.onSubmittedWorkDone();
  const t2 = performance.now();
  return { recordUs: ((t1 - t0) * 1000) / ops, runUs: ((t2 - t1) * 1000) / ops };
}

async function eagerChain(ops: number): Promise<number> {
  const c = xpu.ones([256], { device: 'xpu' });
  let x = xpu.randn([256], { device: 'xpu' });
  await x.data();
  const t0 = performance.now();
  for (let i = 0; i < ops; i++) {
    const y = x.add(c);
    x.dispose();
    x = y;
  }
  await x.data();
  const us = ((performance.now() - t0) * 1000) / ops;
  x.dispose();
  c.dispose();
  return us;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : d;
  };
  const ops = Number(opt('--ops', '1000'));
  const rounds = Number(opt('--rounds', '6'));
  await xpu.ready();
  const device = (xpuEntries()[0].backend as unknown as { device: GPUDevice }).device;
  const module = device.createShaderModule({ code: WGSL });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const [a, b, c] = [0, 1, 2].map(() => device.createBuffer({ size: 1024, usage }));
  const group = (out: GPUBuffer, inp: GPUBuffer) =>
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [out, inp, c].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  const groups: [GPUBindGroup, GPUBindGroup] = [group(b, a), group(a, b)];
  await rawChain(device, pipeline, groups, ops, false);
  await eagerChain(ops);
  const onePass: Round[] = [];
  const passEach: Round[] = [];
  const eager: number[] = [];
  for (let r = 0; r < rounds; r++) {
    onePass.push(await rawChain(device, pipeline, groups, ops, false));
    passEach.push(await rawChain(device, pipeline, groups, ops, true));
    eager.push(await eagerChain(ops));
  }
  const min = (v: number[]) => Math.min(...v);
  const med = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
  const summary = (v: Round[]) => ({
    recordUsMin: min(v.map((x) => x.recordUs)),
    runUsMin: min(v.map((x) => x.runUs)),
    recordUsMedian: med(v.map((x) => x.recordUs)),
    runUsMedian: med(v.map((x) => x.runUs)),
  });
  const result = {
    what: `${ops} dependent 256-element f32 adds; ${rounds} rounds, the three alternating; us per dispatch`,
    adapter: xpu.accelerator.getDeviceInfo ? xpu.accelerator.getDeviceInfo() : undefined,
    loadStart: loadavg()[0],
    rawOnePass: summary(onePass),
    rawPassPerDispatch: summary(passEach),
    eagerUsPerOp: { min: min(eager), median: med(eager) },
    loadEnd: loadavg()[0],
  };
  for (const x of [a, b, c]) x.destroy();
  console.log(JSON.stringify(result, null, 2));
  const out = opt('--json', '');
  if (out) writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

if (process.argv[1]?.endsWith('dispatch_floor.js')) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
