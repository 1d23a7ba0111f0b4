/**
 * The compute side of the roofline: the device's peak FMA rate, from a kernel that does nothing
 * else (many independent a = a * b + c chains per invocation or thread, so no FMA waits on the one
 * before it). It replaces "the best GFLOP/s our matmul reached", which let a faster kernel (an f16
 * matmul, a later GEMM) report 160 % of a bound that was never the hardware's.
 *
 * xpu: a WGSL kernel on the runtime's own GPUDevice, 8 vec4 chains per invocation, enough
 * workgroups to fill a large GPU, its loop count raised until one dispatch takes tens of ms; f16
 * too where the device has shader-f16 (a GPU may run f16 at twice the f32 rate; an f16 row is held
 * to the higher of the two peaks). cpu: the addon's probe (native/compute/probe.cc: AVX-512 or AVX2 chosen
 * from the CPU's features, every core); without the addon, a JS estimate, labelled as one.
 */
import { availableParallelism } from 'node:os';
import * as xpu from '../../src/index.js';
import { xpuDevice } from './bandwidth.js';
import { ceilingFrom, cpuPasses, nativeProbe, type Ceiling } from './ceiling.js';
import type { RepeatOptions } from './timing.js';

const WORKGROUP = 256;
/**
 * 131K invocations of 8 independent chains each: more FMAs in flight than a large GPU's lanes
 * (an H100 has 16896), while on lavapipe, where every invocation has a fixed start-up cost, the
 * loop count (raised until a dispatch takes TARGET_MS) does the work: 1M invocations left it at
 * 8 iterations and measured the start-up cost, 15 GFLOP/s against the 54 of our own matmul.
 */
const WORKGROUPS = 512;
const CHAINS = 8;
/**
 * Rounds of the chains per loop iteration. lavapipe pays for every iteration (its exec-mask
 * bookkeeping): unrolled 4x the same probe measured 62-67 GFLOP/s against 29-45 rolled, in one run
 * on the loaded box; the GEMM tuning work found 8x best (bench/results/README.md, gemm-lavapipe).
 */
const UNROLL = 8;
/** flops of one loop iteration of one invocation: CHAINS x UNROLL vec4 multiply-adds. */
const FLOPS_PER_ITER = CHAINS * UNROLL * 4 * 2;
/** A timed dispatch should take at least this long (and not much more: a GPU watchdog). */
const TARGET_MS = 40;
const MAX_ITERS = 2 ** 22;

function fmaWgsl(type: 'f32' | 'f16'): string {
  const v = `vec4<${type}>`;
  const chains = Array.from({ length: CHAINS }, (_, i) => i);
  return /* wgsl */ `
${type === 'f16' ? 'enable f16;' : ''}
struct Params { iters: u32, b: f32, c: f32, pad: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: Params;

// b and c come from a uniform so the compiler cannot fold the chains; a converges to c / (1 - b),
// so nothing overflows or turns subnormal, in f16 either. a * b + c rather than fma(): GPU compilers
// contract it into one FMA all the same, and lavapipe ran fma() slower (a strictly fused op there).
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = ${type}(f32(gid.x & 1023u) * 1e-4);
  let b = ${v}(${type}(p.b));
  let c = ${v}(${type}(p.c));
${chains.map((i) => `  var a${i} = ${v}(x, x + ${type}(0.${i}1), x + ${type}(0.${i}2), x + ${type}(0.${i}3));`).join('\n')}
  for (var n = 0u; n < p.iters; n++) {
${Array.from({ length: UNROLL }, () => chains.map((i) => `    a${i} = a${i} * b + c;`).join('\n')).join('\n')}
  }
  out[gid.x] = vec4<f32>(${chains.map((i) => `a${i}`).join(' + ')});
}`;
}

