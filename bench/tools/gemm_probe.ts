/**
 * GEMM probe on the xpu device (not a suite; speed evidence for kernels/gemm.wgsl): raw WGSL
 * kernels dispatched directly, round-robin in one process, so that ratios between them are
 * evidence on a shared machine.
 *
 *   node dist/bench/tools/gemm_probe.js [--sizes 512,1024,2048] [--rounds 5] [--kernels a,b,...]
 *                                       [--poll adaptive|throttle|spin] [--reps N]
 *
 * Kernels:
 *   fma            pure-FMA roofline: every invocation runs chains of vec4 FMAs on registers, no
 *                  memory traffic (what lavapipe's generated code can do at most)
 *   probe          the pre-project peer probe's shape: register blocking 4 x 8 per invocation,
 *                  16 x 16 invocations, vec4 loads, no bounds checks (sizes multiples of 64 x 128)
 *   ours:<key>     this runtime's kernels/gemm.wgsl through gemm_codegen.ts with a TileConfig on
 *                  storage buffers, <key> = register|shared:WGXxWGY:TMxTN[:TK], e.g.
 *                  ours:register:16x16:4x8
 *   xpu:<key>      xpu.matmul end to end with that config forced (texture variant included:
 *                  xpu:texture:8x4:64x8:4:sg8 = subgroup-shared rows)
 *   tex:, texf:, texs:, lanes:   raw kernels of the texture / lane experiments (see their sources)
 * Every GEMM kernel is checked on a few rows against float64 before it is timed.
 *
 * Besides wall time, each row reports GFLOP per CPU-second of this process (lavapipe's worker
 * threads and the JS thread together, process.cpuUsage): on a machine shared with other jobs, wall
 * time moves with their load while CPU time per GEMM stays nearly put, so the cpu/ ratios are the
 * steadier evidence. Both cores busy on our work give GFLOP/s = 2 x GFLOP per CPU-s at most.
 */
import * as xpu from '../../src/index.js';
import { xpuEntries } from '../../src/device/registry.js';
import { gemmSource, type GemmLayout } from '../../src/backends/webgpu/gemm_codegen.js';
import { gemmAdapterInfo, setGemmConfigOverride, type GemmConfig, type TileConfig } from '../../src/backends/webgpu/gemm_config.js';
import { gemmProblem, gemmTiles, gemmUniforms } from '../../src/backends/webgpu/gemm_plan.js';
import { setPollStrategy, parsePollStrategy } from '../../src/backends/webgpu/poll.js';
import type { MatmulSpec, Storage } from '../../src/backends/backend.js';
// The runtime opens nothing at import: open the GPU before the first xpu tensor.
await xpu.ready();

interface Args {
  sizes: number[];
  rounds: number;
  kernels: string[];
  reps: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sizes: [512, 1024, 2048], rounds: 5, kernels: ['fma', 'probe', 'ours:register:16x16:4x8'], reps: 0 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--sizes') a.sizes = value().split(',').map(Number);
    else if (flag === '--rounds') a.rounds = Number(value());
    else if (flag === '--reps') a.reps = Number(value());
    else if (flag === '--kernels') a.kernels = value().split(',');
    else if (flag === '--poll') setPollStrategy(parsePollStrategy(value()));
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return a;
}

const probeSource = (wgX: number, wgY: number) => `
@group(0) @binding(0) var<uniform> dims: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> C: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<vec4<f32>>;
@compute @workgroup_size(${wgX}, ${wgY})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let N4 = dims.y / 4u;
  let K4 = dims.z / 4u;
  let row0 = gid.y * 4u;
  let c4 = gid.x * 2u;
  var acc: array<vec4<f32>, 8>;
  for (var k4 = 0u; k4 < K4; k4++) {
    let a0 = A[(row0 + 0u) * K4 + k4];
    let a1 = A[(row0 + 1u) * K4 + k4];
    let a2 = A[(row0 + 2u) * K4 + k4];
    let a3 = A[(row0 + 3u) * K4 + k4];
    for (var kk = 0u; kk < 4u; kk++) {
      let b0 = B[(4u * k4 + kk) * N4 + c4];
      let b1 = B[(4u * k4 + kk) * N4 + c4 + 1u];
      acc[0] = fma(vec4<f32>(a0[kk]), b0, acc[0]);
      acc[1] = fma(vec4<f32>(a0[kk]), b1, acc[1]);
      acc[2] = fma(vec4<f32>(a1[kk]), b0, acc[2]);
      acc[3] = fma(vec4<f32>(a1[kk]), b1, acc[3]);
      acc[4] = fma(vec4<f32>(a2[kk]), b0, acc[4]);
      acc[5] = fma(vec4<f32>(a2[kk]), b1, acc[5]);
      acc[6] = fma(vec4<f32>(a3[kk]), b0, acc[6]);
      acc[7] = fma(vec4<f32>(a3[kk]), b1, acc[7]);
    }
  }
  for (var r = 0u; r < 4u; r++) {
    C[(row0 + r) * N4 + c4] = acc[2u * r];
    C[(row0 + r) * N4 + c4 + 1u] = acc[2u * r + 1u];
  }
}`;

