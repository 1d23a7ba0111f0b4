/**
 * Read and copy bandwidth per device: the memory side of the roofline (bench/lib/roofline.ts).
 * A copy counts what it reads plus what it writes (2 x the buffer), as STREAM's copy does; a read
 * counts what it reads. Every probe streams through twice the CPU's last-level cache
 * (rotation.ts), so what it measures is memory, not cache. The runtime's own copy kernel (clone)
 * is not a ceiling but a benchmarked kernel: bench/elementwise measures it.
 *
 * xpu: the runtime's own GPUDevice (reached through the registry, which a benchmark may do and
 * user code should not) runs copyBufferToBuffer (the driver's copy, no shader) and two WGSL
 * probes, a read-only sum and a vec4 copy; the ceiling is the best of them, since any of them is
 * a way a kernel on this device can move bytes. cpu: the addon's probes on every core
 * (native/compute/probe.cc); without the addon, JS loops on one thread, labelled as such.
 */
import { freemem } from 'node:os';
import * as xpu from '../../src/index.js';
import { xpuEntries } from '../../src/device/registry.js';
import { ceilingFrom, cpuPasses, nativeProbe, type Ceiling } from './ceiling.js';
import { rotationBytes } from './rotation.js';
import type { RepeatOptions } from './timing.js';

const MIB = 2 ** 20;
/** One buffer of an xpu probe: below lavapipe's 128 MiB storage binding limit. */
const XPU_BUFFER_BYTES = 128 * MIB;
const WORKGROUP = 256;
/** vec4s each invocation of the WGSL probes reads (grid-stride): enough to amortise its start. */
const VEC4_PER_INVOCATION = 16;

/** Bytes a bandwidth probe streams through: twice the last-level cache, within a share of free memory. */
export function probeWorkingSet(): number {
  const cap = Math.max(64 * MIB, Math.floor(freemem() / 8 / MIB) * MIB);
  return Math.min(rotationBytes(), cap);
}

// ---- cpu ----------------------------------------------------------------------------------------

export function cpuReadBandwidth(opts: RepeatOptions, bytes = probeWorkingSet()): Ceiling {
  const probe = nativeProbe();
  if (probe) {
    const r = probe.read(bytes, opts.warmup + cpuPasses(opts));
    const ms = r.seconds.slice(opts.warmup).map((s) => s * 1e3);
    return ceilingFrom('read', `native ${r.method}, ${r.threads} threads`, r.bytesPerPass, ms, {
      workingSetBytes: r.bytesPerPass,
      threads: r.threads,
    });
  }
  // A JS sum on one thread: what a TypeScript kernel could read at, not what the memory can do.
  const a = new Float32Array(bytes / 4).fill(1);
  const ms: number[] = [];
  let sink = 0;
  for (let p = 0; p < opts.warmup + opts.reps; p++) {
    const t0 = performance.now();
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    for (let i = 0; i + 3 < a.length; i += 4) {
      s0 += a[i];
      s1 += a[i + 1];
      s2 += a[i + 2];
      s3 += a[i + 3];
    }
    sink += s0 + s1 + s2 + s3;
    if (p >= opts.warmup) ms.push(performance.now() - t0);
  }
  if (sink === -1) process.stdout.write(''); // keeps the sum alive
  return ceilingFrom('read', 'JS estimate: a Float32Array sum on one thread (no native probe)', bytes, ms, {
    workingSetBytes: bytes,
    threads: 1,
    estimate: true,
  });
}

export function cpuCopyBandwidth(opts: RepeatOptions, bytes = probeWorkingSet()): Ceiling {
  const probe = nativeProbe();
  if (probe) {
    // bytes is the working set: source plus destination.
    const r = probe.copy(bytes / 2, opts.warmup + cpuPasses(opts));
    const ms = r.seconds.slice(opts.warmup).map((s) => s * 1e3);
    return ceilingFrom('copy', `native ${r.method}, ${r.threads} threads`, r.bytesPerPass, ms, {
      workingSetBytes: r.bytesPerPass,
      threads: r.threads,
    });
  }
  // Float32Array.set is V8's memcpy: a real copy, on one thread.
  const n = bytes / 8;
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n).fill(0); // fill() touches every page now, so no timed pass pays the page faults
  const ms: number[] = [];
  for (let p = 0; p < opts.warmup + opts.reps; p++) {
    const t0 = performance.now();
    dst.set(src);
    if (p >= opts.warmup) ms.push(performance.now() - t0);
  }
  return ceilingFrom('copy', 'Float32Array.set (memcpy, one thread; no native probe)', 8 * n, ms, { workingSetBytes: 8 * n, threads: 1 });
}

// ---- xpu ----------------------------------------------------------------------------------------

