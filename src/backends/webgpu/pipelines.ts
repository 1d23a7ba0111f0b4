import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XpuDeviceError } from '../../errors.js';
import { errorSink } from './error_sink.js';
import { checkKernel, kernelDemands, kernelFits, type LaunchLimits } from './limits.js';
import { bufferLayout, type BindingKind, type Program } from './program.js';

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
export function createPipeline(
  device: GPUDevice,
  op: string,
  code: string,
  layout: GPUBindGroupLayout,
  constants: Record<string, number> = {},
): GPUComputePipeline {
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
    throw new XpuDeviceError('the GPU rejected the kernel generated for this op (an xpu bug: please report it)', {
      op,
      expected: 'a kernel that compiles',
      got: errors.join('\n'),
    });
  }
  return pipeline;
}

export interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** GPUShaderStage is a global only once Dawn is loaded (dawn.ts): read it lazily. */
const compute = (): number => GPUShaderStage.COMPUTE;

function layoutEntry(kind: BindingKind, binding: number): GPUBindGroupLayoutEntry {
  const C = compute();
  switch (kind) {
    case 'write':
      return { binding, visibility: C, buffer: { type: 'storage' } };
    case 'read':
      return { binding, visibility: C, buffer: { type: 'read-only-storage' } };
    case 'texture':
      return { binding, visibility: C, texture: { sampleType: 'unfilterable-float' } };
    case 'texture-array':
      return { binding, visibility: C, texture: { sampleType: 'unfilterable-float', viewDimension: '2d-array' } };
    case 'storage-texture':
      return { binding, visibility: C, storageTexture: { access: 'write-only', format: 'rgba32float' } };
    case 'storage-texture-array':
      return { binding, visibility: C, storageTexture: { access: 'write-only', format: 'rgba32float', viewDimension: '2d-array' } };
  }
}

/**
 * The one pipeline cache, in two levels: a program's short key (Program.key: no code generation
 * on the hot path), then the full WGSL source plus override constants and layout (the source
 * already holds every specialisation parameter: dtypes, op body, bindings, never a shape), so two
 * keys that generate the same kernel share one pipeline. Kernel fit checks (limits.ts) are cached
 * by short key too.
 */
export class PipelineCache {
  readonly #byKey = new Map<string, CompiledKernel>();
  readonly #bySource = new Map<string, CompiledKernel>();
  readonly #layouts = new Map<string, GPUBindGroupLayout>();
  readonly #fits = new Map<string, boolean>();
  compiles = 0;

  constructor(private readonly device: GPUDevice) {}

  /** The bind group layout of a uniform buffer (binding 0) and bindings 1.. of these kinds. */
  layoutOf(kinds: readonly BindingKind[]): GPUBindGroupLayout {
    const lk = kinds.join(',');
    let l = this.#layouts.get(lk);
    if (!l) {
      // The uniform block is bound at a dynamic offset into the queue's arena, so that bind groups can be
      // cached over launches (bind_groups.ts).
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: compute(), buffer: { type: 'uniform', hasDynamicOffset: true } },
      ];
      kinds.forEach((k, i) => entries.push(layoutEntry(k, i + 1)));
      l = this.device.createBindGroupLayout({ entries });
      this.#layouts.set(lk, l);
    }
    return l;
  }

  /**
   * A layout of one uniform buffer, one read-write storage buffer, `reads` read-only ones and
   * `writes` more read-write ones after them (the device-side index assert, asserts.ts).
   */
  layout(reads: number, writes = 0): GPUBindGroupLayout {
    return this.layoutOf(bufferLayout(reads, writes));
  }

  /** The pipeline of `code` for a layout (cached by source); `op` names the op in errors (see createPipeline). */
  compile(code: string, kinds: readonly BindingKind[], constants: Record<string, number> = {}, op = 'kernel'): CompiledKernel {
    const key = `${code}\n//${JSON.stringify(constants)}|${kinds.join(',')}`;
    let k = this.#bySource.get(key);
    if (!k) {
      const layout = this.layoutOf(kinds);
      const pipeline = createPipeline(this.device, op, code, layout, constants);
      k = { pipeline, layout };
      this.#bySource.set(key, k);
      this.compiles++;
    }
    return k;
  }

  /** The pipeline of a program, by its short key (compiled on the first use of the key). */
  program(p: Pick<Program, 'key' | 'layout' | 'source' | 'constants' | 'name' | 'op'>): CompiledKernel {
    let k = this.#byKey.get(p.key);
    if (!k) {
      k = this.compile(p.source(), p.layout, p.constants, p.op ?? p.name);
      this.#byKey.set(p.key, k);
    }
    return k;
  }

  /** Whether a pipeline is cached under this short key. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /**
   * Whether the kernel of short key `key` fits the adapter's limits (limits.ts), checked once per
   * key (always true once compiled). `sources` are generated only on the first check.
   */
  fits(key: string, sources: () => string | string[]): boolean {
    if (this.#byKey.has(key)) return true;
    let ok = this.#fits.get(key);
    if (ok === undefined) {
      const lim = this.device.limits as unknown as LaunchLimits;
      const s = sources();
      ok = (Array.isArray(s) ? s : [s]).every((code) => kernelFits(code, lim));
      this.#fits.set(key, ok);
    }
    return ok;
  }

  get size(): number {
    return this.#bySource.size;
  }
}
