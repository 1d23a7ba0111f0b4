/**
 * Where the time of a transcendental unary op goes on the adapter (issue 15: exp and gelu against
 * tfjs-webgpu). Times one WGSL kernel shape, `out[i] = f(x[i])` over vec4<f32> words, one
 * invocation per word, with bodies that differ only in f: a copy (the memory floor of this shape),
 * the WGSL built-ins (what tfjs-webgpu calls), and kernels/common/math.wgsl's functions. The
 * difference to the copy is f's arithmetic. Bodies are timed round-robin, several dispatches per
 * submit over rotating inputs. Speed evidence only, never a test.
 *
 *   node dist/bench/tools/unary_probe.js [--n 4M] [--rounds 7] [--json out.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as xpu from '../../src/index.js';
import { xpuEntries } from '../../src/device/registry.js';
import { kernelSource } from '../../src/backends/webgpu/pipelines.js';

/** f(x) per body: WGSL over vec4<f32> (math.wgsl's functions are scalar: applied per lane). */
const BODIES: Record<string, string> = {
  copy: 'return x;',
  builtinExp: 'return exp(x);',
  exp_f32: 'return vec4<f32>(exp_f32(x.x), exp_f32(x.y), exp_f32(x.z), exp_f32(x.w));',
  gelu_f32: 'return vec4<f32>(gelu_f32(x.x), gelu_f32(x.y), gelu_f32(x.z), gelu_f32(x.w));',
  // tfjs-webgpu's GELU-free path: erf through Abramowitz-Stegun 7.1.26 with the built-in exp.
  builtinErfGelu:
    'let z = abs(x) * 0.70710678; let t = 1.0 / (1.0 + 0.3275911 * z); let e = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-z * z); return 0.5 * x * (1.0 + sign(x) * e);',
};

/** A body may carry its own helper functions before an `@@` line (the --bodies file's candidates). */
function shader(spec: string): string {
  const [prelude, body] = spec.includes('@@') ? spec.split('@@') : ['', spec];
  return `${kernelSource('common/math.wgsl')}
${prelude}
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inp: array<vec4<f32>>;
fn f(x: vec4<f32>) -> vec4<f32> { ${body} }
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = g.x + g.y * nw.x * 64u;
  if (i < arrayLength(&out)) { out[i] = f(inp[i]); }
}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : d;
  };
  const n = Number(opt('--n', '4M').replace(/M$/, '')) * (opt('--n', '4M').endsWith('M') ? 1 << 20 : 1);
  const rounds = Number(opt('--rounds', '7'));
  const extra = opt('--bodies', '');
  const bodies: Record<string, string> = { ...BODIES };
  if (extra) for (const [k, v] of Object.entries(JSON.parse(readFileSync(extra, 'utf8')) as Record<string, string>)) bodies[k] = v;
  await xpu.ready();
  const device = (xpuEntries()[0].backend as unknown as { device: GPUDevice }).device;
  const bytes = n * 4;
  const sets = Math.max(2, Math.min(8, Math.ceil((96 << 20) / bytes)));
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const host = new Float32Array(n);
  for (let i = 0; i < n; i++) host[i] = (Math.random() - 0.5) * 8;
  const ins = Array.from({ length: sets }, () => {
    const b = device.createBuffer({ size: bytes, usage });
    device.queue.writeBuffer(b, 0, host);
    return b;
  });
  const outs = Array.from({ length: sets }, () => device.createBuffer({ size: bytes, usage }));
  const words = n / 4;
  const groups = Math.ceil(words / 64);
  const gx = Math.min(groups, 65535);
  const gy = Math.ceil(groups / gx);
  const per = Math.max(2, Math.ceil((256 << 20) / (2 * bytes)));
  const kernels = Object.entries(bodies).map(([name, body]) => {
    const module = device.createShaderModule({ code: shader(body) });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const groupsFor = ins.map((inp, s) =>
      device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [outs[s], inp].map((buffer, binding) => ({ binding, resource: { buffer } })),
      }),
    );
    return { name, pipeline, groupsFor, ms: [] as number[] };
  });
  const once = async (k: (typeof kernels)[number]) => {
    const t0 = performance.now();
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(k.pipeline);
    for (let i = 0; i < per; i++) {
      pass.setBindGroup(0, k.groupsFor[i % sets]);
      pass.dispatchWorkgroups(gx, gy);
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / per;
  };
  for (const k of kernels) await once(k);
  for (let r = 0; r < rounds; r++) for (const k of kernels) k.ms.push(await once(k));
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const copy = kernels.find((k) => k.name === 'copy');
  const rows = kernels.map((k) => ({
    body: k.name,
    msMedian: med(k.ms),
    msMin: Math.min(...k.ms),
    gbps: (2 * bytes) / (med(k.ms) * 1e6),
    overCopyMs: copy ? med(k.ms) - med(copy.ms) : undefined,
  }));
  const result = {
    what: `out = f(x), ${n} f32 as vec4 words, ${per} dispatches per submit over ${sets} input sets, ${rounds} rounds round-robin`,
    load: [loadavg()[0]],
    rows,
  };
  result.load.push(loadavg()[0]);
  console.table(rows);
  const out = opt('--json', '');
  if (out) writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  for (const b of [...ins, ...outs]) b.destroy();
}

if (process.argv[1]?.endsWith('unary_probe.js')) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