const READ_WGSL = /* wgsl */ `
struct Params { count: u32, sentinel: f32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> sink: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

// Grid-stride sum with four accumulators. The result is written only if it equals a value it never
// takes, so the loads cannot be dropped and nothing but the reads reaches memory.
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * ${WORKGROUP}u;
  var s0 = vec4<f32>(0.0);
  var s1 = s0;
  var s2 = s0;
  var s3 = s0;
  var i = gid.x;
  for (; i + 3u * stride < p.count; i += 4u * stride) {
    s0 += src[i];
    s1 += src[i + stride];
    s2 += src[i + 2u * stride];
    s3 += src[i + 3u * stride];
  }
  for (; i < p.count; i += stride) {
    s0 += src[i];
  }
  let s = (s0 + s1) + (s2 + s3);
  if (s.x == p.sentinel) {
    sink[gid.x % ${WORKGROUP}u] = s;
  }
}`;

const COPY_WGSL = /* wgsl */ `
struct Params { count: u32, sentinel: f32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * ${WORKGROUP}u;
  for (var i = gid.x; i < p.count; i += stride) {
    dst[i] = src[i];
  }
}`;

/** The runtime's GPUDevice; the runtime has no public way to hand out raw buffers. */
export function xpuDevice(): GPUDevice {
  return xpuEntries()[0].backend.device;
}

/** `total` bytes as buffers the adapter can bind whole, each a multiple of 16 bytes. */
function bufferSizes(device: GPUDevice, total: number): number[] {
  const max = Math.floor(Math.min(XPU_BUFFER_BYTES, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) / 256) * 256;
  const count = Math.max(1, Math.ceil(total / max));
  const each = Math.min(max, Math.ceil(total / count / 256) * 256);
  return Array.from({ length: count }, () => each);
}

/** Times `passes` submissions of `encode` (each awaited); ms per pass. */
async function timePasses(device: GPUDevice, encode: (enc: GPUCommandEncoder) => void, opts: RepeatOptions): Promise<number[]> {
  const ms: number[] = [];
  for (let p = 0; p < opts.warmup + opts.reps; p++) {
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    encode(enc);
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    if (p >= opts.warmup) ms.push(performance.now() - t0);
  }
  return ms;
}

/** copyBufferToBuffer: the driver's own copy path, no shader. */
export async function xpuBufferCopyBandwidth(opts: RepeatOptions, workingSet = probeWorkingSet()): Promise<Ceiling> {
  const device = xpuDevice();
  await xpu.accelerator.synchronize();
  const sizes = bufferSizes(device, workingSet / 2);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = sizes.map((size) => device.createBuffer({ size, usage }));
  const dst = sizes.map((size) => device.createBuffer({ size, usage }));
  try {
    const ms = await timePasses(device, (enc) => sizes.forEach((size, i) => enc.copyBufferToBuffer(src[i], 0, dst[i], 0, size)), opts);
    const bytes = 2 * sizes.reduce((a, b) => a + b, 0);
    return ceilingFrom('copy', 'copyBufferToBuffer (no shader)', bytes, ms, { workingSetBytes: bytes });
  } finally {
    for (const b of [...src, ...dst]) b.destroy();
  }
}

/** A WGSL probe over buffers spanning the working set: the read-only sum or the vec4 copy. */
export async function xpuShaderBandwidth(kind: 'read' | 'copy', opts: RepeatOptions, workingSet = probeWorkingSet()): Promise<Ceiling> {
  const device = xpuDevice();
  await xpu.accelerator.synchronize();
  const sizes = bufferSizes(device, kind === 'read' ? workingSet : workingSet / 2);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const module = device.createShaderModule({ code: kind === 'read' ? READ_WGSL : COPY_WGSL });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const src = sizes.map((size) => device.createBuffer({ size, usage }));
  const dst =
    kind === 'read' ? [device.createBuffer({ size: 16 * WORKGROUP, usage })] : sizes.map((size) => device.createBuffer({ size, usage }));
  const params = sizes.map((size) => {
    const b = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const data = new ArrayBuffer(16);
    new Uint32Array(data, 0, 1)[0] = size / 16;
    new Float32Array(data, 4, 1)[0] = -3.0e38; // a sum of zeros never equals it
    device.queue.writeBuffer(b, 0, data);
    return b;
  });
  const groups = sizes.map((_, i) =>
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: src[i] } },
        { binding: 1, resource: { buffer: kind === 'read' ? dst[0] : dst[i] } },
        { binding: 2, resource: { buffer: params[i] } },
      ],
    }),
  );
  const workgroups = sizes.map((size) =>
    Math.min(device.limits.maxComputeWorkgroupsPerDimension, Math.ceil(size / 16 / (WORKGROUP * VEC4_PER_INVOCATION))),
  );
  try {
    const ms = await timePasses(
      device,
      (enc) => {
        const pass = enc.beginComputePass();
        pass.setPipeline(pipeline);
        groups.forEach((g, i) => {
          pass.setBindGroup(0, g);
          pass.dispatchWorkgroups(workgroups[i]);
        });
        pass.end();
      },
      opts,
    );
    const moved = sizes.reduce((a, b) => a + b, 0) * (kind === 'read' ? 1 : 2);
    const method = kind === 'read' ? 'WGSL sum (vec4 loads, grid-stride)' : 'WGSL vec4 copy (grid-stride)';
    return ceilingFrom(kind, method, moved, ms, { workingSetBytes: moved });
  } finally {
    for (const b of [...src, ...dst, ...params]) b.destroy();
  }
}
