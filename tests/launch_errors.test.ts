import { describe, expect, it } from 'vitest';
import { xpuEntries } from '../src/device/registry.js';
import type { GpuStorage } from '../src/backends/webgpu/allocator.js';
import { UniformWriter } from '../src/backends/webgpu/codegen.js';
import { errorSink } from '../src/backends/webgpu/error_sink.js';
import { checkLaunch, kernelDemands, kernelFits, type LaunchLimits } from '../src/backends/webgpu/limits.js';
import { createPipeline } from '../src/backends/webgpu/pipelines.js';
import { prefillSource } from '../src/backends/webgpu/attention_codegen.js';
import type { AttentionSpec } from '../src/ops/attention/spec.js';
import { wrap } from '../src/ops/common.js';
import { caught, caughtAsync, expectClose, testDevices, xpu } from './helpers.js';
import { disposeAll, makeQkv, refAttention, type Dims } from './attention_helpers.js';

/**
 * One failing op must not harm another (issue 13). On xpu launches are batched into one command
 * encoder, and a validation error invalidates the whole encoder: one bad launch used to drop every
 * launch batched with it, surface on whichever tensor was read first, and leave its own output
 * reading as zeros. Now every launch is checked against the adapter's limits before it is
 * recorded (a typed error at the op's call), kernels are checked as they compile, and a batch the
 * device still rejects is replayed launch by launch so that only the culprit's outputs (and what
 * was computed from them) are marked failed.
 */

const KERNEL = `struct Params { n: u32, a: u32, b: u32, c: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read> in0: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < P.n) {
    out[g.x] = in0[g.x];
  }
}`;
/** 36,000 bytes of workgroup memory: more than lavapipe's 32,768 and WebGPU's default 16,384. */
const HUGE_WORKGROUP = `var<workgroup> big: array<f32, 9000>;\n${KERNEL.replace('out[g.x] = in0[g.x];', 'big[g.x] = 1.0;\n    out[g.x] = in0[g.x] + u32(big[0]);')}`;

describe('limit checks (no device needed)', () => {
  it('reads workgroup memory and size off generated WGSL as Dawn counts them', () => {
    expect(kernelDemands(HUGE_WORKGROUP)).toMatchObject({ workgroupBytes: 36000, workgroupSize: [64, 1, 1], storageBuffers: 2 });
    const src =
      'const A: u32 = 4u;\nconst B: u32 = A * 3u;\nalias ACC = f32;\noverride WG: u32 = 64u;\nvar<workgroup> x: array<vec4<f32>, B + 1u>;\nvar<workgroup> y: array<ACC, WG>;\nvar<workgroup> z: array<vec3<f32>, 3>;\n@compute @workgroup_size(WG, 2)\nfn main() {}';
    expect(kernelDemands(src, { WG: 32 })).toMatchObject({ workgroupBytes: 13 * 16 + 32 * 4 + 48, workgroupSize: [32, 2, 1] });
  });

  it('the flash prefill at head dim 768 with 8 x 8 tiles asks for 33,088 bytes (the issue case); 4-row tiles fit 32 KiB', () => {
    const op = { dtype: 'float32', storage: {}, strides: [0, 0, 0, 0], offset: 0 };
    const spec = { q: op, k: op, v: op, e: 768, ev: 768, captures: [] } as unknown as AttentionSpec;
    const base = { path: 'prefill' as const, wg: 32, chunk: 64 };
    expect(kernelDemands(prefillSource(spec, { ...base, bq: 8, bk: 8 })).workgroupBytes).toBe(33088);
    const lavapipe = {
      maxComputeWorkgroupStorageSize: 32768,
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupSizeX: 256,
      maxComputeWorkgroupSizeY: 256,
      maxComputeWorkgroupSizeZ: 64,
      maxStorageBuffersPerShaderStage: 8,
      maxStorageTexturesPerShaderStage: 4,
      maxSampledTexturesPerShaderStage: 16,
    } as LaunchLimits;
    expect(kernelFits(prefillSource(spec, { ...base, bq: 8, bk: 8 }), lavapipe)).toBe(false);
    expect(kernelFits(prefillSource(spec, { ...base, bq: 4, bk: 8 }), lavapipe)).toBe(true);
  });

  it('a launch past the adapter limits is a typed error naming the op', () => {
    const lim = {
      maxComputeWorkgroupsPerDimension: 65535,
      maxUniformBufferBindingSize: 65536,
      maxStorageBufferBindingSize: 1 << 27,
    } as LaunchLimits;
    const buffer = { size: 256 } as GPUBuffer;
    const e = caught(() => checkLaunch('myop', lim, 65536 * 65536, 16, 65536, []), xpu.XpuDeviceError);
    expect([e.op, e.arg]).toEqual(['myop', 'workgroups']);
    expect(caught(() => checkLaunch('myop', lim, 1, 70000, 65536, []), xpu.XpuDeviceError).arg).toBe('uniforms');
    expect(caught(() => checkLaunch('myop', lim, 1, 16, 65536, [{ buffer, size: 512 }]), xpu.XpuDeviceError).arg).toBe('binding 1');
    expect(() => checkLaunch('myop', lim, 65535 * 3, 16, 65536, [{ buffer, size: 256 }])).not.toThrow();
  });
});

