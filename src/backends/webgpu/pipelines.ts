import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  readonly #layouts = new Map<number, GPUBindGroupLayout>();
  compiles = 0;

  constructor(private readonly device: GPUDevice) {}

  /** A layout of one uniform buffer, one read-write storage buffer and `reads` read-only ones. */
  layout(reads: number): GPUBindGroupLayout {
    let l = this.#layouts.get(reads);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      ];
      for (let k = 0; k < reads; k++) entries.push({ binding: k + 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } });
      l = this.device.createBindGroupLayout({ entries });
      this.#layouts.set(reads, l);
    }
    return l;
  }

  get(code: string, reads: number, constants: Record<string, number>): CompiledKernel {
    const key = `${code}\n//${JSON.stringify(constants)}`;
    let k = this.#cache.get(key);
    if (!k) {
      const layout = this.layout(reads);
      const module = this.device.createShaderModule({ code });
      const pipeline = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main', constants },
      });
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
