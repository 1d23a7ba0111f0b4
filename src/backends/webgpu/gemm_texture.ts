import type { MatmulSpec, Storage } from '../backend.js';
import type { GpuStorage } from './allocator.js';
import { UniformWriter } from './codegen.js';
import { gemmPackSource, gemmSource, type GemmLayout } from './gemm_codegen.js';
import type { GemmAdapterInfo, TileConfig } from './gemm_config.js';
import { gemmTiles, gemmUniforms, type GemmProblem, type MatrixOperand } from './gemm_plan.js';
import type { CommandQueue } from './queue.js';

/**
 * The texture variant of the GEMM (TileConfig variant 'texture'): A and B are packed by
 * kernels/gemm_pack.wgsl into rgba32float textures (A as [M, ceil(K/4)] texels, B as
 * [ceil(K/4)*4, ceil(N/4)] whichever way it is stored; both padded with zeros to whole tiles and
 * to a multiple of 4 in K), then kernels/gemm.wgsl
 * runs register tiles whose mm_readA / mm_readB hooks are texel fetches (gemm_codegen.ts).
 *
 * Why: on lavapipe (Mesa 25.0 gallivm), a storage-buffer load whose address differs between the
 * invocations of a SIMD row becomes a bounds-checked scalar load per lane and per component (~9
 * x86 instructions per float, measured in the generated code with GALLIVM_DEBUG=asm), which
 * bounds every storage-buffer GEMM there (the FMAs are < 10 % of the instructions). A texel fetch
 * is one 16-byte load per lane plus a transpose. Measured with bench/tools/gemm_probe.ts: 1.5-1.7x
 * the same register tiles on storage buffers, packing included (the packs read and write each
 * operand once: < 2 % of a 512^3 GEMM).
 *
 * Textures come from a small pool keyed by (operand, size), reused by every GEMM of that size:
 * WebGPU orders the pack of the next GEMM after the reads of the previous one. Evicting one first
 * submits the pending work that may use it.
 */

interface DeviceState {
  pool: Map<string, GPUTexture>;
  pipelines: Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>;
}
const states = new WeakMap<GPUDevice, DeviceState>();
const POOL_SIZE = 8;

function stateOf(device: GPUDevice): DeviceState {
  let s = states.get(device);
  if (!s) states.set(device, (s = { pool: new Map(), pipelines: new Map() }));
  return s;
}

/** Whether the problem can be packed: one batch entry (after folding), both dims within the texture limit. */
export function texturePackable(p: GemmProblem, adapter: Pick<GemmAdapterInfo, 'maxTextureDimension2D'>): boolean {
  const lim = adapter.maxTextureDimension2D ?? 8192;
  const k4 = Math.ceil(p.k / 4);
  return p.batchShape.length === 0 && p.m >= 1 && p.n >= 1 && p.k >= 1 && p.m <= lim && k4 <= lim && 4 * k4 <= lim && Math.ceil(p.n / 4) <= lim;
}

function texture(device: GPUDevice, queue: CommandQueue, key: string, width: number, height: number): GPUTexture {
  const s = stateOf(device);
  const full = `${key}:${width}x${height}`;
  let t = s.pool.get(full);
  if (t) {
    s.pool.delete(full); // most recently used last
    s.pool.set(full, t);
    return t;
  }
  if (s.pool.size >= POOL_SIZE) {
    queue.flush(); // recorded commands may still use the evicted texture
    const [oldKey, old] = s.pool.entries().next().value as [string, GPUTexture];
    s.pool.delete(oldKey);
    old.destroy();
  }
  t = device.createTexture({ size: [width, height], format: 'rgba32float', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING, label: `gemm-${full}` });
  s.pool.set(full, t);
  return t;
}