export async function xpuFmaPeak(type: 'f32' | 'f16', opts: RepeatOptions): Promise<Ceiling> {
  const device = xpuDevice();
  await xpu.accelerator.synchronize();
  const module = device.createShaderModule({ code: fmaWgsl(type) });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const out = device.createBuffer({ size: WORKGROUPS * WORKGROUP * 16, usage: GPUBufferUsage.STORAGE });
  const params = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: out } },
      { binding: 1, resource: { buffer: params } },
    ],
  });
  const dispatch = async (iters: number): Promise<number> => {
    const data = new ArrayBuffer(16);
    new Uint32Array(data, 0, 1)[0] = iters;
    new Float32Array(data, 4, 2).set([0.5, 0.25]);
    device.queue.writeBuffer(params, 0, data);
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(WORKGROUPS);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  try {
    // Raise the loop count until a dispatch is long enough that launch and wait costs vanish.
    let iters = 8;
    for (;;) {
      const ms = await dispatch(iters);
      if (ms >= TARGET_MS || iters >= MAX_ITERS) break;
      iters = Math.min(MAX_ITERS, iters * Math.min(16, Math.max(2, Math.ceil((1.2 * TARGET_MS) / Math.max(ms, 0.1)))));
    }
    const ms: number[] = [];
    for (let p = 0; p < opts.warmup + opts.reps; p++) {
      const t = await dispatch(iters);
      if (p >= opts.warmup) ms.push(t);
    }
    const flops = WORKGROUPS * WORKGROUP * FLOPS_PER_ITER * iters;
    return ceilingFrom(
      type === 'f32' ? 'fma-f32' : 'fma-f16',
      `WGSL ${type} multiply-add, ${CHAINS} vec4 chains x ${WORKGROUPS * WORKGROUP} invocations x ${UNROLL * iters} rounds`,
      flops,
      ms,
    );
  } finally {
    out.destroy();
    params.destroy();
  }
}

/** The cpu's FMA peak: passes of ~10 ms on two AVX-512 cores (see cpuPasses). */
const CPU_FMA_ITERS = 2e6;

export function cpuFmaPeak(opts: RepeatOptions): Ceiling {
  const probe = nativeProbe();
  if (probe) {
    const r = probe.fma(CPU_FMA_ITERS, opts.warmup + cpuPasses(opts));
    const ms = r.seconds.slice(opts.warmup).map((s) => s * 1e3);
    return ceilingFrom('fma-f32', `native ${r.isa} fma chains, ${r.threads} threads`, r.flopsPerPass, ms, { threads: r.threads });
  }
  // Without the addon: V8's scalar multiply-add on one thread, times the cores. Not the vector
  // peak (the TypeScript kernels reach neither), so it is labelled an estimate.
  const threads = availableParallelism();
  const iters = 2e6;
  const ms: number[] = [];
  let sink = 0;
  for (let p = 0; p < opts.warmup + opts.reps; p++) {
    const t0 = performance.now();
    sink += jsFmaChains(iters, 0.5, 0.25);
    if (p >= opts.warmup) ms.push(performance.now() - t0);
  }
  if (sink === -1) process.stdout.write('');
  return ceilingFrom(
    'fma-f32',
    `JS estimate: 8 scalar multiply-add chains on one thread x ${threads} cores (no native probe)`,
    16 * iters * threads,
    ms,
    { threads, estimate: true },
  );
}

function jsFmaChains(iters: number, b: number, c: number): number {
  let a0 = 0.1,
    a1 = 0.2,
    a2 = 0.3,
    a3 = 0.4,
    a4 = 0.5,
    a5 = 0.6,
    a6 = 0.7,
    a7 = 0.8;
  for (let i = 0; i < iters; i++) {
    a0 = a0 * b + c;
    a1 = a1 * b + c;
    a2 = a2 * b + c;
    a3 = a3 * b + c;
    a4 = a4 * b + c;
    a5 = a5 * b + c;
    a6 = a6 * b + c;
    a7 = a7 * b + c;
  }
  return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}
