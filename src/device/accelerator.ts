import { cpuDevice, currentXpu, defaultDevice as defaultDev, resolveDevice, setCurrentXpu, unavailableReason, xpuEntries, type XpuDeviceInfo } from './registry.js';
import type { Device, DeviceLike } from './device.js';
import type { MemoryStats } from '../backends/webgpu/allocator.js';
import { XpuDeviceError } from '../errors.js';
import type { TuneGemmOptions, TunedGemm } from '../backends/webgpu/gemm_autotune.js';
export type { TuneGemmOptions, TunedGemm } from '../backends/webgpu/gemm_autotune.js';
import type { AttentionTuneShape, TuneAttentionOptions, TunedAttention } from '../backends/webgpu/attention_autotune.js';
export type { AttentionTuneShape, TuneAttentionOptions, TunedAttention } from '../backends/webgpu/attention_autotune.js';

/**
 * The device-agnostic accelerator API, with the meaning of torch.accelerator / torch.xpu.
 */
export const isAvailable = (): boolean => xpuEntries().length > 0;
export const deviceCount = (): number => xpuEntries().length;
export const currentDevice = (): number => currentXpu();
export const setDevice = (i: number): void => setCurrentXpu(i);
/** Why no accelerator is available (null when one is). */
export const unavailable = (): string | null => unavailableReason();

function entry(op: string, i?: number) {
  const list = xpuEntries();
  const idx = i ?? currentXpu();
  const e = list[idx];
  if (!e) {
    throw new XpuDeviceError('no such accelerator', { op, arg: 'device', expected: list.length ? `an index in [0, ${list.length - 1}]` : 'an available xpu device', got: `${idx}${unavailableReason() ? ` (${unavailableReason()})` : ''}` });
  }
  return e;
}

/**
 * Waits until every queued kernel on a device has finished: an xpu index, or a device ('cpu',
 * 'xpu:1', a Device). With no argument: the current xpu (if any) and the cpu, whose native GEMMs
 * also run asynchronously on the addon's compute thread.
 */
export async function synchronize(which?: number | DeviceLike): Promise<void> {
  if (which === undefined) {
    await cpuDevice.backend.synchronize();
    if (isAvailable()) await entry('accelerator.synchronize').backend.synchronize();
    return;
  }
  if (typeof which === 'number') {
    await entry('accelerator.synchronize', which).backend.synchronize();
    return;
  }
  await resolveDevice('accelerator.synchronize', which).backend.synchronize();
}

export function getDeviceInfo(i?: number): XpuDeviceInfo {
  return entry('accelerator.getDeviceInfo', i).info;
}

export function getDeviceName(i?: number): string {
  return entry('accelerator.getDeviceName', i).info.description;
}

export function memoryStats(i?: number): MemoryStats {
  return entry('accelerator.memoryStats', i).backend.allocator.stats();
}

export function memoryAllocated(i?: number): number {
  return memoryStats(i).allocatedBytes;
}

export function maxMemoryAllocated(i?: number): number {
  return memoryStats(i).peakAllocatedBytes;
}

export function resetPeakMemoryStats(i?: number): void {
  entry('accelerator.resetPeakMemoryStats', i).backend.allocator.resetPeak();
}

/** Frees every cached, unused GPU block (torch.xpu.empty_cache). */
export function emptyCache(i?: number): void {
  if (!isAvailable()) return;
  entry('accelerator.emptyCache', i).backend.emptyCache();
}

/** A Device object: device('cpu'), device('xpu'), device('xpu:0'). */
export function device(like: DeviceLike): Device {
  return resolveDevice('device', like);
}

/** The default device for new tensors: xpu when available, else cpu. */
export function defaultDevice(): Device {
  return defaultDev();
}

export const cpu = cpuDevice;

/**
 * Measures GEMM configs for the shape buckets of `shapes` ([m, n, k] each) on an xpu device and
 * keeps the fastest per bucket: used by matmul at once, and cached on disk per adapter
 * ($XDG_CACHE_HOME/xpu/). See gemm_tuner.ts for XPU_AUTOTUNE=off|on|force.
 */
export async function tuneGemm(shapes: readonly (readonly [number, number, number])[], options: TuneGemmOptions & { device?: number } = {}): Promise<TunedGemm[]> {
  const e = entry('accelerator.tuneGemm', options.device);
  const { tuneGemmOn } = await import('../backends/webgpu/gemm_autotune.js');
  return tuneGemmOn(e.device, e.backend, shapes, options);
}

/**
 * Measures attention configs (attentionCandidates) for the shape buckets of `shapes` on an xpu
 * device and keeps the fastest per bucket: used by attention at once, and cached on disk per
 * adapter ($XDG_CACHE_HOME/xpu/attention-*.json). XPU_AUTOTUNE means what it does for tuneGemm.
 */
export async function tuneAttention(shapes: readonly AttentionTuneShape[], options: TuneAttentionOptions & { device?: number } = {}): Promise<TunedAttention[]> {
  const e = entry('accelerator.tuneAttention', options.device);
  const { tuneAttentionOn } = await import('../backends/webgpu/attention_autotune.js');
  return tuneAttentionOn(e.device, e.backend, shapes, options);
}