/**
 * One workgroup = one SIMD row of lavapipe (L lanes): the row index depends only on the workgroup
 * id, so A loads are uniform (scalar load + broadcast), lane l reads B[k, base + j*L + l] (one
 * gather of L neighbours per j), TM x TN accumulators per lane, fully unrolled in the source.
 */
const lanesSource = (L: number, TM: number, TN: number) => {
  const lines: string[] = [];
  for (let kk = 0; kk < 4; kk++) {
    for (let j = 0; j < TN; j++) lines.push(`    let b${kk}_${j} = B[(k + ${kk}u) * N + cb + ${j * L}u];`);
    for (let r = 0; r < TM; r++) for (let j = 0; j < TN; j++) lines.push(`    c${r}_${j} = fma(a${r}[${kk}], b${kk}_${j}, c${r}_${j});`);
  }
  const decl = [];
  for (let r = 0; r < TM; r++) for (let j = 0; j < TN; j++) decl.push(`  var c${r}_${j} = 0.0;`);
  const loadA = Array.from({ length: TM }, (_, r) => `    let a${r} = A4[(row0 + ${r}u) * K4 + k / 4u];`).join('\n');
  const stores = [];
  for (let r = 0; r < TM; r++) for (let j = 0; j < TN; j++) stores.push(`  C[(row0 + ${r}u) * N + cb + ${j * L}u] = c${r}_${j};`);
  return `
@group(0) @binding(0) var<uniform> dims: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<storage, read> A4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@compute @workgroup_size(${L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  let N = dims.y;
  let K = dims.z;
  let K4 = K / 4u;
  let row0 = wid.y * ${TM}u;
  let cb = wid.x * ${L * TN}u + l;
${decl.join('\n')}
  for (var k = 0u; k < K; k += 4u) {
${loadA}
${lines.join('\n')}
  }
${stores.join('\n')}
}`;
};

/**
 * The probe's 4 x 8 kernel reading A and B from rgba32float textures (A: M x K/4 texels, B: K x
 * N/4): lavapipe fetches texels with vector gathers, where a storage-buffer load with a per-lane
 * address is a scalar load per lane and component.
 */
const texSource = (wgX: number, wgY: number, TM: number, TN4: number, fetchFirst = false) => {
  const body: string[] = [];
  for (let r = 0; r < TM; r++) body.push(`    let a${r} = textureLoad(tA, vec2<u32>(k4, row0 + ${r}u), 0);`);
  if (fetchFirst) {
    // Every fetch of the 4-k step first (each is a call into lavapipe's texel-fetch function,
    // which clobbers the vector registers), then each accumulator takes its 4 FMAs in a row.
    for (let kk = 0; kk < 4; kk++)
      for (let j = 0; j < TN4; j++) body.push(`    let b${kk}_${j} = textureLoad(tB, vec2<u32>(c4 + ${j}u, 4u * k4 + ${kk}u), 0);`);
    for (let r = 0; r < TM; r++)
      for (let j = 0; j < TN4; j++)
        for (let kk = 0; kk < 4; kk++) body.push(`    acc${r}_${j} = fma(vec4<f32>(a${r}[${kk}]), b${kk}_${j}, acc${r}_${j});`);
  } else
    for (let kk = 0; kk < 4; kk++) {
      for (let j = 0; j < TN4; j++) body.push(`    let b${kk}_${j} = textureLoad(tB, vec2<u32>(c4 + ${j}u, 4u * k4 + ${kk}u), 0);`);
      for (let r = 0; r < TM; r++)
        for (let j = 0; j < TN4; j++) body.push(`    acc${r}_${j} = fma(vec4<f32>(a${r}[${kk}]), b${kk}_${j}, acc${r}_${j});`);
    }
  const decl: string[] = [];
  const st: string[] = [];
  for (let r = 0; r < TM; r++)
    for (let j = 0; j < TN4; j++) {
      decl.push(`  var acc${r}_${j} = vec4<f32>(0.0);`);
      st.push(`  C[(row0 + ${r}u) * N4 + c4 + ${j}u] = acc${r}_${j};`);
    }
  return `
@group(0) @binding(0) var<uniform> dims: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> C: array<vec4<f32>>;
@group(0) @binding(2) var tA: texture_2d<f32>;
@group(0) @binding(3) var tB: texture_2d<f32>;
@compute @workgroup_size(${wgX}, ${wgY})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let N4 = dims.y / 4u;
  let K4 = dims.z / 4u;
  let row0 = gid.y * ${TM}u;
  let c4 = gid.x * ${TN4}u;
${decl.join('\n')}
  for (var k4 = 0u; k4 < K4; k4++) {
${body.join('\n')}
  }
${st.join('\n')}
}`;
};

