import type { Storage } from '../backend.js';
import type { GpuStorage } from './allocator.js';
import type { AssertSlot } from './asserts.js';
import type { Binding, TextureBinding } from './queue.js';

/**
 * A GPU program: everything one kernel launch needs, as a plain object that every launcher
 * (map, reduce, rows, GEMM, quantized GEMM, attention, the texture packs) builds and hands to
 * WebGPUBackend.run(). The model is ONNX Runtime WebGPU's ProgramInfo + compute() and
 * tfjs-backend-webgpu's runWebGPUProgram: the launcher says what to run, one place compiles,
 * caches, checks and records it.
 *
 * Binding 0 is always the uniform block; `layout` describes bindings 1.., in order. By the
 * convention of every kernel here, binding 1 is the one the kernel writes (the queue marks it
 * failed if the launch is rejected, queue.ts).
 */

/**
 * What a binding after the uniforms is: a read-write or read-only storage buffer, a sampled
 * rgba32float texture (2-D or 2-D array), or a write-only rgba32float storage texture.
 */
export type BindingKind = 'write' | 'read' | 'texture' | 'texture-array' | 'storage-texture' | 'storage-texture-array';

export interface Program {
  /** The op the launch belongs to: its label in the profiler and the op named in launch errors. */
  name: string;
  /** The op named if the kernel cannot be compiled (default `name`). */
  op?: string;
  /**
   * The pipeline cache's short key: everything the source, constants and layout depend on, so a
   * cache hit costs no code generation. Keys are global: start them with the kernel family.
   */
  key: string;
  /** Bindings 1.. of the bind group layout. */
  layout: readonly BindingKind[];
  /** The WGSL source (called only on a short-key miss). */
  source: () => string;
  /** Pipeline-overridable constants (part of `key`). */
  constants?: Record<string, number>;
  /** The uniform block (binding 0), laid out as the kernel's struct (uniforms.ts). */
  uniforms: ArrayBuffer;
  /** The resources of bindings 1.., matching `layout`. */
  bindings: (Binding | TextureBinding)[];
  /** Workgroups (folded into 2-D past the per-dimension limit). */
  groups: number;
  /** The launch's device-side index-assert slot (asserts.ts). */
  assert?: AssertSlot;
}

/** A layout of one written buffer, `reads` read-only buffers, and `writes` more written ones. */
export function bufferLayout(reads: number, writes = 0): BindingKind[] {
  return ['write', ...Array<BindingKind>(reads).fill('read'), ...Array<BindingKind>(writes).fill('write')];
}

/** A storage bound by its bytes rounded up to whole words (at least one). */
export function bind(st: Storage): Binding {
  const g = st as GpuStorage;
  return { buffer: g.buffer, size: Math.max(4, Math.ceil(g.byteLength / 4) * 4) };
}

/** A storage bound with its whole block: vector-typed bindings count in 8- or 16-byte elements. */
export function bindWhole(st: Storage): Binding {
  const g = st as GpuStorage;
  return { buffer: g.buffer, size: g.size };
}

/** A texture bound through a default view (2-D, or 2-D array with `array`), with its texture (queue.ts follows a failed write through it). */
export function bindTexture(t: GPUTexture, array = false): TextureBinding {
  return { view: array ? t.createView({ dimension: '2d-array' }) : t.createView(), texture: t };
}