describe('token ids >= vocab in the Llama model', () => {
  for (const device of testDevices()) {
    it(`give XpuIndexError naming embedding on ${device} (${device === 'cpu' ? 'at the call' : 'at the next read'}); the model keeps working`, async () => {
      xpu.manualSeed(3);
      const cfg = xpu.llama.LLAMA_TINY;
      const m = new xpu.llama.LlamaForCausalLM(cfg, { device });
      const bad = xpu.tensor(Int32Array.from([1, cfg.vocabSize, 2]), { shape: [1, 3], device });
      const good = xpu.tensor(Int32Array.from([1, 5, 2]), { shape: [1, 3], device });
      if (device === 'cpu') {
        const e = caught(() => m.forward(bad), xpu.XpuIndexError);
        expect([e.op, e.got]).toEqual(['embedding', `${cfg.vocabSize} at position 1`]);
      } else {
        const logits = m.forward(bad);
        const e = await caughtAsync(logits.data(), xpu.XpuIndexError);
        expect([e.op, e.arg, e.got]).toEqual(['embedding', 'input', String(cfg.vocabSize)]);
        // The logits were computed from the failed lookup: they stay failed.
        await caughtAsync(logits.data(), xpu.XpuIndexError);
        logits.dispose();
      }
      const ok = m.forward(good);
      expect((await ok.data()).every(Number.isFinite)).toBe(true);
      disposeAll(ok, bad, good);
    });
  }
});

