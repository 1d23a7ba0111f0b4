import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XpuDeviceError } from '../../errors.js';
import { errorSink } from './error_sink.js';
import { checkKernel, kernelDemands, type LaunchLimits } from './limits.js';

/** kernels/ sits at the package root, above src/ (tests) or dist/src/ (built code). */
function findKernelDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'kernels');
    if (existsSync(join(candidate, 'map.wgsl'))) return candidate + '/';
    const up = dirname(dir);
    if (up === dir) throw new Error('xpu: cannot find the kernels/ directory of the package');
    dir = up;
  }
}
const KERNEL_DIR = findKernelDir();
const sources = new Map<string, string>();

/** The text of a kernel file under kernels/, read once. */
export function kernelSource(name: string): string {
  let s = sources.get(name);
  if (s === undefined) {
    s = readFileSync(KERNEL_DIR + name, 'utf8');
    sources.set(name, s);
  }
  return s;
}

/**
 * Every compute pipeline is made here: the kernel's demands (workgroup memory and size, bindings)
 * are checked against the adapter's limits first, and an error Dawn reports while compiling it is
 * thrown at the op that asked for it (XpuDeviceError) instead of poisoning the command encoder of
 * a whole batch later (see queue.ts). Nothing is cached for a kernel that failed.
 */
export function createPipeline(device: GPUDevice, op: string, code: string, layout: GPUBindGroupLayout, constants: Record<string, number> = {}): GPUComputePipeline {
  checkKernel(op, kernelDemands(code, constants), device.limits as unknown as LaunchLimits);
  const sink = errorSink(device);
  const mark = sink.mark();
  const module = device.createShaderModule({ code, label: op });
  const pipeline = device.createComputePipeline({
    label: op,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main', constants },
  });
  const errors = sink.take(mark);
  if (errors.length) {
    throw new XpuDeviceError('the GPU rejected the kernel generated for this op (an xpu bug: please report it)', { op, expected: 'a kernel that compiles', got: errors.join('\n') });
  }
  return pipeline;
}

export interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/**
 * Pipelines cached by their full WGSL source plus override constants: the source already holds
 * every specialisation parameter (dtypes, op body, bindings), and never a shape.
 */
export class PipelineCache {
  readonly #cache = new Map<string, CompiledKernel>();
  readonly #layouts = new Map<string, GPUBindGroupLayout>();
  compiles = 0;

  constructor(private readonly device: GPUDevice) {}

  /**
   * A layout of one uniform buffer, one read-write storage buffer, `reads` read-only ones and
   * `writes` more read-write ones after them (the device-side index assert, asserts.ts).
   */
  layout(reads: number, writes = 0): GPUBindGroupLayout {
    const lk = `${reads}|${writes}`;
    let l = this.#layouts.get(lk);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      ];
      for (let k = 0; k < reads; k++) entries.push({ binding: k + 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } });
      for (let k = 0; k < writes; k++) entries.push({ binding: reads + 2 + k, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
      l = this.device.createBindGroupLayout({ entries });
      this.#layouts.set(lk, l);
    }
    return l;
  }

  /** The pipeline of `code` (cached); `op` names the op in errors (see createPipeline). */
  get(code: string, reads: number, constants: Record<string, number>, op = 'kernel', writes = 0): CompiledKernel {
    const key = `${code}\n//${JSON.stringify(constants)}|${writes}`;
    let k = this.#cache.get(key);
    if (!k) {
      const layout = this.layout(reads, writes);
      const pipeline = createPipeline(this.device, op, code, layout, constants);
      k = { pipeline, layout };
      this.#cache.set(key, k);
      this.compiles++;
    }
    return k;
  }

  get size(): number {
    return this.#cache.size;
  }
}
