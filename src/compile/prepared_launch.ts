import type { Storage } from '../backends/backend.js';
import type { GpuStorage } from '../backends/webgpu/allocator.js';
import type { WebGPUBackend } from '../backends/webgpu/backend.js';
import type { Program } from '../backends/webgpu/program.js';
import type { Binding } from '../backends/webgpu/queue.js';
import type { SpecStep } from './graph.js';

/**
 * A replayed xpu step as a prepared launch: the one dispatch its launcher made, with the pipeline
 * resolved, the uniform block copied, and each binding resolved to where its buffer comes from
 * (the step's fresh output, a value of the replay, or a buffer from outside the function). A
 * replay then allocates the output and records the dispatch: no coalescing, no key strings, no
 * uniform packing, no pipeline lookup. The bind group is the queue's cache hit (bind_groups.ts):
 * intermediates come back from the caching allocator as the same blocks call after call, so a
 * replay binds the same buffers, and a new input buffer makes its groups once.
 *
 * A step is prepared from its first replay (the probe): the launcher runs as usual while its
 * run() and alloc() calls are watched. Only a step whose launcher allocated exactly its output and
 * recorded exactly one dispatch of plain buffers, with no device-side index assert, is prepared;
 * anything else (a buffer copy, levels of a long reduction, textures, scratch) replays through
 * its launcher every time. The idea is CUDA graphs' (record the launches once, replay them).
 */

/** Where a binding's buffer comes from at replay. */
type Source =
  | { kind: 'out'; whole: boolean; size: number }
  | { kind: 'value'; value: number; whole: boolean; size: number }
  | { kind: 'fixed'; binding: Binding };

export interface PreparedLaunch {
  name: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  uniforms: ArrayBuffer;
  groups: number;
  sources: Source[];
  alloc: { dtype: Parameters<WebGPUBackend['alloc']>[0]; n: number; op: string };
}

/** enabled off: every replayed step goes through its launcher (to measure what preparing saves); launched counts prepared launches recorded. */
export const preparedLaunches = { enabled: true, launched: 0 };

export function isWebGPU(backend: unknown): backend is WebGPUBackend {
  return (backend as { kind?: string }).kind === 'webgpu' && typeof (backend as WebGPUBackend).queue?.dispatch === 'function';
}

const wordsSize = (st: GpuStorage): number => Math.max(4, Math.ceil(st.byteLength / 4) * 4);

/** How `b` binds storage `st`, if it binds it whole or by its words (program.ts bind / bindWhole). */
function bindingOf(b: Binding, st: GpuStorage): { whole: boolean; size: number } | null {
  if (b.buffer !== st.buffer) return null;
  if (b.size === st.size) return { whole: true, size: st.size };
  if (b.size === wordsSize(st)) return { whole: false, size: st.size };
  return null;
}

/**
 * Runs the step through its launcher (vals: the replay's storages) while watching it; returns its
 * output and the prepared launch, or null when the step cannot be prepared.
 */
export function probe(
  backend: WebGPUBackend,
  step: SpecStep,
  vals: readonly (Storage | undefined)[],
  call: () => Storage,
): { out: Storage; prepared: PreparedLaunch | null } {
  const target = backend as unknown as Record<string, unknown>;
  const programs: Program[] = [];
  const allocs: { dtype: PreparedLaunch['alloc']['dtype']; n: number; op: string; st: GpuStorage }[] = [];
  const run = backend.run;
  const alloc = backend.alloc;
  const had = { run: Object.prototype.hasOwnProperty.call(target, 'run'), alloc: Object.prototype.hasOwnProperty.call(target, 'alloc') };
  target.run = (p: Program): void => {
    programs.push(p);
    run.call(backend, p);
  };
  target.alloc = (dtype: PreparedLaunch['alloc']['dtype'], n: number, op: string): GpuStorage => {
    const st = alloc.call(backend, dtype, n, op);
    allocs.push({ dtype, n, op, st });
    return st;
  };
  let out: Storage;
  try {
    out = call();
  } finally {
    if (had.run) target.run = run;
    else delete target.run;
    if (had.alloc) target.alloc = alloc;
    else delete target.alloc;
  }
  return { out, prepared: prepare(backend, step, vals, out as GpuStorage, programs, allocs) };
}

function prepare(
  backend: WebGPUBackend,
  step: SpecStep,
  vals: readonly (Storage | undefined)[],
  out: GpuStorage,
  programs: Program[],
  allocs: { dtype: PreparedLaunch['alloc']['dtype']; n: number; op: string; st: GpuStorage }[],
): PreparedLaunch | null {
  if (programs.length !== 1 || allocs.length !== 1 || allocs[0].st !== out) return null;
  const p = programs[0];
  if (p.assert) return null;
  const sources: Source[] = [];
  for (const b of p.bindings) {
    if (!('buffer' in b)) return null; // a texture view is made per launch
    const asOut = bindingOf(b, out);
    if (asOut) {
      sources.push({ kind: 'out', ...asOut });
      continue;
    }
    let found: Source | null = null;
    for (const v of step.reads) {
      const st = vals[v] as GpuStorage | undefined;
      const how = st && bindingOf(b, st);
      if (how) {
        found = { kind: 'value', value: v, ...how };
        break;
      }
    }
    // A value's buffer bound some other way: not a layout this knows how to rebind.
    if (!found && step.reads.some((v) => (vals[v] as GpuStorage | undefined)?.buffer === b.buffer)) return null;
    // A buffer that is neither the output nor a value: one from outside the function (a weight).
    sources.push(found ?? { kind: 'fixed', binding: { buffer: b.buffer, size: b.size } });
  }
  if (sources[0].kind !== 'out') return null; // the queue marks binding 1 as the one written
  const k = backend.pipelines.program(p);
  const { dtype, n, op } = allocs[0];
  return {
    name: p.name,
    pipeline: k.pipeline,
    layout: k.layout,
    uniforms: p.uniforms.slice(0),
    groups: p.groups,
    sources,
    alloc: { dtype, n, op },
  };
}

/**
 * Records the prepared launch over this replay's storages; returns its output, or null (nothing
 * done) when a value's block differs from the probe's (its bound size, and so the kernel chosen for
 * it, may differ): then the step goes through its launcher.
 */
export function launchPrepared(backend: WebGPUBackend, l: PreparedLaunch, vals: readonly (Storage | undefined)[]): Storage | null {
  const sources = l.sources;
  for (let j = 0; j < sources.length; j++) {
    const s = sources[j];
    if (s.kind === 'value' && (vals[s.value] as GpuStorage).size !== s.size) return null;
  }
  const out = backend.alloc(l.alloc.dtype, l.alloc.n, l.alloc.op);
  if (out.size !== (sources[0] as { size: number }).size) {
    backend.release(out);
    return null;
  }
  const bindings: Binding[] = new Array(sources.length);
  for (let j = 0; j < sources.length; j++) {
    const s = sources[j];
    if (s.kind === 'fixed') bindings[j] = s.binding;
    else {
      const st = s.kind === 'out' ? out : (vals[s.value] as GpuStorage);
      bindings[j] = { buffer: st.buffer, size: s.whole ? st.size : wordsSize(st) };
    }
  }
  try {
    backend.queue.dispatch(l.name, l.pipeline, l.layout, l.uniforms, bindings, l.groups);
  } catch (e) {
    backend.release(out);
    throw e;
  }
  preparedLaunches.launched++;
  return out;
}