describe.runIf(testDevices().includes('xpu'))('xpu: one failing op must not harm another', () => {
  const backend = () => xpuEntries()[0].backend;

  it('Dawn reports validation errors synchronously, inside the failing call (what the attribution relies on)', () => {
    const device = backend().device;
    const sink = errorSink(device);
    const mark = sink.mark();
    device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: HUGE_WORKGROUP }), entryPoint: 'main' },
    });
    const errors = sink.take(mark);
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(/workgroup storage/);
  });

  it('a kernel the adapter cannot run throws a typed error at the call, and nothing reaches the device', async () => {
    const b = backend();
    const sink = errorSink(b.device);
    const mark = sink.mark();
    const e = caught(() => createPipeline(b.device, 'myop', HUGE_WORKGROUP, b.pipelines.layout(1)), xpu.XpuDeviceError);
    expect([e.op, e.arg]).toEqual(['myop', 'workgroup memory']);
    expect(e.got).toBe('36000 bytes');
    // A kernel that does not compile: Dawn's message, at the call.
    const bad = caught(() => createPipeline(b.device, 'myop', 'fn main( {', b.pipelines.layout(1)), xpu.XpuDeviceError);
    expect(bad.op).toBe('myop');
    expect(sink.take(mark)).toEqual([]);
    expect(await xpu.ones([3], { device: 'xpu' }).add(1).toArray()).toEqual([2, 2, 2]);
  });

  it('scaledDotProductAttention at head dim 768 runs a config that fits (correct vs float64) between ops of the same batch', async () => {
    // Ev small: workgroup memory grows with E; a wide Ev only makes the kernel slower to compile.
    const d: Dims = { B: 1, Hq: 2, Hkv: 2, L: 8, S: 20, E: 768, Ev: 24 };
    const t = makeQkv('xpu', 'float32', d, 5);
    const a = xpu.tensor(
      Float32Array.from({ length: 300 }, (_, i) => i / 7),
      { device: 'xpu' },
    );
    const before = a.mul(2);
    const out = xpu.scaledDotProductAttention(t.q, t.k, t.v);
    const after = a.add(1);
    try {
      expectClose(
        await after.data(),
        Array.from({ length: 300 }, (_, i) => Math.fround(i / 7) + 1),
        1e-6,
        'after',
      );
      expectClose(
        await before.data(),
        Array.from({ length: 300 }, (_, i) => Math.fround(i / 7) * 2),
        1e-6,
        'before',
      );
      expectClose(await out.data(), refAttention(d, t.qv, t.kv, t.vv), 2e-5, 'sdpa E=768');
    } finally {
      disposeAll(out, t.q, t.k, t.v, a, before, after);
    }
  });

  it('a launch the device rejects at submit fails alone: its output (and what is computed from it) throws naming the op, the rest of the batch is intact', async () => {
    const b = backend();
    const device = b.device;
    const layout = b.pipelines.layout(1);
    const pipeline = createPipeline(device, 'custom', KERNEL, layout);
    const a = xpu.tensor(
      Float32Array.from({ length: 64 }, (_, i) => i),
      { device: 'xpu' },
    );
    const u = new UniformWriter().u32(16, 0, 0, 0).finish();

    // 1. A destroyed buffer bound to one launch: the batch's submit is rejected.
    const dead = device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE });
    dead.destroy();
    const before = a.mul(2);
    const out1 = b.alloc('float32', 16, 'custom');
    b.queue.dispatch(
      'custom',
      pipeline,
      layout,
      u,
      [
        { buffer: out1.buffer, size: 64 },
        { buffer: dead, size: 64 },
      ],
      1,
    );
    const t1 = wrap(a.device, out1, [16], 'float32');
    const derived = t1.add(1);
    const after = a.add(1);

    // 2. An invalid pipeline (its creation error swallowed by an error scope, as a caller of the
    // raw device might): the batch's encoder is rejected at finish().
    device.pushErrorScope('validation');
    const badPipeline = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: device.createShaderModule({ code: HUGE_WORKGROUP }), entryPoint: 'main' },
    });
    expect(await device.popErrorScope()).not.toBeNull();
    const mid = a.sub(1);
    const out2 = b.alloc('float32', 16, 'custom-bad');
    b.queue.dispatch(
      'custom-bad',
      badPipeline,
      layout,
      u,
      [
        { buffer: out2.buffer, size: 64 },
        { buffer: (a.ref.storage as GpuStorage).buffer, size: 256 },
      ],
      1,
    );
    const t2 = wrap(a.device, out2, [16], 'float32');
    const last = a.mul(a);

    const host = Array.from({ length: 64 }, (_, i) => i);
    expect(Array.from(await after.data())).toEqual(host.map((x) => x + 1));
    expect(Array.from(await before.data())).toEqual(host.map((x) => x * 2));
    expect(Array.from(await mid.data())).toEqual(host.map((x) => x - 1));
    expect(Array.from(await last.data())).toEqual(host.map((x) => x * x));
    expect((await caughtAsync(t1.data(), xpu.XpuDeviceError)).op).toBe('custom');
    expect((await caughtAsync(derived.data(), xpu.XpuDeviceError)).op).toBe('custom');
    expect((await caughtAsync(t2.data(), xpu.XpuDeviceError)).op).toBe('custom-bad');
    // Nothing is left over for an unrelated read or synchronize.
    await xpu.accelerator.synchronize();
    expect(Array.from(await a.add(0).data())).toEqual(host);
    disposeAll(a, before, after, mid, last, t1, t2, derived);
  });
});