function pipelineFor(device: GPUDevice, key: string, code: string, entries: GPUBindGroupLayoutEntry[]): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
  const s = stateOf(device);
  let k = s.pipelines.get(key);
  if (!k) {
    const layout = device.createBindGroupLayout({ entries });
    const pipeline = device.createComputePipeline({ layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
    s.pipelines.set(key, (k = { pipeline, layout }));
  }
  return k;
}

const C = () => GPUShaderStage.COMPUTE;

/**
 * Packs the logical [rows, cols] matrix `op` (strides s0 along rows, s1 along cols) into the first
 * `texels` x `height` texels of `tex`, zeros past rows and cols.
 */
function pack(device: GPUDevice, queue: CommandQueue, op: MatrixOperand, dtype: string, rows: number, cols: number, texels: number, height: number, tex: GPUTexture): void {
  const k = pipelineFor(device, `pack|${dtype}`, gemmPackSource(dtype as 'float32'), [
    { binding: 0, visibility: C(), buffer: { type: 'uniform' } },
    { binding: 1, visibility: C(), storageTexture: { access: 'write-only', format: 'rgba32float' } },
    { binding: 2, visibility: C(), buffer: { type: 'read-only-storage' } },
  ]);
  const u = new UniformWriter().u32(rows, cols, texels, height).i32(op.offset, op.s0, op.s1).u32(0).finish();
  const st = op.storage as GpuStorage;
  queue.dispatch('gemm-pack', k.pipeline, k.layout, u, [{ view: tex.createView() }, { buffer: st.buffer, size: st.size }], Math.ceil((height * texels) / 64));
}

/**
 * Runs C = epilogue(A @ B) with the texture variant into `out` (allocated by the caller with the
 * layout's output dtype). The caller checked texturePackable.
 */
export function textureGemm(device: GPUDevice, queue: CommandQueue, p: GemmProblem, spec: MatmulSpec, layout: GemmLayout, config: TileConfig, out: GpuStorage): void {
  const k4 = Math.ceil(p.k / 4);
  const tiles = gemmTiles(config, p.m, p.n);
  // Padded to whole tiles (zeros), so no fetch of the GEMM falls outside its texture.
  const rowsA = tiles.tilesM * config.wgY * config.tm;
  const texelsB = (tiles.tilesN * config.wgX * config.tn) / 4;
  const texA = texture(device, queue, 'a', k4, rowsA);
  const texB = texture(device, queue, 'b', texelsB, 4 * k4);
  pack(device, queue, p.a, spec.a.dtype, p.m, p.k, k4, rowsA, texA);
  pack(device, queue, p.b, spec.b.dtype, p.k, p.n, texelsB, 4 * k4, texB);
  const entries: GPUBindGroupLayoutEntry[] = [
    { binding: 0, visibility: C(), buffer: { type: 'uniform' } },
    { binding: 1, visibility: C(), buffer: { type: 'storage' } },
    { binding: 2, visibility: C(), texture: { sampleType: 'unfilterable-float' } },
    { binding: 3, visibility: C(), texture: { sampleType: 'unfilterable-float' } },
  ];
  const extra: Storage[] = [];
  if (spec.epilogue?.bias) extra.push(spec.epilogue.bias.storage);
  if (spec.epilogue?.residual) extra.push(spec.epilogue.residual.storage);
  extra.forEach((_, i) => entries.push({ binding: 4 + i, visibility: C(), buffer: { type: 'read-only-storage' } }));
  const code = gemmSource(layout, config, p.m);
  const k = pipelineFor(device, `gemm|${code}`, code, entries);
  const whole = (st: Storage) => ({ buffer: (st as GpuStorage).buffer, size: (st as GpuStorage).size });
  queue.dispatch('gemm', k.pipeline, k.layout, gemmUniforms(p, spec, tiles), [whole(out), { view: texA.createView() }, { view: texB.createView() }, ...extra.map(whole)], tiles.tilesN * tiles.tilesM);
}

/** Destroys the pooled textures of a device (emptyCache); pending work is submitted first. */
export function releaseGemmTextures(device: GPUDevice, queue: CommandQueue): void {
  const s = states.get(device);
  if (!s || !s.pool.size) return;
  queue.flush();
  for (const t of s.pool.values()) t.destroy();
  s.pool.clear();
}