/**
 * Texture tiles with A shared across the subgroup: the SG lanes of a subgroup compute the same
 * TM rows (their own TN4 x 4 columns each), so lane l fetches rows r0 + SG*i + l and every row is
 * handed to the others by subgroupBroadcast with a constant lane (a register shuffle on
 * lavapipe): TM / SG A fetches per 4 k instead of TM. One subgroup per row block of the workgroup.
 */
const texsSource = (SG: number, NSG: number, TM: number, TN4: number) => {
  const body: string[] = [];
  for (let i = 0; i < TM / SG; i++) body.push(`    let af${i} = textureLoad(tA, vec2<u32>(k4, row0 + ${i * SG}u + l), 0);`);
  for (let kk = 0; kk < 4; kk++)
    for (let j = 0; j < TN4; j++) body.push(`    let b${kk}_${j} = textureLoad(tB, vec2<u32>(c4 + ${j}u, 4u * k4 + ${kk}u), 0);`);
  for (let r = 0; r < TM; r++) {
    body.push(`    let a${r} = subgroupBroadcast(af${Math.floor(r / SG)}, ${r % SG}u);`);
    for (let j = 0; j < TN4; j++)
      for (let kk = 0; kk < 4; kk++) body.push(`    acc${r}_${j} = fma(vec4<f32>(a${r}[${kk}]), b${kk}_${j}, acc${r}_${j});`);
  }
  const decl: string[] = [];
  const st: string[] = [];
  for (let r = 0; r < TM; r++)
    for (let j = 0; j < TN4; j++) {
      decl.push(`  var acc${r}_${j} = vec4<f32>(0.0);`);
      st.push(`  C[(row0 + ${r}u) * N4 + c4 + ${j}u] = acc${r}_${j};`);
    }
  return `enable subgroups;
@group(0) @binding(0) var<uniform> dims: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> C: array<vec4<f32>>;
@group(0) @binding(2) var tA: texture_2d<f32>;
@group(0) @binding(3) var tB: texture_2d<f32>;
@compute @workgroup_size(${SG * NSG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) l: u32, @builtin(subgroup_id) sg: u32) {
  let N4 = dims.y / 4u;
  let K4 = dims.z / 4u;
  let row0 = (wid.y * ${NSG}u + sg) * ${TM}u;
  let c4 = (wid.x * ${SG}u + l) * ${TN4}u;
${decl.join('\n')}
  for (var k4 = 0u; k4 < K4; k4++) {
${body.join('\n')}
  }
${st.join('\n')}
}`;
};

/** ACC independent vec4 FMA chains per invocation, ITERS rounds (UNROLL per loop trip): 8 * ACC * ITERS flops each. */
const FMA_ACC = 6;
const FMA_UNROLL = 8;
const FMA_ITERS = 16384;
const fmaSource = () => `
@group(0) @binding(0) var<uniform> dims: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> C: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  var acc: array<vec4<f32>, ${FMA_ACC}>;
  for (var i = 0u; i < ${FMA_ACC}u; i++) { acc[i] = vec4<f32>(f32(gid.x + i)); }
  let m = vec4<f32>(bitcast<f32>(dims.x));
  let s = vec4<f32>(bitcast<f32>(dims.y));
  for (var it = 0u; it < dims.z; it += ${FMA_UNROLL}u) {
${Array.from({ length: FMA_UNROLL }, () => Array.from({ length: FMA_ACC }, (_, i) => `    acc[${i}] = fma(acc[${i}], m, s);`).join('\n')).join('\n')}
  }
  var t = vec4<f32>(0.0);
  for (var i = 0u; i < ${FMA_ACC}u; i++) { t += acc[i]; }
  C[gid.x] = t;
}`;

interface Kernel {
  name: string;
  flops: number;
  record: (pass: GPUComputePassEncoder) => void;
  check?: () => Promise<number>;
  /** xpu.matmul rows: enqueue one GEMM through the runtime (timed with accelerator.synchronize). */
  enqueue?: () => void;
  checkOwn?: boolean;
}

function parseOurs(key: string): TileConfig {
  const [, variant, wg, t, tk, sg] = key.split(':');
  const [wgX, wgY] = wg.split('x').map(Number);
  const [tm, tn] = t.split('x').map(Number);
  const v = variant.replace('-aligned', '');
  return {
    path: 'tile',
    variant: v as 'register' | 'shared' | 'texture',
    wgX,
    wgY,
    tm,
    tn,
    tk: Number(tk ?? 4),
    ...(sg ? { sg: Number(sg.replace('sg', '')) } : {}),
  } as TileConfig;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const entry = xpuEntries()[0];
  if (!entry) throw new Error(`no xpu device: ${xpu.accelerator.unavailable()}`);
  const device = entry.backend.device;
  const adapter = gemmAdapterInfo(device);
  process.stdout.write(`adapter: ${adapter.vendor} ${adapter.architecture} ${adapter.description}\n`);
  const buffers: GPUBuffer[] = [];
  const buf = (bytes: number, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC) => {
    const b = device.createBuffer({ size: Math.max(16, bytes), usage });
    buffers.push(b);
    return b;
  };
  const uniform = (data: ArrayBuffer) => {
    const b = buf(Math.max(256, data.byteLength), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const pipeline = async (code: string) => {
    const module = device.createShaderModule({ code });
    const info = await module.getCompilationInfo();
    for (const m of info.messages) if (m.type === 'error') throw new Error(`${m.message} at ${m.lineNum}:${m.linePos}\n${code}`);
    return device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  };
  const readF32 = async (src: GPUBuffer, bytes: number) => {
    const st = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, st, 0, bytes);
    device.queue.submit([enc.finish()]);
    await st.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(st.getMappedRange().slice(0));
    st.unmap();
    st.destroy();
    return out;
  };

  for (const n of args.sizes) {
    const flops = 2 * n * n * n;
    const reps = args.reps || Math.max(1, Math.min(16, Math.round(2e9 / flops)));
    const hostA = new Float32Array(n * n).map(() => Math.random() * 2 - 1);
    const hostB = new Float32Array(n * n).map(() => Math.random() * 2 - 1);
    const A = buf(4 * n * n);
    const B = buf(4 * n * n);
    const C = buf(4 * n * n);
    device.queue.writeBuffer(A, 0, hostA);
    device.queue.writeBuffer(B, 0, hostB);
    const checkRows = async (): Promise<number> => {
      const c = await readF32(C, 4 * n * 2);
      let num = 0;
      let den = 0;
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < n; p++) s += hostA[i * n + p] * hostB[p * n + j];
          num += (c[i * n + j] - s) ** 2;
          den += s * s;
        }
      }
      return Math.sqrt(num / den);
    };
    const kernels: Kernel[] = [];
    for (const name of args.kernels) {
      if (name === 'fma') {
        const p = await pipeline(fmaSource());
        const threads = 64 * 256;
        const out = buf(16 * threads);
        const u = new Uint32Array([0, 0, FMA_ITERS, 0]);
        new Float32Array(u.buffer).set([0.999, 1e-3], 0);
        const bg = device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: uniform(u.buffer) } },
            { binding: 1, resource: { buffer: out } },
          ],
        });
        kernels.push({
          name,
          flops: threads * FMA_ACC * FMA_ITERS * 8,
          record: (pass) => {
            pass.setPipeline(p);
            pass.setBindGroup(0, bg);
            pass.dispatchWorkgroups(256);
          },
        });
      } else if (name === 'probe' || name.startsWith('probe:')) {
        const [wgX, wgY] = name === 'probe' ? [16, 16] : name.slice(6).split('x').map(Number);
        if (n % (4 * wgY) || n % (8 * wgX)) continue;
        const p = await pipeline(probeSource(wgX, wgY));
        const bg = device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: uniform(new Uint32Array([n, n, n, 0]).buffer) } },
            { binding: 1, resource: { buffer: C } },
            { binding: 2, resource: { buffer: A } },
            { binding: 3, resource: { buffer: B } },
          ],
        });
        kernels.push({
          name,
          flops,
          record: (pass) => {
            pass.setPipeline(p);
            pass.setBindGroup(0, bg);
            pass.dispatchWorkgroups(n / (8 * wgX), n / (4 * wgY));
          },
          check: checkRows,
        });
      } else if (name.startsWith('tex:') || name.startsWith('texf:')) {
        const [wgX, wgY, TM, TN4] = name
          .slice(name.indexOf(':') + 1)
          .split('x')
          .map(Number);
        if (n % (TM * wgY) || n % (4 * TN4 * wgX)) continue;
        const tex = (src: GPUBuffer) => {
          const t = device.createTexture({
            size: [n / 4, n],
            format: 'rgba32float',
            usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
          });
          const enc = device.createCommandEncoder();
          enc.copyBufferToTexture({ buffer: src, bytesPerRow: 4 * n }, { texture: t }, [n / 4, n]);
          device.queue.submit([enc.finish()]);
          return t;
        };
        const tA = tex(A);
        const tB = tex(B);
        const p = await pipeline(texSource(wgX, wgY, TM, TN4, name.startsWith('texf:')));
        const bg = device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: uniform(new Uint32Array([n, n, n, 0]).buffer) } },
            { binding: 1, resource: { buffer: C } },
            { binding: 2, resource: tA.createView() },
            { binding: 3, resource: tB.createView() },
          ],
        });
        kernels.push({
          name,
          flops,
          record: (pass) => {
            pass.setPipeline(p);
            pass.setBindGroup(0, bg);
            pass.dispatchWorkgroups(n / (4 * TN4 * wgX), n / (TM * wgY));
          },
          check: checkRows,
        });
      } else if (name.startsWith('texs:')) {
        const [SG, NSG, TM, TN4] = name.slice(5).split('x').map(Number);
        if (n % (TM * NSG) || n % (4 * TN4 * SG)) continue;
        const tex = (src: GPUBuffer) => {
          const t = device.createTexture({
            size: [n / 4, n],
            format: 'rgba32float',
            usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
          });
          const enc = device.createCommandEncoder();
          enc.copyBufferToTexture({ buffer: src, bytesPerRow: 4 * n }, { texture: t }, [n / 4, n]);
          device.queue.submit([enc.finish()]);
          return t;
        };
        const p = await pipeline(texsSource(SG, NSG, TM, TN4));
        const bg = device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: uniform(new Uint32Array([n, n, n, 0]).buffer) } },
            { binding: 1, resource: { buffer: C } },
            { binding: 2, resource: tex(A).createView() },
            { binding: 3, resource: tex(B).createView() },
          ],
        });
        kernels.push({
          name,
          flops,
          record: (pass) => {
            pass.setPipeline(p);
            pass.setBindGroup(0, bg);
            pass.dispatchWorkgroups(n / (4 * TN4 * SG), n / (TM * NSG));
          },
          check: checkRows,
        });
      } else if (name.startsWith('lanes:')) {
        const [L, TM, TN] = name.slice(6).split('x').map(Number);
        if (n % TM || n % (L * TN)) continue;
        const p = await pipeline(lanesSource(L, TM, TN));
        const bg = device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: uniform(new Uint32Array([n, n, n, 0]).buffer) } },
            { binding: 1, resource: { buffer: C } },
            { binding: 2, resource: { buffer: A } },
            { binding: 3, resource: { buffer: B } },
          ],
        });
        kernels.push({
          name,
          flops,
          record: (pass) => {
            pass.setPipeline(p);
            pass.setBindGroup(0, bg);
            pass.dispatchWorkgroups(n / (L * TN), n / TM);
          },
          check: checkRows,
        });
      } else if (name.startsWith('xpu:')) {
        // xpu.matmul end to end (packs, epilogue-free store) with a forced config.
        const c = parseOurs(name.replace('xpu:', 'x:'));
        const ta = xpu.tensor(hostA, { device: 'xpu', shape: [n, n] });
        const tb = xpu.tensor(hostB, { device: 'xpu', shape: [n, n] });
        const run = () => {
          setGemmConfigOverride(() => c);
          try {
            xpu.matmul(ta, tb).dispose();
          } finally {
            setGemmConfigOverride(null);
          }
        };
        kernels.push({
          name,
          flops,
          record: () => {},
          enqueue: run,
          check: async () => {
            setGemmConfigOverride(() => c);
            const out = xpu.matmul(ta, tb);
            setGemmConfigOverride(null);
            const got = (await out.data()) as Float32Array;
            out.dispose();
            let num = 0;
            let den = 0;
            for (let i = 0; i < 2; i++)
              for (let j = 0; j < n; j++) {
                let s = 0;
                for (let p = 0; p < n; p++) s += hostA[i * n + p] * hostB[p * n + j];
                num += (got[i * n + j] - s) ** 2;
                den += s * s;
              }
            return Math.sqrt(num / den);
          },
          checkOwn: true,
        });
      } else if (name.startsWith('ours:')) {
        const c = parseOurs(name);
        const layout: GemmLayout = {
          a: 'float32',
          b: 'float32',
          out: 'float32',
          aVec: true,
          bAlongK: false,
          bVec: true,
          outVec: true,
          scaled: false,
        };
        const st = {} as Storage;
        const spec: MatmulSpec = {
          a: { storage: st, dtype: 'float32', strides: [n, 1], offset: 0 },
          b: { storage: st, dtype: 'float32', strides: [n, 1], offset: 0 },
          batchShape: [],
          m: n,
          n,
          k: n,
          outDtype: 'float32',
        };
        const prob = gemmProblem(spec);
        const tiles = gemmTiles(c as GemmConfig as TileConfig, n, n);
        const p = await pipeline(gemmSource(layout, c, n, adapter.subgroupMinSize ?? 4));
        const bg = device.createBindGroup({
          layout: p.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: uniform(gemmUniforms(prob, spec, tiles)) } },
            { binding: 1, resource: { buffer: C } },
            { binding: 2, resource: { buffer: A } },
            { binding: 3, resource: { buffer: B } },
          ],
        });
        const groups = tiles.tilesM * tiles.tilesN;
        const x = Math.min(groups, 65535);
        kernels.push({
          name,
          flops,
          record: (pass) => {
            pass.setPipeline(p);
            pass.setBindGroup(0, bg);
            pass.dispatchWorkgroups(x, Math.ceil(groups / x));
          },
          check: checkRows,
        });
      } else throw new Error(`unknown kernel ${name}`);
    }
    const cpu = new Map<string, number[]>();
    const runOnce = async (k: Kernel, r: number): Promise<number> => {
      const c0 = process.cpuUsage();
      const ms = await runTimed(k, r);
      const c1 = process.cpuUsage(c0);
      cpu.get(k.name)?.push((c1.user + c1.system) / 1e3 / r);
      return ms;
    };
    const runTimed = async (k: Kernel, r: number): Promise<number> => {
      const t0 = performance.now();
      if (k.enqueue) {
        for (let i = 0; i < r; i++) k.enqueue();
        await xpu.accelerator.synchronize();
        return performance.now() - t0;
      }
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let i = 0; i < r; i++) k.record(pass);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    const times = new Map<string, number[]>();
    for (const k of kernels) {
      await runOnce(k, 1);
      if (k.check && k.checkOwn) {
        const err = await k.check();
        if (!(err < 1e-4)) throw new Error(`${k.name} at ${n}: relative error ${err}`);
      } else if (k.check) {
        device.queue.writeBuffer(C, 0, new Float32Array(2 * n).fill(NaN));
        await runOnce(k, 1);
        const err = await k.check();
        if (!(err < 1e-4)) throw new Error(`${k.name} at ${n}: relative error ${err}`);
      }
      times.set(k.name, []);
      cpu.set(k.name, []);
    }
    for (let round = 0; round < args.rounds; round++) {
      for (const k of kernels) {
        const r = k.name === 'fma' ? 4 : reps;
        times.get(k.name)!.push((await runOnce(k, r)) / r);
      }
    }
    const ref = kernels.find((k) => k.name !== 'fma')?.name;
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const refMs = ref ? med(times.get(ref)!) : 1;
    for (const k of kernels) {
      const ms = med(times.get(k.name)!);
      const best = Math.min(...times.get(k.name)!);
      const cpuMs = med(cpu.get(k.name)!);
      const refCpu = ref ? med(cpu.get(ref)!) : 1;
      process.stdout.write(
        `${String(n).padStart(5)} ${k.name.padEnd(32)} ${(k.flops / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s (best ${(k.flops / best / 1e6).toFixed(1).padStart(5)})  time/${ref}: ${(ms / refMs).toFixed(2)}  ${(k.flops / cpuMs / 1e6).toFixed(1).padStart(6)} GFLOP per CPU-s, cpu/${ref}: ${(cpuMs / refCpu).toFixed(2)}\n`,
      );
    }
    for (const b of buffers.splice(0)) b.destroy();
  }
}

await main();
process.exit(0);
